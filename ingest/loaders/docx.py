"""Word (.docx) text in reading order: paragraphs, tables, then headers and footers.

python-docx opens the package and resolves style names; the text itself is read from the
WordprocessingML tree, because python-docx's ``Paragraph.text`` and ``iter_inner_content``
skip text wrapped in content controls, tracked insertions and text boxes, which real
business documents (templates, forms, reviewed drafts) are full of.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docx
from docx.oxml.ns import qn

from ingest.loaders import LoadedText, LoaderError
from ingest.loaders._common import SectionBuilder, library_errors, open_zip

_P, _TBL, _TR, _TC, _R = qn("w:p"), qn("w:tbl"), qn("w:tr"), qn("w:tc"), qn("w:r")
_T, _TAB, _BR, _CR = qn("w:t"), qn("w:tab"), qn("w:br"), qn("w:cr")
# Containers that hold whole paragraphs or tables without being one (content controls,
# custom XML, tracked moves).
_WRAPPERS = {qn("w:sdt"), qn("w:sdtContent"), qn("w:customXml"), qn("w:moveTo")}
_MC_FALLBACK = "{http://schemas.openxmlformats.org/markup-compatibility/2006}Fallback"
_HEADING_STYLE = re.compile(r"Heading ([1-9])")

HEADERS_AND_FOOTERS = "Headers and footers"

# lxml elements: python-docx's element classes are untyped.
Element = Any


def load_docx(path: Path) -> LoadedText:
    open_zip(path, "Word document", ".doc").close()  # a readable reason when it is no zip
    with library_errors("not a valid Word document (damaged or not a .docx)"):
        document = docx.Document(str(path))
    with library_errors("not a valid Word document (damaged content)"):
        style_names = {style.style_id: style.name for style in document.styles}
        builder = SectionBuilder()
        body_lines: set[str] = set()
        for block in _blocks(document.element.body):
            level = _heading_level(block, style_names)
            for line in _block_lines(block):
                body_lines.add(line)
                if level is None:
                    builder.add(line)
                else:
                    builder.heading(level, " ".join(line.split()), line)
        builder.heading(0, HEADERS_AND_FOOTERS)
        for line in _header_footer_lines(document, body_lines):
            builder.add(line)
        sections = builder.finish()
    if not sections:
        raise LoaderError("no text")
    return LoadedText(format="docx", sections=sections)


def _blocks(container: Element) -> Iterator[Element]:
    """The ``w:p`` and ``w:tbl`` elements of a body, cell or header, in document order."""
    for child in container.iterchildren():
        if child.tag in (_P, _TBL):
            yield child
        elif child.tag in _WRAPPERS:
            yield from _blocks(child)


def _heading_level(block: Element, style_names: dict[str, str]) -> int | None:
    if block.tag != _P:
        return None
    style_ids = block.xpath("./w:pPr/w:pStyle/@w:val")
    name = style_names.get(style_ids[0], "") if style_ids else ""
    if name == "Title":
        return 0
    match = _HEADING_STYLE.fullmatch(name)
    return int(match.group(1)) if match else None


def _block_lines(block: Element) -> list[str]:
    if block.tag == _P:
        text = _paragraph_text(block)
        return [text] if text.strip() else []
    return _table_lines(block)


def _paragraph_text(paragraph: Element) -> str:
    parts: list[str] = []
    for node in paragraph.iter(_T, _TAB, _BR, _CR):
        # Run content only: w:tab also defines tab stops in paragraph properties, and
        # mc:Fallback repeats a text box for old Word versions.
        if node.getparent().tag != _R or any(True for _ in node.iterancestors(_MC_FALLBACK)):
            continue
        parts.append(node.text or "" if node.tag == _T else "\t" if node.tag == _TAB else "\n")
    return "".join(parts)


def _table_lines(table: Element) -> list[str]:
    """One "cell | cell" line per row.

    Reading ``w:tc`` elements directly gives a cell spanning several columns once, and a
    vertically merged cell only in its first row, where python-docx's ``row.cells`` repeats
    both.
    """
    lines = []
    for row in table.iterchildren(_TR):
        cells = [_cell_text(cell) for cell in row.iterchildren(_TC)]
        if any(cells):
            lines.append(" | ".join(cells))
    return lines


def _cell_text(cell: Element) -> str:
    lines = (line for block in _blocks(cell) for line in _block_lines(block))
    return " ".join(" ".join(lines).split())


def _header_footer_lines(document: Any, body_lines: set[str]) -> Iterator[str]:
    """Each distinct header/footer line once, however many sections and pages repeat it.

    A header that only restates the title, already in the body, would be a duplicate hit.
    """
    seen = set(body_lines)
    for section in document.sections:
        for part in (
            section.header,
            section.first_page_header,
            section.even_page_header,
            section.footer,
            section.first_page_footer,
            section.even_page_footer,
        ):
            # A linked header has no content of its own; asking for its part would create one.
            if part.is_linked_to_previous:
                continue
            for block in _blocks(part.part.element):
                for line in _block_lines(block):
                    if line not in seen:
                        seen.add(line)
                        yield line
