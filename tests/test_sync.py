"""Followed folders: sync picks up changes, exclusions apply, removal sticks, watch reacts."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from fakes import make_assistant, summary

from desk_assistant.records import IngestEvent
from desk_assistant.watch import watch


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def _names(assistant: object) -> set[str]:
    return {Path(s.path).name for s in assistant.sources()}  # type: ignore[attr-defined]


def test_sync_follows_ingested_folders(tmp_path: Path, app_home: Path) -> None:
    docs = tmp_path / "docs"
    _write(docs / "a.txt", "Penguins are birds.")
    with make_assistant(app_home) as assistant:
        summary(assistant.ingest([docs]))
        assert assistant.followed() == [str(docs)]
        _write(docs / "new.md", "# New\n\nA new note about rent.")
        (docs / "a.txt").unlink()
        counts = summary(assistant.sync())
        assert (counts["added"], counts["removed"]) == (1, 1)
        assert _names(assistant) == {"new.md"}


def test_exclusions_skip_and_remove(tmp_path: Path, app_home: Path) -> None:
    docs = tmp_path / "docs"
    _write(docs / "keep.txt", "Keep this text.")
    _write(docs / "drafts" / "wip.txt", "Work in progress.")
    with make_assistant(app_home) as assistant:
        summary(assistant.ingest([docs]))
        assert _names(assistant) == {"keep.txt", "wip.txt"}
        assert assistant.exclude(["drafts"]) == ["drafts"]
        counts = summary(assistant.sync())
        assert counts["removed"] == 1
        assert _names(assistant) == {"keep.txt"}
        assert assistant.exclude(["drafts"], undo=True) == []
        summary(assistant.sync())
        assert _names(assistant) == {"keep.txt", "wip.txt"}


def test_removing_a_file_inside_a_followed_folder_sticks(tmp_path: Path, app_home: Path) -> None:
    docs = tmp_path / "docs [1]"  # glob characters in the path must be escaped
    _write(docs / "a.txt", "Alpha text.")
    _write(docs / "b.txt", "Beta text.")
    with make_assistant(app_home) as assistant:
        summary(assistant.ingest([docs]))
        assistant.remove(docs / "b.txt")
        summary(assistant.sync())
        assert _names(assistant) == {"a.txt"}
        assistant.remove(docs)  # the followed folder itself: no longer followed
        assert assistant.followed() == []
        assert _names(assistant) == set()


def test_watch_syncs_after_changes_settle(tmp_path: Path, app_home: Path) -> None:
    docs = tmp_path / "docs"
    _write(docs / "a.txt", "Alpha text.")
    runs: list[list[IngestEvent]] = []
    stop = threading.Event()
    with make_assistant(app_home) as assistant:
        summary(assistant.ingest([docs]))

        def follow() -> None:
            for events in watch(assistant, debounce=0.3, stop=stop):
                runs.append(list(events))

        thread = threading.Thread(target=follow, daemon=True)
        thread.start()
        time.sleep(1.0)  # let the watcher start
        for number in range(3):  # a burst of changes: one sync
            _write(docs / f"new-{number}.txt", f"New file {number} about gardens.")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and sum(run[-1].counts["added"] for run in runs) < 3:
            time.sleep(0.2)
        stop.set()
        thread.join(10)
        assert sum(run[-1].counts["added"] for run in runs) == 3
        assert len(runs) <= 2
        assert _names(assistant) == {"a.txt", "new-0.txt", "new-1.txt", "new-2.txt"}


def test_watch_first_catches_up_with_what_changed_before_it_started(
    tmp_path: Path, app_home: Path
) -> None:
    docs = tmp_path / "docs"
    _write(docs / "a.txt", "Alpha text.")
    stop = threading.Event()
    with make_assistant(app_home) as assistant:
        summary(assistant.ingest([docs]))
        _write(docs / "meanwhile.txt", "Written while nobody watched.")
        runs = watch(assistant, debounce=0.3, stop=stop)
        first = list(next(runs))  # comes without any change after the watch started
        stop.set()
        assert first[-1].counts["added"] == 1
        assert _names(assistant) == {"a.txt", "meanwhile.txt"}


def test_an_unplugged_drive_keeps_its_documents_until_it_is_back(
    tmp_path: Path, app_home: Path
) -> None:
    drive = tmp_path / "usb"
    (drive / "notes").mkdir(parents=True)
    (drive / "notes" / "bridge.md").write_text("# Bridge\n\nThe bridge reopens in 2027.\n")
    (drive / "notes" / "lease.txt").write_text("The notice period is three months.")
    single = tmp_path / "desk" / "memo.txt"
    single.parent.mkdir()
    single.write_text("The memo says the harbour opens at nine.")
    with make_assistant(app_home) as assistant:
        assert summary(assistant.ingest([drive, single]))["added"] == 3
        unplugged = tmp_path / "elsewhere"
        drive.rename(unplugged)  # the drive is gone; its mount point with it

        events = list(assistant.sync())
        counts = events[-1].counts
        assert counts["removed"] == 0 and counts["unavailable"] == 2
        reasons = {e.path: e.reason for e in events if e.outcome == "unavailable"}
        assert all(f"{drive} is not there" in (r or "") for r in reasons.values())
        by_path = {s.path: s for s in assistant.sources()}
        assert by_path[str(drive / "notes" / "lease.txt")].status == "unavailable"
        assert assistant.status().unavailable == 2 and assistant.status().chunks >= 3
        # Still searchable and citable meanwhile.
        assert assistant.search("When does the bridge reopen?")[0].path.endswith("bridge.md")
        assert str(drive) in assistant.followed()  # still followed

        unplugged.rename(drive)  # plugged in again: nothing to parse or embed
        counts = summary(assistant.sync())
        assert counts["added"] == counts["updated"] == counts["removed"] == 0
        assert {s.status for s in assistant.sources()} == {"indexed"}

        (drive / "notes" / "lease.txt").unlink()  # a deleted file, its folder still there
        single.unlink()  # a deleted followed file
        counts = summary(assistant.sync())
        assert counts["removed"] == 2 and counts["unavailable"] == 0
        assert [Path(s.path).name for s in assistant.sources()] == ["bridge.md"]
