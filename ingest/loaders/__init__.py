"""Loader registry: which parser reads which file, chosen by extension and sniffed content.

Loader modules import their parsing library (pypdfium2, python-docx, ...) at the top, so
the registry names them by module path and imports one only when a file needs it: the
app and CLI start without paying for parsers they may never use.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ingest.types import Section


class LoaderError(Exception):
    """A file that cannot be read; the message is the reason shown to the user."""


@dataclass(frozen=True, slots=True)
class LoadedText:
    """Everything a loader extracted from one file."""

    format: str
    sections: list[Section]
    pages: int | None = None
    warnings: tuple[str, ...] = ()


Loader = Callable[[Path], LoadedText]

# format name -> "module:function"
_LOADERS: dict[str, str] = {
    "text": "ingest.loaders.text:load_text",
    "markdown": "ingest.loaders.markdown:load_markdown",
    "pdf": "ingest.loaders.pdf:load_pdf",
    "docx": "ingest.loaders.docx:load_docx",
    "html": "ingest.loaders.html:load_html",
}

EXTENSIONS: dict[str, str] = {
    ".txt": "text",
    ".text": "text",
    ".log": "text",
    ".rst": "text",
    ".md": "markdown",
    ".markdown": "markdown",
    ".pdf": "pdf",
    ".docx": "docx",
    ".html": "html",
    ".htm": "html",
    ".xhtml": "html",
}


def is_supported(path: Path) -> bool:
    return path.suffix.lower() in EXTENSIONS


# Only markup may come before <html>: a text file that merely mentions "<html" near the top
# (notes, logs) must stay text.
_HTML_START = re.compile(
    rb"(?:\xef\xbb\xbf)?(?:\s|<\?xml[^>]*>|<!--.*?-->|<!doctype[^>]*>)*<(?:!doctype\s+)?html",
    re.IGNORECASE | re.DOTALL,
)


def sniff(path: Path) -> str | None:
    """Guess the format from the first bytes, so a mislabelled file still parses right."""
    with path.open("rb") as handle:
        head = handle.read(2048)
    if head.startswith(b"%PDF") or b"%PDF-" in head[:1024]:
        return "pdf"
    if head.startswith(b"PK\x03\x04"):
        return "docx" if b"word/" in head or b"[Content_Types].xml" in head else None
    if _HTML_START.match(head):
        return "html"
    return None


def format_for(path: Path) -> str:
    """The format to parse ``path`` as: the sniffed content wins over the extension."""
    by_extension = EXTENSIONS.get(path.suffix.lower(), "text")
    sniffed = sniff(path)
    if sniffed is None or sniffed == by_extension:
        return by_extension
    if sniffed == "html" and by_extension == "markdown":
        return by_extension  # Markdown may legitimately embed HTML
    return sniffed


def get_loader(fmt: str) -> Loader:
    module_name, _, function = _LOADERS[fmt].partition(":")
    loader: Loader = getattr(importlib.import_module(module_name), function)
    return loader


def load(path: Path) -> LoadedText:
    """Parse one file into sections, raising ``LoaderError`` with a readable reason."""
    if path.stat().st_size == 0:
        raise LoaderError("empty file")
    fmt = format_for(path)
    return get_loader(fmt)(path)
