"""The LLM runtime base classes and the helpers every runtime shares."""

from __future__ import annotations

import importlib.util
import os
from abc import ABC, abstractmethod
from collections.abc import Generator, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Self

from desk_assistant.backends.llm.chat_format import ChatFormat
from desk_assistant.backends.llm.gguf_info import ModelInfo, read_model_info
from desk_assistant.backends.llm.kv_state import KVState, checkpoint_positions, segments
from desk_assistant.backends.llm.probe import probe_runtime
from desk_assistant.errors import DeskAssistantError, ModelLoadError


@dataclass(frozen=True, slots=True)
class LoadParams:
    """How to load a model: context size, CPU threads (``None`` = runtime default),
    prompt batch (tokens evaluated per step) and layers offloaded to a GPU."""

    context_length: int = 4096
    threads: int | None = None
    seed: int = 0
    batch: int = 512
    gpu_layers: int = 0


@dataclass(frozen=True, slots=True)
class Generation:
    """One reply to generate, as :meth:`LLMRuntime.stream` hands it to a runtime once the
    prompt is tokenized and the reply budgeted."""

    prompt: str
    tokens: list[int]  # the prompt as the model is fed it
    budget: int  # most tokens to generate (> 0)
    temperature: float
    checkpoints: tuple[int, ...]  # where shared prefixes end: see FileRuntime._read_prefix


class LLMRuntime(ABC):
    """A loaded model that tokenizes and streams completions of a raw prompt.

    ``stream`` is the one place where every runtime (and the fake) budgets the reply
    against the context window, cuts it at stop sequences and stops generating when the
    caller stops iterating; a runtime supplies the tokens its model is fed
    (:meth:`_prompt_tokens`) and the raw text pieces it generates (:meth:`_pieces`).
    """

    name: ClassVar[str]  # "llama_cpp", "ctransformers", "openai", "fake"

    @property
    @abstractmethod
    def context_length(self) -> int: ...

    @property
    @abstractmethod
    def info(self) -> ModelInfo: ...

    @abstractmethod
    def tokenize(self, text: str) -> list[int]:
        """Token ids of ``text`` as this model counts them (no BOS added)."""

    @property
    def display_name(self) -> str:
        """How answers and the status name the model: its file name."""
        return Path(self.info.path).name

    def own_chat_format(self) -> ChatFormat | None:
        """The prompt format this runtime imposes (a server applies its model's own
        template), or None: then the format comes from the model file."""
        return None

    def stream(
        self,
        prompt: str,
        *,
        stop: Sequence[str] = (),
        max_tokens: int = 256,
        temperature: float = 0.1,
        prefixes: Sequence[str] = (),
    ) -> Generator[str, None, None]:
        """Yield text pieces as they are generated; ``close()`` (or dropping the generator)
        stops generation between two tokens. A prompt that leaves no room for a reply in
        the context window raises :class:`PromptTooLongError` before anything runs.

        ``prefixes`` are leading parts of ``prompt`` that other prompts share (the
        instructions, the passages of a chat): a runtime that keeps the model's state
        between prompts reuses what it already evaluated of them
        (:mod:`desk_assistant.backends.llm.kv_state`)."""
        tokens = self._prompt_tokens(prompt)
        budget = reply_budget(len(tokens), max_tokens, self.context_length)
        if not budget:
            return cut_at_stop(iter(()), stop)
        checkpoints = self._checkpoints(tokens, prefixes)
        return cut_at_stop(
            self._pieces(Generation(prompt, tokens, budget, temperature, checkpoints)), stop
        )

    def _prompt_tokens(self, prompt: str) -> list[int]:
        """The tokens the model will be fed for ``prompt`` (what the reply is budgeted by)."""
        return self.tokenize(prompt)

    def _checkpoints(self, tokens: list[int], prefixes: Sequence[str]) -> tuple[int, ...]:
        """Where the prompt may be split for reuse; none for a runtime that keeps no
        state between prompts (a server keeps its own)."""
        return ()

    @abstractmethod
    def _pieces(self, request: Generation) -> Iterator[str]:
        """Generate at most ``request.budget`` tokens after the prompt, as text pieces;
        closing the iterator must stop generation."""

    def interrupt(self) -> None:  # noqa: B027 - an optional hook, empty by default
        """Stop the generation in progress, called from another thread (the Stop button).
        A local runtime stops between two tokens once its stream is closed, which takes
        milliseconds, so by default there is nothing to do; a server runtime cuts the
        connection it is waiting on."""

    @abstractmethod
    def close(self) -> None:
        """Free the model's memory."""


class GenerationInterrupted(DeskAssistantError):
    """The answer was stopped from another thread (:meth:`LLMRuntime.interrupt`)."""


# Helpers shared by the runtime implementations, so that every runtime (and the fake)
# cuts replies at stop sequences and budgets the context window in exactly the same way.


class PromptTooLongError(DeskAssistantError, ValueError):
    """The prompt alone fills the context window; the caller must send fewer passages."""


def default_threads() -> int:
    """CPU threads for generation: all available cores on small machines, half on big ones.

    llama-cpp-python's own default (cpu_count // 2) runs on one core of a 2-core laptop;
    past 4 cores, logical CPUs are usually hyper-threads, which slow llama.cpp down.
    """
    available = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    n = available or os.cpu_count() or 1
    return n if n <= 4 else n // 2


def context_size(params: LoadParams, info: ModelInfo) -> int:
    """The context window to allocate: as asked, but never past what the model was trained
    on (beyond it, output degrades into noise and the KV cache only wastes memory)."""
    if info.context_length:
        return min(params.context_length, info.context_length)
    return params.context_length


def reply_budget(prompt_tokens: int, max_tokens: int, context_length: int) -> int:
    """How many tokens the reply may have: ``max_tokens``, capped by the room left."""
    room = context_length - prompt_tokens
    if room <= 0:
        raise PromptTooLongError(
            f"The prompt has {prompt_tokens} tokens but the model's context window holds "
            f"{context_length}; use fewer or shorter passages, or a larger context length."
        )
    return max(0, min(max_tokens, room))


def cut_at_stop(pieces: Iterator[str], stop: Sequence[str]) -> Generator[str, None, None]:
    """Yield the text of ``pieces`` up to the first stop sequence, which is never yielded.

    Text that could be the beginning of a stop sequence is held back until the next piece
    decides it. ``pieces`` is closed as soon as a stop sequence is found or the caller
    stops iterating, which is what stops the model from generating further.
    """
    stops = [s for s in dict.fromkeys(stop) if s]
    held = ""
    try:
        for piece in pieces:
            held += piece
            found = [i for i in (held.find(s) for s in stops) if i >= 0]
            if found:
                if min(found) > 0:
                    yield held[: min(found)]
                return
            keep = max(
                (
                    i
                    for s in stops
                    for i in range(min(len(s) - 1, len(held)), 0, -1)
                    if held.endswith(s[:i])
                ),
                default=0,
            )
            if len(held) > keep:
                yield held[: len(held) - keep]
                held = held[len(held) - keep :]
        if held:
            yield held
    finally:
        close = getattr(pieces, "close", None)
        if close is not None:
            close()


class FileRuntime(LLMRuntime):
    """A runtime that loads a local GGUF/GGML file into this process (the registry in
    :mod:`desk_assistant.backends.llm.loader` lists them in the order "auto" tries them).

    :meth:`load` is the same for all of them: refuse from the metadata what the runtime
    cannot read, probe the file in a child process first if the runtime can crash the
    process on a bad file, then let the runtime open it (:meth:`_open`).
    """

    library: ClassVar[str]  # the module that must be importable for this runtime to work
    distribution: ClassVar[str]  # the package on PyPI that installs it
    crashes_on_bad_files: ClassVar[bool] = False  # then a child process loads it first

    def __init__(self, model: Any, info: ModelInfo, seed: int = 0, batch: int = 512) -> None:
        self._model = model  # the library's own model object
        self._info = info
        self._seed = seed  # re-seeded before every answer: same question, same answer
        self._batch = batch
        self._kv = KVState()

    @classmethod
    def gpu_offload(cls) -> bool | None:
        """Whether the installed library can run layers on a graphics card (``gpu_layers``);
        None when it cannot tell without loading a model."""
        return None

    def _checkpoints(self, tokens: list[int], prefixes: Sequence[str]) -> tuple[int, ...]:
        return checkpoint_positions(tokens, [self._prompt_tokens(p) for p in prefixes])

    def _read_prefix(self, tokens: list[int], checkpoints: Sequence[int]) -> int:
        """Evaluate ``tokens`` up to their last checkpoint, segment by segment, reusing
        the segments the model already holds; return how many tokens are in place (the
        rest of the prompt is for the runtime to evaluate, in one segment)."""
        reuse = self._kv.reusable(tokens, checkpoints)
        self._kv.keep(reuse)
        self._rewind(reuse)
        for start, end in segments(reuse, checkpoints):
            self._evaluate(tokens[start:end])
            self._kv.extend(tokens[start:end])
        return len(self._kv.tokens)

    @abstractmethod
    def _rewind(self, length: int) -> None:
        """Make the model continue after its first ``length`` evaluated tokens (0: none)."""

    @abstractmethod
    def _evaluate(self, segment: list[int]) -> None:
        """Evaluate ``segment`` after the tokens already in place, in prompt batches."""

    @property
    def info(self) -> ModelInfo:
        return self._info

    @staticmethod
    @abstractmethod
    def refusal(info: ModelInfo) -> str | None:
        """Why this runtime cannot load the file, judged from its metadata alone, or None."""

    @classmethod
    @abstractmethod
    def cannot_load(cls, path: str | Path, info: ModelInfo, reason: str) -> ModelLoadError:
        """The error for a file this runtime cannot load, saying what to do instead."""

    @classmethod
    @abstractmethod
    def _open(cls, path: str | Path, params: LoadParams, info: ModelInfo) -> Self:
        """Load the file into this process (the library is installed, and the file passed
        the refusal check and any probe)."""

    @classmethod
    def load(
        cls,
        path: str | Path,
        params: LoadParams | None = None,
        *,
        info: ModelInfo | None = None,
        cache_dir: Path | None = None,
        probe: bool = True,
    ) -> Self:
        """Load ``path``; a ModelLoadError with the reason when it cannot. ``probe=False``
        skips the child process (the probe's child itself); ``cache_dir`` keeps the
        probes' verdicts."""
        if importlib.util.find_spec(cls.library) is None:
            raise ModelLoadError(
                f"the {cls.name} runtime is not installed (pip install {cls.distribution})"
            )
        info = info or read_model_info(path)
        refusal = cls.refusal(info)
        if refusal:
            raise cls.cannot_load(path, info, refusal)
        if probe and cls.crashes_on_bad_files:
            verdict = probe_runtime(cls.name, path, cache_dir=cache_dir)
            if not verdict.ok:
                raise cls.cannot_load(path, info, verdict.reason or "the probe failed")
        return cls._open(path, params or LoadParams(), info)
