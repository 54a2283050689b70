"""Tesseract OCR for scanned PDF pages and pictures of documents.

Tesseract is an optional system program (Debian: ``tesseract-ocr``), run as a command rather
than through a binding: nothing to compile, and a crash or a hang in it costs one
subprocess, not the parser worker. Without it a scan is reported as unreadable, never
indexed as empty.

OCR is slow (seconds per page on these machines), so every page gets a time limit and a
document gets a budget that leaves the rest of the parse inside the sandbox's per-file
timeout: a long scan comes out partly read, with a warning naming the pages left out,
rather than not at all.
"""

from __future__ import annotations

import csv
import io
import os
import shutil
import subprocess
import time
from dataclasses import dataclass, field

from PIL import Image

from ingest.loaders import LoaderError

NO_TEXT = "no text layer — OCR not available"

# Path of the tesseract program, or "off" to never OCR (it is looked up on PATH otherwise).
COMMAND_VARIABLE = "DESK_ASSISTANT_TESSERACT"
# Tesseract language packs to use, e.g. "eng+deu"; Tesseract's default (eng) otherwise.
LANGUAGES_VARIABLE = "DESK_ASSISTANT_OCR_LANGUAGES"
# Seconds of OCR one document may take in total.
BUDGET_VARIABLE = "DESK_ASSISTANT_OCR_SECONDS"

PAGE_SECONDS = 20.0
DOCUMENT_SECONDS = 45.0
# Scans are read at 300 dpi, but an A0 poster at 300 dpi is 140 megapixels: Tesseract's time
# and memory grow with the pixel count, and text that large reads fine at lower resolution.
OCR_DPI = 300
MAX_PIXELS = 4000 * 4000
# Tesseract reads noise, photos and drawings as strings of low-confidence "words"; a page
# whose words average below this is junk, not text.
MIN_CONFIDENCE = 40.0

_DISABLED = {"off", "0", "no", "none", "false"}
_TSV_WORD_LEVEL = "5"


class OcrFailed(Exception):
    """Tesseract could not read an image (it failed, or ran out of time)."""


@dataclass(frozen=True, slots=True)
class Tesseract:
    command: str
    languages: str | None = None

    def recognise(self, image: Image.Image, timeout: float, dpi: int | None = None) -> str:
        """The text Tesseract reads in ``image``; empty when it only saw noise."""
        buffer = io.BytesIO()
        image.save(buffer, "PNG", compress_level=1)
        args = [self.command, "stdin", "stdout"]
        if self.languages:
            args += ["-l", self.languages]
        if dpi:
            args += ["--dpi", str(dpi)]
        # One thread per Tesseract: the parser workers already run one file per core.
        env = {**os.environ, "OMP_THREAD_LIMIT": "1"}
        try:
            done = subprocess.run(
                [*args, "tsv"],
                input=buffer.getvalue(),
                capture_output=True,
                timeout=timeout,
                env=env,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise OcrFailed(f"took longer than {timeout:g} s") from exc
        except OSError as exc:
            raise OcrFailed(f"tesseract could not be run ({exc.strerror or exc})") from exc
        if done.returncode != 0:
            lines = done.stderr.decode(errors="replace").strip().splitlines()
            raise OcrFailed(lines[-1] if lines else f"tesseract exit status {done.returncode}")
        return _text_from_tsv(done.stdout.decode("utf-8", errors="replace"))


def find_tesseract() -> Tesseract | None:
    """The Tesseract to use, or None when OCR is unavailable or switched off."""
    setting = os.environ.get(COMMAND_VARIABLE, "").strip()
    if setting.lower() in _DISABLED:
        return None
    command = shutil.which(setting or "tesseract")
    if command is None:
        return None
    return Tesseract(command, os.environ.get(LANGUAGES_VARIABLE, "").strip() or None)


def _document_budget() -> float:
    try:
        return max(float(os.environ.get(BUDGET_VARIABLE, DOCUMENT_SECONDS)), 1.0)
    except ValueError:
        return DOCUMENT_SECONDS


def _text_from_tsv(tsv: str) -> str:
    """Rebuild lines and paragraphs from Tesseract's word table, dropping junk pages.

    The TSV output is the plain-text output plus a confidence per word, which tells a
    page of text from a photo that Tesseract dutifully turned into random letters.
    """
    paragraphs: dict[tuple[str, str], dict[str, list[str]]] = {}
    confidences: list[float] = []
    for row in csv.reader(io.StringIO(tsv), delimiter="\t", quoting=csv.QUOTE_NONE):
        if len(row) < 12 or row[0] != _TSV_WORD_LEVEL or not row[11].strip():
            continue
        try:
            confidences.append(float(row[10]))
        except ValueError:
            continue
        lines = paragraphs.setdefault((row[2], row[3]), {})
        lines.setdefault(row[4], []).append(row[11].strip())
    if not confidences or sum(confidences) / len(confidences) < MIN_CONFIDENCE:
        return ""
    return "\n\n".join(
        "\n".join(" ".join(words) for words in lines.values()) for lines in paragraphs.values()
    )


def fit_for_ocr(image: Image.Image) -> Image.Image:
    """Grayscale, at most ``MAX_PIXELS``: what Tesseract reads best and fastest."""
    if image.mode not in ("L", "1"):
        if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
            # Transparent pixels are often black underneath; text is on a white page.
            background = Image.new("RGBA", image.size, "white")
            background.alpha_composite(image.convert("RGBA"))
            image = background
        image = image.convert("L")
    pixels = image.width * image.height
    if pixels > MAX_PIXELS:
        factor = (MAX_PIXELS / pixels) ** 0.5
        size = (max(1, int(image.width * factor)), max(1, int(image.height * factor)))
        image = image.resize(size, Image.Resampling.LANCZOS)
    return image


@dataclass
class PageOcr:
    """OCRs the pages of one document within the page and document time limits.

    Keeps score of what happened to each page so the loader can warn about the pages it
    read by OCR and the pages it could not read, by number.
    """

    engine: Tesseract
    # When the document's parse began: the budget covers the whole parse, which the
    # sandbox's timeout limits, not only the OCR.
    started: float = field(default_factory=time.monotonic)
    budget: float = field(default_factory=_document_budget)
    read: list[int] = field(default_factory=list)
    empty: list[int] = field(default_factory=list)
    failed: dict[int, str] = field(default_factory=dict)
    skipped: list[int] = field(default_factory=list)
    _deadline: float = field(init=False, default=0.0)

    def __post_init__(self) -> None:
        self._deadline = self.started + self.budget

    @property
    def out_of_time(self) -> bool:
        return time.monotonic() >= self._deadline

    def skip(self, number: int) -> None:
        self.skipped.append(number)

    def page(self, number: int, image: Image.Image, dpi: int | None = None) -> str:
        """The text of page ``number``, or "" when there was none or it could not be read."""
        remaining = self._deadline - time.monotonic()
        if remaining <= 0:
            self.skipped.append(number)
            return ""
        try:
            text = self.engine.recognise(
                fit_for_ocr(image), min(PAGE_SECONDS, remaining), dpi
            ).strip()
        except OcrFailed as exc:
            self.failed[number] = str(exc)
            return ""
        (self.read if text else self.empty).append(number)
        return text

    def warnings(self, count: int) -> list[str]:
        notes = []
        if self.read:
            notes.append(f"text of {_pages(self.read)} read by OCR")
        if self.failed:
            reason = next(iter(self.failed.values()))
            notes.append(f"OCR failed on {_pages(list(self.failed))} ({reason})")
        if self.skipped:
            notes.append(
                f"OCR time budget of {self.budget:g} s used up: "
                f"{_pages(self.skipped)} of {count} not read"
            )
        return notes

    def nothing_read_reason(self) -> LoaderError:
        """Why a document whose only hope was OCR came out empty."""
        if self.failed and not self.empty:
            return LoaderError(f"OCR failed ({next(iter(self.failed.values()))})")
        if self.skipped and not self.empty:
            return LoaderError(f"OCR time budget of {self.budget:g} s used up")
        return LoaderError("no text layer, and OCR found no text")


def _pages(numbers: list[int]) -> str:
    return f"page {numbers[0]}" if len(numbers) == 1 else f"pages {page_list(numbers)}"


def page_list(numbers: list[int]) -> str:
    """``[1, 2, 3, 5]`` -> ``"1-3, 5"``: a warning stays short however many pages it names."""
    runs: list[list[int]] = []
    for number in sorted(set(numbers)):
        if runs and number == runs[-1][1] + 1:
            runs[-1][1] = number
        else:
            runs.append([number, number])
    return ", ".join(str(a) if a == b else f"{a}-{b}" for a, b in runs)
