"""Choose and load the runtime for a local model file.

``FILE_RUNTIMES`` lists the runtimes that load a GGUF/GGML file into this process, in
the order "auto" tries them; a new one is a module with a :class:`FileRuntime` subclass
plus one line here. Nothing heavy is imported here: each runtime imports its library only
when it loads a model, so choosing a runtime (and failing with a reason) is cheap.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from desk_assistant.backends.llm.base import FileRuntime, LLMRuntime, LoadParams
from desk_assistant.backends.llm.ctransformers_runtime import USE_LLAMA_CPP, CTransformersRuntime
from desk_assistant.backends.llm.gguf_info import ModelInfo, read_model_info
from desk_assistant.backends.llm.llama_cpp_runtime import LlamaCppRuntime
from desk_assistant.errors import ModelLoadError

FILE_RUNTIMES: dict[str, type[FileRuntime]] = {
    LlamaCppRuntime.name: LlamaCppRuntime,  # loads every current GGUF, and is faster
    CTransformersRuntime.name: CTransformersRuntime,  # also the GGML files of 2023
}
RUNTIMES = tuple(FILE_RUNTIMES)


def runtime_installed(runtime: str) -> bool:
    """Whether the runtime's library can be imported (checked without importing it)."""
    return importlib.util.find_spec(FILE_RUNTIMES[runtime].library) is not None


def _load(
    name: str, path: str | Path, params: LoadParams, info: ModelInfo, cache_dir: Path | None
) -> LLMRuntime:
    if not runtime_installed(name):
        raise ModelLoadError(f"the {name} runtime is not installed")
    return FILE_RUNTIMES[name].load(path, params, info=info, cache_dir=cache_dir)


def load_runtime(
    path: str | Path,
    runtime: str = "auto",
    params: LoadParams | None = None,
    cache_dir: Path | None = None,
) -> LLMRuntime:
    """Load ``path`` with ``runtime`` ("auto" or a name in ``FILE_RUNTIMES``).

    "auto" tries each runtime in turn: llama_cpp first (it loads every current GGUF and
    is faster), then ctransformers (which also reads the GGML files that llama.cpp
    dropped in 2023). ``cache_dir`` keeps the verdicts of child-process probes. Every
    failure is a ModelLoadError whose message says why and what to do.
    """
    if runtime != "auto" and runtime not in FILE_RUNTIMES:
        raise ModelLoadError(
            f"unknown LLM runtime {runtime!r}; choose one of: auto, {', '.join(RUNTIMES)}"
        )
    params = params or LoadParams()
    info = read_model_info(path)
    if runtime != "auto":
        return _load(runtime, path, params, info, cache_dir)
    reasons = []
    for name in RUNTIMES:
        try:
            return _load(name, path, params, info, cache_dir)
        except ModelLoadError as exc:
            reasons.append(str(exc))
    if runtime_installed(LlamaCppRuntime.name):
        # llama.cpp has had its turn: advice to use it would send the user in a circle.
        reasons = [reason.removesuffix(USE_LLAMA_CPP) for reason in reasons]
    raise ModelLoadError(f"no runtime can load {Path(path).name}: " + "; ".join(reasons))
