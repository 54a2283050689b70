"""Background jobs: slow engine calls run in a thread pool and report back by signals only.

A job never touches a widget. Everything it has to say - it started, an item of a
stream, the result, an error - travels as a Qt signal, which Qt queues to the GUI thread.
Every exception becomes an ``errored`` signal with a message a user can read, so no
worker dies silently and no traceback reaches the window.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from PySide6.QtCore import SIGNAL, QObject, QRunnable, Signal

from desk_assistant.api import DeskAssistantError

log = logging.getLogger(__name__)


class JobSignals(QObject):
    """Lives in the GUI thread, so slots connected to it run there."""

    started = Signal()
    yielded = Signal(object)
    finished = Signal(object)
    errored = Signal(str, object)  # message for the user, the exception (for its type)


# The signals' Qt signatures: what QObject.connect takes to tie a callable to a receiver
# (PySide6's Signal.connect takes no receiver for a callable).
_SIGNATURES = {
    "started": SIGNAL("started()"),
    "yielded": SIGNAL("yielded(PyObject)"),
    "finished": SIGNAL("finished(PyObject)"),
    "errored": SIGNAL("errored(QString,PyObject)"),
}


def describe_error(exc: BaseException) -> str:
    """What the user reads: the engine's own message, or a short note for the unexpected."""
    if isinstance(exc, DeskAssistantError):
        return str(exc) or type(exc).__name__
    if isinstance(exc, OSError) and exc.strerror:
        where = f" ({exc.filename})" if exc.filename else ""
        return f"{exc.strerror}{where}"
    return f"unexpected error: {type(exc).__name__}: {exc}"


class Job(QRunnable):
    """One call, or one stream of items, run on a lane's thread.

    A stream is checked for cancellation between its items; on cancel (or any error) the
    iterator is closed, which is how the engine stops generating or ingesting cleanly.
    Its reports reach widgets through :meth:`deliver_to`.
    """

    def __init__(
        self,
        name: str,
        work: Callable[[], Any],
        *,
        stream: bool = False,
        on_cancel: Callable[[], None] | None = None,
    ) -> None:
        super().__init__()
        self.setAutoDelete(False)  # Python owns it (a thread pool keeps it alive meanwhile)
        self.name = name
        self.signals = JobSignals()
        self._work = work
        self._stream = stream
        self._cancel = threading.Event()
        self._on_cancel = on_cancel  # wakes work blocked inside an item (a remote stream)

    def cancel(self) -> None:
        self._cancel.set()
        if self._on_cancel is not None:
            self._on_cancel()

    def deliver_to(
        self,
        receiver: QObject,
        *,
        started: Callable[[], object] | None = None,
        yielded: Callable[[Any], object] | None = None,
        finished: Callable[[Any], object] | None = None,
        errored: Callable[[str, Any], object] | None = None,
    ) -> Job:
        """Have the job's reports call these on ``receiver``'s (the GUI) thread, for as
        long as ``receiver`` exists.

        Qt ties each connection to ``receiver``: when it is deleted (a window closed while
        the job still runs), the connections go and so do the reports already queued for
        it, so no callable ever touches a deleted widget. A callable connected to the
        signal directly (a lambda) has no receiver, outlives the widgets it uses and
        raises in the event loop when the next report arrives.
        """
        slots = {"started": started, "yielded": yielded, "finished": finished, "errored": errored}
        for name, slot in slots.items():
            if slot is not None:
                QObject.connect(self.signals, _SIGNATURES[name], receiver, slot)
        return self

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def run(self) -> None:
        self.signals.started.emit()
        try:
            if self._cancel.is_set():
                result: Any = None
            elif self._stream:
                self._pump(self._work())
                result = None
            else:
                result = self._work()
        except Exception as exc:  # every failure reaches the user as a message
            if not isinstance(exc, DeskAssistantError):
                log.exception("job %s failed", self.name)
            self.signals.errored.emit(describe_error(exc), exc)
            return
        self.signals.finished.emit(result)

    def _pump(self, items: Iterable[Any]) -> None:
        iterator: Iterator[Any] = iter(items)
        try:
            for item in iterator:
                if self._cancel.is_set():
                    break
                self.signals.yielded.emit(item)
        finally:
            close = getattr(iterator, "close", None)
            if close is not None:
                close()
