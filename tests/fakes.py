"""Shared builders for tests: an Assistant on fakes, with the real store and manifest."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from desk_assistant.backends.embeddings import HashingEmbedder
from desk_assistant.backends.llm.fake import FakeRuntime
from desk_assistant.backends.onnx_embedder import MANIFEST
from desk_assistant.parts import Parts
from desk_assistant.rag.retrieval import Reranker
from desk_assistant.records import Answer, IngestEvent, Token
from desk_assistant.service import Assistant
from desk_assistant.settings import load_settings

Replies = Sequence[str] | Callable[[str], str]


def make_parts(
    home: Path,
    replies: Replies = ("The answer.",),
    embedder: Any = None,
    reranker: Reranker | None = None,
    window: int = 2048,
    **settings: Any,
) -> Parts:
    """The engine's parts on fakes (hashing embedder, scripted LLM with a context window
    of ``window`` tokens) and the real rest."""
    settings.setdefault("min_relevance", 0.2)
    return Parts(
        load_settings(home, **settings),
        embedder=embedder or HashingEmbedder(),
        runtime=FakeRuntime(replies, context_length=window),
        reranker=reranker,
    )


def make_assistant(
    home: Path, replies: Replies = ("The answer.",), embedder: Any = None, **settings: Any
) -> Assistant:
    return Assistant(make_parts(home, replies, embedder, **settings))


@contextmanager
def assistant_and_parts(
    home: Path, replies: Replies = ("The answer.",), **options: Any
) -> Iterator[tuple[Assistant, Parts]]:
    """An Assistant and the parts it works on, for tests that look inside the store."""
    parts = make_parts(home, replies, **options)
    with Assistant(parts) as assistant:
        yield assistant, parts


def summary(events: Iterable[IngestEvent]) -> dict[str, int]:
    last = list(events)[-1]
    assert last.kind == "summary"
    return last.counts


def final_answer(items: Iterable[Token | Answer]) -> Answer:
    answers = [item for item in items if isinstance(item, Answer)]
    assert len(answers) == 1
    return answers[0]


def write_export_record(folder: Path, **values: object) -> Path:
    """An ONNX export's record (``embedder.json``, model id "m@1") with ``values`` changed:
    what choosing and checking an export reads, without a model to load."""
    folder.mkdir(parents=True, exist_ok=True)
    data = {
        "format": "desk-assistant-onnx-embedder",
        "format_version": 1,
        "model_id": "m@1",
        "name": "m",
        "dimension": 8,
        "max_length": 16,
        "pooling": "mean",
        "normalize": True,
        "inputs": ["input_ids", "attention_mask"],
        "variants": {"fp32": "model.onnx"},
        **values,
    }
    (folder / MANIFEST).write_text(json.dumps(data), encoding="utf-8")
    return folder


def export_with_int8(folder: Path) -> Path:
    """An export record offering both variants (model id "m@1"; no model is loaded)."""
    return write_export_record(folder, variants={"fp32": "model.onnx", "int8": "model.int8.onnx"})
