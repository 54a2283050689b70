"""Every damaged or lost store of a data folder: a clear message naming the file and the
way out, and a repair that gives everything back - never by deleting vectors."""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path

import pytest
from fakes import assistant_and_parts, make_assistant, summary

from desk_assistant.errors import DamagedStore
from desk_assistant.manifest import RECORD_FILE
from desk_assistant.parts import Parts
from desk_assistant.service import Assistant


def _docs(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "lease.md").write_text(
        "# Lease\n\n## Notice\n\nThe notice period of the lease is three months.\n", "utf-8"
    )
    (folder / "birds.txt").write_text("Penguins are flightless birds of the south.", "utf-8")
    (folder / "notes.txt").write_text("The bridge over the harbour reopens in 2027.", "utf-8")
    return folder


def _indexed(tmp_path: Path, home: Path) -> dict[str, object]:
    """An indexed collection with a followed folder and an exclusion; what it holds."""
    docs = _docs(tmp_path / "docs")
    with assistant_and_parts(home) as (assistant, parts):
        summary(assistant.ingest([docs]))
        (docs / "copy.txt").write_text((docs / "birds.txt").read_text(), "utf-8")
        summary(assistant.sync())  # a second path for one content
        assistant.exclude(["*.log"])
        assistant.create_collection("Work")
        return {
            "sources": [(s.path, s.status, s.chunks) for s in assistant.sources()],
            "followed": assistant.followed(),
            "excludes": assistant.excludes(),
            "collections": [c.name for c in assistant.collections()],
            "vectors": parts.store.ids("default"),
        }


def _state(assistant: Assistant, parts: Parts) -> dict[str, object]:
    return {
        "sources": [(s.path, s.status, s.chunks) for s in assistant.sources()],
        "followed": assistant.followed(),
        "excludes": assistant.excludes(),
        "collections": [c.name for c in assistant.collections()],
        "vectors": parts.store.ids("default"),
    }


def _overwrite(path: Path, at: int, size: int) -> None:
    with path.open("r+b") as handle:
        handle.seek(at)
        handle.write(os.urandom(size))


@pytest.mark.parametrize("how", ["deleted", "emptied"])
def test_a_lost_manifest_is_rebuilt_when_the_folder_is_opened(
    how: str, tmp_path: Path, app_home: Path
) -> None:
    before = _indexed(tmp_path, app_home)
    manifest = app_home / "manifest.sqlite3"
    if how == "deleted":
        for leftover in app_home.glob("manifest.sqlite3*"):
            leftover.unlink()
    else:
        manifest.write_bytes(b"")
        for leftover in app_home.glob("manifest.sqlite3-*"):
            leftover.unlink()

    with assistant_and_parts(app_home) as (assistant, parts):
        assert assistant.recovered is not None
        assert "4 document(s) and 3 passage(s) in 'Work', 'default'" in assistant.recovered
        assert _state(assistant, parts) == before  # nothing embedded, nothing deleted
        assert assistant.doctor().findings == ()
        hit = assistant.search("When does the bridge reopen?")[0]
        assert hit.path.endswith("notes.txt")
        assert summary(assistant.sync())["unchanged"] == 4  # the files' stats came back


def test_a_damaged_manifest_is_named_and_repaired_from_the_vector_store(
    tmp_path: Path, app_home: Path
) -> None:
    before = _indexed(tmp_path, app_home)
    manifest = app_home / "manifest.sqlite3"
    _overwrite(manifest, 4096, 3 * 4096)

    with make_assistant(app_home) as assistant:
        with pytest.raises(DamagedStore) as damaged:
            assistant.sources()
        message = str(damaged.value)
        assert str(manifest) in message and "is damaged" in message
        assert "a repair moves it aside and rebuilds it" in message
        assert damaged.value.command == "desk-assistant doctor --repair"
        report = assistant.doctor()
        assert not report.healthy and report.findings[0].check == "database"

        repaired = assistant.doctor(repair=True)
        assert repaired.healthy, repaired
        assert "moved to" in repaired.findings[0].problem
    assert len(list((app_home / "damaged").glob("manifest-*.sqlite3"))) == 1
    with assistant_and_parts(app_home) as (assistant, parts):
        assert _state(assistant, parts) == before
        assert assistant.doctor().findings == ()


def test_a_damaged_vector_store_is_named_and_embedded_again(tmp_path: Path, app_home: Path) -> None:
    before = _indexed(tmp_path, app_home)
    _overwrite(app_home / "chroma" / "chroma.sqlite3", 5 * 4096, 20 * 4096)

    with make_assistant(app_home) as assistant:
        with pytest.raises(DamagedStore, match=r"The vector store in .*chroma is damaged"):
            assistant.search("bridge")
        assert not assistant.doctor().healthy
        repaired = assistant.doctor(repair=True)
        assert repaired.healthy
        assert any("moved to" in f.problem for f in repaired.findings)
    with assistant_and_parts(app_home) as (assistant, parts):
        assert _state(assistant, parts) == before
        assert assistant.search("When does the bridge reopen?")[0].path.endswith("notes.txt")


def test_without_the_record_the_vector_store_alone_gives_the_documents_back(
    tmp_path: Path, app_home: Path
) -> None:
    before = _indexed(tmp_path, app_home)
    (app_home / RECORD_FILE).unlink()
    for leftover in app_home.glob("manifest.sqlite3*"):
        leftover.unlink()

    with assistant_and_parts(app_home) as (assistant, parts):
        assert assistant.recovered is None  # nothing says a collection is missing...
        report = assistant.doctor()
        assert [f.check for f in report.findings] == ["collections", "vectors"]  # doctor sees
        assert parts.store.ids("default") == before["vectors"]  # and deleted nothing
        assert assistant.doctor(repair=True).healthy
        state = _state(assistant, parts)
        assert state["sources"] == before["sources"] and state["vectors"] == before["vectors"]
        assert state["followed"] == before["followed"]  # the folders the files came from
        assert state["excludes"] == []  # only the record knew them


def test_vectors_the_manifest_lost_are_restored_not_deleted(tmp_path: Path, app_home: Path) -> None:
    _indexed(tmp_path, app_home)
    with assistant_and_parts(app_home) as (assistant, parts):
        lost = next(s.path for s in assistant.sources() if s.path.endswith("lease.md"))
        with sqlite3.connect(app_home / "manifest.sqlite3") as db:  # rows lost, vectors kept
            db.execute("PRAGMA foreign_keys=ON")
            db.execute("DELETE FROM contents WHERE id = (SELECT content_id FROM sources "
                       "WHERE path = ?)", (lost,))  # fmt: skip
            db.execute("DELETE FROM sources WHERE path = ?", (lost,))
        report = assistant.doctor(repair=True)
        assert report.healthy
        assert any("restored" in f.problem for f in report.findings)
        assert lost in [s.path for s in assistant.sources()]
        assert parts.store.ids("default") == parts.manifest.all_chunk_ids("default")


def test_a_damaged_chat_history_keeps_what_can_be_read(app_home: Path) -> None:
    with make_assistant(app_home) as assistant:
        for number in range(40):
            chat = assistant.new_chat()
            assistant.rename_chat(chat.id, f"Chat {number} " + "x" * 300)
    history = app_home / "chats.sqlite3"
    size = history.stat().st_size
    _overwrite(history, size - 2 * 4096, 4096)  # the last pages: later chats

    with make_assistant(app_home) as assistant:
        report = assistant.doctor()
        assert any(f.check == "chats" and not f.repaired for f in report.findings)
        repaired = assistant.doctor(repair=True)
        assert repaired.healthy
        kept = assistant.chats()
        assert 0 < len(kept) <= 40
        assert all(c.title.startswith("Chat ") for c in kept)
    assert len(list((app_home / "damaged").glob("chats-*.sqlite3"))) == 1


def test_an_unreadable_record_is_ignored_and_written_again(tmp_path: Path, app_home: Path) -> None:
    _indexed(tmp_path, app_home)
    record = app_home / RECORD_FILE
    record.write_text("{ not json", "utf-8")
    with make_assistant(app_home) as assistant:
        assert assistant.recovered is None and len(assistant.sources()) == 4
        assistant.exclude(["drafts"])
    assert '"drafts"' in record.read_text("utf-8")
    assert '"format": "Desk Assistant library record"' in record.read_text("utf-8")


@pytest.mark.parametrize("record", ["kept", "lost too"])
def test_a_renamed_collection_comes_back_under_its_name_and_internal_id(
    record: str, tmp_path: Path, app_home: Path
) -> None:
    """A rename changes only the display name: the vectors stay under the internal id. The
    record keeps both, so a lost manifest gets the collection back under the name the
    user gave it, with its vectors; without the record, the name the store noted."""
    docs = _docs(tmp_path / "docs")
    with assistant_and_parts(app_home) as (assistant, parts):
        assistant.create_collection("Recipes & notes")
        summary(assistant.ingest([docs], "Recipes & notes"))
        assistant.rename_collection("Recipes & notes", "Kitchen / 厨房")
        key = parts.manifest.collection_key("Kitchen / 厨房")
        vectors = parts.store.ids("Kitchen / 厨房")
    written = json.loads((app_home / RECORD_FILE).read_text("utf-8"))["collections"]
    assert [(c["name"], c["key"]) for c in written] == [("Kitchen / 厨房", key)]
    for leftover in app_home.glob("manifest.sqlite3*"):
        leftover.unlink()
    if record == "lost too":
        (app_home / RECORD_FILE).unlink()

    with assistant_and_parts(app_home) as (assistant, parts):
        if record == "lost too":
            assert assistant.doctor("Recipes & notes", repair=True).healthy
        name = "Kitchen / 厨房" if record == "kept" else "Recipes & notes"
        assert parts.manifest.collection_key(name) == key
        assert parts.store.ids(name) == vectors
        assert assistant.search("notice period", name)[0].path.endswith("lease.md")


def test_a_manifest_cut_in_half_cannot_even_be_opened_and_is_still_repaired(
    tmp_path: Path, app_home: Path
) -> None:
    before = _indexed(tmp_path, app_home)
    manifest = app_home / "manifest.sqlite3"
    for leftover in app_home.glob("manifest.sqlite3-*"):
        leftover.unlink()
    with manifest.open("r+b") as handle:
        handle.truncate(manifest.stat().st_size // 2)

    with make_assistant(app_home) as assistant:  # opening it does not fail
        with pytest.raises(DamagedStore):
            assistant.status()
        assert assistant.doctor(repair=True).healthy
    with assistant_and_parts(app_home) as (assistant, parts):
        assert _state(assistant, parts) == before
