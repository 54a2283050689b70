"""The SQLite manifest: what is indexed, from which file version, and what is in flight.

It is the source of truth for "what should the vector store contain". Every change to a
source goes through a journal row committed *before* the vector store is touched, so a
run killed at any instant leaves enough behind to undo the half-done change
(:meth:`Manifest.pending`), and the store never keeps duplicates or orphans.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from desk_assistant.errors import StoreError
from desk_assistant.records import CollectionInfo, SourceInfo
from ingest.scan import KnownFile
from ingest.types import Chunk, FileEntry

# Numbered migrations: index i brings the schema from user_version i to i + 1. Never
# edit a released entry; append a new one.
MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE collections (
        name TEXT PRIMARY KEY,
        embedding_model TEXT,
        embedding_dim INTEGER,
        generation INTEGER NOT NULL DEFAULT 0,
        created_at REAL NOT NULL
    );
    CREATE TABLE sources (
        id INTEGER PRIMARY KEY,
        collection TEXT NOT NULL REFERENCES collections(name) ON DELETE CASCADE,
        path TEXT NOT NULL,
        root TEXT NOT NULL,
        size INTEGER NOT NULL,
        mtime_ns INTEGER NOT NULL,
        content_hash TEXT NOT NULL,
        format TEXT,
        pages INTEGER,
        status TEXT NOT NULL,
        error TEXT,
        chunk_count INTEGER NOT NULL DEFAULT 0,
        indexed_at REAL,
        UNIQUE (collection, path)
    );
    CREATE TABLE chunks (
        id TEXT PRIMARY KEY,
        source_id INTEGER NOT NULL REFERENCES sources(id) ON DELETE CASCADE,
        ord INTEGER NOT NULL,
        page INTEGER,
        heading TEXT,
        start INTEGER NOT NULL,
        end INTEGER NOT NULL,
        text TEXT NOT NULL
    );
    CREATE INDEX chunks_by_source ON chunks(source_id, ord);
    CREATE TABLE journal (
        id INTEGER PRIMARY KEY,
        collection TEXT NOT NULL,
        path TEXT NOT NULL,
        chunk_ids TEXT NOT NULL,
        started_at REAL NOT NULL
    );
    """,
    # 2: analysed lexical terms per chunk, so the BM25 index rebuilds without re-tokenizing
    """
    ALTER TABLE chunks ADD COLUMN terms TEXT NOT NULL DEFAULT '';
    """,
)


@dataclass(frozen=True, slots=True)
class ChunkRow:
    id: str
    path: str
    page: int | None
    heading: str | None
    start: int
    end: int
    text: str


@dataclass(frozen=True, slots=True)
class PendingChange:
    """A source change that was started but never committed (the process died)."""

    journal_id: int
    collection: str
    path: str
    chunk_ids: tuple[str, ...]


class Manifest:
    """Thin typed access to the manifest database; one connection per thread of use."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(path, timeout=30, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute("PRAGMA foreign_keys=ON")
            self._migrate()
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"Cannot open the index database {path}: {exc}") from exc

    def close(self) -> None:
        self._db.close()

    def _migrate(self) -> None:
        version = int(self._db.execute("PRAGMA user_version").fetchone()[0])
        if version > len(MIGRATIONS):
            raise StoreError(
                f"{self.path} was written by a newer Desk Assistant (schema {version}); "
                "update the app to open it"
            )
        for number in range(version, len(MIGRATIONS)):
            self._db.executescript(
                f"BEGIN;{MIGRATIONS[number]};PRAGMA user_version={number + 1};COMMIT;"
            )

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        try:
            with self._db:
                yield self._db
        except sqlite3.OperationalError as exc:
            raise StoreError(f"Cannot write the index database: {exc}") from exc

    # collections -----------------------------------------------------------------

    def embedding_model(self, collection: str) -> tuple[str, int] | None:
        row = self._db.execute(
            "SELECT embedding_model, embedding_dim FROM collections WHERE name = ?", (collection,)
        ).fetchone()
        return None if row is None or row[0] is None else (row[0], int(row[1]))

    def ensure_collection(self, name: str, embedding_model: str, dim: int) -> None:
        with self._tx() as db:
            db.execute(
                "INSERT INTO collections (name, embedding_model, embedding_dim, created_at) "
                "VALUES (?, ?, ?, ?) ON CONFLICT(name) DO NOTHING",
                (name, embedding_model, dim, time.time()),
            )

    def collections(self) -> list[CollectionInfo]:
        rows = self._db.execute(
            "SELECT c.name, c.embedding_model, COUNT(s.id), COALESCE(SUM(s.chunk_count), 0) "
            "FROM collections c LEFT JOIN sources s ON s.collection = c.name "
            "GROUP BY c.name ORDER BY c.name"
        ).fetchall()
        return [CollectionInfo(r[0], r[1], int(r[2]), int(r[3])) for r in rows]

    def drop_collection(self, name: str) -> None:
        with self._tx() as db:
            db.execute("DELETE FROM collections WHERE name = ?", (name,))

    def generation(self, collection: str) -> int:
        """A counter bumped by every change, so derived indexes know they are stale."""
        row = self._db.execute(
            "SELECT generation FROM collections WHERE name = ?", (collection,)
        ).fetchone()
        return 0 if row is None else int(row[0])

    @staticmethod
    def _bump(db: sqlite3.Connection, collection: str) -> None:
        db.execute(
            "UPDATE collections SET generation = generation + 1 WHERE name = ?", (collection,)
        )

    # sources ---------------------------------------------------------------------

    def known_files(self, collection: str) -> dict[str, KnownFile]:
        rows = self._db.execute(
            "SELECT path, size, mtime_ns, content_hash FROM sources WHERE collection = ?",
            (collection,),
        )
        return {r[0]: KnownFile(int(r[1]), int(r[2]), r[3]) for r in rows}

    def sources(self, collection: str) -> list[SourceInfo]:
        rows = self._db.execute(
            "SELECT path, status, error, format, pages, chunk_count, size, indexed_at "
            "FROM sources WHERE collection = ? ORDER BY path",
            (collection,),
        ).fetchall()
        return [
            SourceInfo(r[0], collection, r[1], r[2], r[3], r[4], int(r[5]), int(r[6]), r[7])
            for r in rows
        ]

    def chunk_ids(self, collection: str, path: str) -> list[str]:
        rows = self._db.execute(
            "SELECT c.id FROM chunks c JOIN sources s ON s.id = c.source_id "
            "WHERE s.collection = ? AND s.path = ? ORDER BY c.ord",
            (collection, path),
        )
        return [r[0] for r in rows]

    def paths_under(self, collection: str, prefix: str) -> list[str]:
        """Known paths equal to ``prefix`` or inside the folder ``prefix``."""
        folder = prefix.rstrip("/\\") + "/"
        rows = self._db.execute(
            "SELECT path FROM sources "
            "WHERE collection = ? AND (path = ? OR substr(path, 1, ?) = ?)",
            (collection, prefix, len(folder), folder),
        )
        return [r[0] for r in rows]

    def begin_change(self, collection: str, path: str, new_chunk_ids: Sequence[str]) -> int:
        """Journal a change to ``path`` before the vector store is touched."""
        involved = sorted(set(new_chunk_ids) | set(self.chunk_ids(collection, path)))
        with self._tx() as db:
            cursor = db.execute(
                "INSERT INTO journal (collection, path, chunk_ids, started_at) VALUES (?, ?, ?, ?)",
                (collection, path, json.dumps(involved), time.time()),
            )
        assert cursor.lastrowid is not None
        return cursor.lastrowid

    def commit_source(
        self,
        journal_id: int,
        collection: str,
        entry: FileEntry,
        content_hash: str,
        *,
        status: str,
        fmt: str | None = None,
        pages: int | None = None,
        error: str | None = None,
        chunks: Iterable[tuple[str, Chunk]] = (),
    ) -> None:
        """Replace the source row and its chunks and close the journal entry, atomically."""
        with self._tx() as db:
            db.execute(
                "DELETE FROM sources WHERE collection = ? AND path = ?", (collection, entry.path)
            )
            cursor = db.execute(
                "INSERT INTO sources (collection, path, root, size, mtime_ns, content_hash, "
                "format, pages, status, error, indexed_at) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                (
                    collection,
                    entry.path,
                    entry.root,
                    entry.size,
                    entry.mtime_ns,
                    content_hash,
                    fmt,
                    pages,
                    status,
                    error,
                    time.time(),
                ),
            )
            source_id = cursor.lastrowid
            rows = [
                (cid, source_id, c.index, c.page, c.heading, c.start, c.end, c.text, c.terms)
                for cid, c in chunks
            ]
            db.executemany(
                "INSERT INTO chunks (id, source_id, ord, page, heading, start, end, text, terms) "
                "VALUES (?,?,?,?,?,?,?,?,?)",
                rows,
            )
            db.execute("UPDATE sources SET chunk_count = ? WHERE id = ?", (len(rows), source_id))
            db.execute("DELETE FROM journal WHERE id = ?", (journal_id,))
            self._bump(db, collection)

    def refresh_stat(self, collection: str, entry: FileEntry) -> None:
        """A file touched but byte-identical: remember its new stat so the next scan is fast."""
        with self._tx() as db:
            db.execute(
                "UPDATE sources SET size = ?, mtime_ns = ? WHERE collection = ? AND path = ?",
                (entry.size, entry.mtime_ns, collection, entry.path),
            )

    def forget_source(self, journal_id: int, collection: str, path: str) -> None:
        with self._tx() as db:
            db.execute("DELETE FROM sources WHERE collection = ? AND path = ?", (collection, path))
            db.execute("DELETE FROM journal WHERE id = ?", (journal_id,))
            self._bump(db, collection)

    def pending(self) -> list[PendingChange]:
        rows = self._db.execute("SELECT id, collection, path, chunk_ids FROM journal ORDER BY id")
        return [PendingChange(r[0], r[1], r[2], tuple(json.loads(r[3]))) for r in rows]

    # chunks ----------------------------------------------------------------------

    def chunks(self, ids: Sequence[str]) -> dict[str, ChunkRow]:
        found: dict[str, ChunkRow] = {}
        for offset in range(0, len(ids), 500):
            batch = list(ids[offset : offset + 500])
            marks = ",".join("?" * len(batch))
            rows = self._db.execute(
                "SELECT c.id, s.path, c.page, c.heading, c.start, c.end, c.text FROM chunks c "
                f"JOIN sources s ON s.id = c.source_id WHERE c.id IN ({marks})",
                batch,
            )
            for r in rows:
                found[r[0]] = ChunkRow(*r)
        return found

    def iter_chunks(self, collection: str) -> Iterator[tuple[str, str]]:
        """(chunk id, text) of a whole collection."""
        for chunk_id, _terms, text in self.iter_terms(collection):
            yield chunk_id, text

    def iter_terms(self, collection: str) -> Iterator[tuple[str, str, str]]:
        """(chunk id, terms, text) of a whole collection, for rebuilding the lexical index."""
        rows = self._db.execute(
            "SELECT c.id, c.terms, c.text FROM chunks c JOIN sources s ON s.id = c.source_id "
            "WHERE s.collection = ? ORDER BY s.id, c.ord",
            (collection,),
        )
        yield from rows

    def all_chunk_ids(self, collection: str) -> set[str]:
        rows = self._db.execute(
            "SELECT c.id FROM chunks c JOIN sources s ON s.id = c.source_id WHERE s.collection = ?",
            (collection,),
        )
        return {r[0] for r in rows}

    def counts(self, collection: str) -> dict[str, int]:
        rows = self._db.execute(
            "SELECT status, COUNT(*), COALESCE(SUM(chunk_count), 0) FROM sources "
            "WHERE collection = ? GROUP BY status",
            (collection,),
        ).fetchall()
        counts = {status: int(n) for status, n, _ in rows}
        counts["chunks"] = sum(int(c) for _, _, c in rows)
        return counts
