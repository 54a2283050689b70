"""Shared builders for tests: an Assistant on fakes, with the real store and manifest."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from desk_assistant.backends.embeddings import HashingEmbedder
from desk_assistant.backends.llm.fake import FakeRuntime
from desk_assistant.records import Answer, IngestEvent, Token
from desk_assistant.service import Assistant
from desk_assistant.settings import load_settings


def make_assistant(
    home: Path,
    replies: Sequence[str] | Callable[[str], str] = ("The answer.",),
    embedder: Any = None,
    **settings: Any,
) -> Assistant:
    settings.setdefault("min_relevance", 0.2)
    return Assistant(
        load_settings(home, **settings),
        embedder=embedder or HashingEmbedder(),
        runtime=FakeRuntime(replies),
    )


def summary(events: Iterable[IngestEvent]) -> dict[str, int]:
    last = list(events)[-1]
    assert last.kind == "summary"
    return last.counts


def final_answer(items: Iterable[Token | Answer]) -> Answer:
    answers = [item for item in items if isinstance(item, Answer)]
    assert len(answers) == 1
    return answers[0]
