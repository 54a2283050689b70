"""Which sentences of the retrieved passages the model reads: those near the question.

A retrieved chunk is ~256 embedding tokens, and the answer to a question is usually one
or two of its sentences; on a CPU every prompt token costs time before the first word
(a 7B model reads ~8 tokens/s here). So the packer does not send chunks whole: it scores
every sentence of the relevant passages against the question, takes the best ones with
their neighbours (a pronoun or a number often needs the sentence before it), best first,
until the budget is spent or the rest is far less relevant, and drops the others.

Scores are lexical: the IDF-weighted share of the question's key terms a sentence
contains (the weights of the collection's BM25 index), with a share of the passage's own
rank so that, between equally matching sentences, the better passage's wins. A term
found in most of the candidate sentences (the subject of the document the passages came
from: "cymbal" in every sentence of the article on cymbals) tells them apart little, so
its weight shrinks by the share of them holding it. ``bench/packing.py`` measures the
answer recall this keeps against the tokens it spends, on wikiqa, against sending whole
passages.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from desk_assistant.records import Passage
from ingest.analysis import analyze

# A sentence ends at . ! ? (and closing quotes or brackets) before white space and a
# capital, digit or opening quote; a line break always ends one (lists, table rows,
# headings). Abbreviations ("Dr. Smith") split wrongly now and then, which only costs a
# neighbour: neighbours are kept anyway.
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"')\]]*\s+(?=[\"'(\[]?[A-Z0-9])|\n+")


@dataclass(frozen=True, slots=True)
class SelectionPolicy:
    """How hard the packer cuts. ``min_share``: a sentence scoring below this share of
    the best sentence is left out even when there is room (it would cost time and lead
    a small model astray); ``min_passage_share``: a passage whose similarity is below
    this share of the best passage's is not read at all (adaptive k), unless it is
    among the ``always_read`` first of the ranking; ``before``/``after``: neighbours
    kept with a chosen sentence (wikiqa, tuning half: dropping the one before cost
    0.7 points of recall, trading it for a second one after cost 0.9)."""

    # Measured on wikiqa (bench/packing.py): cutting harder (0.5 and 0.8) saves ~30 % more
    # tokens but loses ~8 points of answer recall; these only drop the clearly irrelevant.
    # On the tuning half of the questions, skipping passages below 0.5 of the best lost
    # 0.7 points of recall against 0.3 (or none skipped) at the same tokens: the
    # sentence scores already keep a weak passage's text out unless it matches.
    min_share: float = 0.1
    min_passage_share: float = 0.3
    # The first passages of the ranking are read whatever their similarity: hybrid
    # ranking puts a passage first on its words, and a passage quoting the question
    # word for word can have a low dense similarity.
    always_read: int = 1
    before: int = 1
    after: int = 1
    # How much a passage's own rank counts beside a sentence's match: as much as matching
    # half the key terms. Lexical matching alone misses answers worded unlike the
    # question (bench/packing.py: 0.1 -> 0.880 recall, 1.0 -> 0.887 at the same tokens);
    # with common terms discounted (below), 0.5 beat 1.0 at every budget on the tuning
    # half (0.3 and 0.7 in between).
    rank_share: float = 0.5
    # How much a term's weight shrinks per share of the candidate sentences holding it
    # (1.0: a term in every sentence counts nothing). On the tuning half, with rank_share
    # 0.5: recall 0.844 / 0.874 / 0.896 at budgets 250 / 400 / 540 for 0.7 and
    # 0.839 / 0.876 / 0.898 for 1.0, against 0.837 / 0.866 / 0.892 without it.
    common_discount: float = 1.0


@dataclass(frozen=True, slots=True)
class Span:
    """One sentence of one passage: its character span in the passage text and score."""

    passage: int
    index: int
    start: int
    end: int
    score: float


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """Character spans of the sentences of ``text`` (white space between them excluded)."""
    spans = []
    start = 0
    for boundary in _SENTENCE_END.finditer(text):
        if text[start : boundary.start()].strip():
            spans.append((start, boundary.start()))
        start = boundary.end()
    if text[start:].strip():
        spans.append((start, len(text.rstrip())))
    return spans


def adaptive(passages: Sequence[Passage], policy: SelectionPolicy) -> list[Passage]:
    """The passages worth reading: those whose similarity is near the best one's."""
    similarities = [p.similarity for p in passages if p.similarity is not None]
    if not similarities:
        return list(passages)
    floor = max(similarities) * policy.min_passage_share
    kept = [
        p
        for rank, p in enumerate(passages)
        if rank < policy.always_read or p.similarity is None or p.similarity >= floor
    ]
    return kept or list(passages[:1])


class SentenceScorer:
    """Scores sentences by the IDF-weighted share of the question's key terms they
    contain (``weights``: term -> IDF, as retrieval weighed them). Given the candidate
    sentences (``among``), a term's weight shrinks by ``discount`` times the share of
    them that hold it: a term every candidate holds cannot tell them apart."""

    def __init__(
        self, weights: Mapping[str, float], among: Sequence[str] = (), discount: float = 1.0
    ) -> None:
        self._weights = dict(weights)
        # The candidates are scored next: analyse (stem) each of them once.
        self._analyzed = {sentence: frozenset(analyze(sentence)) for sentence in among}
        if among and discount:
            found = [self._analyzed[sentence] for sentence in among]
            for term, weight in weights.items():
                share = sum(term in terms for terms in found) / len(found)
                self._weights[term] = weight * max(0.0, 1 - discount * share)
        self._total = sum(self._weights.values())

    def __call__(self, sentence: str) -> float:
        if not self._total:
            return 0.0
        found = self._analyzed.get(sentence)
        if found is None:
            found = frozenset(analyze(sentence))
        return sum(w for term, w in self._weights.items() if term in found) / self._total


def score_spans(
    passages: Sequence[Passage], weights: Mapping[str, float], policy: SelectionPolicy
) -> list[Span]:
    """Every sentence of every passage with its score: its match with the question's
    term ``weights`` among these sentences, plus a share of its passage's rank."""
    found = [
        (number, index, start, end)
        for number, passage in enumerate(passages)
        for index, (start, end) in enumerate(sentence_spans(passage.text))
    ]
    texts = [passages[number].text[start:end] for number, _, start, end in found]
    scorer = SentenceScorer(weights, texts, policy.common_discount)
    count = max(1, len(passages))
    return [
        Span(number, index, start, end, scorer(text) + policy.rank_share * (1 - number / count))
        for (number, index, start, end), text in zip(found, texts, strict=True)
    ]


def choose(
    spans: Sequence[Span],
    budget: int,
    cost: Callable[[Span], int],
    policy: SelectionPolicy,
    label: Callable[[Span], tuple[int, int]] = lambda span: (span.passage, 0),
) -> set[tuple[int, int]]:
    """(passage, sentence index) pairs to keep: the best sentences with their neighbours,
    best first, while they fit in ``budget`` tokens and score at least ``min_share`` of
    the best. ``cost`` is a sentence's tokens; ``label`` names the block a sentence is
    shown in and what its label costs, charged once, with the block's first sentence."""
    by_key = {(s.passage, s.index): s for s in spans}
    best = max((s.score for s in spans), default=0.0)
    chosen: set[tuple[int, int]] = set()
    labelled: set[int] = set()
    spent = 0
    for span in sorted(spans, key=lambda s: -s.score):
        if span.score < best * policy.min_share:
            break
        group = [
            key
            for i in range(span.index - policy.before, span.index + policy.after + 1)
            if (key := (span.passage, i)) in by_key and key not in chosen
        ]
        block, label_cost = label(span)
        price = sum(cost(by_key[key]) for key in group) + (0 if block in labelled else label_cost)
        if group and spent + price <= budget:
            chosen.update(group)
            labelled.add(block)
            spent += price
    return chosen


def excerpt(passage: Passage, spans: Sequence[Span], keep: set[tuple[int, int]]) -> str:
    """The kept sentences of ``passage`` (``spans`` are its own) in document order, with
    "…" wherever text was left out. Kept neighbours keep the white space between them,
    and a sentence that opened a line still does: line starts matter to the removal of
    chat-control text (a document's "USER:" line)."""
    text = passage.text
    out: list[str] = []
    previous: Span | None = None
    ordered = sorted(spans, key=lambda s: s.index)
    for span in ordered:
        if (span.passage, span.index) not in keep:
            continue
        if previous is not None and span.index == previous.index + 1:
            out.append(text[previous.end : span.start])
        elif previous is not None or span.index > 0:
            line_start = text[: span.start].rstrip(" \t").endswith("\n")
            out.append(" …\n" if line_start else " … ")
        out.append(text[span.start : span.end])
        previous = span
    if previous is not None and previous.index != ordered[-1].index:
        out.append(" …")
    return "".join(out).strip()
