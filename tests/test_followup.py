"""Follow-up questions: the standalone query, the earlier turns in the prompt, the CLI."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from fakes import final_answer, make_assistant, make_parts, summary

from desk_assistant.backends.llm.chat_format import chat_format_for
from desk_assistant.backends.llm.fake import FakeRuntime
from desk_assistant.cli.main import main
from desk_assistant.rag.followup import Turn, model_query, needs_context, rule_query, subject
from desk_assistant.rag.history import fitting_turns
from desk_assistant.service import Assistant
from desk_assistant.settings import Settings

LINCOLN = Turn(
    "Was Abraham Lincoln the sixteenth President of the United States?",
    "Was Abraham Lincoln the sixteenth President of the United States?",
    "Yes [1].",
)
TENANT = Turn(
    "What is the notice period for the tenant?",
    "What is the notice period for the tenant?",
    "Three months [1].",
)


@pytest.mark.parametrize(
    ("question", "history", "query"),
    [
        ("When was he born?", [LINCOLN], "When was Abraham Lincoln born?"),
        (
            "Did his mother die of pneumonia?",
            [LINCOLN],
            "Did Abraham Lincoln's mother die of pneumonia?",
        ),
        ("Who did they marry?", [LINCOLN], "Who did Abraham Lincoln marry?"),
        ("And for the landlord?", [TENANT], "What is the notice period for the landlord?"),
        ("What about the landlord?", [TENANT], "What is the notice period for the landlord?"),
        (
            "Can it be given by e-mail?",
            [TENANT],
            "Can it be given by e-mail? (notice period tenant)",
        ),
        # a name of its own after the pronoun: the pronoun is still the chat's subject
        ("Did he go to Harvard?", [LINCOLN], "Did Abraham Lincoln go to Harvard?"),
        # standalone questions are searched as they are
        ("When did Lincoln say he was tired?", [TENANT], None),
        ("When did Lincoln begin his political career?", [LINCOLN], None),
        ("When was he born?", [], None),
    ],
)
def test_the_rule_makes_a_follow_up_standalone(
    question: str, history: list[Turn], query: str | None
) -> None:
    assert rule_query(question, history) == (query or question)


def test_the_subject_is_the_first_name_a_query_gives() -> None:
    assert subject("Was Charles-Augustin de Coulomb a Spanish biologist?") == (
        "Charles-Augustin de Coulomb"
    )
    assert subject("What did The Legal Tender Act of 1862 establish?") == "The Legal Tender Act"
    assert subject("Is a leopard larger than a cheetah?") is None
    assert needs_context("Is it venomous?") and not needs_context("Is the leopard venomous?")


def test_a_chain_of_follow_ups_keeps_its_subject() -> None:
    second = Turn("When was he born?", "When was Abraham Lincoln born?", "In 1809 [1].")
    assert rule_query("Where did he die?", [LINCOLN, second]) == "Where did Abraham Lincoln die?"


def test_the_model_rewrite_is_used_when_it_is_a_question() -> None:
    runtime = FakeRuntime(["When was Abraham Lincoln born?\nExtra line."])
    fmt = chat_format_for(runtime.info)
    assert model_query("When was he born?", [LINCOLN], runtime, fmt) == (
        "When was Abraham Lincoln born?"
    )
    assert "Last question: When was he born?" in runtime.prompts[0]
    rambling = FakeRuntime(["I think that the user wants to know about a person"])
    assert model_query("When was he born?", [LINCOLN], rambling, fmt) == (
        "When was Abraham Lincoln born?"  # not a question: the rule's query instead
    )
    chatty = FakeRuntime(["The answer to this question is: When was Abraham Lincoln born?"])
    assert model_query("When was he born?", [LINCOLN], chatty, fmt) == (
        "When was Abraham Lincoln born?"  # the model's preamble is no part of the query
    )
    idle = FakeRuntime(["unused"])
    assert model_query("Who was Lincoln?", [LINCOLN], idle, fmt) == "Who was Lincoln?"
    assert not idle.prompts  # a standalone question costs no generation


def test_the_newest_turns_that_fit_go_into_the_prompt() -> None:
    turns = [
        Turn("first question", "first question", "first answer [1]"),
        Turn("refused question", "refused question", "not in the documents", usable=False),
        Turn("second question", "second question", "second answer [2][3]"),
    ]
    words = lambda text: len(text.split())  # noqa: E731
    assert fitting_turns(turns, 1000, words) == [
        ("first question", "first answer"),
        ("second question", "second answer"),
    ]
    assert fitting_turns(turns, 12, words) == [("second question", "second answer")]
    assert fitting_turns(turns, 0, words) == []


@pytest.fixture
def lease(tmp_path: Path) -> Path:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "lease.txt").write_text(
        "The tenant may terminate the tenancy with a notice period of three months.\n\n"
        "The landlord may terminate with a notice period of at least twelve months.\n\n"
        "Penguins are flightless birds of the southern hemisphere.\n",
        encoding="utf-8",
    )
    return docs


def test_a_follow_ups_support_check_knows_the_subject_its_query_names(
    app_home: Path, tmp_path: Path
) -> None:
    docs = tmp_path / "physicists"
    docs.mkdir()
    (docs / "becquerel.txt").write_text(
        "Henri Becquerel was a French physicist and the discoverer of radioactivity. "
        "He was born in Paris into a family of scientists.\n",
        encoding="utf-8",
    )
    replies = ["He discovered radioactivity [1].", "Henri Becquerel was born in Paris [1]."]
    # (the test embedder's closeness is crude: the threshold leaves the names to decide)
    with make_assistant(app_home, replies=replies, min_support=0.3) as assistant:
        summary(assistant.ingest([docs]))
        chat = assistant.new_chat()
        final_answer(assistant.ask("Who was Henri Becquerel?", chat_id=chat.id))
        answer = final_answer(assistant.ask("Where was he born?", chat_id=chat.id))
    assert answer.query == "Where was Henri Becquerel born?"
    # backed by "He was born in Paris ...": the names are the subject the query asked about
    [sentence] = answer.sentences
    assert sentence.supported and not sentence.missing, sentence.reason


def test_a_follow_up_in_a_chat_retrieves_for_its_standalone_query(
    lease: Path, app_home: Path
) -> None:
    replies = ["The tenant gives three months [1].", "The landlord gives twelve months [1]."]
    with make_assistant(app_home, replies=replies) as assistant:
        summary(assistant.ingest([lease]))
        chat = assistant.new_chat()
        final_answer(assistant.ask("What is the notice period for the tenant?", chat_id=chat.id))
        answer = final_answer(assistant.ask("And for the landlord?", chat_id=chat.id))
        prompt = assistant._parts.runtime.prompts[-1]  # type: ignore[attr-defined]
        stored = assistant.messages(chat.id)
    assert answer.query == "What is the notice period for the landlord?"
    assert "twelve months" in answer.citations[0].text
    # the earlier turn is in the prompt, in the model's own format, markers dropped
    assert "What is the notice period for the tenant?" in prompt
    assert "The tenant gives three months." in prompt
    # after the passages (the stable part a local model keeps), before the new question
    earlier = prompt.index("The tenant gives three months.")
    assert (
        prompt.index("Passages:")
        < earlier
        < prompt.index("Question: What is the notice period for the landlord?")
    )
    assert "Question: What is the notice period for the landlord? [/INST]" in prompt
    assert stored[-1].query == "What is the notice period for the landlord?"


def lease_reply(prompt: str) -> str:
    if "landlord" in prompt.rsplit("Question:", 1)[-1]:
        return "The landlord gives twelve months [1]."
    return "The tenant gives three months [1]."


@pytest.fixture
def fake_models(monkeypatch: pytest.MonkeyPatch) -> None:
    """The CLI's Assistants on the fakes (hashing embedder, scripted model)."""

    def open_fake(cls: type[Assistant], settings: Settings, **_options: object) -> Assistant:
        return cls(make_parts(settings.home, replies=lease_reply))

    monkeypatch.setattr(Assistant, "open", classmethod(open_fake))


def test_cli_continues_a_stored_chat_and_lists_chats(
    lease: Path, app_home: Path, fake_models: None, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["ingest", str(lease)], io.StringIO()) == 0
    out = io.StringIO()
    assert main(["ask", "--chat", "new", "What is the notice period for the tenant?"], out) == 0
    assert "desk-assistant: new chat 1" in capsys.readouterr().err
    assert "From your documents: “The tenant may terminate" in out.getvalue()
    out = io.StringIO()
    assert main(["ask", "--chat", "1", "--json", "And for the landlord?"], out) == 0
    data = json.loads(out.getvalue())
    assert data["query"] == "What is the notice period for the landlord?"
    assert data["chat_id"] == 1 and data["supported"] is True
    assert "twelve months" in data["citations"][0]["text"]
    out = io.StringIO()
    assert main(["chats"], out) == 0
    assert "What is the notice period for the tenant?" in out.getvalue()
    assert "4 messages" in out.getvalue()
    out = io.StringIO()
    assert main(["chats", "1"], out) == 0
    transcript = out.getvalue()
    assert transcript.startswith("# What is the notice period for the tenant?")
    assert "*Searched for: What is the notice period for the landlord?*" in transcript
    out = io.StringIO()
    assert main(["chats", "1", "--format", "html"], out) == 0
    assert out.getvalue().startswith("<!DOCTYPE html>")
    assert main(["ask", "--chat", "7", "Anything?"], io.StringIO()) == 1
    assert "there is no chat 7" in capsys.readouterr().err
