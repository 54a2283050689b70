"""What a local model's KV cache holds, so that a prompt's stable prefix is read once.

Every question's prompt opens with the same instructions, and a follow-up on the same
passages repeats everything before the new question; a CPU reads ~8 prompt tokens/s of
a 7B model, so evaluating those tokens again is most of the wait. The runtime keeps the
model's state between answers and evaluates only what follows the longest prefix it
already holds.

Reuse must not change answers: the same question must get the same answer whether the
cache was warm or cold. llama.cpp's arithmetic depends on how a prompt is split into
evaluation batches (a token evaluated alone, or in a batch of 512, gets slightly
different numbers, enough to flip a near-tie at temperature 0), so reuse is allowed only
at *checkpoints*: token positions the caller names from the prompt's structure (the end
of the instructions, the end of the passages, the end of each earlier turn). The prompt
is always evaluated in segments that end at its checkpoints, cold or warm, and the cache
is trusted up to a checkpoint only if it was built by exactly those segments. A prompt
then costs the same arithmetic whatever the cache held before; only the time differs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field


def checkpoint_positions(
    tokens: Sequence[int], prefixes: Sequence[Sequence[int]]
) -> tuple[int, ...]:
    """Token positions where the prompt ``tokens`` may be split: the length of each
    prefix that tokenizes exactly as the start of the prompt (a prefix whose last token
    merges with the next character does not qualify), short of the whole prompt (the
    last prompt token is always evaluated, for the logits of the first answer token)."""
    positions = {
        len(prefix)
        for prefix in prefixes
        if 0 < len(prefix) < len(tokens) and list(tokens[: len(prefix)]) == list(prefix)
    }
    return tuple(sorted(positions))


@dataclass(slots=True)
class KVState:
    """The prompt prefix whose KV entries were built segment by segment up to checkpoints.

    ``tokens`` are the tokens evaluated up to the last checkpoint; ``checkpoints`` are the
    segment ends, ascending, the last one equal to ``len(tokens)``. Whatever the model
    evaluated after the last checkpoint (the rest of the prompt, the answer) is not
    trusted, and is overwritten when the next prompt is read.
    """

    tokens: list[int] = field(default_factory=list)
    checkpoints: list[int] = field(default_factory=list)

    def reusable(self, tokens: Sequence[int], checkpoints: Sequence[int]) -> int:
        """How many leading tokens of a prompt with ``checkpoints`` the cache holds as a
        cold evaluation would have built them: the last checkpoint up to which both the
        tokens and every earlier segment end agree."""
        reuse = 0
        for held, wanted in zip(self.checkpoints, checkpoints, strict=False):
            if held != wanted or self.tokens[:held] != list(tokens[:held]):
                break
            reuse = held
        return reuse

    def keep(self, length: int) -> None:
        """Forget everything after ``length`` (a checkpoint, or 0)."""
        del self.tokens[length:]
        self.checkpoints = [c for c in self.checkpoints if c <= length]

    def extend(self, segment: Sequence[int]) -> None:
        """Record a segment evaluated right after the held tokens."""
        self.tokens.extend(segment)
        self.checkpoints.append(len(self.tokens))


def segments(start: int, checkpoints: Sequence[int]) -> list[tuple[int, int]]:
    """The (start, end) segments to evaluate from ``start`` up to the last checkpoint."""
    ends = [c for c in checkpoints if c > start]
    return list(zip([start, *ends], ends, strict=False))
