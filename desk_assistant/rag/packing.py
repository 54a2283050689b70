"""Fit the best passages into the model's context window, counted with its own tokenizer.

The prompt is the most expensive part of an answer on a CPU (a 7B model reads ~8 prompt
tokens/s here), so the budget is tight and the most relevant evidence goes first. Given
the question's term weights, only the sentences near the question are sent
(:mod:`desk_assistant.rag.selection`), and the passages of one section share one label;
without them, passages are sent whole, in order, the last one trimmed to fit.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from desk_assistant.rag.selection import (
    SelectionPolicy,
    Span,
    adaptive,
    choose,
    excerpt,
    score_spans,
)
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
    *,
    weights: Mapping[str, float] | None = None,
    policy: SelectionPolicy | None = None,
) -> list[PackedPassage]:
    """The evidence for the prompt within ``budget`` tokens: with the question's term
    ``weights`` (term -> IDF), the sentences near the question; else whole passages."""
    if weights is None:
        return _whole(passages, budget, count_tokens)
    return _sentences(passages, budget, count_tokens, weights, policy or SelectionPolicy())


def _section_key(passage: Passage) -> tuple[str, int | None, str | None]:
    return (passage.path, passage.page, passage.heading)


def _sentences(
    passages: Sequence[Passage],
    budget: int,
    count_tokens: Callable[[str], int],
    weights: Mapping[str, float],
    policy: SelectionPolicy,
) -> list[PackedPassage]:
    """The best sentences (and their neighbours) of the passages worth reading, one
    labelled block per section: a section's passages are not labelled twice."""
    passages = _distinct(adaptive(passages, policy))
    blocks: dict[tuple[str, int | None, str | None], list[int]] = {}
    for number, passage in enumerate(passages):
        blocks.setdefault(_section_key(passage), []).append(number)
    block_of = {m: b for b, members in enumerate(blocks.values()) for m in members}
    label_costs = [
        count_tokens(format_passage(b + 1, passages[members[0]], "")) + 2
        for b, members in enumerate(blocks.values())
    ]
    spans = score_spans(passages, weights, policy)

    @cache  # a sentence is priced again with every group it neighbours
    def cost(span: Span) -> int:
        return count_tokens(passages[span.passage].text[span.start : span.end]) + 1

    def label(span: Span) -> tuple[int, int]:
        block = block_of[span.passage]
        return block, label_costs[block]

    keep = choose(spans, budget, cost, policy, label)
    packed: list[PackedPassage] = []
    for members in blocks.values():
        ordered = sorted(members, key=lambda m: passages[m].start)
        parts = [excerpt(passages[m], [s for s in spans if s.passage == m], keep) for m in ordered]
        text = _ELLIPSES.sub("…", "\n".join(p for p in parts if p)).strip()
        if text:  # the block's best passage gives it its citation identity
            packed.append(PackedPassage(len(packed) + 1, passages[members[0]], text))
    return packed


_ELLIPSES = re.compile(r"…(?:\s*…)+")


def _distinct(passages: Sequence[Passage]) -> list[Passage]:
    """Passages with the same text (overlapping files, duplicate documents) said once."""
    seen: set[str] = set()
    distinct = []
    for passage in passages:
        key = " ".join(passage.text.split())
        if key not in seen:
            seen.add(key)
            distinct.append(passage)
    return distinct


def _whole(
    passages: Sequence[Passage],
    budget: int,
    count_tokens: Callable[[str], int],
) -> list[PackedPassage]:
    """Take passages in order while they fit in ``budget`` tokens; trim the last to fit."""
    packed: list[PackedPassage] = []
    remaining = budget
    for passage in _distinct(passages):
        n = len(packed) + 1
        cost = count_tokens(format_passage(n, passage, passage.text)) + 2
        if cost <= remaining:
            packed.append(PackedPassage(n, passage, passage.text))
            remaining -= cost
            continue
        if remaining >= MIN_USEFUL_TOKENS:
            label = format_passage(n, passage, "")
            text = truncate(passage.text, remaining - 2 - count_tokens(label), count_tokens)
            if text:
                packed.append(PackedPassage(n, passage, text))
        break
    return packed


def truncate(text: str, budget: int, count_tokens: Callable[[str], int]) -> str:
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
