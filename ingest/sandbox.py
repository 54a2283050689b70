"""Parse untrusted files in worker processes with a wall-clock timeout and a memory cap.

A hostile or broken file (a parser hang, a segfault in a C library, a decompression bomb)
costs that one file and a worker restart, never the run or the app. Workers are started
with ``spawn`` so they share nothing with a parent that has torch or Qt threads running.
"""

from __future__ import annotations

import contextlib
import importlib
import multiprocessing
import os
import queue
import signal
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from ingest.chunking import Chunker, ChunkingConfig
from ingest.loaders import LoadedText, LoaderError, load
from ingest.progress import FileProgress, Stage, reporting_to
from ingest.types import ParsedDocument

_READY = "ready"
_STARTUP_TIMEOUT = 180.0  # the first import of llama-index can be slow on a cold disk
# A file that takes longer than this to parse says how far it is, at most this often: a
# quick file sends nothing, so a folder of small files costs no extra messages.
PROGRESS_EVERY = 0.25


@dataclass(frozen=True, slots=True)
class ParseTask:
    path: str
    content_hash: str


@dataclass(frozen=True, slots=True)
class ParseFailure:
    path: str
    reason: str


ParseResult = ParsedDocument | ParseFailure


class ParserStopped(Exception):
    """The parser was stopped for good (the app is quitting): no result, and no file is to
    be recorded as failed because of it."""


ProgressCallback = Callable[[FileProgress], None]


def failure_reason(exc: BaseException) -> str:
    """What a user is told when a file cannot be parsed."""
    if isinstance(exc, LoaderError):
        return str(exc)
    if isinstance(exc, MemoryError):
        return "too large to parse within the memory limit"
    if isinstance(exc, FileNotFoundError):
        return "file vanished before it could be read"
    if isinstance(exc, PermissionError):
        return "permission denied"
    return f"could not be parsed ({type(exc).__name__}: {exc})"[:300]


def parse_file(task: ParseTask, chunker: Chunker) -> ParseResult:
    """Load and chunk one file; every failure becomes a ``ParseFailure`` with a reason."""
    try:
        loaded = load(Path(task.path))
    except Exception as exc:  # a parser bug must cost one file, not the run
        return ParseFailure(task.path, failure_reason(exc))
    chunks = tuple(chunker.chunk(loaded.sections))
    if not chunks:
        return ParseFailure(task.path, "no text found")
    return ParsedDocument(
        path=task.path,
        content_hash=task.content_hash,
        format=loaded.format,
        pages=loaded.pages,
        chunks=chunks,
        warnings=loaded.warnings,
    )


def _limit_memory(memory_mb: int) -> None:
    try:
        import resource  # POSIX only: on Windows a worker runs without the cap
    except ImportError:
        return
    limit = memory_mb * 1024 * 1024
    with contextlib.suppress(ValueError, OSError):  # macOS refuses RLIMIT_AS: no cap there
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def _own_process_group() -> None:
    """Make this worker lead its own process group (POSIX), so that killing the group
    also kills what it started (tesseract)."""
    if hasattr(os, "setpgid"):
        with contextlib.suppress(OSError):
            os.setpgid(0, 0)


def _kill_group(pid: int | None) -> None:
    """Kill a worker's process group; on Windows ``Process.kill`` alone has to do."""
    if pid is not None and hasattr(os, "killpg"):
        with contextlib.suppress(OSError):
            os.killpg(pid, signal.SIGKILL)


def _resolve(spec: str) -> Callable[[ParseTask, Chunker], ParseResult]:
    module, _, name = spec.partition(":")
    function: Callable[[ParseTask, Chunker], ParseResult] = getattr(
        importlib.import_module(module), name
    )
    return function


def _worker_main(
    conn: Connection,
    config: ChunkingConfig,
    memory_mb: int,
    parse: str,
    timeout: float,
    progress_every: float,
) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl+C is the parent's to handle
    _own_process_group()
    # OCR stops in time to hand in what it read before the worker would be killed.
    from ingest.loaders.ocr import BUDGET_VARIABLE  # Pillow: only in the worker

    os.environ.setdefault(BUDGET_VARIABLE, f"{max(1.0, timeout * 0.75):g}")
    parse_one = _resolve(parse)
    chunker = Chunker(config)
    _limit_memory(memory_mb)
    conn.send(_READY)
    while True:
        try:
            task = conn.recv()
        except EOFError:
            return
        if task is None:
            return
        try:
            with reporting_to(_progress_sender(conn, task.path, progress_every)):
                result: ParseResult = parse_one(task, chunker)
        except MemoryError as exc:  # chunking a huge text can exhaust the cap too
            result = ParseFailure(task.path, failure_reason(exc))
        conn.send(result)


def _progress_sender(
    conn: Connection, path: str, every: float
) -> Callable[[Stage, int, int], None]:
    """Sends the loader's progress to the parent once the file has taken ``every``
    seconds, and then every ``every`` seconds."""
    due = time.monotonic() + every

    def send(stage: Stage, done: int, total: int) -> None:
        nonlocal due
        now = time.monotonic()
        if now >= due:
            due = now + every
            conn.send(FileProgress(path, stage, done, total))

    return send


def _run_one(conn: Connection, spec: str, path: str, args: tuple[Any, ...], memory_mb: int) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _own_process_group()
    _limit_memory(memory_mb)
    module, _, name = spec.partition(":")
    try:
        conn.send(getattr(importlib.import_module(module), name)(Path(path), *args))
    except Exception as exc:  # reported to the parent as a reason, never raised there
        conn.send(ParseFailure(path, failure_reason(exc)))


def run_isolated(
    spec: str, path: str, *args: Any, timeout: float = 60.0, memory_mb: int = 2048
) -> Any:
    """Run the loader function ``spec`` ("module:function") on ``path`` in a throw-away
    process (timeout, memory cap) and return what it returns (it must pickle).

    For reading a document outside an ingestion run (the app's source viewer): the same
    protection as indexing. Raises ``LoaderError`` with a reason.
    """
    context = multiprocessing.get_context("spawn")
    parent, child = context.Pipe()
    process = context.Process(
        target=_run_one, args=(child, spec, path, args, memory_mb), daemon=True
    )
    process.start()
    child.close()
    try:
        if not parent.poll(timeout):
            raise LoaderError(f"reading took longer than {timeout:g} s")
        try:
            result: Any = parent.recv()
        except (EOFError, OSError):
            raise LoaderError("the parser crashed on this file") from None
    finally:
        _kill_group(process.pid)
        process.kill()
        process.join(5)
        parent.close()
    if isinstance(result, ParseFailure):
        raise LoaderError(result.reason)
    return result


def load_isolated(path: str, *, timeout: float = 60.0, memory_mb: int = 2048) -> LoadedText:
    """Parse one file in a throw-away process and return its text, without a chunker."""
    loaded: LoadedText = run_isolated(
        "ingest.loaders:load", path, timeout=timeout, memory_mb=memory_mb
    )
    return loaded


class _Worker:
    """One child process and its pipe; restarted after a timeout or a crash."""

    def __init__(
        self,
        config: ChunkingConfig,
        memory_mb: int,
        parse: str,
        timeout: float,
        progress_every: float,
    ) -> None:
        self._config = config
        self._memory_mb = memory_mb
        self._parse = parse
        self._progress_every = progress_every
        self.timeout = timeout
        self._process: Any = None
        self._conn: Connection | None = None
        self._lock = threading.Lock()
        self.aborted = False

    def _start(self) -> Connection:
        context = multiprocessing.get_context("spawn")
        parent, child = context.Pipe()
        process = context.Process(
            target=_worker_main,
            args=(
                child,
                self._config,
                self._memory_mb,
                self._parse,
                self.timeout,
                self._progress_every,
            ),
            daemon=True,
        )
        process.start()
        child.close()
        if not parent.poll(_STARTUP_TIMEOUT) or parent.recv() != _READY:
            process.kill()
            raise RuntimeError("the document parser process did not start")
        self._process, self._conn = process, parent
        return parent

    def run(self, task: ParseTask, progress: ProgressCallback | None = None) -> ParseResult:
        """Parse ``task``; the worker's progress reports go to ``progress`` meanwhile. The
        timeout is for the whole file, however many reports it sends."""
        if self.aborted:
            raise ParserStopped
        try:
            return self._run(task, progress)
        except (EOFError, OSError):
            if self.aborted:  # killed from another thread while this one waited
                raise ParserStopped from None
            return ParseFailure(task.path, self._crash_reason())

    def _run(self, task: ParseTask, progress: ProgressCallback | None) -> ParseResult:
        conn = self._conn or self._start()
        if self.aborted:  # while the worker was starting: stop() found no process to kill
            self.stop()
            raise ParserStopped
        conn.send(task)
        deadline = time.monotonic() + self.timeout
        while conn.poll(max(0.0, deadline - time.monotonic())):
            message: ParseResult | FileProgress = conn.recv()
            if not isinstance(message, FileProgress):
                return message
            if progress is not None:
                progress(message)
        self.stop()
        return ParseFailure(task.path, f"parsing took longer than {self.timeout:g} s; skipped")

    def _crash_reason(self) -> str:
        process = self._process
        if process is not None:
            process.join(2)  # let a dying child report its own signal before we kill it
        self.stop()
        code = process.exitcode if process is not None else None
        if code is not None and code < 0:
            try:
                name = signal.Signals(-code).name
            except ValueError:
                name = f"signal {-code}"
            return f"the parser crashed on this file ({name})"
        return "the parser crashed on this file"

    def stop(self) -> None:
        """Kill the child; safe to call twice and from the consumer and the worker thread."""
        with self._lock:
            process, conn = self._process, self._conn
            self._process, self._conn = None, None
        if process is not None:
            _kill_group(process.pid)
            process.kill()
            process.join(5)
        if conn is not None:
            with contextlib.suppress(OSError):
                conn.close()


class SandboxedParser:
    """Parses many files with ``workers`` processes, yielding results as they finish.

    Results arrive in completion order. Parsing runs ahead of the consumer by a bounded
    number of files, so embedding (in the parent) overlaps parsing without unbounded
    memory. Workers outlive a ``parse`` call (starting one costs seconds of imports), so
    the app pays that once; closing a ``parse`` iterator early kills them, since they may
    be in the middle of a file nobody wants any more. ``close`` ends them for good.
    """

    def __init__(
        self,
        config: ChunkingConfig,
        *,
        workers: int = 1,
        timeout: float = 60.0,
        memory_mb: int = 2048,
        prefetch: int = 256,
        parse: str = "ingest.sandbox:parse_file",
        progress_every: float | None = None,
    ) -> None:
        """``parse`` names the function the workers run, as "module:function" (the
        workers import it themselves: spawned processes share no objects);
        ``progress_every`` is how often a long file reports its progress (default:
        ``PROGRESS_EVERY``)."""
        self.config = config
        self.prefetch = max(1, prefetch)
        every = PROGRESS_EVERY if progress_every is None else progress_every
        self._pool = [
            _Worker(config, memory_mb, parse, timeout, every) for _ in range(max(1, workers))
        ]

    def close(self) -> None:
        for worker in self._pool:
            worker.stop()

    def abort(self) -> None:
        """Kill the workers now, from any thread; a parse in progress raises
        ParserStopped instead of reporting its file as crashed."""
        for worker in self._pool:
            worker.aborted = True
            worker.stop()

    def parse(self, tasks: Iterable[ParseTask]) -> Iterator[tuple[ParseTask, ParseResult]]:
        for item in self.parse_with_progress(tasks):
            if not isinstance(item, FileProgress):
                yield item

    def parse_with_progress(
        self, tasks: Iterable[ParseTask]
    ) -> Iterator[tuple[ParseTask, ParseResult] | FileProgress]:
        """Like :meth:`parse`, with the progress of long files (pages read) in between."""
        todo: queue.Queue[ParseTask | None] = queue.Queue()
        done: queue.Queue[tuple[ParseTask, ParseResult] | FileProgress | BaseException] = (
            queue.Queue(maxsize=self.prefetch)
        )
        stopping = threading.Event()
        count = 0
        for task in tasks:
            todo.put(task)
            count += 1
        for _ in self._pool:
            todo.put(None)

        def progress(report: FileProgress) -> None:
            with contextlib.suppress(queue.Full):  # a report can be missed, a result never
                done.put_nowait(report)

        def serve(worker: _Worker) -> None:
            try:
                while not stopping.is_set():
                    task = todo.get()
                    if task is None:
                        return
                    result = (task, worker.run(task, progress))
                    while not stopping.is_set():
                        with contextlib.suppress(queue.Full):
                            done.put(result, timeout=0.2)
                            break
            except BaseException as exc:  # delivered to the consumer, never lost in a thread
                worker.stop()
                if not stopping.is_set():
                    done.put(exc)

        threads = [
            threading.Thread(target=serve, args=(w,), name="parser", daemon=True)
            for w in self._pool
        ]
        for thread in threads:
            thread.start()
        finished = False
        try:
            left = count
            while left:
                item = done.get()
                if isinstance(item, BaseException):
                    raise item
                if not isinstance(item, FileProgress):
                    left -= 1
                yield item
            finished = True
        finally:
            stopping.set()
            if not finished:
                self.close()
            for thread in threads:
                thread.join(5)
