"""Real-world PDFs and Word files: each one loads or fails with a reason, never a crash.

The hostile corpus (pdf_stress) is not run here: some of its files hang or exhaust memory
in the parsers, which only the sandboxed parser process can survive.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest.loaders import LoaderError, load

DOCS = Path(__file__).resolve().parents[2] / "shared" / "eval" / "docs"
FILES = sorted([*DOCS.glob("pdf_samples/**/*.pdf"), *DOCS.glob("docx/*.docx")])


@pytest.mark.slow
@pytest.mark.skipif(not FILES, reason=f"eval documents not found under {DOCS}")
@pytest.mark.parametrize("path", FILES, ids=[str(p.relative_to(DOCS)) for p in FILES])
def test_loads_or_gives_a_reason(path: Path) -> None:
    try:
        loaded = load(path)
    except LoaderError as exc:
        assert str(exc).strip()
    else:
        assert loaded.sections
        assert all(section.text.strip() for section in loaded.sections)
