"""Helpers shared by the loaders: error conversion, sections, text tidying, zip packages."""

from __future__ import annotations

import re
import zipfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from ingest.loaders import LoaderError
from ingest.types import Section

HEADING_SEPARATOR = " > "


@contextmanager
def library_errors(reason: str) -> Iterator[None]:
    """Turn any parser exception into ``LoaderError(reason)``.

    Third-party parsers fail on hostile files with whatever exception their code happens to
    hit (KeyError, struct.error, RecursionError, ...); the user needs one readable reason,
    the traceback stays chained for the log. Running out of memory is not a property of the
    file's format, so it is left for the sandbox to report.
    """
    try:
        yield
    except (LoaderError, MemoryError):
        raise
    except Exception as exc:
        raise LoaderError(reason) from exc


class SectionBuilder:
    """Collects text into one section per heading, labelled with the heading path.

    Markdown, HTML and Word all nest headings by level; a heading closes every open heading
    of the same or deeper level, so "Install > Linux" follows "Install > Windows".
    """

    def __init__(self, page: int | None = None) -> None:
        self.sections: list[Section] = []
        self._page = page
        self._open: list[tuple[int, str]] = []
        self._lines: list[str] = []
        self._has_body = False

    @property
    def path(self) -> str | None:
        return HEADING_SEPARATOR.join(title for _, title in self._open) or None

    def heading(self, level: int, title: str, line: str | None = None) -> None:
        """Start a section under ``title``; ``line`` is the heading as it appears in the text.

        Keeping the heading line in the section text helps retrieval (the words of a heading
        describe its passage) and keeps Markdown offsets faithful to the source.
        """
        self.flush()
        while self._open and self._open[-1][0] >= level:
            self._open.pop()
        if title:
            self._open.append((level, title))
        if line is not None:
            self._lines.append(line)

    def add(self, line: str) -> None:
        self._lines.append(line)
        self._has_body = self._has_body or bool(line.strip())

    def flush(self) -> None:
        """Emit the pending section; a heading with no text under it is not worth a chunk."""
        text = "\n".join(self._lines).strip("\n")
        if self._has_body and text.strip():
            self.sections.append(Section(text=text, page=self._page, heading=self.path))
        self._lines.clear()
        self._has_body = False

    def finish(self) -> list[Section]:
        self.flush()
        return self.sections


# -- text tidying -------------------------------------------------------------------------

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufeff]")
# pdfium marks a hyphen it found at a line end with U+FFFE; other sources leave "-\n".
_LINE_END_HYPHEN = re.compile(r"(?<=\w)(?:\ufffe\n?|-\n)[ \t]*(?=[a-z])")
_SPACES = re.compile(r"[ \t\u00a0]+")
_BLANK_LINES = re.compile(r"\n[ \t]*(?:\n[ \t]*)+")


def tidy_text(raw: str, *, join_hyphens: bool = False) -> str:
    """Make extracted text read like prose: tidy whitespace, drop control characters.

    Blank lines are kept as one paragraph break; the sentence splitter downstream uses them.
    ``join_hyphens`` rejoins words split at a line end, which only typeset text (PDF, scans)
    has: in an editable document a line ending in a hyphen was typed that way.
    """
    text = raw.replace("\r\n", "\n").replace("\r", "\n")
    if join_hyphens:
        text = _LINE_END_HYPHEN.sub("", text).replace("\ufffe", "-")
    text = _CONTROL.sub("", text)
    text = _SPACES.sub(" ", text)
    text = _BLANK_LINES.sub("\n\n", text)
    return "\n".join(line.strip() for line in text.split("\n")).strip()


def one_line(text: str) -> str:
    """Collapse all whitespace, for text that must fit on one line (a cell, a heading)."""
    return " ".join(text.split())


# -- zip packages (OOXML, ODF, EPUB) ------------------------------------------------------

_OLE_MAGIC = b"\xd0\xcf\x11\xe0"
# A member larger than this, unpacked, is a zip bomb rather than a document part.
MAX_MEMBER_BYTES = 256 * 1024 * 1024


def open_zip(path: Path, what: str, legacy: str | None = None) -> zipfile.ZipFile:
    """Open an Office/ODF/EPUB package, or say why it is not one.

    Office encrypts a password-protected .docx/.xlsx/.pptx into an OLE compound file, the
    same container as the pre-2007 formats, so ``legacy`` names the old extension the user
    may have renamed.
    """
    try:
        return zipfile.ZipFile(path)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError) as exc:
        with path.open("rb") as handle:
            ole = handle.read(4) == _OLE_MAGIC
        if ole and legacy:
            reason = f"password protected, or an old {legacy} file"
        else:
            reason = "not a zip archive" if not ole else "an OLE file, not a zip archive"
        raise LoaderError(f"not a valid {what} ({reason})") from exc


def read_member(archive: zipfile.ZipFile, name: str, what: str) -> bytes:
    """One member's bytes, refusing a missing part or one that would unpack to gigabytes."""
    try:
        info = archive.getinfo(name)
    except KeyError as exc:
        raise LoaderError(f"not a valid {what} ({name} is missing)") from exc
    if info.file_size > MAX_MEMBER_BYTES:
        raise LoaderError(f"not a valid {what} ({name} is too large to unpack)")
    with library_errors(f"not a valid {what} ({name} is damaged)"):
        return archive.read(info)


def xml_local_name(tag: str) -> str:
    """``{namespace}name`` -> ``name``."""
    return tag.rpartition("}")[2]


# -- tables -------------------------------------------------------------------------------


class RowSections:
    """Spreadsheet rows as "Header: value; Header: value" lines, a bounded block per section.

    Repeating the header beside each value keeps a row meaningful wherever the chunker cuts;
    the row number makes the passage findable in the sheet. Blocks stay small so a sheet of
    any length becomes many sections, and rows are taken one at a time from a streaming
    reader, never as a whole sheet.
    """

    ROWS_PER_SECTION = 100
    CHARS_PER_SECTION = 8000

    def __init__(self, heading: str | None) -> None:
        self.sections: list[Section] = []
        self._heading = heading
        self._header: list[str] | None = None
        self._header_line = ""
        self._lines: list[str] = []
        self._chars = 0

    def add(self, number: int, values: Sequence[str]) -> None:
        """Add row ``number`` (1-based, as the application shows it); empty rows are skipped."""
        cells = [one_line(value) for value in values]
        if not any(cells):
            return
        if self._header is None:
            self._header = cells
            self._header_line = f"Row {number}: " + "; ".join(cell for cell in cells if cell)
            return
        pairs = []
        for index, cell in enumerate(cells):
            if cell:
                name = self._header[index] if index < len(self._header) else ""
                pairs.append(f"{name or f'Column {index + 1}'}: {cell}")
        self._append(f"Row {number}: " + "; ".join(pairs))

    def _append(self, line: str) -> None:
        self._lines.append(line)
        self._chars += len(line) + 1
        if len(self._lines) >= self.ROWS_PER_SECTION or self._chars >= self.CHARS_PER_SECTION:
            self._flush()

    def _flush(self) -> None:
        if self._lines:
            self.sections.append(Section(text="\n".join(self._lines), heading=self._heading))
        self._lines.clear()
        self._chars = 0

    def finish(self) -> list[Section]:
        if self._header is not None and not self.sections and not self._lines:
            self._lines.append(self._header_line)  # a sheet that is only a header row
        self._flush()
        return self.sections
