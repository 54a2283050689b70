"""The app's SQLite databases (the manifest, the chat history): open, migrate, write.

Each database carries its schema version in ``PRAGMA user_version``; ``migrations[i]``
brings it from version i to i + 1. Never edit a released migration; append a new one.

A damaged file (truncated, partly overwritten, not a database at all) fails on whichever
statement first touches the damage, often long after it was opened: every statement and
every fetch goes through a connection that turns that into :class:`DamagedStore`, which
names the file and the way out, instead of "database disk image is malformed".
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from desk_assistant.errors import DamagedStore, StoreError

# SQLite's own words for a file it cannot read as a database.
_DAMAGE = ("malformed", "not a database", "disk image", "corrupt")


def _is_damage(exc: sqlite3.DatabaseError) -> bool:
    """Damage, as opposed to a constraint (IntegrityError), a lock or a full disk."""
    if isinstance(exc, sqlite3.IntegrityError | sqlite3.ProgrammingError):
        return False
    return any(word in str(exc).lower() for word in _DAMAGE)


class _Database(sqlite3.Connection):
    """A connection whose statements and fetches report damage as :class:`DamagedStore`."""

    damage: Any = None  # set after connecting: a callable(exc) -> DamagedStore

    def execute(self, sql: str, parameters: Any = (), /) -> sqlite3.Cursor:
        return self.cursor(_Rows).execute(sql, parameters)

    def executemany(self, sql: str, parameters: Iterable[Any], /) -> sqlite3.Cursor:
        return self.cursor(_Rows).executemany(sql, parameters)


class _Rows(sqlite3.Cursor):
    def _check(self, exc: sqlite3.DatabaseError) -> None:
        connection = self.connection
        if isinstance(connection, _Database) and connection.damage and _is_damage(exc):
            raise connection.damage(exc) from exc

    def execute(self, sql: str, parameters: Any = (), /) -> _Rows:
        try:
            super().execute(sql, parameters)
        except sqlite3.DatabaseError as exc:
            self._check(exc)
            raise
        return self

    def executemany(self, sql: str, parameters: Iterable[Any], /) -> _Rows:
        try:
            super().executemany(sql, parameters)
        except sqlite3.DatabaseError as exc:
            self._check(exc)
            raise
        return self

    def fetchone(self) -> Any:
        try:
            return super().fetchone()
        except sqlite3.DatabaseError as exc:
            self._check(exc)
            raise

    def fetchall(self) -> list[Any]:
        try:
            return super().fetchall()
        except sqlite3.DatabaseError as exc:
            self._check(exc)
            raise

    def __next__(self) -> Any:
        try:
            return super().__next__()
        except sqlite3.DatabaseError as exc:
            self._check(exc)
            raise


def open_database(
    path: Path, migrations: tuple[str, ...], what: str, repair: str
) -> sqlite3.Connection:
    """A connection to ``path`` (created if missing) in WAL mode with foreign keys on and
    the schema migrated; a :class:`StoreError` naming ``what`` when it cannot be opened, a
    :class:`DamagedStore` (with ``repair``, what a repair does) when it is damaged."""

    def damaged(exc: sqlite3.DatabaseError) -> DamagedStore:
        return DamagedStore(f"The {what} {path} is damaged ({exc}). {repair}", path=path)

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(path, timeout=30, check_same_thread=False, factory=_Database)
    except (OSError, sqlite3.DatabaseError) as exc:
        raise StoreError(f"Cannot open the {what} {path}: {exc}") from exc
    assert isinstance(db, _Database)
    db.damage = damaged
    try:
        _switch_to_wal(db)
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute("PRAGMA foreign_keys=ON")
        _migrate(db, migrations, path)
    except BaseException as exc:
        db.close()  # an open connection would go on holding the write lock
        if isinstance(exc, sqlite3.DatabaseError):
            raise StoreError(f"Cannot open the {what} {path}: {exc}") from exc
        raise
    return db


def _switch_to_wal(db: sqlite3.Connection, wait: float = 30.0) -> None:
    # Switching a new database to WAL needs an exclusive lock, and SQLite answers "database
    # is locked" at once instead of waiting when other connections are opening it at the
    # same moment (it would deadlock otherwise): try again until the others are through.
    deadline = time.monotonic() + wait
    while True:
        try:
            db.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)


def _migrate(db: sqlite3.Connection, migrations: tuple[str, ...], path: Path) -> None:
    # The write lock is taken before the version is read: when two connections open a new
    # database at once (the app and its folder watcher), one migrates and the other waits,
    # then finds the schema current.
    db.execute("BEGIN IMMEDIATE")
    try:
        version = int(db.execute("PRAGMA user_version").fetchone()[0])
        if version > len(migrations):
            raise StoreError(
                f"{path} was written by a newer Desk Assistant (schema {version}); "
                "update the app to open it"
            )
        for number in range(version, len(migrations)):
            # executescript would commit first; the migrations hold no trigger bodies, so
            # splitting them at ";" gives whole statements.
            for statement in migrations[number].split(";"):
                if statement.strip():
                    db.execute(statement)
            db.execute(f"PRAGMA user_version={number + 1}")
        db.commit()
    except BaseException:
        db.rollback()
        raise


class SQLiteStore:
    """A database opened (and migrated) on construction; subclasses write through
    :meth:`_tx`, which commits or rolls back as a whole and turns a locked or full disk
    into a :class:`StoreError` that names ``what`` the database is.

    ``REPAIR`` says what a repair does with the file when it is damaged (shown with the
    error)."""

    REPAIR = "A repair moves it aside."

    def __init__(self, path: Path, migrations: tuple[str, ...], what: str) -> None:
        self.path = path
        self._what = what
        self._db = open_database(path, migrations, what, self.REPAIR)

    def close(self) -> None:
        self._db.close()

    def integrity_check(self) -> str:
        """SQLite's verdict on the whole file: "ok", or what is wrong."""
        try:
            return str(self._db.execute("PRAGMA integrity_check").fetchone()[0])
        except (sqlite3.DatabaseError, DamagedStore) as exc:
            return str(exc.__cause__ or exc)

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        try:
            with self._db:
                yield self._db
        except sqlite3.OperationalError as exc:
            raise StoreError(f"Cannot write the {self._what}: {exc}") from exc
