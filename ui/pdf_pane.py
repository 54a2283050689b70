"""A PDF at a page, with the cited passage highlighted by QtPdf's own search; zoom, a page
field and a search of the whole document.

QtPdf comes in its own wheel (PySide6-Pdf); this module is imported only when it is
installed, and the source viewer shows PDFs as text otherwise.

Fit width is where a document opens, but in a pane beside the chat a page's text is then
a few pixels high: zoom in and out (buttons, Ctrl+wheel, Ctrl++ / Ctrl+-), fit width or
the whole page (Ctrl+0), type a page number, or find words in the document (Ctrl+F,
Enter and Shift+Enter for the next and previous match).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QEvent, QObject, QPointF, Qt, QTimer
from PySide6.QtGui import QAction, QKeySequence, QWheelEvent
from PySide6.QtPdf import QPdfDocument, QPdfSearchModel
from PySide6.QtPdfWidgets import QPdfView
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from desk_assistant.api import DeskAssistantError
from ui.icons import Icons
from ui.passages import pdf_search_phrases

_CONTEXT_ABOVE = 36.0  # points of the page shown above the passage when jumping to it
ZOOM_STEPS = (0.25, 0.33, 0.5, 0.67, 0.75, 0.9, 1.0, 1.1, 1.25, 1.5, 1.75, 2.0, 2.5, 3.0, 4.0)
_SEARCH_DELAY_MS = 300  # typing pauses this long before the document is searched


class PdfPane(QWidget):
    """A PDF at a page, the cited passage highlighted by QtPdf's search."""

    def __init__(self, icons: Icons, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.document = QPdfDocument(self)
        self.view = QPdfView(self)
        self.view.setDocument(self.document)
        self.view.setPageMode(QPdfView.PageMode.MultiPage)
        self.view.setZoomMode(QPdfView.ZoomMode.FitToWidth)
        self.view.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.view.setAccessibleName("Document page")
        self.view.viewport().installEventFilter(self)
        self.search = QPdfSearchModel(self)  # finds the cited passage
        self.search.setDocument(self.document)
        self.view.setSearchModel(self.search)
        self.search.statusChanged.connect(self._search_status)
        self.finder = QPdfSearchModel(self)  # finds what the reader types
        self.finder.setDocument(self.document)
        self.finder.countChanged.connect(self._found)
        self._typing = QTimer(self)
        self._typing.setSingleShot(True)
        self._typing.setInterval(_SEARCH_DELAY_MS)
        self._typing.timeout.connect(self._find)
        self._build_controls(icons)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        layout.addLayout(self._controls_row())
        layout.addWidget(self.view, 1)
        self.view.pageNavigator().currentPageChanged.connect(self._page_changed)
        self.path: str | None = None
        self._page = 0
        self._phrases: list[str] = []
        self.searching = False  # looking for the passage on the page
        self.found = False  # and it was found and highlighted

    # controls ---------------------------------------------------------------------------

    def _button(self, name: str, icon: str, tip: str, icons: Icons) -> QToolButton:
        button = QToolButton(self)
        button.setAccessibleName(name)  # icon-only: the name is what a screen reader says
        button.setToolTip(tip)
        button.setAutoRaise(True)
        icons.attach(button, icon)
        return button

    def _build_controls(self, icons: Icons) -> None:
        self.fit_width_button = self._button("Fit width", "fit-width", "Fit width (Ctrl+0)", icons)
        self.fit_width_button.setCheckable(True)
        self.fit_width_button.clicked.connect(self.fit_width)
        self.fit_page_button = self._button("Fit page", "fit-page", "Show the whole page", icons)
        self.fit_page_button.setCheckable(True)
        self.fit_page_button.clicked.connect(self.fit_page)
        self.zoom_out_button = self._button("Zoom out", "zoom-out", "Zoom out (Ctrl+-)", icons)
        self.zoom_out_button.clicked.connect(self.zoom_out)
        self.zoom_label = QLabel(self)
        self.zoom_label.setObjectName("muted")
        self.zoom_label.setMinimumWidth(40)
        self.zoom_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.zoom_in_button = self._button("Zoom in", "zoom-in", "Zoom in (Ctrl++)", icons)
        self.zoom_in_button.clicked.connect(self.zoom_in)
        self.page_field = QSpinBox(self)
        self.page_field.setAccessibleName("Page")
        self.page_field.setToolTip("Go to a page")
        self.page_field.setKeyboardTracking(False)  # jump when the number is complete
        self.page_field.setPrefix("Page ")
        self.page_field.valueChanged.connect(self.go_to_page)
        self.find_field = QLineEdit(self)
        self.find_field.setAccessibleName("Find in document")
        self.find_field.setPlaceholderText("Find in document (Ctrl+F)")
        self.find_field.setClearButtonEnabled(True)
        self.find_field.textEdited.connect(lambda _text: self._typing.start())
        self.find_field.returnPressed.connect(self.find_next)
        self.found_label = QLabel(self)
        self.found_label.setObjectName("muted")
        self.previous_button = self._button(
            "Previous match", "page-previous", "Previous match (Shift+Enter)", icons
        )
        self.previous_button.clicked.connect(self.find_previous)
        self.next_button = self._button("Next match", "page-next", "Next match (Enter)", icons)
        self.next_button.clicked.connect(self.find_next)
        self.view.zoomModeChanged.connect(lambda _mode: self._show_zoom())
        self.view.zoomFactorChanged.connect(lambda _factor: self._show_zoom())
        shortcuts: tuple[tuple[list[QKeySequence], Callable[[], None]], ...] = (
            (
                [QKeySequence(QKeySequence.StandardKey.ZoomIn), QKeySequence("Ctrl+=")],
                self.zoom_in,
            ),
            ([QKeySequence(QKeySequence.StandardKey.ZoomOut)], self.zoom_out),
            ([QKeySequence("Ctrl+0")], self.fit_width),
            ([QKeySequence(QKeySequence.StandardKey.Find)], self.focus_find),
            ([QKeySequence("Shift+Return"), QKeySequence("Shift+Enter")], self.find_previous),
        )
        for keys, slot in shortcuts:
            action = QAction(self)
            action.setShortcuts(keys)
            action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            action.triggered.connect(lambda _checked=False, act=slot: act())
            self.addAction(action)
        self._show_zoom()

    def _controls_row(self) -> QVBoxLayout:
        """Zoom and page on one line, finding on the next: both fit a narrow pane."""
        zoom = QHBoxLayout()
        for widget in (self.fit_width_button, self.fit_page_button, self.zoom_out_button):
            zoom.addWidget(widget)
        zoom.addWidget(self.zoom_label)
        zoom.addWidget(self.zoom_in_button)
        zoom.addStretch(1)
        zoom.addWidget(self.page_field)
        find = QHBoxLayout()
        find.addWidget(self.find_field, 1)
        find.addWidget(self.found_label)
        find.addWidget(self.previous_button)
        find.addWidget(self.next_button)
        rows = QVBoxLayout()
        rows.setSpacing(2)
        rows.addLayout(zoom)
        rows.addLayout(find)
        return rows

    # zoom -------------------------------------------------------------------------------

    def effective_zoom(self) -> float:
        """The zoom in use, also in the fit modes (where QPdfView reports none): page
        width on screen over page width at 100 % (72 points an inch at the screen's dpi)."""
        if self.view.zoomMode() == QPdfView.ZoomMode.Custom or self.document.pageCount() < 1:
            return float(self.view.zoomFactor())
        page = self.document.pagePointSize(self.view.pageNavigator().currentPage())
        if page.width() <= 0 or page.height() <= 0:
            return 1.0
        dots = self.logicalDpiX() / 72.0
        margins = self.view.documentMargins()
        width = self.view.viewport().width() - margins.left() - margins.right()
        scale = width / (page.width() * dots)
        if self.view.zoomMode() == QPdfView.ZoomMode.FitInView:
            height = self.view.viewport().height() - margins.top() - margins.bottom()
            scale = min(scale, height / (page.height() * dots))
        return float(scale)

    def set_zoom(self, factor: float) -> None:
        zoom = min(ZOOM_STEPS[-1], max(ZOOM_STEPS[0], factor))
        self._keeping_place(lambda: self._zoom_to(zoom))

    def _zoom_to(self, factor: float) -> None:
        self.view.setZoomMode(QPdfView.ZoomMode.Custom)
        self.view.setZoomFactor(factor)

    def _keeping_place(self, change: Callable[[], None]) -> None:
        """Zoom without losing the reader's place: QPdfView keeps the scroll offset in
        pixels, which at another zoom is another part of the document."""
        navigator = self.view.pageNavigator()
        page, where = navigator.currentPage(), navigator.currentLocation()
        change()
        if self.document.pageCount():
            # The navigator ignores a jump to where it thinks it is already, and the view
            # scrolls only on a jump: forget the old place first.
            navigator.clear()
            navigator.jump(page, where, self.view.zoomFactor())

    def zoom_in(self) -> None:
        now = self.effective_zoom()
        self.set_zoom(next((z for z in ZOOM_STEPS if z > now * 1.01), ZOOM_STEPS[-1]))

    def zoom_out(self) -> None:
        now = self.effective_zoom()
        smaller = [z for z in ZOOM_STEPS if z < now * 0.99]
        self.set_zoom(smaller[-1] if smaller else ZOOM_STEPS[0])

    def fit_width(self) -> None:
        self._keeping_place(lambda: self.view.setZoomMode(QPdfView.ZoomMode.FitToWidth))

    def fit_page(self) -> None:
        self._keeping_place(lambda: self.view.setZoomMode(QPdfView.ZoomMode.FitInView))

    def zoom_setting(self) -> str:
        """The zoom as the window remembers it: "width", "page" or a factor ("1.25")."""
        mode = self.view.zoomMode()
        if mode == QPdfView.ZoomMode.FitToWidth:
            return "width"
        if mode == QPdfView.ZoomMode.FitInView:
            return "page"
        return f"{self.view.zoomFactor():.2f}"

    def use_zoom_setting(self, setting: str) -> None:
        """Back to the zoom a reader chose last time (anything unknown: fit width)."""
        if setting == "page":
            self.fit_page()
            return
        try:
            self.set_zoom(float(setting))
        except ValueError:
            self.fit_width()

    def _show_zoom(self) -> None:
        mode = self.view.zoomMode()
        self.fit_width_button.setChecked(mode == QPdfView.ZoomMode.FitToWidth)
        self.fit_page_button.setChecked(mode == QPdfView.ZoomMode.FitInView)
        self.zoom_label.setText(f"{round(100 * self.effective_zoom())} %")

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        """Ctrl+wheel zooms; the wheel alone scrolls, as everywhere."""
        if (
            isinstance(event, QWheelEvent)
            and event.modifiers() & Qt.KeyboardModifier.ControlModifier
        ):
            steps = event.angleDelta().y()
            if steps > 0:
                self.zoom_in()
            elif steps < 0:
                self.zoom_out()
            return True
        if event.type() == QEvent.Type.Resize:
            QTimer.singleShot(0, self._show_zoom)  # a fit mode's zoom follows the pane
        return False

    # pages ------------------------------------------------------------------------------

    def go_to_page(self, number: int) -> None:
        """Show page ``number`` (1-based), from its top."""
        if 1 <= number <= self.document.pageCount():
            navigator = self.view.pageNavigator()
            if navigator.currentPage() != number - 1:
                navigator.jump(number - 1, QPointF(), navigator.currentZoom())

    def _page_changed(self, page: int) -> None:
        self.page_field.blockSignals(True)
        self.page_field.setValue(page + 1)
        self.page_field.blockSignals(False)
        self._show_zoom()

    # finding ----------------------------------------------------------------------------

    def focus_find(self) -> None:
        self.find_field.setFocus()
        self.find_field.selectAll()

    def _find(self) -> None:
        words = self.find_field.text().strip()
        self.view.setSearchModel(self.finder)
        self.view.setCurrentSearchResultIndex(-1)  # the new search starts at its first match
        self.finder.setSearchString(words)
        if not words:
            self.found_label.clear()

    def _found(self) -> None:
        if self.view.searchModel() is not self.finder or not self.finder.searchString():
            return
        count = self.finder.count()
        if count and self.view.currentSearchResultIndex() < 0:
            self._show_match(0)
        self._say_found()

    def _say_found(self) -> None:
        count = self.finder.count()
        index = self.view.currentSearchResultIndex()
        self.found_label.setText(f"{index + 1} of {count}" if count else "No matches")

    def find_next(self) -> None:
        self._step(1)

    def find_previous(self) -> None:
        self._step(-1)

    def _step(self, direction: int) -> None:
        if self._typing.isActive() or self.finder.searchString() != self.find_field.text().strip():
            self._typing.stop()
            self._find()  # Enter before the pause: search now
            return
        count = self.finder.count()
        if count:
            self._show_match((self.view.currentSearchResultIndex() + direction) % count)

    def _show_match(self, index: int) -> None:
        self.view.setCurrentSearchResultIndex(index)
        result = self.finder.resultAtIndex(index)
        above = QPointF(0.0, max(0.0, result.location().y() - _CONTEXT_ABOVE))
        self.view.pageNavigator().jump(result.page(), above, self.view.zoomFactor())
        self._say_found()

    # the cited passage ---------------------------------------------------------------------

    def close_document(self) -> None:
        self.search.setSearchString("")
        self.finder.setSearchString("")
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
            self.page_field.setRange(1, max(1, self.document.pageCount()))
            self.page_field.setSuffix(f" of {self.document.pageCount()}")
        self.find_field.clear()
        self.found_label.clear()
        self.finder.setSearchString("")
        self.view.setSearchModel(self.search)
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
