"""The manifest: migrations, content-addressed storage, the journal of unfinished writes."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from desk_assistant.errors import StoreError
from desk_assistant.manifest import MIGRATIONS, Manifest
from ingest.types import Chunk, FileEntry


def _chunks(prefix: str, n: int, page: int | None = 1) -> list[tuple[str, Chunk]]:
    return [(f"{prefix}-{i}", Chunk(i, f"text {i}", page, None, 0, 6, "text")) for i in range(n)]


def _entry(path: str) -> FileEntry:
    return FileEntry(path, 10, 1, "/d")


@pytest.fixture
def manifest(tmp_path: Path) -> Manifest:
    m = Manifest(tmp_path / "m.sqlite3")
    m.ensure_collection("c", "model@1", 8)
    return m


def _store(m: Manifest, paths: list[str], digest: str, n: int = 2) -> None:
    ids = [cid for cid, _ in _chunks(digest, n)]
    journal = m.begin_write("c", ids)
    m.commit_content(
        journal,
        "c",
        [_entry(p) for p in paths],
        digest,
        fmt="pdf",
        pages=n,
        chunks=_chunks(digest, n),
    )


def test_migrations_bring_a_new_file_to_the_latest_schema(tmp_path: Path) -> None:
    Manifest(tmp_path / "m.sqlite3").close()
    version = sqlite3.connect(tmp_path / "m.sqlite3").execute("PRAGMA user_version").fetchone()
    assert version[0] == len(MIGRATIONS)
    Manifest(tmp_path / "m.sqlite3").close()  # reopening migrates nothing and works


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    db = sqlite3.connect(tmp_path / "m.sqlite3")
    db.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    db.close()
    with pytest.raises(StoreError, match="newer Desk Assistant"):
        Manifest(tmp_path / "m.sqlite3")


def test_commit_stores_content_links_paths_and_closes_the_journal(manifest: Manifest) -> None:
    journal = manifest.begin_write("c", ["h1-0", "h1-1"])
    assert [w.chunk_ids for w in manifest.pending()] == [("h1-0", "h1-1")]
    generation = manifest.generation("c")
    manifest.commit_content(
        journal,
        "c",
        [_entry("/d/a.pdf"), _entry("/d/copy.pdf")],
        "h1",
        fmt="pdf",
        pages=2,
        chunks=_chunks("h1", 2),
    )
    assert manifest.pending() == []
    assert manifest.generation("c") == generation + 1
    assert manifest.chunks(["h1-0"])["h1-0"].path == "/d/a.pdf"  # first of the two paths
    assert [(s.path, s.chunks, s.pages) for s in manifest.sources("c")] == [
        ("/d/a.pdf", 2, 2),
        ("/d/copy.pdf", 2, 2),
    ]
    assert manifest.counts("c") == {"indexed": 2, "chunks": 2}


def test_unlinked_content_is_an_orphan_and_invisible(manifest: Manifest) -> None:
    _store(manifest, ["/d/a.txt"], "old")
    _store(manifest, ["/d/a.txt"], "new")  # the file changed: the path moves to new content
    assert manifest.chunks(["old-0"]) == {}
    assert [o.chunk_ids for o in manifest.orphans("c")] == [("old-0", "old-1")]
    [orphan] = manifest.orphans("c")
    journal = manifest.begin_write("c", orphan.chunk_ids)
    manifest.drop_content(journal, "c", orphan.content_id)
    assert manifest.orphans("c") == [] and manifest.pending() == []
    assert manifest.all_chunk_ids("c") == {"new-0", "new-1"}


def test_link_and_failure_and_remove(manifest: Manifest) -> None:
    _store(manifest, ["/d/a.txt"], "h")
    content = manifest.content_id("c", "h")
    assert content is not None
    manifest.link_source("c", [_entry("/d/renamed.txt")], "h", content)
    manifest.remove_source("c", "/d/a.txt")
    assert manifest.orphans("c") == []
    manifest.record_failure("c", [_entry("/d/renamed.txt")], "h2", "password protected")
    [source] = manifest.sources("c")
    assert (source.status, source.error, source.chunks) == ("failed", "password protected", 0)
    assert len(manifest.orphans("c")) == 1


def test_paths_under_matches_folder_not_prefix(manifest: Manifest) -> None:
    _store(manifest, ["/d/a.txt", "/d/sub/b.txt", "/dx/c.txt"], "h")
    assert sorted(manifest.paths_under("c", "/d")) == ["/d/a.txt", "/d/sub/b.txt"]
    assert manifest.paths_under("c", "/d/a.txt") == ["/d/a.txt"]


def test_collections_are_separate(manifest: Manifest) -> None:
    manifest.ensure_collection("other", "model@1", 8)
    _store(manifest, ["/same.txt"], "h")
    journal = manifest.begin_write("other", ["x-0"])
    manifest.commit_content(
        journal,
        "other",
        [_entry("/same.txt")],
        "h",
        fmt=None,
        pages=None,
        chunks=[("x-0", Chunk(0, "t", None, None, 0, 1))],
    )
    assert manifest.all_chunk_ids("other") == {"x-0"}
    assert [c.name for c in manifest.collections()] == ["c", "other"]
    manifest.drop_collection("c")
    assert manifest.all_chunk_ids("c") == set()
    assert manifest.all_chunk_ids("other") == {"x-0"}


def test_a_new_database_opened_by_many_threads_at_once_is_migrated_once(tmp_path: Path) -> None:
    # The app and its folder watcher open the manifest at the same moment on first start.
    path = tmp_path / "home" / "manifest.sqlite3"
    start = threading.Barrier(6)
    opened: list[Manifest] = []
    errors: list[BaseException] = []

    def open_it() -> None:
        start.wait()
        try:
            opened.append(Manifest(path))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=open_it) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    opened[0].ensure_collection("default", "model", 3)  # nobody holds the write lock
    assert [m.collections()[0].name for m in opened] == ["default"] * 6
    for m in opened:
        m.close()
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)


def test_a_collection_made_before_ids_keeps_its_vectors_where_they_were(tmp_path: Path) -> None:
    from desk_assistant.manifest import derived_key

    path = tmp_path / "m.sqlite3"
    db = sqlite3.connect(path)  # a manifest as version 2 left it
    for migration in MIGRATIONS[:2]:
        db.executescript(migration)
    db.execute("PRAGMA user_version = 2")
    db.execute("INSERT INTO collections (name, created_at) VALUES ('Old notes', 0)")
    db.commit()
    db.close()
    manifest = Manifest(path)
    assert manifest.collection_key("Old notes") == derived_key("Old notes")
    manifest.rename_collection("Old notes", "Renamed")
    assert manifest.collection_key("Renamed") == derived_key("Old notes")  # the id stays
    manifest.ensure_collection("Old notes", "model@1", 8)  # the old name, a new collection
    assert manifest.collection_key("Old notes") not in (derived_key("Old notes"), "")
    assert manifest.collection_key("Old notes").startswith(derived_key("Old notes"))


@pytest.mark.parametrize("name", ["Recipes & notes", 'Q3/Q4: "drafts"', "l'été", "中文 笔记", "-"])
def test_any_printable_name_gets_a_safe_id(tmp_path: Path, name: str) -> None:
    import re

    manifest = Manifest(tmp_path / "m.sqlite3")
    manifest.ensure_collection(name, "model@1", 8)
    assert [c.name for c in manifest.collections()] == [name]
    assert re.fullmatch(r"[A-Za-z0-9_-]{3,63}", manifest.collection_key(name))
