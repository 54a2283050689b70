"""Which implementation builds each swappable part, keyed by name: the plug-in points.

A new embedding engine (e.g. ONNX Runtime) is a module with an :class:`Embedder` plus one
line in ``EMBEDDERS``; a new LLM runtime is a module plus one line in ``RUNTIMES``, keyed
by the value of the ``runtime`` setting (a runtime that loads a local file goes into
``loader.FILE_RUNTIMES`` instead, which "auto" and the model library also use). Nothing
else in the engine names an implementation; :class:`desk_assistant.parts.Parts` asks here.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from desk_assistant.backends.defaults import default_embedding_dir, llm_path
from desk_assistant.backends.llm.base import LoadParams
from desk_assistant.backends.llm.loader import FILE_RUNTIMES, load_runtime

if TYPE_CHECKING:
    from desk_assistant.backends.embeddings import Embedder
    from desk_assistant.backends.llm.base import LLMRuntime
    from desk_assistant.settings import Settings

EmbedderFactory = Callable[["Settings"], "Embedder"]
RuntimeFactory = Callable[["Settings"], "LLMRuntime"]


def _sentence_transformers(settings: Settings) -> Embedder:
    from desk_assistant.backends.embeddings import SentenceTransformerEmbedder

    folder = settings.embedding_model or default_embedding_dir()
    return SentenceTransformerEmbedder(Path(folder), batch_size=settings.embed_batch_size)


EMBEDDERS: dict[str, EmbedderFactory] = {
    "sentence_transformers": _sentence_transformers,
}
DEFAULT_EMBEDDER = "sentence_transformers"


def make_embedder(settings: Settings, kind: str = DEFAULT_EMBEDDER) -> Embedder:
    """The embedding model the settings name (not loaded yet: that happens on first use)."""
    return EMBEDDERS[kind](settings)


def _local_file(runtime: str) -> RuntimeFactory:
    """Load the configured model file with ``runtime`` ("auto": the first that can)."""

    def load(settings: Settings) -> LLMRuntime:
        params = LoadParams(context_length=settings.context_length, threads=settings.threads)
        return load_runtime(llm_path(settings), runtime, params, settings.paths.cache)

    return load


RUNTIMES: dict[str, RuntimeFactory] = {
    "auto": _local_file("auto"),
    **{name: _local_file(name) for name in FILE_RUNTIMES},
}


def make_runtime(settings: Settings) -> LLMRuntime:
    """Load the LLM the settings name with the runtime they name."""
    return RUNTIMES[settings.runtime](settings)
