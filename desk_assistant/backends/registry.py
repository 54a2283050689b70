"""Which implementation builds each swappable part, keyed by name: the plug-in points.

A new embedding engine is a module with an :class:`Embedder` plus one line in
``EMBEDDERS`` ("auto" picks sentence-transformers or ONNX Runtime by the model folder;
each factory also gets the model ids the data folder's collections were indexed with,
which the "auto" ``embedding_variant`` is resolved against);
a new LLM runtime is a module plus one line in ``RUNTIMES``, keyed by the value of the
``runtime`` setting (a runtime that loads a local file goes into
``loader.FILE_RUNTIMES`` instead, which "auto" and the model library also use). Nothing
else in the engine names an implementation; :class:`desk_assistant.parts.Parts` asks here.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from pathlib import Path
from typing import TYPE_CHECKING

from desk_assistant.backends.defaults import default_embedding_dir, llm_path
from desk_assistant.backends.llm.base import LoadParams
from desk_assistant.backends.llm.loader import FILE_RUNTIMES, load_runtime
from desk_assistant.errors import DeskAssistantError

if TYPE_CHECKING:
    from desk_assistant.backends.embeddings import Embedder
    from desk_assistant.backends.llm.base import LLMRuntime
    from desk_assistant.settings import Settings

# The model ids a data folder's collections were indexed with, read only when needed.
RecordedModels = Callable[[], Collection[str]]
EmbedderFactory = Callable[["Settings", RecordedModels], "Embedder"]
RuntimeFactory = Callable[["Settings"], "LLMRuntime"]


def _embedding_folder(settings: Settings) -> Path:
    return Path(settings.embedding_model or default_embedding_dir())


def _sentence_transformers(settings: Settings, recorded: RecordedModels) -> Embedder:
    """sentence-transformers has fp32 only: "auto" means fp32 here, int8 is an error."""
    from desk_assistant.backends.embeddings import SentenceTransformerEmbedder
    from desk_assistant.backends.onnx_embedder import INT8_VARIANT

    if settings.embedding_variant == INT8_VARIANT:
        raise DeskAssistantError(
            f"The {settings.embedding_variant} embedding variant needs an ONNX export of the "
            "model (the installers ship one; from a source install: python -m "
            "desk_assistant.backends.onnx_export MODEL_FOLDER OUT_FOLDER, then set "
            "embedding_model to OUT_FOLDER)"
        )
    return SentenceTransformerEmbedder(
        _embedding_folder(settings), batch_size=settings.embed_batch_size
    )


def _onnx(settings: Settings, recorded: RecordedModels) -> Embedder:
    from desk_assistant.backends.onnx_embedder import (
        AUTO_VARIANT,
        ExportInfo,
        OnnxEmbedder,
        choose_variant,
    )

    folder = _embedding_folder(settings)
    variant: str = settings.embedding_variant
    if variant == AUTO_VARIANT:
        variant = choose_variant(ExportInfo.read(folder), recorded)
    return OnnxEmbedder(folder, batch_size=settings.embed_batch_size, variant=variant)


def _by_folder(settings: Settings, recorded: RecordedModels) -> Embedder:
    """The engine the folder is made for: an ONNX export (what the installers ship) runs
    on ONNX Runtime, any other folder on sentence-transformers."""
    from desk_assistant.backends.onnx_embedder import is_onnx_export

    kind = "onnx" if is_onnx_export(_embedding_folder(settings)) else "sentence_transformers"
    return EMBEDDERS[kind](settings, recorded)


EMBEDDERS: dict[str, EmbedderFactory] = {
    "auto": _by_folder,
    "sentence_transformers": _sentence_transformers,
    "onnx": _onnx,
}
DEFAULT_EMBEDDER = "auto"


def make_embedder(
    settings: Settings, kind: str = DEFAULT_EMBEDDER, recorded: RecordedModels = frozenset
) -> Embedder:
    """The embedding model the settings name (not loaded yet: that happens on first use).
    ``recorded``: the model ids of the data folder's collections (default: none, as in a
    new data folder); the app passes them through ``desk_assistant.parts.folder_embedder``."""
    return EMBEDDERS[kind](settings, recorded)


def _local_file(runtime: str) -> RuntimeFactory:
    """Load the configured model file with ``runtime`` ("auto": the first that can)."""

    def load(settings: Settings) -> LLMRuntime:
        params = LoadParams(
            context_length=settings.context_length,
            threads=settings.threads,
            batch=settings.prompt_batch,
            gpu_layers=settings.gpu_layers,
        )
        return load_runtime(llm_path(settings), runtime, params, settings.paths.cache)

    return load


def _model_server(settings: Settings) -> LLMRuntime:
    """Answer with the model an OpenAI-compatible server serves (``llm_url``)."""
    from desk_assistant.backends.llm.openai_runtime import OpenAIRuntime

    return OpenAIRuntime.connect(settings)


RUNTIMES: dict[str, RuntimeFactory] = {
    "auto": _local_file("auto"),
    **{name: _local_file(name) for name in FILE_RUNTIMES},
    "openai": _model_server,
}
SERVER_RUNTIMES = frozenset({"openai"})  # runtimes that load no local model file


def builtin_model(settings: Settings) -> bool:
    """Whether the built-in small model answers: no model file is set, and no model
    server answers (a server's model is another one, whatever ``model_path`` says)."""
    return settings.model_path is None and settings.runtime not in SERVER_RUNTIMES


def make_runtime(settings: Settings) -> LLMRuntime:
    """Load the LLM the settings name with the runtime they name."""
    return RUNTIMES[settings.runtime](settings)
