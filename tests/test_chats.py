"""Chats are kept across restarts, with citations; stopped answers are kept as stopped."""

from __future__ import annotations

from pathlib import Path

import pytest
from fakes import final_answer, make_assistant, summary

from desk_assistant.errors import NotFoundError
from desk_assistant.records import Token


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
