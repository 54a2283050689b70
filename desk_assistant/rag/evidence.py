"""The sources' own words that best answer a question: the evidence quote.

A small model often cites the right passage and still phrases the wrong answer; the
sentence of the passage that answers the question is usually right there. So every
answer comes with that sentence, quoted verbatim (whitespace aside) with its citation:
above the answer of the built-in model, below a larger model's.

A sentence is scored by how close it is in meaning to the question (the embedding model
that retrieval uses; the sentences are embedded once per answer, for the support check
too), the share of the question's key terms it contains, weighted by how rare each is in
the collection (the IDF weights retrieval computed: "Lincoln" counts, "born" much less),
whether it holds the kind of thing asked for - a year for "when", a number for "how
many", a name for "who" - that the question itself does not already contain,
and a little the rank of its passage. When the sentence next to the best one scores
nearly as well, or the best one is too short to stand alone, the quote takes both.
``bench/trust.py`` measures how often the quote holds the reference answer on wikiqa.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

from desk_assistant.rag.claims import MONTHS, Claims, claims
from desk_assistant.rag.grounding import Sources, SourceSentence
from desk_assistant.rag.selection import SentenceScorer

# Weights tuned on wikiqa (bench/trust.py: tuned on 78 questions, reported on 67 others;
# see bench/README.md, "Trust"). Without the IDF weights the quote found the reference
# 26 times in 48 tuning questions, with them 31.
SIMILARITY_WEIGHT = 0.5
KEY_TERM_WEIGHT = 0.5  # the (IDF-weighted) share of the question's key terms it holds
ANSWER_TYPE_BONUS = 0.15  # the sentence holds what the question asks for (a year, ...)
RANK_WEIGHT = 0.2  # the first passage's sentences get this much, the last's nothing
PAIR_MARGIN = 0.1  # a neighbour scoring within this of the best joins it in the quote
SHORT_QUOTE_WORDS = 12  # a best sentence shorter than this takes the next one along
_NUMBER_QUESTION = re.compile(r"\bhow\s+(?:many|much|long|old|far|tall|big|large|high)\b", re.I)
_TIME_QUESTION = re.compile(r"\b(?:when|what\s+year|which\s+year|what\s+date)\b", re.I)
_PERSON_QUESTION = re.compile(r"^\s*(?:who|whom|whose)\b", re.I)
_YEAR = re.compile(r"^1\d{3}$|^20\d{2}$")


@dataclass(frozen=True, slots=True)
class Pick:
    """A chosen quote: its sentences, in document order, and the score it won with."""

    sentences: tuple[SourceSentence, ...]
    score: float

    @property
    def text(self) -> str:
        return " ".join(s.text for s in self.sentences)


def _answers_kind(question: str, asked: Claims, sentence: Claims) -> bool:
    """Whether the sentence holds the kind of answer the question asks for."""
    new_numbers = sentence.numbers - asked.numbers
    if _TIME_QUESTION.search(question):
        return any(_YEAR.match(n) for n in new_numbers) or bool(
            (sentence.names & MONTHS) - asked.names
        )
    if _NUMBER_QUESTION.search(question):
        return bool(new_numbers)
    if _PERSON_QUESTION.search(question):
        return bool(sentence.names - asked.names)
    return False


def _plain_share(asked: Claims) -> Callable[[str], float]:
    """The share of the question's key words (and specifics) a sentence contains."""
    key = asked.words | asked.specifics

    def share(text: str) -> float:
        found = claims(text)
        return len(key & (found.words | found.specifics)) / len(key) if key else 0.0

    return share


def scores(
    question: str,
    query_vector: np.ndarray,
    sources: Sources,
    weights: Mapping[str, float] | None = None,
) -> np.ndarray:
    """How well each source sentence answers ``question``; ``weights`` are the IDF
    weights of the question's terms in the collection, as retrieval computed them
    (without them every key word of the question counts the same)."""
    if not sources.sentences:
        return np.zeros(0, dtype=np.float32)
    similarity = sources.similarities(query_vector[None, :])[0]
    asked = claims(question)
    key_share = SentenceScorer(weights) if weights else _plain_share(asked)
    last = max(s.n for s in sources.sentences)
    result = SIMILARITY_WEIGHT * np.array(similarity, dtype=np.float32)
    for index, sentence in enumerate(sources.sentences):
        found = sentence.claims
        result[index] += KEY_TERM_WEIGHT * key_share(sentence.text)
        if _answers_kind(question, asked, found):
            result[index] += ANSWER_TYPE_BONUS
        result[index] += RANK_WEIGHT * (last - sentence.n) / max(1, last - 1)
    return result


def best_quote(
    question: str,
    query_vector: np.ndarray,
    sources: Sources,
    weights: Mapping[str, float] | None = None,
) -> Pick | None:
    """The sentence that best answers ``question``, with a neighbour that scores nearly
    as well, or with the next one when it is short (a heading-like line, or "It was
    built in 1889." needs what follows or precedes)."""
    found = scores(question, query_vector, sources, weights)
    if not len(found):
        return None
    best = int(np.argmax(found))
    chosen = sources.sentences[best]
    index = {id(s): i for i, s in enumerate(sources.sentences)}
    close = [
        s
        for s in (sources.neighbour(chosen, -1), sources.neighbour(chosen, 1))
        if s is not None and found[index[id(s)]] >= found[best] - PAIR_MARGIN
    ]
    following = sources.neighbour(chosen, 1)
    picked: tuple[SourceSentence, ...] = (chosen,)
    if close:
        partner = max(close, key=lambda s: found[index[id(s)]])
        picked = tuple(sorted((chosen, partner), key=lambda s: s.position))
    elif len(chosen.text.split()) < SHORT_QUOTE_WORDS and following is not None:
        picked = (chosen, following)
    return Pick(picked, float(found[best]))
