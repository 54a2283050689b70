"""Chats: the list of conversations and the conversation itself, with streaming answers.

The chat list and the messages are read through the library lane (SQLite, instant even
while an answer is being generated); questions go to the asking lane, whose job streams
tokens back. Stopping cancels that job: the engine stops generating at the next token and
keeps the partial answer, marked as stopped.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QModelIndex, QPoint, Qt, QTimer, QUrl, Signal
from PySide6.QtGui import QDesktopServices, QGuiApplication
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QListView,
    QMenu,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from desk_assistant.api import Answer, ChatInfo, Message, Searched, Token, export
from ui.chat_view import ChatView, note
from ui.icons import Icons
from ui.lanes import Lanes
from ui.plain_text import as_html
from ui.qt_models import ChatsModel
from ui.theme import colors
from ui.workers import Job

Notify = Callable[[str, str, str, list[tuple[str, Callable[[], object]]]], None]
_RENDER_EVERY_MS = 50  # coalesce tokens: Markdown is re-rendered at most this often
WELCOME = """
<div style="margin-top: 60px" align="center">
<p style="font-size: x-large">Ask your documents</p>
<p style="color: {muted}">1. Drop files or folders anywhere on this window: PDF, Word, Markdown,
HTML, text and more.<br>2. Ask a question below; the answer streams in as it is written.<br>
3. Click a marker like [1] to see the passage in its document, at the right page.</p>
<p style="color: {muted}">Everything stays on this computer.</p>
</div>
"""


class ChatList(QWidget):
    """The chats of the current collection; selecting one opens it."""

    chat_selected = Signal(object)  # ChatInfo | None
    error = Signal(str, object)

    def __init__(
        self, lanes: Lanes, icons: Icons, notify: Notify, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.lanes = lanes
        self._notify = notify
        self.collection = lanes.settings.collection
        self._wanted: int | None = None  # the chat to select once the list has loaded
        heading = QLabel("Chats", self)
        heading.setObjectName("heading")
        self.new_button = QToolButton(self)
        self.new_button.setText("New chat")
        self.new_button.setToolTip("Start a new chat (Ctrl+N)")
        self.new_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        icons.attach(self.new_button, "new-chat")
        self.new_button.clicked.connect(self.new_chat)
        self.model = ChatsModel(self)
        self.view = QListView(self)
        self.view.setModel(self.model)
        self.view.setAccessibleName("Chats")
        self.view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.view.setUniformItemSizes(True)
        self.view.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.view.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.view.customContextMenuRequested.connect(self._menu)
        self.view.selectionModel().currentChanged.connect(self._current_changed)
        top = QHBoxLayout()
        top.addWidget(heading)
        top.addStretch(1)
        top.addWidget(self.new_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 0)
        layout.addLayout(top)
        layout.addWidget(self.view, 1)

    @property
    def current(self) -> ChatInfo | None:
        index = self.view.currentIndex()
        return self.model.chat_at(index.row()) if index.isValid() else None

    def set_collection(self, collection: str, select: int | None = None) -> None:
        """Show the chats of ``collection``, opening ``select`` (its last chat) if given."""
        self.collection = collection
        self._wanted = None
        self.view.selectionModel().clearCurrentIndex()
        self.refresh(select=select)

    def refresh(self, select: int | None = None) -> None:
        """Read the chat list again, keeping (or moving to) the selected chat."""
        current = self.current
        self._wanted = select if select is not None else (current.id if current else self._wanted)
        collection = self.collection
        job = self.lanes.library.call(
            "list chats",
            lambda a: a.chats(collection=collection),
        )
        job.deliver_to(self, finished=self._listed, errored=self.error.emit)

    def _listed(self, chats: list[ChatInfo]) -> None:
        before = self.current
        self.view.selectionModel().blockSignals(True)
        self.model.set_chats(chats)
        row = self.model.row_of(self._wanted) if self._wanted is not None else None
        if row is not None:
            self.view.setCurrentIndex(self.model.index(row))
        self.view.selectionModel().blockSignals(False)
        after = self.current
        if (before.id if before else None) != (after.id if after else None):
            self.chat_selected.emit(after)

    def select(self, chat_id: int) -> None:
        self.refresh(select=chat_id)

    def new_chat(self) -> None:
        collection = self.collection
        job = self.lanes.library.call("new chat", lambda a: a.new_chat(collection))
        job.deliver_to(self, finished=lambda chat: self.select(chat.id), errored=self.error.emit)

    def _current_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        self.chat_selected.emit(self.model.chat_at(current.row()) if current.isValid() else None)

    def _menu(self, position: QPoint) -> None:
        chat = self.current
        if chat is None:
            return
        menu = QMenu(self)
        menu.addAction("Rename…", lambda: self.rename(chat))
        menu.addAction("Delete", lambda: self.delete(chat))
        menu.exec(self.view.viewport().mapToGlobal(position))

    def rename(self, chat: ChatInfo) -> None:
        title, ok = QInputDialog.getText(self, "Rename chat", "Title:", text=chat.title)
        if not ok:
            return
        job = self.lanes.library.call("rename chat", lambda a: a.rename_chat(chat.id, title))
        job.deliver_to(self, finished=lambda _r: self.refresh(), errored=self.error.emit)

    def delete(self, chat: ChatInfo) -> None:
        job = self.lanes.library.call("delete chat", lambda a: a.delete_chat(chat.id))
        job.deliver_to(self, finished=lambda _r: self._deleted(chat), errored=self.error.emit)

    def _deleted(self, chat: ChatInfo) -> None:
        self._wanted = None
        self.refresh()
        self._notify(
            f"chat-deleted:{chat.id}",
            "info",
            f"Deleted the chat “{chat.title}”.",
            [("Undo", lambda: self._restore(chat))],
        )

    def _restore(self, chat: ChatInfo) -> None:
        job = self.lanes.library.call("restore chat", lambda a: a.restore_chat(chat.id))
        job.deliver_to(self, finished=lambda _r: self.select(chat.id), errored=self.error.emit)


class QuestionBox(QPlainTextEdit):
    """Where the question is typed; files dropped on it are ingested, not pasted."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAcceptDrops(False)
        self.setTabChangesFocus(True)
        self.setPlaceholderText("Ask a question about your documents…  (Ctrl+Enter to send)")
        self.setAccessibleName("Question")


class ChatPanel(QWidget):
    """One conversation: the messages, the question box, Send and Stop."""

    error = Signal(str, object)
    generating_changed = Signal(bool)

    def __init__(
        self, lanes: Lanes, chats: ChatList, icons: Icons, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.lanes = lanes
        self.chats = chats
        self.chat: ChatInfo | None = None
        self._job: Job | None = None
        self._asking = 0  # the number of the question in progress; 0 when idle
        self._asked = 0
        self._reading = 0  # bumped by every change: a chat read before it is out of date
        self._question = ""
        self._text = ""
        self._render = QTimer(self)
        self._render.setSingleShot(True)
        self._render.setInterval(_RENDER_EVERY_MS)
        self._render.timeout.connect(self._render_stream)
        self.tokens_received = 0

        self.view = ChatView(self)
        self.view.setAccessibleName("Conversation")
        icons.attach(self.view.jump_button, "jump-down")
        self.view.set_placeholder(WELCOME.format(muted=colors()["muted"]))
        self.view.copy_requested.connect(self.copy_text)
        self.view.copy_markdown_requested.connect(self.copy_markdown)
        self.view.regenerate_requested.connect(self.ask)
        self.view.external_link_clicked.connect(self.open_link)
        self.input = QuestionBox(self)
        self.input.setMaximumHeight(90)
        self.send_button = QPushButton("Send", self)
        self.send_button.setToolTip("Send the question (Ctrl+Enter)")
        self.send_button.setDefault(True)
        icons.attach(self.send_button, "send")
        self.send_button.clicked.connect(self.send)
        self.stop_button = QPushButton("Stop", self)
        self.stop_button.setToolTip("Stop the answer (Esc)")
        icons.attach(self.stop_button, "stop")
        self.stop_button.clicked.connect(self.stop)
        self.stop_button.hide()

        buttons = QVBoxLayout()
        buttons.addWidget(self.send_button)
        buttons.addWidget(self.stop_button)
        buttons.addStretch(1)
        row = QHBoxLayout()
        row.addWidget(self.input, 1)
        row.addLayout(buttons)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 8)
        layout.addWidget(self.view, 1)
        layout.addLayout(row)
        self.chats.chat_selected.connect(self.open_chat)

    @property
    def generating(self) -> bool:
        return self._asking != 0

    # chats ------------------------------------------------------------------------------

    def open_chat(self, chat: ChatInfo | None) -> None:
        same = chat is not None and self.chat is not None and chat.id == self.chat.id
        if self.generating:
            if same:
                return  # on screen already, and being answered
            self.stop()
        self.chat = chat
        if chat is None:
            self.view.clear_conversation()
            return
        self._reading += 1
        reading = self._reading
        job = self.lanes.library.call("read chat", lambda a: a.messages(chat.id))
        job.deliver_to(
            self, finished=lambda messages: self._show(reading, messages), errored=self.error.emit
        )

    def _show(self, reading: int, messages: list[Message]) -> None:
        if reading == self._reading and not self.generating:
            self.view.show_messages(messages)

    # asking -----------------------------------------------------------------------------

    def send(self) -> None:
        question = self.input.toPlainText().strip()
        if question and not self.generating:
            self.input.clear()
            self.ask(question)

    def ask(self, question: str) -> None:
        """Ask in the current chat (a new one when there is none); the answer streams in."""
        if self.generating:
            return
        self._asked += 1
        asking = self._asking = self._asked
        self._reading += 1
        self._question = question
        self._text = ""
        self.tokens_received = 0
        self.view.add_question(question)
        self.view.begin_answer("Looking through your documents…")
        self._set_generating(True)
        if self.chat is None:
            collection = self.chats.collection
            job = self.lanes.library.call("new chat", lambda a: a.new_chat(collection))
            job.deliver_to(
                self,
                finished=lambda chat: self._ask_in(asking, chat, question),
                errored=self._failed,
            )
        else:
            self._ask_in(asking, self.chat, question)

    def _ask_in(self, asking: int, chat: ChatInfo, question: str) -> None:
        if asking != self._asking:
            return  # stopped before the chat existed
        self.chat = chat
        self.chats.select(chat.id)
        job = self.lanes.asking.stream(
            "ask", lambda a: a.ask(question, chat.collection, chat_id=chat.id)
        )
        job.deliver_to(
            self,
            yielded=lambda item: self._item(job, item),
            finished=lambda _r: self._ended(job, chat),
            errored=lambda message, exc: self._job_failed(job, message, exc),
        )
        self._job = job

    def _item(self, job: Job, item: object) -> None:
        if job is not self._job:
            return  # stopped: whatever was already on its way is dropped
        if isinstance(item, Token):
            self.tokens_received += 1
            self._text += item.text
            if not self._render.isActive():
                self._render.start()
        elif isinstance(item, Searched):
            self.view.show_searched(item)
        elif isinstance(item, Answer):
            self._render.stop()
            self.view.finish_answer(item)
            self._idle()

    def _render_stream(self) -> None:
        if self.generating:
            self.view.stream_text(self._text.strip(), "Writing…")

    def stop(self) -> None:
        """Stop the answer now: the partial text stays, marked as stopped."""
        if not self.generating:
            return
        if self._job is not None:
            self._job.cancel()
        self.view.finish_answer(note(self._question, self._text.strip(), stopped=True))
        self._idle()

    def _ended(self, job: Job, chat: ChatInfo) -> None:
        if job is self._job:  # the stream ended without an answer (should not happen)
            self.stop()
        elif (
            job.cancelled
            and not self.generating
            and self.chat is not None
            and self.chat.id == chat.id
        ):
            # Stopped: show the answer as it was kept, with what the model wrote while the
            # stop was on its way - the same as after a restart.
            self.open_chat(self.chat)
        self.chats.refresh()

    def _job_failed(self, job: Job, message: str, exc: object) -> None:
        if job is self._job:
            self._failed(message, exc)
        self.chats.refresh()

    def _failed(self, message: str, exc: object) -> None:
        if self.view.streaming:
            self.view.finish_answer(note(self._question, f"Could not answer: {message}"))
        self._idle()
        self.error.emit(message, exc)

    def _idle(self) -> None:
        self._job = None
        self._asking = 0
        self._render.stop()
        self._set_generating(False)

    def _set_generating(self, generating: bool) -> None:
        self.send_button.setVisible(not generating)
        self.stop_button.setVisible(generating)
        self.generating_changed.emit(generating)

    # answers ----------------------------------------------------------------------------

    def open_link(self, url: QUrl) -> bool:
        """Open a link of an answer in the browser, after the user has seen where it
        really goes: its text was written by the model, maybe copied from a document, and
        ``[your bank](https://elsewhere)`` reads like the one and leads to the other."""
        address = url.toString(QUrl.ComponentFormattingOption.FullyEncoded)
        answer = QMessageBox.question(
            self,
            "Open link",
            as_html(
                f"This link of the answer leads to:\n\n{address}\n\nThe answer was written "
                "from your documents; open the address in your browser only if you trust it."
            ),
        )
        if answer != QMessageBox.StandardButton.Yes:
            return False
        return QDesktopServices.openUrl(url)

    def copy_text(self, text: str) -> None:
        QGuiApplication.clipboard().setText(text)

    def copy_markdown(self, answer: Answer) -> None:
        """The answer with its evidence, flags and sources, as Markdown."""
        self.copy_text(export.answer_markdown(answer))

    def copy_last_answer(self) -> None:
        replies = self.view.replies
        if replies:
            self.copy_text(replies[-1].text)

    def regenerate_last(self) -> None:
        replies = self.view.replies
        if replies and not self.generating:
            self.ask(replies[-1].question)
