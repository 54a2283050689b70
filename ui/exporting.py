"""Saving a chat, an answer or a summary as Markdown, HTML or PDF.

The engine writes the Markdown and the HTML (``desk_assistant.api.export``: sources,
paths, pages, quoted passages, flagged sentences); the PDF is that HTML laid out by a
Qt text document that loads no resource, printed with ``QPdfWriter``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QMarginsF
from PySide6.QtGui import QPageLayout, QPageSize, QPdfWriter
from PySide6.QtWidgets import QFileDialog, QWidget

from desk_assistant.api import DeskAssistantError
from ui.chat_view import SafeDocument

FILTERS = {
    "Markdown (*.md)": ".md",
    "Web page (*.html)": ".html",
    "PDF (*.pdf)": ".pdf",
}


@dataclass(frozen=True, slots=True)
class Export:
    """One thing to save, in the two forms the engine writes."""

    title: str
    markdown: str
    html: str

    @property
    def file_name(self) -> str:
        name = re.sub(r"[^\w\- ]+", "", self.title).strip()[:60].strip() or "export"
        return name.replace(" ", "-").lower()


def write_pdf(html: str, path: Path) -> None:
    """The HTML laid out on A4 pages by Qt, without loading anything it names."""
    document = SafeDocument()
    document.setHtml(html)
    writer = QPdfWriter(str(path))
    writer.setTitle(document.metaInformation(document.MetaInformation.DocumentTitle))
    writer.setPageLayout(
        QPageLayout(
            QPageSize(QPageSize.PageSizeId.A4),
            QPageLayout.Orientation.Portrait,
            QMarginsF(18, 18, 18, 18),
            QPageLayout.Unit.Millimeter,
        )
    )
    document.print_(writer)
    if not path.is_file() or not path.stat().st_size:
        raise DeskAssistantError(f"Could not write {path}")


def write(export: Export, path: Path) -> None:
    """Save ``export`` in the format the file's suffix names (Markdown otherwise)."""
    suffix = path.suffix.lower()
    try:
        if suffix == ".pdf":
            write_pdf(export.html, path)
        elif suffix in (".html", ".htm"):
            path.write_text(export.html, encoding="utf-8")
        else:
            path.write_text(export.markdown, encoding="utf-8")
    except OSError as exc:
        raise DeskAssistantError(f"Could not write {path}: {exc.strerror or exc}") from exc


def choose_and_write(parent: QWidget, export: Export, folder: Path) -> Path | None:
    """Ask where to save (the format follows the chosen filter), then save; the path
    saved to, or None when the user cancelled."""
    path, chosen = QFileDialog.getSaveFileName(
        parent,
        f"Export “{export.title}”",
        str(folder / f"{export.file_name}.md"),
        ";;".join(FILTERS),
    )
    if not path:
        return None
    target = Path(path)
    wanted = FILTERS.get(chosen, ".md")
    if target.suffix.lower() not in FILTERS.values():
        target = target.with_suffix(wanted)
    write(export, target)
    return target
