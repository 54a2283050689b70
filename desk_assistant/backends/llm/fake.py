"""A scripted LLM for fast tests of everything above the runtime layer.

It derives from the same base class as the real runtimes, whose ``stream`` budgets and
cuts every reply, so code tested against it (prompt budgeting, stop sequences,
cancellation) behaves the same with a real model, in microseconds and without a file.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence

from desk_assistant.backends.llm.base import Generation, LLMRuntime
from desk_assistant.backends.llm.gguf_info import ModelInfo

_PIECES = re.compile(r"\s*\S+|\s+")  # a word with the whitespace before it


class FakeRuntime(LLMRuntime):
    """Replies from a script: a list consumed in order (the last one repeats), or a
    function of the prompt. Every prompt it was given is kept in ``prompts``."""

    name = "fake"

    def __init__(
        self,
        replies: Sequence[str] | Callable[[str], str],
        context_length: int = 2048,
        info: ModelInfo | None = None,
    ) -> None:
        if not callable(replies) and not replies:
            raise ValueError("FakeRuntime needs at least one reply")
        self._replies = replies
        self._context_length = context_length
        self._info = info or ModelInfo(
            path="fake.gguf",
            file_format="gguf",
            architecture="llama",
            name="fake",
            context_length=context_length,
            tokenizer_model="llama",
            bos_token="<s>",
            eos_token="</s>",
            add_bos_token=True,
        )
        self.prompts: list[str] = []
        self.pieces_generated = 0  # lets tests see that cancelling stopped generation
        self.closed = False

    @property
    def context_length(self) -> int:
        return self._context_length

    @property
    def info(self) -> ModelInfo:
        return self._info

    def tokenize(self, text: str) -> list[int]:
        """One token per word piece, with ids that are stable across runs and processes."""
        return [sum(piece.encode("utf-8")) % 32000 for piece in _PIECES.findall(text)]

    def _reply_for(self, prompt: str) -> str:
        if callable(self._replies):
            return self._replies(prompt)
        return self._replies[min(len(self.prompts) - 1, len(self._replies) - 1)]

    def _pieces(self, request: Generation) -> Iterator[str]:
        self.prompts.append(request.prompt)
        return self._generate(_PIECES.findall(self._reply_for(request.prompt))[: request.budget])

    def _generate(self, pieces: list[str]) -> Iterator[str]:
        for piece in pieces:
            self.pieces_generated += 1
            yield piece

    def close(self) -> None:
        self.closed = True
