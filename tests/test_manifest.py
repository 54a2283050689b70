"""The manifest: migrations, atomic replacement, the journal of unfinished changes."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from desk_assistant.errors import StoreError
from desk_assistant.manifest import MIGRATIONS, Manifest
from ingest.types import Chunk, FileEntry


def _chunks(n: int, page: int | None = 1) -> list[tuple[str, Chunk]]:
    return [(f"id-{i}", Chunk(i, f"text {i}", page, None, 0, 6)) for i in range(n)]


def test_migrations_bring_a_new_file_to_the_latest_schema(tmp_path: Path) -> None:
    manifest = Manifest(tmp_path / "m.sqlite3")
    manifest.close()
    version = sqlite3.connect(tmp_path / "m.sqlite3").execute("PRAGMA user_version").fetchone()
    assert version[0] == len(MIGRATIONS)
    Manifest(tmp_path / "m.sqlite3").close()  # reopening migrates nothing and works


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    db = sqlite3.connect(tmp_path / "m.sqlite3")
    db.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    db.close()
    with pytest.raises(StoreError, match="newer Desk Assistant"):
        Manifest(tmp_path / "m.sqlite3")


def test_commit_replaces_source_and_chunks_and_closes_journal(tmp_path: Path) -> None:
    manifest = Manifest(tmp_path / "m.sqlite3")
    manifest.ensure_collection("c", "model@1", 8)
    entry = FileEntry("/d/a.pdf", 10, 1, "/d")
    journal = manifest.begin_change("c", entry.path, ["id-0", "id-1"])
    assert [p.path for p in manifest.pending()] == ["/d/a.pdf"]
    manifest.commit_source(
        journal, "c", entry, "h1", status="indexed", fmt="pdf", pages=2, chunks=_chunks(2)
    )
    assert manifest.pending() == []
    assert manifest.chunk_ids("c", entry.path) == ["id-0", "id-1"]
    generation = manifest.generation("c")

    journal = manifest.begin_change("c", entry.path, ["id-9"])
    # the journal remembers old and new ids, so a crash can undo both
    assert set(manifest.pending()[0].chunk_ids) == {"id-0", "id-1", "id-9"}
    manifest.commit_source(
        journal,
        "c",
        entry,
        "h2",
        status="indexed",
        chunks=[("id-9", Chunk(0, "new", 3, None, 0, 3))],
    )
    assert manifest.chunk_ids("c", entry.path) == ["id-9"]
    assert manifest.chunks(["id-9"])["id-9"].page == 3
    assert manifest.generation("c") == generation + 1
    [source] = manifest.sources("c")
    assert (source.chunks, source.status) == (1, "indexed")


def test_paths_under_matches_folder_not_prefix(tmp_path: Path) -> None:
    manifest = Manifest(tmp_path / "m.sqlite3")
    manifest.ensure_collection("c", "model@1", 8)
    for path in ("/d/a.txt", "/d/sub/b.txt", "/dx/c.txt"):
        journal = manifest.begin_change("c", path, [])
        manifest.commit_source(journal, "c", FileEntry(path, 1, 1, "/"), "h", status="indexed")
    assert sorted(manifest.paths_under("c", "/d")) == ["/d/a.txt", "/d/sub/b.txt"]
    assert manifest.paths_under("c", "/d/a.txt") == ["/d/a.txt"]


def test_collections_are_separate(tmp_path: Path) -> None:
    manifest = Manifest(tmp_path / "m.sqlite3")
    for name in ("work", "home"):
        manifest.ensure_collection(name, "model@1", 8)
        journal = manifest.begin_change(name, "/same.txt", ["x-" + name])
        manifest.commit_source(
            journal,
            name,
            FileEntry("/same.txt", 1, 1, "/"),
            "h",
            status="indexed",
            chunks=[("x-" + name, Chunk(0, "t", None, None, 0, 1))],
        )
    assert manifest.chunk_ids("work", "/same.txt") == ["x-work"]
    assert [c.name for c in manifest.collections()] == ["home", "work"]
    manifest.drop_collection("work")
    assert manifest.chunk_ids("work", "/same.txt") == []
    assert manifest.chunk_ids("home", "/same.txt") == ["x-home"]
