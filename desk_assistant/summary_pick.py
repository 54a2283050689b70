"""The whole document's summary picked from its sections' summaries (for a small model).

The built-in 135M model summarizes one section passably, but asked to combine summaries
it drifts into generic text ("The text in the document is divided into several
sections..."): on a 100-page PDF its combined summary cited 2 of 35 sections. So with a
small model the summary of the whole document is extractive over the section summaries:

1. each sentence of a section's summary is judged against that section's own text by
   the support check (:mod:`desk_assistant.rag.support`); one it does not back was made
   up and is dropped, as is one cut off by the step's token limit or at an abbreviation;
2. of what remains, sentences are picked by maximal marginal relevance: close in meaning
   to the other sections' summaries (what the document is mostly about), far from those
   already picked (no repeats), while they fit the summary's length;
3. they are shown in document order, each citing the section it came from.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from desk_assistant.rag.support import Check

CENTRALITY_WEIGHT = 0.7  # of a sentence's gain; the rest is its distance to those picked
NEAR_DUPLICATE = 0.9  # a sentence this similar to one already picked says it again
MIN_WORDS = 6  # a shorter sentence says too little to stand for a section
WHOLE = re.compile(r"[.!?][\"'”’)\]]*$")  # a sentence that ends, not one cut off
# ...nor either half of one cut at an abbreviation or an initial ("Lincoln wanted
# Washington, D.C." + "was well defended"): the sentence splitter cannot tell those from
# an end
ABBREVIATION = re.compile(r"\b[A-Z]\.$")
TAIL = re.compile(r"^[a-z]")

Count = Callable[[str], int]


@dataclass(frozen=True, slots=True)
class Candidate:
    """A sentence of one section's summary, judged against that section."""

    section: int  # the section's number
    position: int  # its place in the section's summary
    check: Check


def candidates(judged: Sequence[tuple[int, Sequence[Check]]]) -> list[Candidate]:
    """The sentences worth picking from each (section number, its summary's checks):
    whole, long enough to say something and backed by their section - or, when the
    support check backs none at all, the whole ones (a summary flagged sentence by
    sentence says more than none)."""
    whole = [
        Candidate(section, position, check)
        for section, checks in judged
        for position, check in enumerate(checks)
        if WHOLE.search(check.text)
        and not ABBREVIATION.search(check.text)
        and not TAIL.match(check.text)
        and len(check.text.split()) >= MIN_WORDS
    ]
    backed = [c for c in whole if c.check.supported]
    return backed or whole


def _centrality(found: Sequence[Candidate], vectors: np.ndarray) -> np.ndarray:
    """Each sentence's mean similarity to the summaries of the *other* sections (each the
    mean of its sentences): what many sections talk about is what the document is about;
    a section does not vote for its own sentences."""
    sections = sorted({c.section for c in found})
    rows = np.array([sections.index(c.section) for c in found])
    means = np.stack([vectors[rows == i].mean(axis=0) for i in range(len(sections))])
    means /= np.maximum(np.linalg.norm(means, axis=1, keepdims=True), 1e-9)
    similarity = vectors @ means.T
    if len(sections) == 1:
        return np.zeros(len(found))
    own = similarity[np.arange(len(found)), rows]
    return np.asarray((similarity.sum(axis=1) - own) / (len(sections) - 1))


def pick(
    found: Sequence[Candidate], vectors: np.ndarray, budget: int, count: Count
) -> list[Candidate]:
    """The candidates that best stand for the document within ``budget`` tokens, in
    document order; ``vectors`` are their unit embeddings, row by row."""
    if not found:
        return []
    centrality = _centrality(found, vectors)
    similarity = vectors @ vectors.T
    costs = [count(c.check.text) + 4 for c in found]  # with its " [n]" marker
    chosen: list[int] = []
    left = set(range(len(found)))
    used = 0

    def redundancy(i: int) -> float:
        return max((float(similarity[i, j]) for j in chosen), default=0.0)

    def gain(i: int) -> float:
        central = CENTRALITY_WEIGHT * float(centrality[i])
        return central - (1 - CENTRALITY_WEIGHT) * redundancy(i)

    while left:
        best = max(sorted(left), key=gain)
        left.discard(best)
        if used + costs[best] <= budget and redundancy(best) < NEAR_DUPLICATE:
            chosen.append(best)
            used += costs[best]
    return [found[i] for i in sorted(chosen, key=lambda i: (found[i].section, found[i].position))]


def cite(text: str, n: int) -> str:
    """``text`` with the marker ``[n]`` before its final punctuation, as answers have it."""
    end = WHOLE.search(text)
    if end is None:
        return f"{text} [{n}]"
    return f"{text[: end.start()]} [{n}]{end.group()}"
