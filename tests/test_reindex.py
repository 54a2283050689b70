"""Re-indexing builds the new index beside the old one: the old one answers questions
until the new one is complete and takes its place in one step; a re-index stopped half-way
(Cancel, a kill) leaves the old one whole, and one that could not read every document
again is refused before it starts."""

from __future__ import annotations

from pathlib import Path

import pytest
from fakes import assistant_and_parts, make_assistant, summary

from desk_assistant.errors import DeskAssistantError


def _docs(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "lease.md").write_text("# Lease\n\nThe notice period is three months.\n", "utf-8")
    (folder / "birds.txt").write_text("Penguins are flightless birds of the south.", "utf-8")
    (folder / "bridge.txt").write_text("The harbour bridge reopens in the spring.", "utf-8")
    return folder


def test_a_reindex_stopped_half_way_leaves_the_old_index_whole(
    tmp_path: Path, app_home: Path
) -> None:
    docs = _docs(tmp_path / "docs")
    with assistant_and_parts(app_home) as (assistant, parts):
        summary(assistant.ingest([docs]))
        assistant.exclude(["*.log"])
        before = [(s.path, s.status, s.chunks) for s in assistant.sources()]
        old_vectors = parts.store.ids("default")

        events = assistant.reindex()
        next(e for e in events if e.kind == "file")
        events.close()  # what Cancel does: the generator is dropped half-way

        assert [(s.path, s.status, s.chunks) for s in assistant.sources()] == before
        assert parts.store.ids("default") == old_vectors
        assert assistant.search("notice period")[0].path.endswith("lease.md")
        assert [c.name for c in assistant.collections()] == ["default"]  # no partial copy
        assert assistant.doctor().healthy

        counts = summary(assistant.reindex())  # drops the partial copy, builds anew
        assert counts["added"] == 3
        assert [(s.path, s.status, s.chunks) for s in assistant.sources()] == before
        assert assistant.followed() == [str(docs)] and assistant.excludes() == ["*.log"]
        assert parts.store.ids("default").isdisjoint(old_vectors)  # every vector is new
        assert len(parts.store.collection_keys()) == 1  # the old index and the copy are gone
        assert assistant.doctor().healthy


def test_another_lane_answers_during_and_after_a_reindex(tmp_path: Path, app_home: Path) -> None:
    docs = _docs(tmp_path / "docs")
    with make_assistant(app_home) as indexing, make_assistant(app_home) as asking:
        summary(indexing.ingest([docs]))
        assert asking.search("notice period")[0].path.endswith("lease.md")  # a cached handle

        events = indexing.reindex()
        next(e for e in events if e.kind == "file")
        assert asking.search("notice period")[0].path.endswith("lease.md")  # the old index
        summary(events)
        assert asking.search("notice period")[0].path.endswith("lease.md")  # the new one


def test_a_reindex_while_a_followed_folder_is_not_there_is_refused(
    tmp_path: Path, app_home: Path
) -> None:
    _docs(tmp_path / "usb" / "docs")
    with make_assistant(app_home) as assistant:
        summary(assistant.ingest([tmp_path / "usb" / "docs"]))
        before = [(s.path, s.chunks) for s in assistant.sources()]
        (tmp_path / "usb").rename(tmp_path / "unplugged")
        with pytest.raises(DeskAssistantError, match=r"Cannot re-index 'default' now: .*not there"):
            summary(assistant.reindex())
        assert [(s.path, s.chunks) for s in assistant.sources()] == before
        assert assistant.search("notice period")[0].path.endswith("lease.md")
