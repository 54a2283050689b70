"""Assemble retrieved chunks into the passages a model reads.

Chunks overlap their neighbours, and a good answer often spans two of them: adjacent
or overlapping chunks of the same section are merged back into one passage (exactly:
their character spans index the same section text), and near-duplicates from copies of
a document are dropped, so the prompt budget buys different evidence, not repeats.
The best-scoring member gives a merged passage its rank and citation identity.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace

from desk_assistant.records import Passage

NEAR_DUPLICATE = 0.9  # Jaccard similarity of word trigrams
_WORD = re.compile(r"\w+")


def _section_key(passage: Passage) -> tuple[str, int | None, str | None]:
    return (passage.path, passage.page, passage.heading)


def _merge(first: Passage, second: Passage) -> Passage:
    """Join two overlapping or touching chunks of one section into one passage."""
    head, tail = (first, second) if first.start <= second.start else (second, first)
    if tail.end <= head.end:
        text = head.text  # tail lies inside head
    else:
        cut = max(0, head.end - tail.start)
        text = head.text + ("" if cut else " ") + tail.text[cut:]
    best = first if first.score >= second.score else second
    similarity = max(
        (p.similarity for p in (first, second) if p.similarity is not None), default=None
    )
    return replace(
        best,
        start=head.start,
        end=max(head.end, tail.end),
        text=text,
        similarity=similarity,
        score=max(first.score, second.score),
    )


def _shingles(text: str) -> set[tuple[str, ...]]:
    words = _WORD.findall(text.lower())
    return {tuple(words[i : i + 3]) for i in range(max(1, len(words) - 2))}


def assemble(passages: Sequence[Passage]) -> list[Passage]:
    """Merge adjacent chunks per section, drop near-duplicates, keep relevance order."""
    merged: list[Passage] = []
    for passage in passages:
        for number, kept in enumerate(merged):
            same = _section_key(kept) == _section_key(passage)
            if same and passage.start <= kept.end + 1 and kept.start <= passage.end + 1:
                merged[number] = _merge(kept, passage)
                break
        else:
            merged.append(passage)
    distinct: list[Passage] = []
    seen: list[set[tuple[str, ...]]] = []
    for passage in merged:
        shingles = _shingles(passage.text)
        if any(
            len(shingles & other) / max(1, len(shingles | other)) >= NEAR_DUPLICATE
            for other in seen
        ):
            continue
        seen.append(shingles)
        distinct.append(passage)
    return distinct
