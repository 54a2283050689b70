"""Two writers on one data folder; every damaged or lost store; a followed folder that is
not there. Real ``desk-assistant`` processes on real files."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from faults import (
    Crash,
    DataLost,
    Ledger,
    cli,
    cli_json,
    consistent,
    copy_home,
    make_corpus,
    same_as,
    snapshot,
    start,
)

pytestmark = [pytest.mark.slow, pytest.mark.model]


def _finish(
    process: subprocess.Popen[str], timeout: float = 900, log: Path | None = None
) -> tuple[str, str]:
    """The command's output and errors (read from ``log`` when they went to that file)."""
    out, err = process.communicate(timeout=timeout)
    if log is not None:
        err = log.read_text("utf-8")
    if process.returncode != 0 or "Traceback" in err or "panicked at" in err:
        raise Crash(f"exit {process.returncode}: {err[-2000:]}")
    return out, err


def _waiting(log: Path) -> bool:
    return log.is_file() and "Waiting for desk-assistant sync" in log.read_text("utf-8")


def test_two_syncs_at_once_take_turns(tmp_path: Path, ledger: Ledger) -> None:
    from test_writer_lock import hold_in_child

    corpus = tmp_path / "corpus"
    files = make_corpus(corpus, 18)
    home = tmp_path / "home"
    cli(home, "ingest", str(corpus))
    for path in files[:15]:
        path.write_text(path.read_text("utf-8") + "\nEdited for the second run.\n", "utf-8")
    with ledger.fault("two syncs at once after editing 15 files"):
        # Both start while a third writer holds the folder, so that they meet at the lock
        # however fast this machine runs one of them; then they race for it.
        holder = hold_in_child(home, "desk-assistant sync")
        logs = [tmp_path / "first.err", tmp_path / "second.err"]
        try:
            syncs = [start(home, "sync", "--json", stderr=log) for log in logs]
            deadline = time.monotonic() + 300
            while not all(_waiting(log) for log in logs):
                if time.monotonic() > deadline or any(p.poll() is not None for p in syncs):
                    raise Crash(f"the syncs did not both wait: {[_waiting(x) for x in logs]}")
                time.sleep(0.1)
        finally:
            holder.kill()
            holder.wait()
        outs = [_finish(sync, log=log) for sync, log in zip(syncs, logs, strict=True)]
        summaries = [json.loads(out.splitlines()[-1]) for out, _ in outs]
        assert sorted(s["updated"] for s in summaries) == [0, 15]  # one did it, once
        consistent(home)
        sources = cli_json(home, "sources")
        if len(sources) != 18 or {s["status"] for s in sources} != {"indexed"}:
            raise DataLost(f"{len(sources)} sources after two syncs")


def test_a_watcher_and_a_sync_share_the_folder(tmp_path: Path, ledger: Ledger) -> None:
    corpus = tmp_path / "corpus"
    make_corpus(corpus, 6)
    home = tmp_path / "home"
    cli(home, "ingest", str(corpus))
    with ledger.fault("watch running while sync and edits happen"):
        watcher = start(home, "watch", "--json", "--debounce", "0.5")
        try:
            make_corpus(corpus, 4, start=6)  # the watcher and the sync both see these
            cli(home, "sync")
        finally:
            from faults import kill

            kill(watcher)
        cli(home, "sync")  # whatever the killed watcher left is taken up
        consistent(home)
        if len(cli_json(home, "sources")) != 10:
            raise DataLost("files added while two writers worked are missing")


def _overwrite(path: Path, at: int, size: int) -> None:
    with path.open("r+b") as handle:
        handle.seek(at)
        handle.write(os.urandom(size))


def _truncate(path: Path) -> None:
    with path.open("r+b") as handle:
        handle.truncate(path.stat().st_size // 2)


def _wal_gone(home: Path) -> None:
    for leftover in home.glob("manifest.sqlite3-*"):
        leftover.unlink()


DAMAGE: dict[str, Callable[[Path], None]] = {
    "manifest truncated": lambda h: (_wal_gone(h), _truncate(h / "manifest.sqlite3")),
    "manifest overwritten": lambda h: (
        _wal_gone(h),
        _overwrite(h / "manifest.sqlite3", 2 * 4096, 3 * 4096),
    ),
    "manifest emptied": lambda h: (_wal_gone(h), (h / "manifest.sqlite3").write_bytes(b"")),
    "manifest deleted": lambda h: (_wal_gone(h), (h / "manifest.sqlite3").unlink()),
    "vector store overwritten": lambda h: _overwrite(
        h / "chroma" / "chroma.sqlite3", 5 * 4096, 20 * 4096
    ),
    "vector store deleted": lambda h: shutil.rmtree(h / "chroma"),
    "BM25 index deleted": lambda h: shutil.rmtree(h / "lexical"),
    "record unreadable": lambda h: (h / "library-record.json").write_text("{"),
}


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_each_damaged_store_is_named_and_repaired(
    damage: str, indexed_home: Path, tmp_path: Path, ledger: Ledger
) -> None:
    home = copy_home(indexed_home, tmp_path)
    before = snapshot(home)
    DAMAGE[damage](home)
    with ledger.fault(damage):
        status = cli(home, "status", codes=(0, 1))
        if status.returncode:
            assert "damaged" in status.stderr and "desk-assistant doctor --repair" in status.stderr
        cli(home, "doctor", codes=(0, 1))
        cli(home, "doctor", "--repair")
        same_as(home, before)
        consistent(home)
        found = cli_json(home, "search", "Which document is about the penguin?")
        assert found and "penguin" in found[0]["text"]


def test_a_damaged_settings_file_is_named_and_the_data_is_untouched(
    indexed_home: Path, tmp_path: Path, ledger: Ledger
) -> None:
    home = copy_home(indexed_home, tmp_path)
    before = snapshot(home)
    (home / "settings.json").write_text('{"top_k": 3,', "utf-8")
    with ledger.fault("settings.json damaged"):
        done = cli(home, "status", codes=(1,))
        assert (
            "settings.json is not valid JSON" in done.stderr and "fix or delete it" in done.stderr
        )
        (home / "settings.json").unlink()  # the way out it names
        same_as(home, before)


def test_an_unplugged_folder_keeps_its_documents(tmp_path: Path, ledger: Ledger) -> None:
    drive = tmp_path / "usb" / "documents"
    make_corpus(drive, 5)
    home = tmp_path / "home"
    cli(home, "ingest", str(drive))
    before = snapshot(home)
    with ledger.fault("followed folder on an unplugged drive"):
        (tmp_path / "usb").rename(tmp_path / "elsewhere")
        done = cli(home, "sync")
        assert "5 unavailable (kept)" in done.stdout, done.stdout
        sources = cli_json(home, "sources")
        if len(sources) != 5 or {s["status"] for s in sources} != {"unavailable"}:
            raise DataLost(f"documents of an unplugged drive: {sources}")
        assert cli_json(home, "search", "penguin")  # still found
        (tmp_path / "elsewhere").rename(tmp_path / "usb")
        counts = json.loads(cli(home, "sync", "--json").stdout.splitlines()[-1])
        assert counts["added"] == counts["updated"] == counts["removed"] == 0
        same_as(home, before)
        consistent(home)
