"""Pictures of documents (scans, photographed receipts, screenshots): text by OCR.

A multi-page TIFF is how scanners and fax software store a document, so its frames are its
pages; the other frames an image can have (GIF, WebP animation) are not pages, so only the
first is read.
"""

from __future__ import annotations

import warnings
from pathlib import Path

from PIL import Image, ImageSequence, UnidentifiedImageError

from ingest.loaders import LoadedText, LoaderError
from ingest.loaders._common import library_errors, tidy_text
from ingest.loaders.ocr import NO_TEXT, PageOcr, find_tesseract
from ingest.types import Section

DAMAGED = "not a readable image (damaged or an unsupported kind)"


def load_image(path: Path) -> LoadedText:
    engine = find_tesseract()
    with warnings.catch_warnings():
        # Pillow only warns about pictures of over 89 megapixels (it refuses twice that); no
        # document page needs that many, and decoding one can exhaust the worker's memory.
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        image = _open(path)
        if engine is None:
            image.close()
            raise LoaderError(NO_TEXT)
        with image, library_errors(DAMAGED):
            multipage = image.format == "TIFF" and getattr(image, "n_frames", 1) > 1
            frames = ImageSequence.Iterator(image) if multipage else [image]
            ocr = PageOcr(engine)
            sections: list[Section] = []
            count = 0
            for count, frame in enumerate(frames, start=1):
                if ocr.out_of_time:
                    ocr.skip(count)
                    continue
                try:
                    frame.load()
                except Image.DecompressionBombWarning as exc:
                    raise LoaderError("image too large to read") from exc
                text = tidy_text(ocr.page(count, frame, _dpi(frame)), join_hyphens=True)
                if text:
                    sections.append(Section(text=text, page=count if multipage else None))
    if not sections:
        raise ocr.nothing_read_reason()
    notes = ocr.warnings(count) if multipage else []
    return LoadedText(
        format="image",
        sections=sections,
        pages=count if multipage else None,
        warnings=tuple(notes),
    )


def _open(path: Path) -> Image.Image:
    try:
        image = Image.open(path)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise LoaderError("image too large to read") from exc
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        raise LoaderError(DAMAGED) from exc
    return image


def _dpi(image: Image.Image) -> int | None:
    """The resolution the file declares, when plausible; Tesseract guesses it otherwise."""
    declared = image.info.get("dpi")
    try:
        dpi = round(float(declared[0])) if declared else 0
    except (TypeError, ValueError, IndexError):
        return None
    return dpi if 70 <= dpi <= 2400 else None
