"""A PDF at a page, with the cited passage highlighted by QtPdf's own search.

QtPdf comes in its own wheel (PySide6-Pdf); this module is imported only when it is
installed, and the source viewer shows PDFs as text otherwise.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QPointF
from PySide6.QtPdf import QPdfDocument, QPdfSearchModel
from PySide6.QtPdfWidgets import QPdfView
from PySide6.QtWidgets import QVBoxLayout, QWidget

from desk_assistant.api import DeskAssistantError
from ui.passages import pdf_search_phrases

_CONTEXT_ABOVE = 36.0  # points of the page shown above the passage when jumping to it


class PdfPane(QWidget):
    """A PDF at a page, the cited passage highlighted by QtPdf's search."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.document = QPdfDocument(self)
        self.view = QPdfView(self)
        self.view.setDocument(self.document)
        self.view.setPageMode(QPdfView.PageMode.MultiPage)
        self.view.setZoomMode(QPdfView.ZoomMode.FitToWidth)
        self.search = QPdfSearchModel(self)
        self.search.setDocument(self.document)
        self.view.setSearchModel(self.search)
        self.search.statusChanged.connect(self._search_status)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.view)
        self.path: str | None = None
        self._page = 0
        self._phrases: list[str] = []
        self.searching = False  # looking for the passage on the page
        self.found = False  # and it was found and highlighted

    def close_document(self) -> None:
        self.search.setSearchString("")
        self.document.close()
        self.path = None

    def show_page(self, path: str, page: int, passage: str, hint: str = "") -> None:
        """Open ``path`` (if not open yet) at 0-based ``page`` and look for ``passage``;
        ``hint`` (the answer) picks the part of the passage to highlight."""
        if path != self.path:
            self.search.setSearchString("")
            error = self.document.load(path)
            if error != QPdfDocument.Error.None_:
                self.path = None
                raise DeskAssistantError(f"Cannot open {Path(path).name} as a PDF ({error.name})")
            self.path = path
        self._page = max(0, min(page, self.document.pageCount() - 1))
        self.found = False
        self.searching = True
        self.view.setCurrentSearchResultIndex(-1)
        self.view.pageNavigator().jump(self._page, QPointF(), self.view.zoomFactor())
        self._phrases = pdf_search_phrases(passage, hint)
        self._next_phrase()

    def _next_phrase(self) -> None:
        if not self._phrases:
            self.searching = False  # not on the page: the page is shown without a highlight
            return
        phrase = self._phrases.pop(0)
        if self.search.searchString() == phrase:
            self._pick_result()
        else:
            self.search.setSearchString(phrase)

    def _search_status(self, status: QPdfSearchModel.Status) -> None:
        if status == QPdfSearchModel.Status.Finished:
            self._pick_result()

    def _pick_result(self) -> None:
        for index in range(self.search.count()):
            result = self.search.resultAtIndex(index)
            if result.page() == self._page:
                self.view.setCurrentSearchResultIndex(index)
                where = result.location()
                above = QPointF(0.0, max(0.0, where.y() - _CONTEXT_ABOVE))
                self.view.pageNavigator().jump(self._page, above, self.view.zoomFactor())
                self.found = True
                self.searching = False
                return
        self._next_phrase()
