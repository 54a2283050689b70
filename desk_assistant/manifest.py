"""The SQLite manifest: what is indexed, from which file version, and what is in flight.

It is the source of truth for "what should the vector store contain". Text is stored by
content, not by path: a *content* row (one per distinct file content in a collection)
owns the chunks, and *source* rows (one per path) point at a content. So a renamed or
moved file is re-pointed without re-embedding, identical files are stored once, and a
changed file switches to its new content in one transaction (never both versions,
never neither). Every vector-store write is preceded by a journal row committed first,
so a run killed at any instant leaves enough behind to undo the half-done write.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import sqlite3
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from desk_assistant.atomic import write_json
from desk_assistant.errors import DamagedStore, StoreError
from desk_assistant.records import CollectionInfo, SourceInfo
from desk_assistant.sqlite_schema import SQLiteStore
from ingest.scan import KnownFile
from ingest.types import Chunk, FileEntry

RECORD_FILE = "library-record.json"
RECORD_FORMAT = "Desk Assistant library record"
RECORD_VERSION = 1


def record_document(collections: list[dict[str, Any]]) -> dict[str, Any]:
    """The record file's content: self-describing, so a person (or a later version) finding
    it beside a damaged data folder knows what it is."""
    from desk_assistant import __version__

    return {
        "format": RECORD_FORMAT,
        "schema_version": RECORD_VERSION,
        "about": (
            "What Desk Assistant cannot rebuild from your files: the collections (the name "
            "you gave each, and the internal id its vectors are kept under), the files "
            "and folders each follows and what each excludes. If the index database "
            "(manifest.sqlite3) is lost or damaged, it is rebuilt from this record and the "
            "vector store (chroma/), which keeps every passage with its file and page."
        ),
        "written_by": f"Desk Assistant {__version__}",
        "written_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "manifest_schema": len(MIGRATIONS),
        "collections": collections,
    }


def read_record(home: Path) -> list[dict[str, Any]]:
    """The collections the record file lists ([] when it is missing or unreadable: it is
    a safety copy, and the vector store still names its collections)."""
    try:
        data = json.loads((home / RECORD_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    if not isinstance(data, dict) or data.get("format") != RECORD_FORMAT:
        return []
    found = data.get("collections")
    if not isinstance(found, list):
        return []
    return [c for c in found if isinstance(c, dict) and isinstance(c.get("name"), str)]


def recorded_embedding_models(path: Path) -> frozenset[str]:
    """The model ids the collections of the data folder whose manifest is ``path`` were
    indexed with: the manifest's and the record's (which outlives a lost manifest, rebuilt
    from it when the folder opens). A manifest that cannot be read adds none: opening the
    folder says what is wrong with it. Where there is no manifest, none is created."""
    record = read_record(path.parent)
    found = {str(c["embedding_model"]) for c in record if c.get("embedding_model")}
    if path.is_file():
        try:
            manifest = Manifest(path)
        except StoreError:  # damaged (DamagedStore), locked, or from a newer version
            return frozenset(found)
        try:
            found |= manifest.embedding_models()
        except DamagedStore:
            pass
        finally:
            manifest.close()
    return frozenset(found)


def _rename_rows(db: sqlite3.Connection, old: str, new: str) -> None:
    """Rename a collection in every table (the foreign keys do not cascade updates); its
    internal id stays, so its vectors and lexical index stay where they are."""
    db.execute("PRAGMA defer_foreign_keys = ON")
    db.execute(
        "UPDATE collections SET name = ?, key = COALESCE(key, ?) WHERE name = ?",
        (new, derived_key(old), old),
    )
    for table in ("contents", "sources", "roots", "excludes", "journal"):
        db.execute(f"UPDATE {table} SET collection = ? WHERE collection = ?", (new, old))


# Numbered migrations (see desk_assistant.sqlite_schema): never edit a released entry.
MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE collections (
        name TEXT PRIMARY KEY,
        embedding_model TEXT,
        embedding_dim INTEGER,
        generation INTEGER NOT NULL DEFAULT 0,
        created_at REAL NOT NULL
    );
    CREATE TABLE contents (
        id INTEGER PRIMARY KEY,
        collection TEXT NOT NULL REFERENCES collections(name) ON DELETE CASCADE,
        content_hash TEXT NOT NULL,
        format TEXT,
        pages INTEGER,
        chunk_count INTEGER NOT NULL,
        indexed_at REAL NOT NULL,
        UNIQUE (collection, content_hash)
    );
    CREATE TABLE sources (
        id INTEGER PRIMARY KEY,
        collection TEXT NOT NULL REFERENCES collections(name) ON DELETE CASCADE,
        path TEXT NOT NULL,
        root TEXT NOT NULL,
        size INTEGER NOT NULL,
        mtime_ns INTEGER NOT NULL,
        content_hash TEXT NOT NULL,
        content_id INTEGER REFERENCES contents(id) ON DELETE SET NULL,
        status TEXT NOT NULL,
        error TEXT,
        updated_at REAL NOT NULL,
        UNIQUE (collection, path)
    );
    CREATE INDEX sources_by_content ON sources(content_id);
    CREATE TABLE chunks (
        id TEXT PRIMARY KEY,
        content_id INTEGER NOT NULL REFERENCES contents(id) ON DELETE CASCADE,
        ord INTEGER NOT NULL,
        page INTEGER,
        heading TEXT,
        start INTEGER NOT NULL,
        end INTEGER NOT NULL,
        text TEXT NOT NULL,
        terms TEXT NOT NULL DEFAULT ''
    );
    CREATE INDEX chunks_by_content ON chunks(content_id, ord);
    CREATE TABLE journal (
        id INTEGER PRIMARY KEY,
        collection TEXT NOT NULL,
        chunk_ids TEXT NOT NULL,
        started_at REAL NOT NULL
    );
    """,
    # 2: the files and folders a collection follows (sync, watch) and its exclusions
    """
    CREATE TABLE roots (
        collection TEXT NOT NULL REFERENCES collections(name) ON DELETE CASCADE,
        path TEXT NOT NULL,
        added_at REAL NOT NULL,
        PRIMARY KEY (collection, path)
    );
    CREATE TABLE excludes (
        collection TEXT NOT NULL REFERENCES collections(name) ON DELETE CASCADE,
        pattern TEXT NOT NULL,
        PRIMARY KEY (collection, pattern)
    );
    """,
    # 3: a collection's internal id, beside the name the user sees and may change. NULL for
    # collections made before: their id is derived from the name (``derived_key``).
    """
    ALTER TABLE collections ADD COLUMN key TEXT;
    CREATE UNIQUE INDEX collections_by_key ON collections(key);
    """,
    # 4: what the loader could not read of a file (unreadable pages, an OCR budget hit),
    # as a JSON list, shown beside the file instead of being dropped
    """
    ALTER TABLE contents ADD COLUMN warnings TEXT NOT NULL DEFAULT '[]';
    """,
)


# A re-index is built beside the collection it replaces, in a collection named with this
# prefix: no collection can be called so (names are printable), and listings skip it.
STAGING_PREFIX = "\x1freindex:"


def staging_name(name: str) -> str:
    return STAGING_PREFIX + name


def unstaged(name: str) -> str:
    """The collection a name is, or was built for (the vector store notes the name a
    collection had when it was made: a re-index's)."""
    return name.removeprefix(STAGING_PREFIX)


def derived_key(name: str) -> str:
    """An internal id for a collection named ``name``: 3-63 characters of [a-zA-Z0-9_-],
    legal as a Chroma collection name and as a folder name on every system, whatever the
    name holds (``Recipes & notes``, ``a/b``, ``中文``). The vectors of collections made
    before ids were stored live under it, so it must never change."""
    slug = re.sub(r"[^a-zA-Z0-9_-]+", "-", name).strip("-_")[:40] or "c"
    digest = hashlib.sha1(name.encode("utf-8")).hexdigest()[:8]
    return f"da-{slug}-{digest}"


@dataclass(frozen=True, slots=True)
class ChunkRow:
    id: str
    path: str
    page: int | None
    heading: str | None
    start: int
    end: int
    text: str
    terms: str  # analysed at indexing time (ingest.analysis), space-separated


@dataclass(frozen=True, slots=True)
class StoredChunk:
    """A chunk as stored, with its content: what its vector's metadata is made from."""

    id: str
    content_id: int
    content_hash: str
    chunk: Chunk
    path: str  # the first path that shows it ("" when none does any more)


@dataclass(frozen=True, slots=True)
class ContentFacts:
    """A content's own facts and the files that show it (its header in the vector store)."""

    content_hash: str
    format: str | None
    pages: int | None
    chunk_count: int
    indexed_at: float
    warnings: tuple[str, ...]
    sources: tuple[dict[str, str | int], ...]  # path, root, size, mtime_ns


@dataclass(frozen=True, slots=True)
class PendingWrite:
    """A vector-store write that was started but never committed (the process died)."""

    journal_id: int
    collection: str
    chunk_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Orphan:
    """Indexed content no path points at any more (deleted, changed or failed files)."""

    content_id: int
    chunk_ids: tuple[str, ...]


class Manifest(SQLiteStore):
    """Thin typed access to the manifest database; one connection per thread of use."""

    REPAIR = (
        "Nothing is lost: a repair moves it aside and rebuilds it from the vector store, "
        "which keeps every passage with its file, page and folder."
    )

    def __init__(self, path: Path) -> None:
        super().__init__(path, MIGRATIONS, "index database")

    # collections -----------------------------------------------------------------

    def embedding_model(self, collection: str) -> tuple[str, int] | None:
        row = self._db.execute(
            "SELECT embedding_model, embedding_dim FROM collections WHERE name = ?", (collection,)
        ).fetchone()
        return None if row is None or row[0] is None else (row[0], int(row[1]))

    def embedding_models(self) -> frozenset[str]:
        """Every model id a collection here was indexed with (re-indexes in progress too)."""
        rows = self._db.execute(
            "SELECT DISTINCT embedding_model FROM collections WHERE embedding_model IS NOT NULL"
        ).fetchall()
        return frozenset(str(row[0]) for row in rows)

    def ensure_collection(
        self,
        name: str,
        embedding_model: str,
        dim: int,
        created_at: float | None = None,
        key: str | None = None,
    ) -> None:
        """Make the collection unless it exists; ``created_at`` and ``key`` (its internal
        id) are given when it is rebuilt from the record and the vector store."""
        with self._tx() as db:
            if db.execute("SELECT 1 FROM collections WHERE name = ?", (name,)).fetchone():
                return
            key = key or derived_key(name)
            # A renamed collection keeps its id: the name it had may come back as another.
            while db.execute("SELECT 1 FROM collections WHERE key = ?", (key,)).fetchone():
                key = f"{derived_key(name)}-{secrets.token_hex(3)}"
            db.execute(
                "INSERT INTO collections (name, key, embedding_model, embedding_dim, created_at) "
                "VALUES (?, ?, ?, ?, ?)",
                (name, key, embedding_model, dim, created_at or time.time()),
            )
        self.save_record()

    def set_embedding_model(self, name: str, embedding_model: str, dim: int) -> None:
        with self._tx() as db:
            db.execute(
                "UPDATE collections SET embedding_model = ?, embedding_dim = ? WHERE name = ?",
                (embedding_model, dim, name),
            )
        self.save_record()

    def collection_key(self, name: str) -> str:
        """The collection's internal id (for the vector store and the lexical index), which
        stays when the collection is renamed."""
        row = self._db.execute("SELECT key FROM collections WHERE name = ?", (name,)).fetchone()
        return row[0] if row is not None and row[0] else derived_key(name)

    def collections(self) -> list[CollectionInfo]:
        rows = self._db.execute(
            "SELECT c.name, c.embedding_model, "
            "(SELECT COUNT(*) FROM sources s WHERE s.collection = c.name), "
            "(SELECT COALESCE(SUM(t.chunk_count), 0) FROM contents t WHERE t.collection = c.name) "
            "FROM collections c WHERE substr(c.name, 1, ?) != ? ORDER BY c.name",
            (len(STAGING_PREFIX), STAGING_PREFIX),
        ).fetchall()
        return [CollectionInfo(r[0], r[1], int(r[2]), int(r[3])) for r in rows]

    def rename_collection(self, old: str, new: str) -> None:
        """Rename in every table at once (the foreign keys do not cascade updates); the
        internal id stays, so the vectors and the lexical index stay where they are."""
        with self._tx() as db:
            _rename_rows(db, old, new)
        self.save_record()

    def replace_collection(self, name: str, staged: str) -> str:
        """``staged`` (a finished re-index of ``name``) becomes ``name`` in one step, with
        its own internal id; returns the id of the index it replaced, whose vectors and
        lexical index are left to delete."""
        replaced = self.collection_key(name)
        with self._tx() as db:
            db.execute("DELETE FROM collections WHERE name = ?", (name,))  # cascades
            _rename_rows(db, staged, name)
        self.save_record()
        return replaced

    def drop_collection(self, name: str) -> None:
        with self._tx() as db:
            db.execute("DELETE FROM collections WHERE name = ?", (name,))
        self.save_record()

    def generation(self, collection: str) -> int:
        """A counter bumped by every change of chunks, so derived indexes know they are stale."""
        row = self._db.execute(
            "SELECT generation FROM collections WHERE name = ?", (collection,)
        ).fetchone()
        return 0 if row is None else int(row[0])

    @staticmethod
    def _bump(db: sqlite3.Connection, collection: str) -> None:
        db.execute(
            "UPDATE collections SET generation = generation + 1 WHERE name = ?", (collection,)
        )

    # followed paths and exclusions -------------------------------------------------

    def follow(self, collection: str, paths: Iterable[str]) -> None:
        with self._tx() as db:
            cursor = db.executemany(
                "INSERT OR IGNORE INTO roots (collection, path, added_at) VALUES (?, ?, ?)",
                [(collection, path, time.time()) for path in paths],
            )
        if cursor.rowcount:
            self.save_record()

    def unfollow(self, collection: str, path: str) -> bool:
        with self._tx() as db:
            cursor = db.execute(
                "DELETE FROM roots WHERE collection = ? AND path = ?", (collection, path)
            )
        if cursor.rowcount:
            self.save_record()
        return cursor.rowcount > 0

    def roots(self, collection: str) -> list[str]:
        rows = self._db.execute(
            "SELECT path FROM roots WHERE collection = ? ORDER BY path", (collection,)
        )
        return [r[0] for r in rows]

    def excludes(self, collection: str) -> list[str]:
        rows = self._db.execute(
            "SELECT pattern FROM excludes WHERE collection = ? ORDER BY pattern", (collection,)
        )
        return [r[0] for r in rows]

    def set_excluded(self, collection: str, patterns: Iterable[str], *, excluded: bool) -> None:
        with self._tx() as db:
            if excluded:
                db.executemany(
                    "INSERT OR IGNORE INTO excludes (collection, pattern) VALUES (?, ?)",
                    [(collection, p) for p in patterns],
                )
            else:
                db.executemany(
                    "DELETE FROM excludes WHERE collection = ? AND pattern = ?",
                    [(collection, p) for p in patterns],
                )
        self.save_record()

    # the record of what cannot be rebuilt ------------------------------------------

    @property
    def record_path(self) -> Path:
        return self.path.parent / RECORD_FILE

    def lost_collections(self) -> list[str]:
        """Collections the record file lists that this manifest does not know: it was
        deleted or emptied (deleting a collection takes it out of the record too). Cheap:
        no vector store is opened."""
        record = read_record(self.path.parent)
        known = {c.name for c in self.collections()} if record else set()
        return [c["name"] for c in record if c["name"] not in known]

    def save_record(self) -> None:
        """Write the collections, their followed paths and exclusions beside the manifest:
        what no file and no vector can give back if the manifest is lost. Called after
        every change of them (by the data folder's one writer)."""
        collections = []
        for name, key, model, dim, created in self._db.execute(
            "SELECT name, key, embedding_model, embedding_dim, created_at FROM collections "
            "WHERE substr(name, 1, ?) != ? ORDER BY name",  # not a re-index in progress
            (len(STAGING_PREFIX), STAGING_PREFIX),
        ).fetchall():
            followed = self._db.execute(
                "SELECT path, added_at FROM roots WHERE collection = ? ORDER BY path", (name,)
            ).fetchall()
            collections.append(
                {
                    "name": name,  # the display name the user gave it
                    "key": key or derived_key(name),  # its internal id: names its vectors
                    "embedding_model": model,
                    "embedding_dim": dim,
                    "created_at": created,
                    "followed": [{"path": p, "added_at": at} for p, at in followed],
                    "excludes": self.excludes(name),
                }
            )
        write_json(self.record_path, record_document(collections))

    # sources ---------------------------------------------------------------------

    def known_files(self, collection: str) -> dict[str, KnownFile]:
        rows = self._db.execute(
            "SELECT path, size, mtime_ns, content_hash FROM sources WHERE collection = ?",
            (collection,),
        )
        return {r[0]: KnownFile(int(r[1]), int(r[2]), r[3]) for r in rows}

    def sources(self, collection: str) -> list[SourceInfo]:
        rows = self._db.execute(
            "SELECT s.path, s.status, s.error, t.format, t.pages, COALESCE(t.chunk_count, 0), "
            "s.size, s.updated_at, COALESCE(t.warnings, '[]') "
            "FROM sources s LEFT JOIN contents t ON t.id = s.content_id "
            "WHERE s.collection = ? ORDER BY s.path",
            (collection,),
        ).fetchall()
        return [
            SourceInfo(
                r[0],
                collection,
                r[1],
                r[2],
                r[3],
                r[4],
                int(r[5]),
                int(r[6]),
                r[7],
                tuple(json.loads(r[8])),
            )
            for r in rows
        ]

    def paths_under(self, collection: str, prefix: str) -> list[str]:
        """Known paths equal to ``prefix`` or inside the folder ``prefix``."""
        folder = prefix.rstrip("/\\") + os.sep
        rows = self._db.execute(
            "SELECT path FROM sources "
            "WHERE collection = ? AND (path = ? OR substr(path, 1, ?) = ?)",
            (collection, prefix, len(folder), folder),
        )
        return [r[0] for r in rows]

    def content_id(self, collection: str, content_hash: str) -> int | None:
        row = self._db.execute(
            "SELECT id FROM contents WHERE collection = ? AND content_hash = ?",
            (collection, content_hash),
        ).fetchone()
        return None if row is None else int(row[0])

    @staticmethod
    def _put_source(
        db: sqlite3.Connection,
        collection: str,
        entry: FileEntry,
        content_hash: str,
        content_id: int | None,
        status: str,
        error: str | None,
    ) -> None:
        db.execute(
            "INSERT INTO sources (collection, path, root, size, mtime_ns, content_hash, "
            "content_id, status, error, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?) "
            "ON CONFLICT(collection, path) DO UPDATE SET root = excluded.root, "
            "size = excluded.size, mtime_ns = excluded.mtime_ns, "
            "content_hash = excluded.content_hash, content_id = excluded.content_id, "
            "status = excluded.status, error = excluded.error, updated_at = excluded.updated_at",
            (
                collection,
                entry.path,
                entry.root,
                entry.size,
                entry.mtime_ns,
                content_hash,
                content_id,
                status,
                error,
                time.time(),
            ),
        )

    def link_source(
        self, collection: str, entries: Iterable[FileEntry], content_hash: str, content_id: int
    ) -> None:
        """Point paths at content that is already indexed: no parsing, no embedding."""
        with self._tx() as db:
            for entry in entries:
                self._put_source(db, collection, entry, content_hash, content_id, "indexed", None)

    def record_failure(
        self, collection: str, entries: Iterable[FileEntry], content_hash: str, reason: str
    ) -> None:
        with self._tx() as db:
            for entry in entries:
                self._put_source(db, collection, entry, content_hash, None, "failed", reason)

    def refresh_stat(self, collection: str, entry: FileEntry) -> None:
        """A file touched but byte-identical: remember its new stat so the next scan is fast."""
        with self._tx() as db:
            db.execute(
                "UPDATE sources SET size = ?, mtime_ns = ? WHERE collection = ? AND path = ?",
                (entry.size, entry.mtime_ns, collection, entry.path),
            )

    def mark_unavailable(self, collection: str, items: Iterable[tuple[str, str]]) -> None:
        """Indexed files that cannot be reached now, with the reason: their content stays
        indexed (and citable) until they are back or removed."""
        with self._tx() as db:
            db.executemany(
                "UPDATE sources SET status = 'unavailable', error = ? "
                "WHERE collection = ? AND path = ? AND content_id IS NOT NULL",
                [(reason, collection, path) for path, reason in items],
            )

    def mark_available(self, collection: str, roots: Iterable[str]) -> None:
        """The files under ``roots`` (which are there again) count as indexed again; a scan
        of them then finds each unchanged, changed or gone as usual."""
        with self._tx() as db:
            for root in roots:
                folder = root.rstrip("/\\") + "/"
                db.execute(
                    "UPDATE sources SET status = 'indexed', error = NULL "
                    "WHERE collection = ? AND status = 'unavailable' "
                    "AND (path = ? OR substr(path, 1, ?) = ?)",
                    (collection, root, len(folder), folder),
                )

    def remove_source(self, collection: str, path: str) -> None:
        with self._tx() as db:
            db.execute("DELETE FROM sources WHERE collection = ? AND path = ?", (collection, path))

    # contents and the journal ------------------------------------------------------

    def begin_write(self, collection: str, chunk_ids: Sequence[str]) -> int:
        """Journal vector-store ids about to be written or deleted, before touching the store."""
        with self._tx() as db:
            cursor = db.execute(
                "INSERT INTO journal (collection, chunk_ids, started_at) VALUES (?, ?, ?)",
                (collection, json.dumps(sorted(chunk_ids)), time.time()),
            )
        assert cursor.lastrowid is not None
        return cursor.lastrowid

    def commit_content(
        self,
        journal_id: int | None,
        collection: str,
        entries: Iterable[FileEntry],
        content_hash: str,
        *,
        fmt: str | None,
        pages: int | None,
        chunks: Sequence[tuple[str, Chunk]],
        warnings: Sequence[str] = (),
        indexed_at: float | None = None,
    ) -> None:
        """Store new content with its chunks and point ``entries`` at it, atomically (and
        drop the journal row ``journal_id``: None when restoring what is already stored)."""
        with self._tx() as db:
            cursor = db.execute(
                "INSERT INTO contents (collection, content_hash, format, pages, chunk_count, "
                "indexed_at, warnings) VALUES (?,?,?,?,?,?,?)",
                (
                    collection,
                    content_hash,
                    fmt,
                    pages,
                    len(chunks),
                    indexed_at or time.time(),
                    json.dumps(list(warnings)),
                ),
            )
            content_id = cursor.lastrowid
            db.executemany(
                "INSERT INTO chunks (id, content_id, ord, page, heading, start, end, text, terms) "
                "VALUES (?,?,?,?,?,?,?,?,?)",
                [
                    (cid, content_id, c.index, c.page, c.heading, c.start, c.end, c.text, c.terms)
                    for cid, c in chunks
                ],
            )
            for entry in entries:
                self._put_source(db, collection, entry, content_hash, content_id, "indexed", None)
            db.execute("DELETE FROM journal WHERE id = ?", (journal_id,))
            self._bump(db, collection)

    def orphans(self, collection: str) -> list[Orphan]:
        rows = self._db.execute(
            "SELECT t.id FROM contents t WHERE t.collection = ? AND NOT EXISTS "
            "(SELECT 1 FROM sources s WHERE s.content_id = t.id)",
            (collection,),
        ).fetchall()
        return [Orphan(int(r[0]), tuple(self._content_chunk_ids(int(r[0])))) for r in rows]

    def _content_chunk_ids(self, content_id: int) -> list[str]:
        rows = self._db.execute(
            "SELECT id FROM chunks WHERE content_id = ? ORDER BY ord", (content_id,)
        )
        return [r[0] for r in rows]

    def drop_content(self, journal_id: int, collection: str, content_id: int) -> None:
        with self._tx() as db:
            db.execute("DELETE FROM contents WHERE id = ?", (content_id,))
            db.execute("DELETE FROM journal WHERE id = ?", (journal_id,))
            self._bump(db, collection)

    def pending(self) -> list[PendingWrite]:
        rows = self._db.execute("SELECT id, collection, chunk_ids FROM journal ORDER BY id")
        return [PendingWrite(r[0], r[1], tuple(json.loads(r[2]))) for r in rows]

    def finish(self, journal_id: int) -> None:
        with self._tx() as db:
            db.execute("DELETE FROM journal WHERE id = ?", (journal_id,))

    # chunks ----------------------------------------------------------------------

    def chunks(self, ids: Sequence[str]) -> dict[str, ChunkRow]:
        """Chunks by id with the (first) path showing them; chunks no path points at are
        left out, so a half-replaced file is never cited."""
        found: dict[str, ChunkRow] = {}
        for offset in range(0, len(ids), 500):
            batch = list(ids[offset : offset + 500])
            marks = ",".join("?" * len(batch))
            rows = self._db.execute(
                "SELECT c.id, MIN(s.path), c.page, c.heading, c.start, c.end, c.text, c.terms "
                "FROM chunks c JOIN sources s ON s.content_id = c.content_id "
                f"WHERE c.id IN ({marks}) GROUP BY c.id",
                batch,
            )
            for r in rows:
                found[r[0]] = ChunkRow(*r)
        return found

    def document_chunks(self, collection: str, path: str) -> list[ChunkRow]:
        """The chunks of one indexed file, in document order (for a summary)."""
        rows = self._db.execute(
            "SELECT c.id, s.path, c.page, c.heading, c.start, c.end, c.text, c.terms "
            "FROM sources s JOIN chunks c ON c.content_id = s.content_id "
            "WHERE s.collection = ? AND s.path = ? ORDER BY c.ord",
            (collection, path),
        )
        return [ChunkRow(*r) for r in rows]

    def chunk_rows(self, ids: Sequence[str]) -> list[StoredChunk]:
        """Chunks by id whether or not a path shows them (for repairs), in ``ids`` order."""
        found: dict[str, StoredChunk] = {}
        for offset in range(0, len(ids), 500):
            batch = list(ids[offset : offset + 500])
            marks = ",".join("?" * len(batch))
            rows = self._db.execute(
                "SELECT c.id, c.content_id, t.content_hash, c.ord, c.text, c.page, c.heading, "
                "c.start, c.end, c.terms, "
                "COALESCE((SELECT MIN(s.path) FROM sources s WHERE s.content_id = t.id), '') "
                "FROM chunks c "
                f"JOIN contents t ON t.id = c.content_id WHERE c.id IN ({marks})",
                batch,
            )
            found.update(
                (r[0], StoredChunk(r[0], r[1], r[2], Chunk(*r[3:10]), r[10])) for r in rows
            )
        return [found[cid] for cid in ids if cid in found]

    def first_chunk_ids(self, content_ids: Iterable[int]) -> list[str]:
        """The id of each content's first chunk, which carries its header in the store."""
        wanted = list(content_ids)
        found: list[str] = []
        for offset in range(0, len(wanted), 500):
            batch = wanted[offset : offset + 500]
            rows = self._db.execute(
                f"SELECT id FROM chunks WHERE ord = 0 AND content_id IN "
                f"({','.join('?' * len(batch))})",
                batch,
            )
            found.extend(r[0] for r in rows)
        return found

    def content_facts(self, content_ids: Iterable[int]) -> dict[int, ContentFacts]:
        wanted = list(content_ids)
        facts: dict[int, ContentFacts] = {}
        for offset in range(0, len(wanted), 500):
            batch = wanted[offset : offset + 500]
            marks = ",".join("?" * len(batch))
            sources: dict[int, list[dict[str, str | int]]] = {}
            for content_id, path, root, size, mtime_ns in self._db.execute(
                "SELECT content_id, path, root, size, mtime_ns FROM sources "
                f"WHERE content_id IN ({marks}) ORDER BY path",
                batch,
            ):
                sources.setdefault(content_id, []).append(
                    {"path": path, "root": root, "size": size, "mtime_ns": mtime_ns}
                )
            for r in self._db.execute(
                "SELECT id, content_hash, format, pages, chunk_count, indexed_at, warnings "
                f"FROM contents WHERE id IN ({marks})",
                batch,
            ):
                facts[r[0]] = ContentFacts(
                    r[1],
                    r[2],
                    r[3],
                    r[4],
                    r[5],
                    tuple(json.loads(r[6])),
                    tuple(sources.get(r[0], [])),
                )
        return facts

    def contents_of(self, collection: str, paths: Iterable[str]) -> set[int]:
        """The contents the given paths show now (whose headers change with them)."""
        wanted = list(paths)
        found: set[int] = set()
        for offset in range(0, len(wanted), 500):
            batch = wanted[offset : offset + 500]
            rows = self._db.execute(
                "SELECT content_id FROM sources WHERE collection = ? AND content_id IS NOT NULL "
                f"AND path IN ({','.join('?' * len(batch))})",
                [collection, *batch],
            )
            found.update(int(r[0]) for r in rows)
        return found

    def filtered(
        self, collection: str, paths: Sequence[str], folders: Sequence[str], formats: Sequence[str]
    ) -> tuple[set[str], set[str]]:
        """Chunk ids and content hashes of the sources in any of the given files or folders
        (recursively) and of any of the given formats; an empty criterion is no limit."""
        places: list[str] = []
        values: list[object] = [collection]
        if paths:
            places.append(f"s.path IN ({','.join('?' * len(paths))})")
            values.extend(paths)
        for folder in folders:
            prefix = folder.rstrip("/\\") + os.sep
            places.append("substr(s.path, 1, ?) = ?")
            values.extend((len(prefix), prefix))
        where = ["t.collection = ?"]
        if places:
            where.append(f"({' OR '.join(places)})")
        if formats:
            where.append(f"t.format IN ({','.join('?' * len(formats))})")
            values.extend(formats)
        rows = self._db.execute(
            "SELECT c.id, t.content_hash FROM chunks c JOIN contents t ON t.id = c.content_id "
            f"JOIN sources s ON s.content_id = t.id WHERE {' AND '.join(where)}",
            values,
        ).fetchall()
        return {r[0] for r in rows}, {r[1] for r in rows}

    def iter_terms(self, collection: str) -> Iterator[tuple[str, str, str]]:
        """(chunk id, terms, text) of a whole collection, for rebuilding the lexical index."""
        rows = self._db.execute(
            "SELECT c.id, c.terms, c.text FROM chunks c JOIN contents t ON t.id = c.content_id "
            "WHERE t.collection = ? ORDER BY t.id, c.ord",
            (collection,),
        )
        yield from rows

    def iter_chunks(self, collection: str) -> Iterator[tuple[str, str]]:
        """(chunk id, text) of a whole collection."""
        for chunk_id, _terms, text in self.iter_terms(collection):
            yield chunk_id, text

    def all_chunk_ids(self, collection: str) -> set[str]:
        rows = self._db.execute(
            "SELECT c.id FROM chunks c JOIN contents t ON t.id = c.content_id "
            "WHERE t.collection = ?",
            (collection,),
        )
        return {r[0] for r in rows}

    def counts(self, collection: str) -> dict[str, int]:
        rows = self._db.execute(
            "SELECT status, COUNT(*) FROM sources WHERE collection = ? GROUP BY status",
            (collection,),
        ).fetchall()
        counts = {status: int(n) for status, n in rows}
        chunks = self._db.execute(
            "SELECT COALESCE(SUM(chunk_count), 0) FROM contents WHERE collection = ?",
            (collection,),
        ).fetchone()
        counts["chunks"] = int(chunks[0])
        return counts
