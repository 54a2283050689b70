"""PDF text, one section per page so answers can cite the page.

pdfium (Chrome's PDF engine) reads nearly everything, fast, and repairs broken
cross-reference tables; pypdf is only asked when pdfium cannot open a file at all, because
its pure-Python parser tolerates some damage pdfium rejects. Pages without a text layer
(scans) are rendered by pdfium and read by Tesseract when it is installed.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pypdf
import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c
from pypdf.errors import DependencyError

from ingest.loaders import LoadedText, LoaderError
from ingest.loaders._common import library_errors, tidy_text
from ingest.loaders.ocr import MAX_PIXELS, NO_TEXT, OCR_DPI, PageOcr, find_tesseract
from ingest.progress import report
from ingest.types import Section

# pypdf logs every repair it makes to a damaged file ("incorrect startxref pointer");
# the user gets one readable reason per file instead.
logging.getLogger("pypdf").setLevel(logging.ERROR)

DAMAGED = "not a valid PDF (damaged or truncated)"
PASSWORD = "password protected"

# Renders the pages given by number and reads them with the PageOcr; only pdfium can render.
PageRenderer = Callable[[PageOcr, list[int]], dict[int, str]]


def clean_page_text(raw: str) -> str:
    """Make extracted text read like prose: join hyphenated words, tidy whitespace."""
    return tidy_text(raw, join_hyphens=True)


def load_pdf(path: Path) -> LoadedText:
    started = time.monotonic()
    try:
        document = pdfium.PdfDocument(path)
    except pdfium.PdfiumError as exc:
        if exc.err_code == pdfium_c.FPDF_ERR_PASSWORD:
            raise LoaderError(PASSWORD) from exc
        return _collect(*_pypdf_pages(path))
    try:
        return _collect(
            len(document),
            _pdfium_pages(document),
            lambda ocr, numbers: _ocr_pages(document, ocr, numbers),
            started,
        )
    finally:
        document.close()


def open_page(path: Path, number: int) -> int:
    """Do what a viewer does first with ``path``: open it, read page ``number`` (1-based,
    clamped to the document) and render it small. Returns the page count; a
    LoaderError when pdfium cannot open the file. Run in a throw-away process before a
    viewer in the app's own process is given the file: a PDF that hangs or crashes
    pdfium is refused here, not in the window."""
    try:
        document = pdfium.PdfDocument(path)
    except pdfium.PdfiumError as exc:
        reason = PASSWORD if exc.err_code == pdfium_c.FPDF_ERR_PASSWORD else DAMAGED
        raise LoaderError(reason) from exc
    try:
        count = len(document)
        if count:
            index = max(0, min(number, count) - 1)
            _pdfium_page_text(document, index)
            document[index].render(scale=0.5).close()
        return count
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


def _collect(
    count: int,
    pages: Iterator[tuple[int, str | None]],
    ocr: PageRenderer | None = None,
    started: float | None = None,
) -> LoadedText:
    if count < 1:
        raise LoaderError("PDF has no pages")
    texts: dict[int, str] = {}
    unreadable: list[int] = []
    blank: list[int] = []
    for number, raw in pages:
        report("parse", number, count)
        if raw is None:
            unreadable.append(number)
        elif text := clean_page_text(raw):
            texts[number] = text
        else:
            blank.append(number)
    warnings = []
    if unreadable:
        warnings.append(f"{len(unreadable)} of {count} pages could not be read")
    engine = find_tesseract() if blank and ocr is not None else None
    if engine is None or ocr is None:
        if not texts:
            raise LoaderError(DAMAGED if len(unreadable) == count else NO_TEXT)
        if blank:
            warnings.append(f"{len(blank)} of {count} pages have no text layer (OCR not available)")
    else:
        reader = PageOcr(engine, time.monotonic() if started is None else started)
        texts.update(ocr(reader, blank))
        if not texts:
            raise reader.nothing_read_reason()
        warnings.extend(reader.warnings(count))
        if reader.empty:
            warnings.append(f"{len(reader.empty)} of {count} pages have no text")
    sections = [Section(text=texts[number], page=number) for number in sorted(texts)]
    return LoadedText(format="pdf", sections=sections, pages=count, warnings=tuple(warnings))


def _ocr_pages(document: pdfium.PdfDocument, ocr: PageOcr, numbers: list[int]) -> dict[int, str]:
    """Render each page that has something drawn on it and read it with Tesseract.

    A page with no objects at all is blank paper: rendering and reading it would only spend
    the time budget.
    """
    texts: dict[int, str] = {}
    for done, number in enumerate(numbers):
        report("ocr", done, len(numbers))
        if ocr.out_of_time:
            ocr.skip(number)
            continue
        try:
            page = document[number - 1]
        except pdfium.PdfiumError:
            ocr.failed[number] = "page could not be opened"
            continue
        try:
            if pdfium_c.FPDFPage_CountObjects(page.raw) <= 0:
                ocr.empty.append(number)
                continue
            width, height = page.get_size()
            scale = min(OCR_DPI / 72, (MAX_PIXELS / max(width * height, 1.0)) ** 0.5)
            bitmap = page.render(scale=scale, grayscale=True)
            try:
                image = bitmap.to_pil().copy()  # to_pil() shares pdfium's buffer
            finally:
                bitmap.close()
        except pdfium.PdfiumError:
            ocr.failed[number] = "page could not be rendered"
            continue
        finally:
            page.close()
        if text := ocr.page(number, image, round(72 * scale)):
            texts[number] = clean_page_text(text)
    return texts
