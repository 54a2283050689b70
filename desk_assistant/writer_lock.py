"""One writer per data folder, across processes: an OS-level lock on a file in the folder.

The window, the CLI and a folder watcher may all run at once on one data folder, and a
write there is several steps over several stores (journal, vectors, manifest, BM25
index). Two writers interleaving those steps corrupt each other's work, so every write
holds this lock: ``flock`` on POSIX, ``msvcrt.locking`` on Windows. The operating system
releases it when its process ends, however it ends, so a free lock means that no writer
is alive - whatever a writer left half-done (a journal row) is then known to be dead.

Reads (search, ask, status, listings) never take it. Inside one process the lock is
shared and re-entrant per thread: the window's lanes take turns like separate processes.
Who holds it is written beside it (``writer.json``), so a waiting writer can say whom it
waits for.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from desk_assistant.atomic import write_json
from desk_assistant.errors import DeskAssistantError

LOCK_FILE = "writer.lock"
HOLDER_FILE = "writer.json"
_POLL_SECONDS = (0.05, 0.1, 0.2, 0.25)  # first tries quickly, then four times a second


@dataclass(frozen=True, slots=True)
class Holder:
    """The process that holds (or last held) a data folder's writer lock."""

    pid: int
    what: str  # "ingest", "sync", "the desktop app: remove", ...
    since: float

    def describe(self) -> str:
        started = time.strftime("%H:%M", time.localtime(self.since))
        return f"{self.what} (process {self.pid}, since {started})"


class WriterBusy(DeskAssistantError):
    """Another writer kept the data folder past the wait, or the wait was called off."""


def _try_lock(handle: IO[bytes]) -> bool:
    """Take the OS lock on ``handle`` without waiting; False when another process has it."""
    if sys.platform == "win32":
        import msvcrt

        try:
            handle.seek(0)
            msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True
    import fcntl

    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _unlock(handle: IO[bytes]) -> None:
    if sys.platform == "win32":
        import msvcrt

        with suppress(OSError):
            handle.seek(0)
            msvcrt.locking(handle.fileno(), msvcrt.LK_UNLCK, 1)
        return
    import fcntl

    with suppress(OSError):
        fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


class _FolderLock:
    """The one lock object of a data folder in this process."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.threads = threading.RLock()  # this process's writers take turns here
        self.depth = 0  # how many nested holds of the owning thread
        self.handle: IO[bytes] | None = None


_FOLDERS: dict[Path, _FolderLock] = {}
_FOLDERS_GUARD = threading.Lock()


def _folder_lock(folder: Path) -> _FolderLock:
    key = folder.resolve()
    with _FOLDERS_GUARD:
        found = _FOLDERS.get(key)
        if found is None:
            found = _FOLDERS[key] = _FolderLock(key)
        return found


Notify = Callable[[str], None]


class WriterLock:
    """The writer lock of one data folder.

    ``hold()`` waits for it (telling ``notify`` once whom it waits for), ``waits()`` does
    the same as a generator a caller can stop, and ``holder()`` says who is writing.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._lock = _folder_lock(folder)

    @property
    def path(self) -> Path:
        return self.folder / LOCK_FILE

    def holder(self) -> Holder | None:
        """The writer now at work in another process or thread, or None if there is none."""
        lock = self._lock
        if not lock.threads.acquire(blocking=False):
            return self._read_holder() or Holder(os.getpid(), "another part of this app", 0.0)
        try:
            if lock.depth:
                return None  # this thread is the writer
            handle = self._open()
            try:
                if _try_lock(handle):
                    _unlock(handle)
                    return None
            finally:
                handle.close()
            return self._read_holder() or Holder(0, "another program", 0.0)
        finally:
            lock.threads.release()

    @contextmanager
    def hold(
        self,
        what: str,
        *,
        timeout: float | None = None,
        notify: Notify | None = None,
        cancelled: Callable[[], bool] = lambda: False,
    ) -> Iterator[None]:
        """Be the data folder's writer for the block. Waits up to ``timeout`` seconds
        (``None``: until the lock is free) and raises :class:`WriterBusy` past that or
        when ``cancelled()`` turns true."""
        for waiting in self.waits(what, timeout=timeout, cancelled=cancelled):
            if notify is not None:
                notify(self.waiting_message(waiting))
                notify = None  # said once
        try:
            yield
        finally:
            self.release()

    def waits(
        self,
        what: str,
        *,
        timeout: float | None = None,
        cancelled: Callable[[], bool] = lambda: False,
    ) -> Iterator[Holder]:
        """Take the lock, yielding the holder now and then while waiting for it; when the
        iteration ends normally the lock is held (give it back with :meth:`release`).
        Stopping the iteration early gives up waiting."""
        deadline = None if timeout is None else time.monotonic() + timeout
        tries = 0
        while not self._try_acquire(what):
            holder = self.holder() or Holder(0, "another writer", time.time())
            if cancelled():
                raise WriterBusy(f"Stopped waiting for {holder.describe()} to finish writing.")
            if deadline is not None and time.monotonic() >= deadline:
                raise WriterBusy(
                    f"Another Desk Assistant is writing to the data folder {self.folder}: "
                    f"{holder.describe()}. Try again when it has finished."
                )
            yield holder
            time.sleep(_POLL_SECONDS[min(tries, len(_POLL_SECONDS) - 1)])
            tries += 1

    def waiting_message(self, holder: Holder) -> str:
        return f"Waiting for {holder.describe()} to finish writing to the data folder {self.folder}"

    def _try_acquire(self, what: str) -> bool:
        lock = self._lock
        if not lock.threads.acquire(blocking=False):
            return False
        if lock.depth:
            lock.depth += 1  # a nested hold by the thread that already writes
            return True
        try:
            handle = self._open()
        except BaseException:
            lock.threads.release()
            raise
        if not _try_lock(handle):
            handle.close()
            lock.threads.release()
            return False
        lock.handle, lock.depth = handle, 1
        with suppress(OSError):  # only informative: a full disk must not stop the write
            write_json(
                self.folder / HOLDER_FILE,
                {"pid": os.getpid(), "what": what, "since": time.time()},
            )
        return True

    def release(self) -> None:
        lock = self._lock
        lock.depth -= 1
        if lock.depth == 0 and lock.handle is not None:
            handle, lock.handle = lock.handle, None
            _unlock(handle)
            handle.close()
        lock.threads.release()

    def _open(self) -> IO[bytes]:
        self.folder.mkdir(parents=True, exist_ok=True)
        return self.path.open("a+b")  # never truncates what another process holds

    def _read_holder(self) -> Holder | None:
        try:
            data = json.loads((self.folder / HOLDER_FILE).read_text(encoding="utf-8"))
            return Holder(int(data["pid"]), str(data["what"]), float(data["since"]))
        except (OSError, ValueError, KeyError, TypeError):
            return None
