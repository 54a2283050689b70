"""Chats are kept across restarts, with citations; stopped answers are kept as stopped."""

from __future__ import annotations

from pathlib import Path

import pytest
from fakes import final_answer, make_assistant, summary

from desk_assistant.errors import NotFoundError
from desk_assistant.records import Searched, Token


def _docs(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "lease.txt").write_text("The notice period of the lease is three months.", "utf-8")
    return folder


def test_questions_and_answers_survive_a_restart(tmp_path: Path, app_home: Path) -> None:
    docs = _docs(tmp_path / "docs")
    reply = "The notice period of the lease is three months."
    with make_assistant(app_home, replies=[reply]) as assistant:
        summary(assistant.ingest([docs]))
        chat = assistant.new_chat()
        final_answer(assistant.ask("What is the notice period of the lease?", chat_id=chat.id))
    with make_assistant(app_home) as assistant:
        [stored] = assistant.chats()
        assert stored.title == "What is the notice period of the lease?"
        question, answer = assistant.messages(stored.id)
        assert (question.role, answer.role) == ("user", "assistant")
        assert answer.text.endswith("[1].")
        assert answer.citations[0].path.endswith("lease.txt")
        assert answer.grounded and not answer.stopped


def test_a_stopped_answer_is_kept_as_stopped(tmp_path: Path, app_home: Path) -> None:
    docs = _docs(tmp_path / "docs")
    long_reply = " ".join(f"notice{i}" for i in range(100))
    with make_assistant(app_home, replies=[long_reply]) as assistant:
        summary(assistant.ingest([docs]))
        chat = assistant.new_chat()
        stream = assistant.ask("notice period of the lease?", chat_id=chat.id)
        assert isinstance(next(stream), Searched)
        for count, item in enumerate(stream):
            assert isinstance(item, Token)
            if count == 4:
                break
        stream.close()
        answer = assistant.messages(chat.id)[-1]
        assert answer.stopped and answer.text.startswith("notice0 notice1")


def test_delete_restore_rename(app_home: Path) -> None:
    with make_assistant(app_home) as assistant:
        first, second = assistant.new_chat(), assistant.new_chat()
        assistant.rename_chat(first.id, "  Lease   questions ")
        assistant.delete_chat(second.id)
        assert [c.title for c in assistant.chats()] == ["Lease questions"]
        with pytest.raises(NotFoundError):
            assistant.chat(second.id)
        assistant.restore_chat(second.id)
        assert len(assistant.chats()) == 2
        assistant.delete_chat(second.id)
        assert assistant.purge_chats(older_than=-1) == 1


def test_a_history_from_before_the_support_check_still_opens(app_home: Path) -> None:
    """A chats.sqlite3 of schema 1 (no query, no checks) is migrated in place."""
    import sqlite3

    from desk_assistant.chats import MIGRATIONS, ChatStore

    path = app_home / "chats.sqlite3"
    path.parent.mkdir(parents=True)
    old = sqlite3.connect(path)
    old.executescript(MIGRATIONS[0])
    old.execute("INSERT INTO chats VALUES (1, 'Lease', 'default', 0, 0, NULL)")
    old.execute(
        "INSERT INTO messages (chat_id, role, text, created_at) VALUES (1, 'user', 'Rent?', 0)"
    )
    old.execute(
        "INSERT INTO messages (chat_id, role, text, citations, created_at) "
        "VALUES (1, 'assistant', 'It is 900 [1].', '[]', 0)"
    )
    old.execute("PRAGMA user_version=1")
    old.commit()
    old.close()
    store = ChatStore(path)
    question, reply = store.messages(1)
    store.close()
    assert question.text == "Rent?" and reply.text == "It is 900 [1]."
    assert reply.query == "" and reply.sentences == () and reply.evidence == ()
