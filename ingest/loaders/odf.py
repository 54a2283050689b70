"""OpenDocument (LibreOffice, OpenOffice): text documents, spreadsheets, presentations.

All three keep their content in one ``content.xml`` inside a zip; what kind a file is says
the first element of ``office:body``, which cannot disagree with the content the way an
extension or the ``mimetype`` member can. The XML is read as a stream and each paragraph,
table row or slide is dropped once rendered, so a spreadsheet of 100,000 rows never becomes
a tree of a million elements.

Locations follow the other loaders: heading paths (``text:h`` outline levels) for text,
sheet names for spreadsheets, slide numbers for presentations.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Protocol

from ingest.loaders import LoadedText, LoaderError
from ingest.loaders._common import (
    MAX_MEMBER_BYTES,
    RowSections,
    SectionBuilder,
    library_errors,
    one_line,
    open_zip,
    read_member,
    tidy_text,
)
from ingest.types import Section

WHAT = "OpenDocument file"
NOTES = "Notes:"

_NS = {
    "office": "urn:oasis:names:tc:opendocument:xmlns:office:1.0",
    "text": "urn:oasis:names:tc:opendocument:xmlns:text:1.0",
    "table": "urn:oasis:names:tc:opendocument:xmlns:table:1.0",
    "draw": "urn:oasis:names:tc:opendocument:xmlns:drawing:1.0",
    "presentation": "urn:oasis:names:tc:opendocument:xmlns:presentation:1.0",
}


def _q(name: str) -> str:
    prefix, _, local = name.partition(":")
    return f"{{{_NS[prefix]}}}{local}"


_BODY = _q("office:body")
_KINDS = {
    _q("office:text"): "odt",
    _q("office:spreadsheet"): "ods",
    _q("office:presentation"): "odp",
    _q("office:drawing"): "odg",
}
_H, _P, _NUMBER = _q("text:h"), _q("text:p"), _q("text:number")
_S, _TAB, _BREAK = _q("text:s"), _q("text:tab"), _q("text:line-break")
_NOTE, _NOTE_BODY = _q("text:note"), _q("text:note-body")
_LIST, _SECTION = _q("text:list"), _q("text:section")
_OUTLINE_LEVEL, _SPACES = _q("text:outline-level"), _q("text:c")
_TABLE, _ROW, _CELL = _q("table:table"), _q("table:table-row"), _q("table:table-cell")
_COVERED = _q("table:covered-table-cell")
_ROW_GROUPS = {
    _q("table:table-header-rows"),
    _q("table:table-rows"),
    _q("table:table-row-group"),
}
_TABLE_NAME = _q("table:name")
_ROWS_REPEATED = _q("table:number-rows-repeated")
_COLUMNS_REPEATED = _q("table:number-columns-repeated")
_PAGE, _FRAME = _q("draw:page"), _q("draw:frame")
_NOTES = _q("presentation:notes")
_CLASS = _q("presentation:class")
# Everything under these is not the document's text: deleted text kept for change tracking,
# comments, generated indexes that repeat the headings, field declarations, the marker of a
# footnote (its body is kept), forms.
_SKIP = {
    _q(name)
    for name in (
        "text:tracked-changes",
        "office:annotation",
        "office:annotation-end",
        "text:note-citation",
        "text:sequence-decls",
        "text:variable-decls",
        "text:user-field-decls",
        "text:dde-connection-decls",
        "text:table-of-content",
        "text:alphabetical-index",
        "text:illustration-index",
        "text:table-index",
        "text:object-index",
        "text:user-index",
        "text:bibliography",
        "office:forms",
        "draw:page-thumbnail",
        "office:event-listeners",
        "table:shapes",
    )
}
_TEXT_CONTAINERS = {_q("office:text"), _SECTION}

# A cell or row marked as repeated thousands of times is how spreadsheets store the empty
# rest of a sheet; repeated content beyond this is a hostile file, not a record.
_MAX_REPEAT = 1000
_MAX_COLUMNS = 16384


class _Sink(Protocol):
    def add(self, line: str) -> None: ...

    def heading(self, level: int, title: str, line: str | None = None) -> None: ...


class _Lines:
    """Collects a slide's lines; a heading inside a text box is just a line there."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def add(self, line: str) -> None:
        self.lines.append(line)

    def heading(self, level: int, title: str, line: str | None = None) -> None:
        self.lines.append(line if line is not None else title)


def load_odf(path: Path) -> LoadedText:
    with open_zip(path, WHAT) as archive:
        if _encrypted(archive):
            raise LoaderError("password protected")
        info = _content_info(archive)
        with library_errors(f"not a valid {WHAT} (damaged content.xml)"), archive.open(info) as xml:
            kind, sections, pages = _Reader().read(xml)
    if not sections:
        raise LoaderError("no text")
    return LoadedText(format=kind, sections=sections, pages=pages)


def _encrypted(archive: zipfile.ZipFile) -> bool:
    if "META-INF/manifest.xml" not in archive.namelist():
        return False
    return b"encryption-data" in read_member(archive, "META-INF/manifest.xml", WHAT)


def _content_info(archive: zipfile.ZipFile) -> zipfile.ZipInfo:
    try:
        info = archive.getinfo("content.xml")
    except KeyError as exc:
        raise LoaderError(f"not a valid {WHAT} (content.xml is missing)") from exc
    if info.file_size > MAX_MEMBER_BYTES:
        raise LoaderError(f"not a valid {WHAT} (content.xml is too large to unpack)")
    return info


class _Reader:
    """Turns the stream of ``content.xml`` into sections, one finished element at a time."""

    def __init__(self) -> None:
        self.kind = ""
        self.sections: list[Section] = []
        self.pages = 0
        self._text = SectionBuilder()
        self._sheet: RowSections | None = None
        self._row_number = 0

    def read(self, xml: IO[bytes]) -> tuple[str, list[Section], int | None]:
        stack: list[ET.Element] = []
        for event, element in ET.iterparse(xml, events=("start", "end")):
            if event == "start":
                stack.append(element)
                if len(stack) >= 2 and stack[-2].tag == _BODY and element.tag in _KINDS:
                    self.kind = _KINDS[element.tag]
                elif element.tag == _TABLE and self.kind == "ods" and self._sheet is None:
                    self._sheet = RowSections(element.get(_TABLE_NAME) or None)
                    self._row_number = 0
                continue
            stack.pop()
            parent = stack[-1] if stack else None
            if parent is not None and self._consume(element, parent):
                parent.remove(element)  # rendered: let it go
        if not self.kind:
            raise LoaderError(f"not a valid {WHAT} (no document body)")
        if self.kind == "odt":
            self.sections = self._text.finish()
        return self.kind, self.sections, self.pages if self.kind in ("odp", "odg") else None

    def _consume(self, element: ET.Element, parent: ET.Element) -> bool:
        """Render ``element`` if it is a whole unit of this kind of document."""
        if self.kind == "odt" and parent.tag in _TEXT_CONTAINERS:
            _block(element, self._text)
            return True
        if self.kind == "ods" and self._sheet is not None:
            if element.tag == _ROW:
                self._sheet_row(self._sheet, element)
                return True
            if element.tag == _TABLE:
                self.sections.extend(self._sheet.finish())
                self._sheet = None
                return True
        if self.kind in ("odp", "odg") and element.tag == _PAGE:
            self.pages += 1
            if section := _slide(element, self.pages):
                self.sections.append(section)
            return True
        return False

    def _sheet_row(self, sheet: RowSections, row: ET.Element) -> None:
        cells = _row_cells(row)
        repeat = _repeat(row, _ROWS_REPEATED)
        if not any(cells):
            self._row_number += repeat
            return
        for _ in range(min(repeat, _MAX_REPEAT)):
            self._row_number += 1
            sheet.add(self._row_number, cells)
        self._row_number += max(repeat - _MAX_REPEAT, 0)


def _repeat(element: ET.Element, attribute: str) -> int:
    try:
        return max(int(element.get(attribute, "1")), 1)
    except ValueError:
        return 1


def _row_cells(row: ET.Element) -> list[str]:
    """The row's cell texts by column, covered (merged) cells as empty ones."""
    runs: list[tuple[str, int]] = []
    for cell in row:
        if cell.tag in (_CELL, _COVERED):
            text = _cell_text(cell) if cell.tag == _CELL else ""
            runs.append((text, _repeat(cell, _COLUMNS_REPEATED)))
    while runs and not runs[-1][0]:
        runs.pop()  # the empty rest of the row, often thousands of columns
    cells: list[str] = []
    for text, repeat in runs:
        cells.extend([text] * min(repeat, _MAX_REPEAT if text else _MAX_COLUMNS))
        if len(cells) >= _MAX_COLUMNS:
            break
    return cells[:_MAX_COLUMNS]


def _cell_text(cell: ET.Element) -> str:
    lines = _Lines()
    for child in cell:
        _block(child, lines)
    return one_line(" ".join(lines.lines))


def _table_lines(table: ET.Element) -> Iterator[str]:
    for row in _rows(table):
        cells = [_cell_text(cell) for cell in row if cell.tag == _CELL]
        if any(cells):
            yield " | ".join(cells)


def _rows(container: ET.Element) -> Iterator[ET.Element]:
    for child in container:
        if child.tag == _ROW:
            yield child
        elif child.tag in _ROW_GROUPS:
            yield from _rows(child)


def _block(element: ET.Element, sink: _Sink) -> None:
    """Render a paragraph-level element (and whatever it contains) into ``sink``."""
    tag = element.tag
    if tag in _SKIP:
        return
    if tag == _H:
        line = _inline(element)
        try:
            level = int(element.get(_OUTLINE_LEVEL, "1"))
        except ValueError:
            level = 1
        sink.heading(level, one_line(line), line)
    elif tag == _P:
        line = _inline(element)
        if line.strip():
            sink.add(line)
    elif tag == _TABLE:
        for line in _table_lines(element):
            sink.add(line)
    else:  # lists, sections, frames, text boxes, shapes, groups: containers of blocks
        for child in element:
            _block(child, sink)


def _inline(element: ET.Element) -> str:
    """A paragraph's text: spans flattened, ``text:s`` spaces and tabs restored.

    A footnote's text follows its anchor in parentheses; a text box anchored in the
    paragraph follows it on lines of its own.
    """
    parts = [element.text or ""]
    for child in element:
        tag = child.tag
        if tag == _S:
            parts.append(" " * min(_repeat(child, _SPACES), 100))
        elif tag == _TAB:
            parts.append("\t")
        elif tag == _BREAK:
            parts.append("\n")
        elif tag == _NUMBER:  # the cached label of a numbered heading or list item: "2.1"
            parts.append(f"{child.text or ''} ")
        elif tag == _NOTE:
            body = child.find(_NOTE_BODY)
            if body is not None:
                note = _Lines()
                _block(body, note)
                if text := one_line(" ".join(note.lines)):
                    parts.append(f" ({text})")
        elif tag == _FRAME or tag.startswith(f"{{{_NS['draw']}}}"):
            frame = _Lines()
            _block(child, frame)
            if frame.lines:
                parts.append("\n" + "\n".join(frame.lines) + "\n")
        elif tag not in _SKIP:
            parts.append(_inline(child))
        parts.append(child.tail or "")
    return "".join(parts)


def _slide(page: ET.Element, number: int) -> Section | None:
    """A slide: its title first, then its other shapes in order, then the speaker notes."""
    title = ""
    body = _Lines()
    notes = _Lines()
    for child in page:
        if child.tag == _NOTES:
            _block(child, notes)
        elif child.tag == _FRAME and child.get(_CLASS) == "title" and not title:
            heading = _Lines()
            _block(child, heading)
            title = one_line(" ".join(heading.lines))
        else:
            _block(child, body)
    lines = [title] if title else []
    lines.extend(body.lines)
    if note_text := tidy_text("\n".join(notes.lines)):
        lines.append(f"{NOTES} {note_text}")
    text = tidy_text("\n".join(lines))
    return Section(text=text, page=number, heading=title or None) if text else None
