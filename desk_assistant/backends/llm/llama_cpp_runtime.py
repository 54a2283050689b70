"""The default runtime: llama.cpp through llama-cpp-python.

llama.cpp loads every current GGUF (any vocabulary, tied embeddings, new architectures)
and is the fastest CPU runtime measured here, so it is tried first. ``llama_cpp`` is
imported only when a model is loaded: the import alone loads a 24 MB shared library.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from desk_assistant.backends.llm.base import (
    FileRuntime,
    LoadParams,
    ModelInfo,
    context_size,
    default_threads,
)
from desk_assistant.backends.llm.gguf_info import read_model_info
from desk_assistant.errors import ModelLoadError


class LlamaCppRuntime(FileRuntime):
    """A GGUF model loaded in this process by llama.cpp."""

    name = "llama_cpp"
    library = "llama_cpp"

    def __init__(self, llama: Any, info: ModelInfo, seed: int = 0) -> None:
        self._llama = llama
        self._info = info
        self._seed = seed

    @staticmethod
    def refusal(info: ModelInfo) -> str | None:
        if info.file_format != "gguf":
            return "it is an old GGML file, which llama.cpp dropped in 2023"
        return None

    @classmethod
    def load(
        cls,
        path: str | Path,
        params: LoadParams | None = None,
        *,
        info: ModelInfo | None = None,
        cache_dir: Path | None = None,
        probe: bool = True,
    ) -> LlamaCppRuntime:
        """Load ``path``; raises ModelLoadError with llama.cpp's reason when it cannot.
        llama.cpp reports a bad file with an error instead of crashing, so it needs no
        probe in a child process."""
        params = params or LoadParams()
        info = info or read_model_info(path)
        refusal = cls.refusal(info)
        if refusal:
            raise ModelLoadError(
                f"llama.cpp cannot load {Path(path).name}: {refusal} - use the "
                "ctransformers runtime or a GGUF version"
            )
        try:
            from llama_cpp import Llama
        except ImportError as exc:
            raise ModelLoadError(
                "the llama_cpp runtime is not installed (pip install llama-cpp-python)"
            ) from exc
        try:
            llama = Llama(
                model_path=str(path),
                n_ctx=context_size(params, info),
                n_threads=params.threads or default_threads(),
                seed=params.seed,
                verbose=False,  # llama.cpp otherwise logs every tensor to stderr
            )
        except (ValueError, RuntimeError, OSError) as exc:
            raise ModelLoadError(f"llama.cpp cannot load {Path(path).name}: {exc}") from exc
        return cls(llama, info, params.seed)

    @property
    def context_length(self) -> int:
        return int(self._llama.n_ctx())

    @property
    def info(self) -> ModelInfo:
        return self._info

    def tokenize(self, text: str) -> list[int]:
        # special=True: control-token text in a rendered prompt is one token to the model.
        return list(self._llama.tokenize(text.encode("utf-8"), add_bos=False, special=True))

    def _prompt_tokens(self, prompt: str) -> list[int]:
        # llama.cpp puts BOS before the prompt itself when the model asks for it.
        bos = [self._llama.token_bos()] if self._info.add_bos_token else []
        return [*bos, *self.tokenize(prompt)]

    def _pieces(
        self, prompt: str, tokens: list[int], budget: int, temperature: float
    ) -> Iterator[str]:
        # Forget the previous prompt's KV cache: reusing a cached prefix changes the
        # arithmetic of the last prompt token, so the same question could get a different
        # answer the second time (seen with SmolLM2 at temperature 0).
        self._llama.reset()
        chunks = self._llama.create_completion(
            prompt,
            max_tokens=budget,
            temperature=max(temperature, 0.0),  # 0 is greedy in llama.cpp
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
        self._llama.close()
