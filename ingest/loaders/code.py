"""Source code and configuration files, kept exactly as written.

Indentation and punctuation are the meaning of code, so the text is not tidied; the heading
names the language, which a question ("the Python script that renames photos") often does
too. A Jupyter notebook is JSON around its cells: only the cells' source is text a person
wrote.
"""

from __future__ import annotations

import json
from pathlib import Path

from ingest.loaders import CODE_LANGUAGES, LoadedText, LoaderError
from ingest.loaders._common import library_errors
from ingest.loaders.text import decode_text, read_text
from ingest.types import Section

NOTEBOOK = "Jupyter notebook"


def load_code(path: Path) -> LoadedText:
    language = CODE_LANGUAGES.get(path.suffix.lower(), path.suffix.lstrip(".").upper() or "Text")
    return LoadedText(format="code", sections=[Section(text=read_text(path), heading=language)])


def load_notebook(path: Path) -> LoadedText:
    """Markdown and code cells in order, separated by blank lines; outputs are left out.

    Outputs are mostly numbers, tables and base64 images that the code regenerates, and
    can be megabytes long.
    """
    text = decode_text(path.read_bytes())
    with library_errors("not a valid Jupyter notebook"):
        notebook = json.loads(text)
        cells = notebook.get("cells")
        if cells is None:  # nbformat 3 kept cells in worksheets
            cells = [cell for sheet in notebook["worksheets"] for cell in sheet["cells"]]
        sources = [_cell_source(cell) for cell in cells]
    body = "\n\n".join(source for source in sources if source.strip())
    if not body.strip():
        raise LoaderError("no text")
    return LoadedText(format="notebook", sections=[Section(text=body, heading=NOTEBOOK)])


def _cell_source(cell: dict[str, object]) -> str:
    source = cell.get("source", cell.get("input", ""))
    if isinstance(source, list):
        source = "".join(str(line) for line in source)
    if not isinstance(source, str):
        raise TypeError("cell source is not text")
    return source.strip("\n")
