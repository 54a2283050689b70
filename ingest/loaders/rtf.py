"""Rich Text Format: WordPad documents, old Word exports, TextEdit files.

RTF is 7-bit text with escapes: ``\\'e9`` is a byte in the document's code page and ``\\u233``
a Unicode character, both decoded by striprtf; reading the bytes as Latin-1 only passes
them through to it unchanged.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from striprtf import striprtf

from ingest.loaders import LoadedText, LoaderError
from ingest.loaders._common import library_errors, tidy_text
from ingest.types import Section

# striprtf ships py.typed but leaves its one function unannotated.
_rtf_to_text: Callable[..., str] = striprtf.rtf_to_text


def load_rtf(path: Path) -> LoadedText:
    data = path.read_bytes()
    if not data.lstrip().startswith(b"{\\rtf"):
        raise LoaderError("not a valid RTF document (no {\\rtf header)")
    with library_errors("not a valid RTF document (damaged)"):
        raw = _rtf_to_text(data.decode("latin-1"), errors="replace")
    text = tidy_text(_table_rows(_join_surrogates(raw)))
    if not text:
        raise LoaderError("no text")
    return LoadedText(format="rtf", sections=[Section(text=text)])


def _table_rows(text: str) -> str:
    """striprtf ends each table cell with "|"; write rows as "cell | cell" like the other
    loaders do."""
    lines = text.split("\n")
    for index, line in enumerate(lines):
        if line.endswith("|"):
            lines[index] = " | ".join(cell.strip() for cell in line[:-1].split("|"))
    return "\n".join(lines)


def _join_surrogates(text: str) -> str:
    """Pair the UTF-16 halves that RTF writes as two ``\\u`` escapes for one emoji or CJK
    extension character; a lone half cannot be encoded and would break indexing."""
    return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
