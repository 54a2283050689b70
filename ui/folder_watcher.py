"""Keeps the library in sync while the app runs: file-system changes become a sync job.

The detector (``desk_assistant.watch.changes``) runs in a daemon thread of its own and only
emits a signal; the sync itself is queued in the indexing lane like any ingestion, so the
engine is never touched from two threads.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from PySide6.QtCore import QObject, Signal

from desk_assistant.api import changes, followed_reader

DEBOUNCE_SECONDS = 2.0
log = logging.getLogger(__name__)


class FolderWatcher(QObject):
    """Emits ``changed`` after files under the collection's followed paths changed."""

    changed = Signal()
    failed = Signal(str)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._stop: threading.Event | None = None
        self._thread: threading.Thread | None = None

    def follow(self, manifest: Path, collection: str) -> None:
        """Watch ``collection`` (stops watching the previous one). ``changed`` is emitted
        once as soon as the watch is in place, to catch up with what changed meanwhile."""
        self.stop()
        stop = threading.Event()

        def run() -> None:
            try:
                with followed_reader(manifest, collection) as followed:
                    for _paths in changes(followed, debounce=DEBOUNCE_SECONDS, stop=stop):
                        self.changed.emit()
            except Exception as exc:  # reported, never a silent dead thread; sync still works
                log.exception("folder watcher stopped")
                self.failed.emit(str(exc))

        self._stop = stop
        self._thread = threading.Thread(target=run, name="folder-watcher", daemon=True)
        self._thread.start()

    def stop(self, *, wait: bool = True) -> None:
        """Stop watching; ``wait=False`` (quitting) does not wait for the thread, which
        notices within its poll interval and holds nothing that needs closing."""
        if self._stop is not None:
            self._stop.set()
        if self._thread is not None and wait:
            self._thread.join(5)
        self._stop, self._thread = None, None
