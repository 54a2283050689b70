"""PowerPoint (.pptx): one section per slide, cited by slide number, titled by the slide.

A slide's words are scattered over shapes (placeholders, text boxes, tables, shapes inside
groups); they are read in the order of the slide's shape tree, which is the order
PowerPoint's own outline and screen readers use. Speaker notes often hold the sentences the
bullet points abbreviate, so they belong to the slide.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pptx
from pptx.enum.shapes import MSO_SHAPE_TYPE

from ingest.loaders import LoadedText, LoaderError
from ingest.loaders._common import library_errors, one_line, open_zip, tidy_text
from ingest.types import Section

WHAT = "PowerPoint presentation"
NOTES = "Notes:"

# python-pptx shapes: a family of classes with no common typed interface for text.
Shape = Any


def load_pptx(path: Path) -> LoadedText:
    open_zip(path, WHAT, legacy=".ppt").close()
    with library_errors(f"not a valid {WHAT} (damaged or not a .pptx)"):
        presentation = pptx.Presentation(str(path))
    with library_errors(f"not a valid {WHAT} (damaged content)"):
        sections = []
        count = 0
        for count, slide in enumerate(presentation.slides, start=1):
            if section := _slide_section(slide, count):
                sections.append(section)
    if not sections:
        raise LoaderError("no text")
    return LoadedText(format="pptx", sections=sections, pages=count)


def _slide_section(slide: Any, number: int) -> Section | None:
    title_shape = slide.shapes.title
    title = one_line(title_shape.text_frame.text) if title_shape is not None else ""
    lines = [title] if title else []
    for shape in _shapes(slide.shapes):
        if title_shape is not None and shape.shape_id == title_shape.shape_id:
            continue
        lines.extend(_shape_lines(shape))
    if slide.has_notes_slide:
        frame = slide.notes_slide.notes_text_frame
        notes = tidy_text(frame.text.replace("\v", "\n")) if frame is not None else ""
        if notes:
            lines.append(f"{NOTES} {notes}")
    text = tidy_text("\n".join(lines))
    return Section(text=text, page=number, heading=title or None) if text else None


def _shapes(shapes: Iterable[Shape]) -> Iterator[Shape]:
    """Every shape, with the members of groups (and groups of groups) in place."""
    for shape in shapes:
        if shape.shape_type == MSO_SHAPE_TYPE.GROUP:
            yield from _shapes(shape.shapes)
        else:
            yield shape


def _shape_lines(shape: Shape) -> list[str]:
    if getattr(shape, "has_table", False):
        rows = []
        for row in shape.table.rows:
            # A merged cell's text is in its first cell; the cells it covers are placeholders.
            cells = [one_line(cell.text) for cell in row.cells if not cell.is_spanned]
            if any(cells):
                rows.append(" | ".join(cells))
        return rows
    if getattr(shape, "has_text_frame", False):
        # A soft line break inside a paragraph comes out as a vertical tab.
        text: str = shape.text_frame.text.replace("\v", "\n")
        return [text] if text.strip() else []
    return []
