"""One writer per data folder: the OS lock across processes, turns between threads, and
the Assistant's writes waiting (with a message) while reads go ahead."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest
from fakes import make_assistant, summary

from desk_assistant.writer_lock import WriterBusy, WriterLock

ROOT = Path(__file__).resolve().parents[1]


def hold_in_child(folder: Path, what: str = "desk-assistant sync") -> subprocess.Popen[str]:
    """A separate process that takes the lock, says so, and keeps it until killed."""
    code = textwrap.dedent(
        f"""
        import time
        from pathlib import Path
        from desk_assistant.writer_lock import WriterLock
        lock = WriterLock(Path({str(folder)!r}))
        with lock.hold({what!r}):
            print("held", flush=True)
            time.sleep(600)
        """
    )
    child = subprocess.Popen(
        [sys.executable, "-c", code],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert child.stdout is not None and child.stdout.readline().strip() == "held"
    return child


def test_a_second_process_waits_names_the_writer_and_gives_up_after_its_timeout(
    tmp_path: Path,
) -> None:
    child = hold_in_child(tmp_path)
    try:
        lock = WriterLock(tmp_path)
        holder = lock.holder()
        assert holder is not None and holder.pid == child.pid
        assert "desk-assistant sync" in holder.describe()
        said: list[str] = []
        with (
            pytest.raises(WriterBusy, match=rf"desk-assistant sync \(process {child.pid}") as busy,
            lock.hold("ingest", timeout=0.6, notify=said.append),
        ):
            pytest.fail("the lock was taken while another process held it")
        assert "Try again when it has finished" in str(busy.value)  # the timeout, not a cancel
        assert len(said) == 1 and "Waiting for desk-assistant sync" in said[0]
    finally:
        child.kill()
        child.wait()


def test_a_killed_writer_frees_the_lock_at_once(tmp_path: Path) -> None:
    child = hold_in_child(tmp_path)
    lock = WriterLock(tmp_path)
    assert lock.holder() is not None
    os.kill(child.pid, signal.SIGKILL)
    child.wait()

    assert lock.holder() is None  # the OS released it with the process
    with lock.hold("ingest", timeout=0):
        assert lock.holder() is None  # this thread is the writer


def test_threads_of_one_process_take_turns_and_one_thread_may_nest(tmp_path: Path) -> None:
    lock = WriterLock(tmp_path)
    other = WriterLock(tmp_path)  # another lane's object for the same folder
    inside = threading.Event()
    release = threading.Event()

    def lane() -> None:
        with other.hold("the desktop app: ingest"):
            inside.set()
            release.wait(10)

    thread = threading.Thread(target=lane)
    thread.start()
    try:
        assert inside.wait(10)
        holder = lock.holder()
        assert holder is not None and "the desktop app: ingest" in holder.describe()
        with pytest.raises(WriterBusy), lock.hold("remove", timeout=0.3):
            pass
    finally:
        release.set()
        thread.join(10)
    with lock.hold("remove", timeout=1), lock.hold("nested", timeout=0):
        assert lock.holder() is None
    assert lock.holder() is None


def test_a_wait_can_be_called_off(tmp_path: Path) -> None:
    child = hold_in_child(tmp_path)
    try:
        stop = threading.Event()
        threading.Timer(0.3, stop.set).start()
        with (
            pytest.raises(WriterBusy, match="Stopped waiting"),
            WriterLock(tmp_path).hold("sync", cancelled=stop.is_set),
        ):
            pass
    finally:
        child.kill()
        child.wait()


def test_ingestion_waits_for_another_writer_while_reads_go_ahead(
    tmp_path: Path, app_home: Path
) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.txt").write_text("The harbour opens at nine.", encoding="utf-8")
    said: list[str | None] = []
    assistant = make_assistant(app_home)
    assistant._on_wait = said.append  # what the CLI prints and the window shows
    child = hold_in_child(app_home, "desk-assistant sync")
    try:
        events = assistant.ingest([docs])
        first = next(events)
        assert first.kind == "waiting" and "desk-assistant sync" in (first.reason or "")
        assert said and said[0] is not None and "desk-assistant sync" in said[0]
        assert assistant.status().sources == 0  # reads never wait for the lock
        assert assistant.sources() == []
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
        counts = summary(e for e in events if e.kind != "waiting")
        assert counts["added"] == 1
        assert said[-1] is None  # the wait is over: the window clears its status
    finally:
        child.kill()
        child.wait()
        assistant.close()
    assert WriterLock(app_home).holder() is None


def test_giving_up_while_waiting_leaves_the_lock_free(tmp_path: Path, app_home: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.txt").write_text("The harbour opens at nine.", encoding="utf-8")
    child = hold_in_child(app_home)
    try:
        with make_assistant(app_home) as assistant:
            events = assistant.sync()
            assert next(events).kind == "waiting"
            events.close()  # the window's Cancel
            child.kill()
            child.wait()
            assert WriterLock(app_home).holder() is None
            assert summary(assistant.ingest([docs]))["added"] == 1
    finally:
        child.kill()
        child.wait()
