"""Chat history: conversations and their messages with citations, kept across restarts.

A separate SQLite file from the index (``chats.sqlite3``): re-indexing, repairing or
deleting a collection never touches what the user asked and was told. Deleting a chat
only marks it, so the app can offer undo.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from desk_assistant.errors import NotFoundError
from desk_assistant.records import Answer, ChatInfo, Citation, Message, Quote, SentenceCheck
from desk_assistant.sqlite_schema import SQLiteStore

MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE chats (
        id INTEGER PRIMARY KEY,
        title TEXT NOT NULL,
        collection TEXT NOT NULL,
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL,
        deleted_at REAL
    );
    CREATE TABLE messages (
        id INTEGER PRIMARY KEY,
        chat_id INTEGER NOT NULL REFERENCES chats(id) ON DELETE CASCADE,
        role TEXT NOT NULL CHECK (role IN ('user', 'assistant')),
        text TEXT NOT NULL,
        citations TEXT NOT NULL DEFAULT '[]',
        grounded INTEGER NOT NULL DEFAULT 1,
        stopped INTEGER NOT NULL DEFAULT 0,
        model TEXT,
        created_at REAL NOT NULL
    );
    CREATE INDEX messages_by_chat ON messages(chat_id, id);
    """,
    # 2: what was searched for, the support check and the evidence quote of an answer
    """
    ALTER TABLE messages ADD COLUMN query TEXT NOT NULL DEFAULT '';
    ALTER TABLE messages ADD COLUMN checks TEXT NOT NULL DEFAULT '{}'
    """,
)
TITLE_LENGTH = 60


class ChatStore(SQLiteStore):
    REPAIR = (
        "A repair moves it aside and copies every chat that can still be read into a new "
        "one (the damaged file is kept)."
    )

    def __init__(self, path: Path) -> None:
        super().__init__(path, MIGRATIONS, "chat history")

    def create(self, collection: str, title: str = "New chat") -> ChatInfo:
        now = time.time()
        with self._tx() as db:
            cursor = db.execute(
                "INSERT INTO chats (title, collection, created_at, updated_at) VALUES (?,?,?,?)",
                (title, collection, now, now),
            )
        assert cursor.lastrowid is not None
        return self.get(cursor.lastrowid)

    def get(self, chat_id: int) -> ChatInfo:
        row = self._db.execute(
            "SELECT c.id, c.title, c.collection, c.created_at, c.updated_at, "
            "(SELECT COUNT(*) FROM messages m WHERE m.chat_id = c.id) "
            "FROM chats c WHERE c.id = ? AND c.deleted_at IS NULL",
            (chat_id,),
        ).fetchone()
        if row is None:
            raise NotFoundError(f"there is no chat {chat_id}")
        return ChatInfo(*row)

    def recent(self) -> list[ChatInfo]:
        rows = self._db.execute(
            "SELECT c.id, c.title, c.collection, c.created_at, c.updated_at, "
            "(SELECT COUNT(*) FROM messages m WHERE m.chat_id = c.id) "
            "FROM chats c WHERE c.deleted_at IS NULL ORDER BY c.updated_at DESC, c.id DESC"
        )
        return [ChatInfo(*row) for row in rows]

    def rename(self, chat_id: int, title: str) -> None:
        title = " ".join(title.split())[:200] or "Untitled chat"
        with self._tx() as db:
            db.execute("UPDATE chats SET title = ? WHERE id = ?", (title, chat_id))

    def rename_collection(self, old: str, new: str) -> None:
        """Chats belong to their collection under its new name too."""
        with self._tx() as db:
            db.execute("UPDATE chats SET collection = ? WHERE collection = ?", (new, old))

    def delete(self, chat_id: int) -> None:
        """Hide the chat; :meth:`restore` undoes it until :meth:`purge` runs."""
        with self._tx() as db:
            db.execute("UPDATE chats SET deleted_at = ? WHERE id = ?", (time.time(), chat_id))

    def restore(self, chat_id: int) -> None:
        with self._tx() as db:
            db.execute("UPDATE chats SET deleted_at = NULL WHERE id = ?", (chat_id,))

    def purge(self, older_than: float = 30 * 24 * 3600) -> int:
        with self._tx() as db:
            cursor = db.execute(
                "DELETE FROM chats WHERE deleted_at IS NOT NULL AND deleted_at < ?",
                (time.time() - older_than,),
            )
        return cursor.rowcount

    def add_question(self, chat_id: int, text: str) -> None:
        """Record a question; the first one names a chat that has no name yet."""
        now = time.time()
        with self._tx() as db:
            db.execute(
                "INSERT INTO messages (chat_id, role, text, created_at) VALUES (?, 'user', ?, ?)",
                (chat_id, text, now),
            )
            title = " ".join(text.split())
            if len(title) > TITLE_LENGTH:
                title = title[: TITLE_LENGTH - 1].rsplit(" ", 1)[0] + "…"
            db.execute(
                "UPDATE chats SET updated_at = ?, title = CASE WHEN title = 'New chat' "
                "THEN ? ELSE title END WHERE id = ?",
                (now, title, chat_id),
            )

    def add_answer(self, chat_id: int, answer: Answer) -> None:
        citations = json.dumps([asdict(c) for c in answer.citations])
        checks = json.dumps(
            {
                "sentences": [asdict(s) for s in answer.sentences],
                "evidence": [asdict(q) for q in answer.evidence],
                "evidence_first": answer.evidence_first,
            }
        )
        now = time.time()
        with self._tx() as db:
            db.execute(
                "INSERT INTO messages (chat_id, role, text, citations, grounded, stopped, model, "
                "created_at, query, checks) VALUES (?, 'assistant', ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    chat_id,
                    answer.text,
                    citations,
                    int(answer.grounded),
                    int(answer.stopped),
                    answer.model,
                    now,
                    answer.query,
                    checks,
                ),
            )
            db.execute("UPDATE chats SET updated_at = ? WHERE id = ?", (now, chat_id))

    def copy_chat(self, source: sqlite3.Connection, chat_id: int) -> int:
        """Copy chat ``chat_id`` and the messages of it that can be read from ``source`` (a
        damaged history) into this one; 1 if it was copied, 0 if nothing could be read."""
        try:
            chat = source.execute(
                "SELECT title, collection, created_at, updated_at, deleted_at FROM chats "
                "WHERE id = ?",
                (chat_id,),
            ).fetchone()
        except sqlite3.DatabaseError:
            return 0
        if chat is None:
            return 0
        messages: list[tuple[object, ...]] = []
        with contextlib.suppress(sqlite3.DatabaseError):  # the messages up to a damaged page
            messages.extend(
                source.execute(
                    "SELECT role, text, citations, grounded, stopped, model, created_at "
                    "FROM messages WHERE chat_id = ? ORDER BY id",
                    (chat_id,),
                )
            )
        with self._tx() as db:
            db.execute(
                "INSERT INTO chats (id, title, collection, created_at, updated_at, deleted_at) "
                "VALUES (?,?,?,?,?,?)",
                (chat_id, *chat),
            )
            db.executemany(
                "INSERT INTO messages (chat_id, role, text, citations, grounded, stopped, "
                "model, created_at) VALUES (?,?,?,?,?,?,?,?)",
                [(chat_id, *message) for message in messages],
            )
        return 1

    def messages(self, chat_id: int) -> list[Message]:
        rows = self._db.execute(
            "SELECT id, chat_id, role, text, citations, grounded, stopped, model, created_at, "
            "query, checks FROM messages WHERE chat_id = ? ORDER BY id",
            (chat_id,),
        )
        messages = []
        for r in rows:
            checks = json.loads(r[10])
            messages.append(
                Message(
                    id=r[0],
                    chat_id=r[1],
                    role=r[2],
                    text=r[3],
                    citations=tuple(Citation(**c) for c in json.loads(r[4])),
                    grounded=bool(r[5]),
                    stopped=bool(r[6]),
                    model=r[7],
                    created_at=r[8],
                    query=r[9],
                    sentences=tuple(_sentence(s) for s in checks.get("sentences", ())),
                    evidence=tuple(Quote(**q) for q in checks.get("evidence", ())),
                    evidence_first=bool(checks.get("evidence_first", False)),
                )
            )
        return messages


def _sentence(stored: dict[str, Any]) -> SentenceCheck:
    evidence = stored.get("evidence")
    return SentenceCheck(
        text=stored["text"],
        citations=tuple(stored.get("citations", ())),
        supported=bool(stored["supported"]),
        evidence=Quote(**evidence) if evidence else None,
        score=float(stored.get("score", 0.0)),
        reason=str(stored.get("reason", "")),
        missing=tuple(stored.get("missing", ())),
    )
