"""The engine as the window sees it: three lanes, each an Assistant on its own thread.

``Assistant`` is not thread-safe, so each lane owns one and runs its jobs one at a time
on a single-thread pool:

- *library*: quick reads and writes of SQLite (documents, collections, chats), never
  stuck behind a long ingestion or answer, so switching chats stays instant;
- *indexing*: ingestion, removal, re-indexing, collection changes that touch the store;
- *asking*: retrieval and generation (it owns the LLM).

The user can ask while a folder is being indexed. The indexing and asking lanes share one
embedding model (loaded once), behind a lock: the tokenizer of a fast HF tokenizer
refuses to be used by two threads at once.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar

import numpy as np
import shiboken6
from PySide6.QtCore import QObject, QThreadPool, QTimer, Signal

from desk_assistant.api import Assistant, Settings, folder_embedder
from ui.workers import Job

if TYPE_CHECKING:
    from desk_assistant.api import Embedder, LLMRuntime

Role = Literal["library", "indexing", "asking"]
T = TypeVar("T")

# Settings an embedding model is built from: while they stay, a reload keeps the model
# (the home too: an "auto" variant is chosen for the data folder's collections).
_EMBEDDING_FIELDS = ("home", "embedding_model", "embedding_variant", "embed_batch_size")


class SerializedEmbedder:
    """An embedder two lanes can share: one call at a time, one model in memory."""

    def __init__(self, inner: Embedder) -> None:
        self._inner = inner
        self._lock = threading.Lock()

    @property
    def model_id(self) -> str:
        return self._inner.model_id

    @property
    def dimension(self) -> int:
        with self._lock:
            return self._inner.dimension

    @property
    def tokenizer_file(self) -> Path | None:
        return self._inner.tokenizer_file

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        with self._lock:
            return self._inner.embed_documents(texts)

    def embed_query(self, text: str) -> np.ndarray:
        with self._lock:
            return self._inner.embed_query(text)


class AssistantSet:
    """The lanes' Assistants for one set of settings, built on first use in their threads.

    ``embedder`` and ``runtime`` replace the configured models (tests use fakes; a reload
    passes the loaded embedding model on when its settings did not change).
    """

    def __init__(
        self,
        settings: Settings,
        *,
        embedder: Embedder | None = None,
        runtime: LLMRuntime | None = None,
        on_wait: Callable[[str | None], None] | None = None,
        on_notice: Callable[[str], None] | None = None,
    ) -> None:
        self.settings = settings
        self._embedder = SerializedEmbedder(embedder) if embedder is not None else None
        self._runtime = runtime
        self._on_wait = on_wait  # another process writes to the data folder (or stopped)
        self._on_notice = on_notice  # what opening the data folder had to rebuild
        self._lock = threading.Lock()
        self._assistants: dict[Role, Assistant] = {}

    def assistant(self, role: Role) -> Assistant:
        with self._lock:
            found = self._assistants.get(role)
            if found is None:
                found = self._assistants[role] = self._build(role)
            return found

    def _build(self, role: Role) -> Assistant:
        embedder = self._embedder
        runtime = self._runtime if role == "asking" else None
        # The library lane never embeds: collection changes that need the model go to the
        # indexing lane.
        if role != "library" and embedder is None:
            embedder = self._embedder = SerializedEmbedder(folder_embedder(self.settings))
        assistant = Assistant.open(
            self.settings,
            embedder=embedder,
            runtime=runtime,
            client="the desktop app",
            on_wait=self._on_wait,
        )
        if assistant.recovered and self._on_notice is not None:
            self._on_notice(assistant.recovered)
        return assistant

    def interrupt(self, role: Role) -> None:
        """Stop the answer the role's Assistant streams (from the GUI thread)."""
        with self._lock:
            assistant = self._assistants.get(role)
        if assistant is not None:
            assistant.interrupt()

    def close(self, role: Role) -> None:
        with self._lock:
            assistant = self._assistants.pop(role, None)
        if assistant is not None:
            assistant.close()

    def abort(self, role: Role) -> None:
        """Kill the child processes of the lane's Assistant, which a job still uses."""
        with self._lock:
            assistant = self._assistants.get(role)
        if assistant is not None:
            assistant.abort()

    def successor(self, settings: Settings) -> AssistantSet:
        """Assistants for new settings that keep the embedding model when it still fits."""
        same = all(getattr(settings, f) == getattr(self.settings, f) for f in _EMBEDDING_FIELDS)
        following = AssistantSet(
            settings, runtime=self._runtime, on_wait=self._on_wait, on_notice=self._on_notice
        )
        if same and self._embedder is not None:
            following._embedder = self._embedder
        return following


class Lane(QObject):
    """One thread, one Assistant, jobs in the order they were given."""

    def __init__(self, role: Role, assistants: AssistantSet, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.role = role
        self._assistants = assistants
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(1)
        self._pool.setExpiryTimeout(-1)  # keep the thread: its Assistant's caches stay warm
        self._jobs: list[Job] = []

    def call(self, name: str, work: Callable[[Assistant], T]) -> Job:
        """Run ``work(assistant)``; its return value arrives with ``finished``."""
        return self._submit(Job(name, lambda: work(self._current()), stream=False))

    def stream(self, name: str, work: Callable[[Assistant], Iterable[Any]]) -> Job:
        """Run ``work(assistant)`` and send each item it yields with ``yielded``;
        cancelling it also interrupts an answer the lane's Assistant is waiting on."""
        job = Job(
            name,
            lambda: work(self._current()),
            stream=True,
            on_cancel=lambda: self._assistants.interrupt(self.role),
        )
        return self._submit(job)

    def switch(self, assistants: AssistantSet) -> Job:
        """Use ``assistants`` from the next job on, after closing this lane's old Assistant."""

        def swap() -> None:
            old, self._assistants = self._assistants, assistants
            old.close(self.role)

        return self._submit(Job("switch settings", swap))

    def _current(self) -> Assistant:
        return self._assistants.assistant(self.role)

    def _submit(self, job: Job) -> Job:
        """Queue ``job``. It starts on the next turn of the event loop, so the caller can
        connect to its signals first: a quick job would otherwise finish before that."""
        self._jobs.append(job)
        job.deliver_to(
            self,
            finished=lambda _result: self._done(job),
            errored=lambda _message, _exc: self._done(job),
        )
        QTimer.singleShot(0, self, lambda: self._start(job))
        return job

    def _start(self, job: Job) -> None:
        if job in self._jobs:  # not dropped by a shutdown meanwhile
            self._pool.start(job)

    def _done(self, job: Job) -> None:
        if job in self._jobs:
            self._jobs.remove(job)

    def shutdown(self, wait_ms: int = -1) -> bool:
        """Cancel what is queued or running and close the Assistant; True when done.

        A job stops at its next step, but a step can take seconds (an embedding batch, a
        model load, a hung file being parsed): after ``wait_ms`` the lane gives up waiting,
        kills the Assistant's child processes and returns False, leaving the thread to
        end by itself (the app then exits without waiting for it). Whatever the jobs
        still send is dropped: the widgets it was meant for are going away.
        """
        for job in self._jobs:
            job.cancel()
            job.signals.blockSignals(True)
        self._pool.clear()  # what has not started yet never starts
        done = self._pool.waitForDone(wait_ms)
        if done:
            self._assistants.close(self.role)
            for job in self._jobs:
                shiboken6.delete(job.signals)
        else:
            self._assistants.abort(self.role)
        self._jobs.clear()
        return done


class Lanes(QObject):
    """The three lanes of the window, and settings changes applied to all of them.

    ``writer_waiting`` carries what a lane waits for while another process (the CLI, a
    watcher) writes to the data folder, and ``None`` once it is free again.
    """

    writer_waiting = Signal(object)  # str | None, from any lane's thread
    recovered = Signal(str)  # what opening the data folder rebuilt (a lost index database)

    def __init__(
        self,
        settings: Settings,
        *,
        embedder: Embedder | None = None,
        runtime: LLMRuntime | None = None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.assistants = AssistantSet(
            settings,
            embedder=embedder,
            runtime=runtime,
            on_wait=self.writer_waiting.emit,
            on_notice=self.recovered.emit,
        )
        self.library = Lane("library", self.assistants, self)
        self.indexing = Lane("indexing", self.assistants, self)
        self.asking = Lane("asking", self.assistants, self)

    @property
    def settings(self) -> Settings:
        return self.assistants.settings

    def apply(self, settings: Settings) -> None:
        """New settings for every lane; running work finishes with the old ones."""
        self.assistants = self.assistants.successor(settings)
        for lane in (self.library, self.indexing, self.asking):
            lane.switch(self.assistants)

    def shutdown(self, wait_ms: int = -1) -> bool:
        """Stop every lane, waiting at most ``wait_ms`` in all; True when all are done."""
        deadline = time.monotonic() + wait_ms / 1000
        done = True
        for lane in (self.asking, self.indexing, self.library):
            left = -1 if wait_ms < 0 else max(0, round(1000 * (deadline - time.monotonic())))
            done = lane.shutdown(left) and done
        return done
