"""The default runtime: llama.cpp through llama-cpp-python.

llama.cpp loads every current GGUF (any vocabulary, tied embeddings, new architectures)
and is the fastest CPU runtime measured here, so it is tried first. ``llama_cpp`` is
imported only when a model is loaded: the import alone loads a 24 MB shared library.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from desk_assistant.backends.llm.base import (
    FileRuntime,
    Generation,
    LoadParams,
    context_size,
    default_threads,
)
from desk_assistant.backends.llm.gguf_info import ModelInfo
from desk_assistant.errors import ModelLoadError


class LlamaCppRuntime(FileRuntime):
    """A GGUF model loaded in this process by llama.cpp."""

    name = "llama_cpp"
    library = "llama_cpp"
    distribution = "llama-cpp-python"

    @staticmethod
    def refusal(info: ModelInfo) -> str | None:
        if info.file_format != "gguf":
            return "it is an old GGML file, which llama.cpp dropped in 2023"
        return None

    @classmethod
    def cannot_load(cls, path: str | Path, info: ModelInfo, reason: str) -> ModelLoadError:
        return ModelLoadError(
            f"llama.cpp cannot load {Path(path).name}: {reason} - use the ctransformers "
            "runtime or a GGUF version"
        )

    @classmethod
    def gpu_offload(cls) -> bool:
        # A CPU-only build says False; CUDA, Metal, Vulkan and ROCm builds say True.
        from llama_cpp import llama_supports_gpu_offload

        return bool(llama_supports_gpu_offload())

    @classmethod
    def _open(cls, path: str | Path, params: LoadParams, info: ModelInfo) -> LlamaCppRuntime:
        # llama.cpp reports a bad file with an error instead of crashing: no probe needed.
        from llama_cpp import Llama

        try:
            llama = Llama(
                model_path=str(path),
                n_ctx=context_size(params, info),
                n_threads=params.threads or default_threads(),
                n_batch=params.batch,
                n_gpu_layers=params.gpu_layers,
                seed=params.seed,
                verbose=False,  # llama.cpp otherwise logs every tensor to stderr
            )
        except (ValueError, RuntimeError, OSError) as exc:
            raise ModelLoadError(f"llama.cpp cannot load {Path(path).name}: {exc}") from exc
        return cls(llama, info, params.seed, params.batch)

    @property
    def context_length(self) -> int:
        return int(self._model.n_ctx())

    def tokenize(self, text: str) -> list[int]:
        # special=True: control-token text in a rendered prompt is one token to the model.
        return list(self._model.tokenize(text.encode("utf-8"), add_bos=False, special=True))

    def _prompt_tokens(self, prompt: str) -> list[int]:
        # llama.cpp puts BOS before the prompt itself when the model asks for it.
        bos = [self._model.token_bos()] if self._info.add_bos_token else []
        return [*bos, *self.tokenize(prompt)]

    def _rewind(self, length: int) -> None:
        if length == 0:
            self._model.reset()
        else:  # the next evaluation removes the KV entries from here on
            self._model.n_tokens = length

    def _evaluate(self, segment: list[int]) -> None:
        self._model.eval(segment)

    def _pieces(self, request: Generation) -> Iterator[str]:
        # The cache is reused only up to a checkpoint, never llama-cpp-python's own
        # longest match: reusing an arbitrary prefix changes the arithmetic of the rest,
        # so the same question could get a different answer the second time (seen with
        # SmolLM2 at temperature 0). After _read_prefix, llama-cpp-python finds exactly
        # the checkpoint's tokens in place and evaluates the rest of the prompt.
        self._read_prefix(request.tokens, request.checkpoints)
        chunks = self._model.create_completion(
            request.tokens,
            max_tokens=request.budget,
            temperature=max(request.temperature, 0.0),  # 0 is greedy in llama.cpp
            # Re-seed every answer: the same question gets the same answer, run after run.
            seed=self._seed,
            stream=True,
        )
        try:
            for chunk in chunks:
                text = chunk["choices"][0]["text"]
                if text:
                    yield text
        finally:
            chunks.close()  # stops llama.cpp between two tokens

    def close(self) -> None:
        self._model.close()


def build_description() -> str:
    """llama-cpp-python's version and the llama.cpp (ggml) build it carries, for
    ``--version``: a bug report must say which llama.cpp ran the model."""
    import ctypes
    from importlib import metadata

    try:
        version = metadata.version("llama-cpp-python")
        from llama_cpp import _ggml
    except (metadata.PackageNotFoundError, ImportError, OSError):
        return "llama-cpp-python not installed"
    build = []
    for name in ("ggml_version", "ggml_commit"):
        try:
            function = getattr(_ggml.libggml, name)
        except AttributeError:  # an older llama.cpp without the build symbols
            return f"llama-cpp-python {version}"
        function.argtypes, function.restype = [], ctypes.c_char_p
        build.append(function().decode("ascii", "replace"))
    return f"llama-cpp-python {version} (ggml {build[0]}, llama.cpp commit {build[1]})"
