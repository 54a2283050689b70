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
