"""Fit the best passages into the model's context window, counted with its own tokenizer.

The prompt is the most expensive part of an answer on a CPU (a 7B model reads ~8 prompt
tokens/s here), so the budget is tight and the most relevant passages go first.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from desk_assistant.records import Passage

MIN_USEFUL_TOKENS = 48  # a truncated passage shorter than this is noise, not context


@dataclass(frozen=True, slots=True)
class PackedPassage:
    n: int
    passage: Passage
    text: str  # possibly truncated to fit


def passage_label(passage: Passage) -> str:
    where = Path(passage.path).name
    if passage.page is not None:
        where += f", page {passage.page}"
    elif passage.heading:
        where += f", {passage.heading}"
    return where


def format_passage(n: int, passage: Passage, text: str) -> str:
    return f"[{n}] ({passage_label(passage)})\n{text}"


def pack(
    passages: Sequence[Passage],
    budget: int,
    count_tokens: Callable[[str], int],
) -> list[PackedPassage]:
    """Take passages in order while they fit in ``budget`` tokens; trim the last to fit."""
    packed: list[PackedPassage] = []
    remaining = budget
    seen: set[str] = set()
    for passage in passages:
        key = " ".join(passage.text.split())
        if key in seen:  # overlapping files or duplicate documents: say it once
            continue
        n = len(packed) + 1
        cost = count_tokens(format_passage(n, passage, passage.text)) + 2
        if cost <= remaining:
            packed.append(PackedPassage(n, passage, passage.text))
            seen.add(key)
            remaining -= cost
            continue
        if remaining >= MIN_USEFUL_TOKENS:
            label = format_passage(n, passage, "")
            text = _truncate(passage.text, remaining - 2 - count_tokens(label), count_tokens)
            if text:
                packed.append(PackedPassage(n, passage, text))
        break
    return packed


def _truncate(text: str, budget: int, count_tokens: Callable[[str], int]) -> str:
    """The longest word-boundary prefix of ``text`` within ``budget`` (binary search)."""
    words = text.split(" ")
    low, high = 0, len(words)
    while low < high:
        middle = (low + high + 1) // 2
        if count_tokens(" ".join(words[:middle]) + " …") <= budget:
            low = middle
        else:
            high = middle - 1
    return " ".join(words[:low]) + " …" if low else ""
