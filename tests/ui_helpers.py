"""Helpers for the desktop-app tests: open the window, drop files on it, watch it work."""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QTimer, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent, QTextCursor
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from desk_assistant.api import Answer, Assistant
from desk_assistant.settings import load_settings
from ui.chat_view import ChatView
from ui.main_window import MainWindow

INDEXING_TIMEOUT_MS = 120_000
ANSWER_TIMEOUT_MS = 120_000


def open_window(qtbot: QtBot, home: Path, **options: Any) -> MainWindow:
    """The real main window on ``home``, shown and started as ``main()`` would."""
    settings = load_settings(home, **options.pop("settings", {}))
    window = MainWindow(settings, **options)
    qtbot.addWidget(window)
    # The offscreen screen is 800x800, so the first window opens maximized on it
    # (MainWindow._fit_to_screen): tests want the 1280x800 window of a common screen.
    window.setWindowState(Qt.WindowState.WindowNoState)
    window.resize(1280, 800)
    window.show()
    qtbot.waitExposed(window)
    window.start()
    return window


def drop_files(window: MainWindow, paths: Sequence[Path]) -> None:
    """Drag ``paths`` over the window and drop them, as a file manager does."""
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    where = QPointF(window.width() / 2, window.height() / 2)
    enter = QDragEnterEvent(
        where,
        Qt.DropAction.CopyAction,
        mime,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    QApplication.sendEvent(window, enter)
    assert enter.isAccepted(), "the window refused the drag"
    drop = QDropEvent(
        where,
        Qt.DropAction.CopyAction,
        mime,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    QApplication.sendEvent(window, drop)
    assert drop.isAccepted(), "the window refused the drop"


def wait_indexed(qtbot: QtBot, window: MainWindow, count: int) -> None:
    """Until the run is over and ``count`` documents show as indexed."""

    def done() -> None:
        rows = window.library.model.rows()
        assert not window.library.indexing
        assert sum(r.status == "indexed" for r in rows) == count, rows

    qtbot.waitUntil(done, timeout=INDEXING_TIMEOUT_MS)


def wait_models(qtbot: QtBot, window: MainWindow) -> None:
    qtbot.waitUntil(lambda: window.status.text() != "Loading model…", timeout=ANSWER_TIMEOUT_MS)


def ask(qtbot: QtBot, window: MainWindow, question: str) -> None:
    """Type the question and send it with Ctrl+Enter."""
    box = window.chat.input
    box.setFocus()
    box.setPlainText(question)
    QTest.keyClick(box, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    assert window.chat.generating


def wait_answer(qtbot: QtBot, window: MainWindow) -> None:
    qtbot.waitUntil(lambda: not window.chat.generating, timeout=ANSWER_TIMEOUT_MS)


def link_position(view: ChatView, href_prefix: str) -> QPoint:
    """Where on screen the first link whose target starts with ``href_prefix`` is drawn."""
    block = view.document().begin()
    while block.isValid():
        it = block.begin()
        while not it.atEnd():
            fragment = it.fragment()
            if fragment.charFormat().anchorHref().startswith(href_prefix):
                cursor = QTextCursor(view.document())
                cursor.setPosition(fragment.position() + 1)
                view.setTextCursor(cursor)
                view.ensureCursorVisible()
                return view.cursorRect(cursor).center()
            it += 1
        block = block.next()
    raise AssertionError(f"no link to {href_prefix}… in the conversation")


def click_link(view: ChatView, href_prefix: str) -> None:
    position = link_position(view, href_prefix)
    QTest.mouseClick(
        view.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, position
    )


# The intents that parse, embed, search or generate: none may run on the GUI thread.
HEAVY_INTENTS = ("ingest", "sync", "reindex", "doctor", "retrieve", "search", "ask", "warm_up")


@dataclass
class EngineCalls:
    """Where the window ran the engine's heavy intents, and how each answer ended.

    The structural form of "the window never freezes": a frozen window is heavy work on
    the GUI thread, which this sees whatever the machine's speed (a timer's gaps do not).
    """

    on_gui_thread: list[str] = field(default_factory=list)
    calls: list[str] = field(default_factory=list)
    answers_finished: list[bool] = field(default_factory=list)

    def install(self, monkeypatch: Any) -> None:
        for name in HEAVY_INTENTS:
            monkeypatch.setattr(Assistant, name, self._watch(name, getattr(Assistant, name)))

    def _note(self, name: str) -> None:
        self.calls.append(name)
        if threading.current_thread() is threading.main_thread():
            self.on_gui_thread.append(name)

    def _watch(self, name: str, method: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(method)
        def watched(assistant: Assistant, *args: Any, **kwargs: Any) -> Any:
            self._note(name)
            result = method(assistant, *args, **kwargs)
            return self._iterate(name, result) if isinstance(result, Iterator) else result

        return watched

    def _iterate(self, name: str, items: Iterator[Any]) -> Iterator[Any]:
        """Each step of a streamed intent runs where it is pulled: note that thread too."""
        finished = False
        try:
            while True:
                self._note(name)
                try:
                    item = next(items)
                except StopIteration:
                    return
                finished = finished or isinstance(item, Answer)
                yield item
        finally:
            close = getattr(items, "close", None)
            if close is not None:
                close()  # a stopped answer is saved by the intent's own clean-up
            if name == "ask":
                self.answers_finished.append(finished)


class Heartbeat:
    """A timer on the GUI thread every ``interval_ms``; the longest gap between its ticks
    is how long the window was unresponsive."""

    def __init__(self, interval_ms: int = 20) -> None:
        self.timer = QTimer()
        self.timer.setInterval(interval_ms)
        self.timer.timeout.connect(self._tick)
        self.gaps: list[float] = []
        self._last = 0.0

    def _tick(self) -> None:
        now = time.perf_counter()
        if self._last:
            self.gaps.append(now - self._last)
        self._last = now

    def start(self) -> None:
        self.gaps.clear()
        self._last = 0.0
        self.timer.start()

    def stop(self) -> float:
        """Stop; the longest gap in milliseconds."""
        self.timer.stop()
        return max(self.gaps, default=0.0) * 1000

    def percentile(self, share: float) -> float:
        ordered = sorted(self.gaps)
        return ordered[int(share * (len(ordered) - 1))] * 1000 if ordered else 0.0


def respond_to_dialog(action: Callable[[], object], respond: Callable[[Any], None]) -> None:
    """Run ``action``, which opens a modal dialog, and let ``respond`` work it as a user
    would (type, click) from inside the dialog's own event loop."""

    def handle() -> None:
        dialog = QApplication.activeModalWidget()
        if dialog is None:
            QTimer.singleShot(10, handle)
            return
        respond(dialog)

    QTimer.singleShot(0, handle)
    action()


def name_collection(dialog: Any, name: str) -> None:
    """Type ``name`` into a collection-name dialog and press OK."""
    from PySide6.QtWidgets import QDialogButtonBox

    dialog.field.setText(name)
    dialog.buttons.button(QDialogButtonBox.StandardButton.Ok).click()
