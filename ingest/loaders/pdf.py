"""PDF text, one section per page so answers can cite the page.

pdfium (Chrome's PDF engine) reads nearly everything, fast, and repairs broken
cross-reference tables; pypdf is only asked when pdfium cannot open a file at all, because
its pure-Python parser tolerates some damage pdfium rejects.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pypdf
import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c
from pypdf.errors import DependencyError

from ingest.loaders import LoadedText, LoaderError
from ingest.loaders._common import library_errors
from ingest.types import Section

DAMAGED = "not a valid PDF (damaged or truncated)"
PASSWORD = "password protected"
NO_TEXT = "no text layer — OCR not available"

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufeff]")
# pdfium marks a hyphen it found at a line end with U+FFFE; pypdf leaves "-\n".
_LINE_END_HYPHEN = re.compile(r"(?<=\w)(?:\ufffe\n?|-\n)[ \t]*(?=[a-z])")
_SPACES = re.compile(r"[ \t\u00a0]+")
_BLANK_LINES = re.compile(r"\n[ \t]*(?:\n[ \t]*)+")


def clean_page_text(raw: str) -> str:
    """Make extracted text read like prose: join hyphenated words, tidy whitespace.

    Blank lines are kept as one paragraph break; the sentence splitter downstream uses them.
    """
    text = raw.replace("\r\n", "\n").replace("\r", "\n")
    text = _LINE_END_HYPHEN.sub("", text).replace("\ufffe", "-")
    text = _CONTROL.sub("", text)
    text = _SPACES.sub(" ", text)
    text = _BLANK_LINES.sub("\n\n", text)
    return "\n".join(line.strip() for line in text.split("\n")).strip()


def load_pdf(path: Path) -> LoadedText:
    try:
        document = pdfium.PdfDocument(path)
    except pdfium.PdfiumError as exc:
        if exc.err_code == pdfium_c.FPDF_ERR_PASSWORD:
            raise LoaderError(PASSWORD) from exc
        return _collect(*_pypdf_pages(path))
    try:
        return _collect(len(document), _pdfium_pages(document))
    finally:
        document.close()


def _pdfium_pages(document: pdfium.PdfDocument) -> Iterator[tuple[int, str | None]]:
    for index in range(len(document)):
        yield index + 1, _pdfium_page_text(document, index)


def _pdfium_page_text(document: pdfium.PdfDocument, index: int) -> str | None:
    """The raw text of one page, or None when the page cannot be parsed.

    Page and text page are closed before the next page is opened: pdfium keeps parsed page
    content in native memory that Python's garbage collector does not see.
    """
    try:
        page = document[index]
    except pdfium.PdfiumError:
        return None
    try:
        textpage = page.get_textpage()
        try:
            text: str = textpage.get_text_range()
        finally:
            textpage.close()
    except pdfium.PdfiumError:
        return None
    finally:
        page.close()
    return text


def _pypdf_pages(path: Path) -> tuple[int, Iterator[tuple[int, str | None]]]:
    with library_errors(DAMAGED):
        try:
            reader = pypdf.PdfReader(path)
            unlocked = not reader.is_encrypted or reader.decrypt("")
        except DependencyError as exc:
            # AES needs the optional "cryptography" package, which pypdf may lack.
            raise LoaderError("encrypted with an unsupported method") from exc
        if not unlocked:
            raise LoaderError(PASSWORD)
        count = len(reader.pages)

    def pages() -> Iterator[tuple[int, str | None]]:
        for index in range(count):
            try:
                text: str | None = reader.pages[index].extract_text()
            except MemoryError:
                raise
            except Exception:
                text = None  # one broken page should not cost the rest of the document
            yield index + 1, text

    return count, pages()


def _collect(count: int, pages: Iterator[tuple[int, str | None]]) -> LoadedText:
    if count < 1:
        raise LoaderError("PDF has no pages")
    sections: list[Section] = []
    unreadable: list[int] = []
    for number, raw in pages:
        if raw is None:
            unreadable.append(number)
        elif text := clean_page_text(raw):
            sections.append(Section(text=text, page=number))
    if not sections:
        raise LoaderError(DAMAGED if len(unreadable) == count else NO_TEXT)
    warnings = []
    if unreadable:
        warnings.append(f"{len(unreadable)} of {count} pages could not be read")
    blank = count - len(sections) - len(unreadable)
    if blank:
        warnings.append(f"{blank} of {count} pages have no text layer (OCR not available)")
    return LoadedText(format="pdf", sections=sections, pages=count, warnings=tuple(warnings))
