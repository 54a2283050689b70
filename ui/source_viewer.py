"""The cited passage in its document, inside the app: a PDF at its page, or the text.

PDFs are shown by QtPdf at the cited page with the passage found by QtPdf's own search
(the page's text as QtPdf extracts it, so the highlight sits on the right words). Other
formats - and PDFs where QtPdf is not installed - are parsed again by the same loaders
the index used, in a worker, and shown as read-only text with the passage highlighted and
scrolled into view.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from importlib.util import find_spec
from pathlib import Path
from typing import TYPE_CHECKING, Any

import shiboken6
from PySide6.QtCore import Qt, QThreadPool, QUrl, Signal
from PySide6.QtGui import QColor, QDesktopServices, QResizeEvent, QTextCharFormat, QTextCursor
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QSizePolicy,
    QStackedWidget,
    QTextEdit,
    QVBoxLayout,
    QWidget,
)

from desk_assistant.api import Citation, DeskAssistantError, check_pdf
from ui.chat_view import source_label
from ui.icons import Icons
from ui.passages import collapse, find_passage, snippet
from ui.plain_text import plain
from ui.theme import colors
from ui.workers import Job

if TYPE_CHECKING:
    from ui.pdf_pane import PdfPane

HAS_QTPDF = find_spec("PySide6.QtPdfWidgets") is not None


@dataclass(frozen=True, slots=True)
class DocumentText:
    """A document's text as the viewer shows it, and where each section starts in it."""

    text: str
    sections: tuple[tuple[int, int | None, str | None, str], ...]  # start, page, heading, text


def load_document_text(path: str) -> DocumentText:
    """Parse ``path`` with the index's loaders, in an isolated process as during indexing:
    the same text the citation came from, and a hostile file cannot hang the viewer."""
    from desk_assistant.api import read_sections

    loaded = read_sections(path)
    parts: list[str] = []
    sections: list[tuple[int, int | None, str | None, str]] = []
    offset = 0
    heading: str | None = None
    for section in loaded.sections:
        if section.heading and section.heading != heading:
            title = section.heading.split(" > ")[-1]
            parts.append(title + "\n\n")
            offset += len(title) + 2
            heading = section.heading
        sections.append((offset, section.page, section.heading, section.text))
        parts.append(section.text + "\n\n")
        offset += len(section.text) + 2
    return DocumentText("".join(parts), tuple(sections))


def locate(document: DocumentText, citation: Citation) -> tuple[int, int] | None:
    """Where the citation is in the document's text: its own offsets when they still hold,
    else its words in its section, else anywhere."""
    for start, page, heading, text in document.sections:
        if page != citation.page or (citation.heading and heading != citation.heading):
            continue
        if collapse(text[citation.start : citation.end]) == collapse(citation.text):
            return start + citation.start, start + citation.end
        found = find_passage(text, citation.text)
        if found:
            return start + found[0], start + found[1]
    return find_passage(document.text, citation.text)


class TextPane(QPlainTextEdit):
    """A document's text, read-only, with the passage highlighted."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setReadOnly(True)
        self.setAcceptDrops(False)
        self.setLineWrapMode(QPlainTextEdit.LineWrapMode.WidgetWidth)
        self.path: str | None = None
        self.passage: tuple[int, int] | None = None

    def forget(self) -> None:
        self.clear()
        self.path = None
        self.passage = None

    def show_text(self, path: str, document: DocumentText, span: tuple[int, int] | None) -> None:
        if path != self.path:
            self.setPlainText(document.text)
            self.path = path
        self.passage = span
        selections: list[QTextEdit.ExtraSelection] = []
        if span is not None:
            selection = QTextEdit.ExtraSelection()
            selection.format = QTextCharFormat()
            selection.format.setBackground(QColor(colors()["passage"]))
            cursor = QTextCursor(self.document())
            cursor.setPosition(span[0])
            cursor.setPosition(span[1], QTextCursor.MoveMode.KeepAnchor)
            selection.cursor = cursor
            selections.append(selection)
            start = QTextCursor(self.document())
            start.setPosition(span[0])
            self.setTextCursor(start)
            self.centerCursor()
        self.setExtraSelections(selections)


class ElidedLabel(QLabel):
    """A one-line label that shows "…" where its text does not fit."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._full = ""
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)

    def setText(self, text: str) -> None:
        self._full = text
        self._elide()

    def text(self) -> str:
        return self._full

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._elide()

    def _elide(self) -> None:
        shown = self.fontMetrics().elidedText(
            self._full, Qt.TextElideMode.ElideMiddle, self.width()
        )
        super().setText(shown)


class SourceViewer(QWidget):
    """The viewer panel: which source, where in it, and the document itself.

    Beside the chat in a wide window; in a narrow one it takes the chat's place, and its
    close button says so ("Back to the chat"). ``closed`` tells the window it was closed.
    """

    closed = Signal()

    def __init__(self, icons: Icons, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(1)
        self._jobs: list[Job] = []
        self.citation: Citation | None = None

        # File names, headings and passages come from the documents: shown as text.
        self.title = plain(ElidedLabel(self))
        self.title.setObjectName("viewerTitle")
        self.location = plain(QLabel(self))
        self.location.setObjectName("muted")
        self.open_button = QPushButton("Open in default app", self)
        icons.attach(self.open_button, "open-external")
        self.open_button.clicked.connect(self.open_externally)
        self.close_button = QPushButton(self)
        self.close_button.setToolTip("Close the viewer")
        self.close_button.setAccessibleName("Close the viewer")
        icons.attach(self.close_button, "cancel")
        self.close_button.clicked.connect(self.close_viewer)
        self.back_button = QPushButton("Back to the chat", self)
        self.back_button.setToolTip("Close the document and show the chat again")
        icons.attach(self.back_button, "back")
        self.back_button.clicked.connect(self.close_viewer)
        self.back_button.hide()
        self.quote = plain(QLabel(self))
        self.quote.setObjectName("quote")
        self.quote.setWordWrap(True)

        self.pdf: PdfPane | None = None
        if HAS_QTPDF:
            from ui.pdf_pane import PdfPane

            self.pdf = PdfPane(icons, self)
        self.text = TextPane(self)
        self.message = plain(QLabel(self))
        self.message.setWordWrap(True)
        self.message.setObjectName("muted")
        self.stack = QStackedWidget(self)
        for pane in (self.message, self.pdf, self.text):
            if pane is not None:
                self.stack.addWidget(pane)

        # Name and close on the first line, where in it and "Open" on the second: a long
        # file name is cut short ("…") rather than pushing the buttons out of a narrow pane.
        top = QHBoxLayout()
        top.addWidget(self.back_button)
        top.addWidget(self.title, 1)
        top.addWidget(self.close_button)
        second = QHBoxLayout()
        second.addWidget(self.location, 1)
        second.addWidget(self.open_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 8)
        layout.setSpacing(4)
        layout.addLayout(top)
        layout.addLayout(second)
        layout.addWidget(self.quote)
        layout.addWidget(self.stack, 1)

    def show_citation(self, citation: Citation, answer: str = "") -> None:
        """Show the cited passage; ``answer`` helps pick the line of a PDF to highlight."""
        self.citation = citation
        self.title.setText(Path(citation.path).name)
        self.title.setToolTip(citation.path)
        where = source_label(citation).partition(", ")[2]
        heading = citation.heading.replace(" > ", " › ") if citation.heading else ""
        self.location.setText(" · ".join(p for p in (where.capitalize(), heading) if p))
        self.quote.setText(f"“{snippet(citation.text, 240)}”")
        self.show()
        if not Path(citation.path).is_file():
            self._message(f"The file is no longer at {citation.path}.")
            return
        self._message(f"Opening {Path(citation.path).name}…")
        if citation.path.lower().endswith(".pdf") and self.pdf is not None:
            # QtPdf parses in this process, on this thread: it gets only a file that pdfium
            # opened and rendered at that page in a throw-away process, in time.
            page = citation.page or 1
            self._background(
                "check pdf",
                lambda: check_pdf(citation.path, page),
                lambda _pages: self._pdf_checked(citation, answer),
            )
            return
        self._background(
            "load source",
            lambda: load_document_text(citation.path),
            lambda text: self._text_loaded(citation, text),
        )

    def _background(
        self, name: str, work: Callable[[], object], done: Callable[[Any], None]
    ) -> None:
        job = Job(name, work)

        def finished(result: object) -> None:
            self._jobs.remove(job)
            done(result)

        def errored(message: str, _exc: object) -> None:
            self._jobs.remove(job)
            self._message(message)

        job.deliver_to(self, finished=finished, errored=errored)
        self._jobs.append(job)
        self._pool.start(job)

    def _pdf_checked(self, citation: Citation, answer: str) -> None:
        if citation != self.citation or self.pdf is None:
            return  # the user clicked another citation meanwhile
        try:
            self.pdf.show_page(citation.path, (citation.page or 1) - 1, citation.text, answer)
        except DeskAssistantError as exc:
            self._message(str(exc))
            return
        self.stack.setCurrentWidget(self.pdf)

    def _text_loaded(self, citation: Citation, document: DocumentText) -> None:
        if citation != self.citation:
            return  # the user clicked another citation meanwhile
        self.text.show_text(citation.path, document, locate(document, citation))
        self.stack.setCurrentWidget(self.text)

    def _message(self, text: str) -> None:
        self.message.setText(text)
        self.stack.setCurrentWidget(self.message)

    def open_externally(self) -> None:
        if self.citation is not None:
            QDesktopServices.openUrl(QUrl.fromLocalFile(self.citation.path))

    def close_viewer(self) -> None:
        self.hide()
        self.closed.emit()

    def set_replacing_chat(self, replacing: bool) -> None:
        """In a narrow window the viewer shows instead of the chat: a way back, in words."""
        self.back_button.setVisible(replacing)
        self.close_button.setVisible(not replacing)

    def forget(self) -> None:
        """Close, and show nothing of the current source (the collection changed)."""
        self.citation = None
        self.title.setText("")
        self.location.clear()
        self.quote.clear()
        self._message("")
        if self.pdf is not None:
            self.pdf.close_document()
        self.text.forget()
        self.close_viewer()

    def shutdown(self, wait_ms: int = -1) -> bool:
        """Drop what a reading job would still send (it is for a closing window); True
        when no job is left running after ``wait_ms``."""
        for job in self._jobs:
            job.signals.blockSignals(True)
        done = self._pool.waitForDone(wait_ms)
        if done:
            for job in self._jobs:
                shiboken6.delete(job.signals)
        self._jobs.clear()
        return done
