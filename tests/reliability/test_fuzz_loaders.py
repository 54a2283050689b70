"""A bounded fuzzing run over every loader, through the sandboxed parser workers that
ingestion uses.

Seeds are real documents: the robustness corpus in ``../shared/eval/docs`` where it is
there (pdf.js's stress PDFs, py-pdf samples, python-docx fixtures, images, ODT, Markdown,
code), and small documents made here for every format the corpus lacks. Hypothesis
mutates them - flipped bits, cut tails, repeated or inserted runs of bytes, and inside
zip-based formats (DOCX, PPTX, XLSX, ODF, EPUB) the bytes of one member, so the XML
parsers behind the zip are reached too. Every input must come back from the sandbox as a
document or as a failure with a reason, within its time limit; the run must go on.

``DESK_ASSISTANT_FUZZ_EXAMPLES`` sets the examples per format (default 25: 450 inputs in
well under a minute on 2 cores); ``DESK_ASSISTANT_FUZZ_SEED`` the seed (default 11).
"""

from __future__ import annotations

import io
import json
import os
import random
import time
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from faults import EVAL_DOCS, Crash, Hang, Ledger
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

from ingest.chunking import ChunkingConfig
from ingest.sandbox import ParseFailure, ParseTask, SandboxedParser
from ingest.types import ParsedDocument

pytestmark = [pytest.mark.slow]

EXAMPLES = int(os.environ.get("DESK_ASSISTANT_FUZZ_EXAMPLES", "25"))
SEED = int(os.environ.get("DESK_ASSISTANT_FUZZ_SEED", "11"))
TIMEOUT = 15.0  # per file in the fuzz run's workers
ZIPPED = {".docx", ".pptx", ".xlsx", ".odt", ".ods", ".odp", ".epub"}


def _made_seeds(folder: Path) -> dict[str, list[bytes]]:
    """One small document per format, made with the libraries that write them."""
    from test_loaders import make_docx, make_pdf
    from test_loaders_formats import (
        ODT_BODY,
        RTF,
        make_epub,
        make_message,
        make_odf,
        make_pptx,
        make_xlsx,
    )

    folder.mkdir(parents=True, exist_ok=True)
    message = make_message("Budget", "Ann <ann@example.org>", "The budget is attached.\n")
    notebook = {
        "cells": [{"cell_type": "markdown", "source": ["# Notes\n", "Some text."]}],
        "metadata": {},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    from PIL import Image

    picture = io.BytesIO()
    Image.new("RGB", (64, 32), "white").save(picture, "PNG")
    made: dict[str, bytes] = {
        ".pdf": make_pdf(folder / "a.pdf", ["The harbour bridge.", "Second page."]).read_bytes(),
        ".docx": make_docx(folder / "a.docx").read_bytes(),
        ".pptx": make_pptx(folder / "a.pptx").read_bytes(),
        ".xlsx": make_xlsx(folder / "a.xlsx").read_bytes(),
        ".odt": make_odf(folder / "a.odt", "text", ODT_BODY).read_bytes(),
        ".ods": make_odf(
            folder / "a.ods",
            "spreadsheet",
            '<table:table table:name="S"><table:table-row><table:table-cell>'
            "<text:p>Key</text:p></table:table-cell></table:table-row></table:table>",
        ).read_bytes(),
        ".epub": make_epub(folder / "a.epub").read_bytes(),
        ".rtf": RTF,
        ".eml": bytes(message),
        ".mbox": b"From ann@example.org Tue Mar  5 09:30:00 2024\n" + bytes(message),
        ".ipynb": json.dumps(notebook).encode(),
        ".csv": b"name,price\ntea,3\ncoffee,4\n",
        ".md": b"# Title\n\n## Part\n\nText with *emphasis* and [a link](x).\n",
        ".html": b"<html><head><title>T</title></head><body><h1>H</h1><p>Body.</p></body></html>",
        ".txt": "Plain text in UTF-8: café, naïve.\n".encode(),
        ".py": b"def main():\n    return 1\n",
        ".json": b'{"a": [1, 2, {"b": "c"}]}',
        ".png": picture.getvalue(),
    }
    return {suffix: [data] for suffix, data in made.items()}


def _eval_seeds(limit_bytes: int = 400_000, per_format: int = 6) -> dict[str, list[bytes]]:
    """Real documents of the robustness corpus, the small ones, a few per format."""
    seeds: dict[str, list[bytes]] = {}
    if EVAL_DOCS is None:
        return seeds
    rng = random.Random(SEED)
    files = sorted(
        p for p in EVAL_DOCS.rglob("*") if p.is_file() and p.stat().st_size < limit_bytes
    )
    rng.shuffle(files)
    for path in files:
        found = seeds.setdefault(path.suffix.lower(), [])
        if len(found) < per_format and path.suffix:
            found.append(path.read_bytes())
    return {suffix: data for suffix, data in seeds.items() if data}


@pytest.fixture(scope="module")
def seeds(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[bytes]]:
    found = _made_seeds(tmp_path_factory.mktemp("seeds"))
    for suffix, data in _eval_seeds().items():
        found.setdefault(suffix, []).extend(data)
    return found


@pytest.fixture(scope="module")
def parser() -> Iterator[SandboxedParser]:
    sandbox = SandboxedParser(
        ChunkingConfig(256, 32, None), workers=1, timeout=TIMEOUT, memory_mb=1024, prefetch=4
    )
    yield sandbox
    sandbox.close()


@pytest.fixture(scope="module")
def contained(ledger: Ledger) -> Iterator[dict[str, int]]:
    """What the sandbox contained during the run, reported above the summary line."""
    counts = {
        "inputs": 0,
        "documents": 0,
        "refused": 0,
        "crashes": 0,
        "timeouts": 0,
        "unexplained": 0,
    }
    yield counts
    ledger.notes.append(
        f"fuzzing: {counts['inputs']} mutated documents, {counts['documents']} read, "
        f"{counts['refused']} refused with a reason ({counts['unexplained']} of them the "
        f"loader's own error text); contained by the sandbox: {counts['crashes']} parser "
        f"crashes, {counts['timeouts']} parser time-outs"
    )


def _mutate_zip(data: bytes, draw: Callable[[st.SearchStrategy[int]], int]) -> bytes:
    """Mutate the bytes of one member of a zip package and pack it again."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = [(info, archive.read(info)) for info in archive.infolist()]
    except (zipfile.BadZipFile, OSError, RuntimeError):
        return data
    if not members:
        return data
    target = draw(st.integers(0, len(members) - 1))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for number, (info, content) in enumerate(members):
            changed = content
            if number == target and content:
                spot = draw(st.integers(0, len(content) - 1))
                size = draw(st.integers(1, 64))
                noise = bytes(draw(st.integers(0, 255)) for _ in range(size))
                changed = content[:spot] + noise + content[spot + size :]
            archive.writestr(info, changed)
    return out.getvalue()


@st.composite
def mutated(draw: Callable[..., object], original: bytes, suffix: str) -> bytes:
    data = original
    if suffix in ZIPPED and draw(st.booleans()):
        data = _mutate_zip(data, draw)  # type: ignore[arg-type]
    for _ in range(draw(st.integers(1, 4))):  # type: ignore[call-overload]
        if not data:
            break
        kind = draw(st.sampled_from(["flip", "cut", "insert", "repeat"]))
        spot = draw(st.integers(0, len(data) - 1))
        if kind == "flip":
            data = (
                data[:spot]
                + bytes([data[spot] ^ (1 << draw(st.integers(0, 7)))])
                + data[spot + 1 :]
            )
        elif kind == "cut":
            data = data[:spot]
        elif kind == "insert":
            data = data[:spot] + draw(st.binary(min_size=1, max_size=64)) + data[spot:]
        else:
            size = draw(st.integers(1, 256))
            data = data[:spot] + data[spot : spot + size] * draw(st.integers(2, 64)) + data[spot:]
    return data


FORMATS = [
    ".pdf", ".docx", ".pptx", ".xlsx", ".odt", ".ods", ".epub", ".rtf", ".eml", ".mbox",
    ".ipynb", ".csv", ".md", ".html", ".txt", ".py", ".json", ".png",
]  # fmt: skip


@pytest.mark.parametrize("suffix", FORMATS)
def test_mutated_documents_come_back_read_or_refused(
    suffix: str,
    seeds: dict[str, list[bytes]],
    parser: SandboxedParser,
    contained: dict[str, int],
    ledger: Ledger,
    tmp_path: Path,
) -> None:
    samples = seeds[suffix]

    @seed(SEED)
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(st.data())
    def fuzz(data: st.DataObject) -> None:
        original = data.draw(st.sampled_from(samples))
        document = data.draw(mutated(original, suffix))
        path = tmp_path / f"fuzzed{suffix}"
        path.write_bytes(document)
        with ledger.bad_input():
            started = time.monotonic()
            try:
                results = list(parser.parse([ParseTask(str(path), "0" * 64)]))
            except Exception as exc:  # the sandbox itself must never fail
                raise Crash(f"the sandbox failed on a {suffix} file: {exc!r}") from exc
            if time.monotonic() - started > TIMEOUT + 60:
                raise Hang(f"a {suffix} file took {time.monotonic() - started:.0f} s")
            [(_task, result)] = results
            contained["inputs"] += 1
            if isinstance(result, ParsedDocument):
                contained["documents"] += 1
            elif isinstance(result, ParseFailure) and result.reason:
                contained["refused"] += 1
                contained["crashes"] += "crashed" in result.reason
                contained["timeouts"] += "took longer" in result.reason
                contained["unexplained"] += result.reason.startswith("could not be parsed (")
            else:
                raise Crash(f"the sandbox gave back {result!r}")

    fuzz()
