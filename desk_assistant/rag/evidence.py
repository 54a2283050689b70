"""The sources' own words that best answer a question: the evidence quote.

A small model often cites the right passage and still phrases the wrong answer; the
sentence of the passage that answers the question is usually right there. So every
answer comes with that sentence, quoted verbatim (whitespace aside) with its citation:
above the answer of the built-in model, below a larger model's.

A sentence is scored by how close it is in meaning to the question (the embedding model
that retrieval uses), how many of the question's key words it contains, and whether it
holds the kind of thing asked for - a number for "how many", a year for "when", a name
for "who" - that the question itself does not already contain.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from desk_assistant.rag.claims import MONTHS, Claims, claims
from desk_assistant.rag.grounding import Sources, SourceSentence

KEY_WORD_WEIGHT = 0.5  # the share of the question's key words found, next to similarity
ANSWER_TYPE_BONUS = 0.15  # the sentence holds what the question asks for (a year, ...)
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


def scores(question: str, query_vector: np.ndarray, sources: Sources) -> np.ndarray:
    """How well each source sentence answers ``question``."""
    if not sources.sentences:
        return np.zeros(0, dtype=np.float32)
    similarity = sources.similarities(query_vector[None, :])[0]
    asked = claims(question)
    key = asked.words | asked.specifics
    result = np.array(similarity, dtype=np.float32)
    for index, sentence in enumerate(sources.sentences):
        found = sentence.claims
        if key:
            result[index] += KEY_WORD_WEIGHT * len(key & (found.words | found.specifics)) / len(key)
        if _answers_kind(question, asked, found):
            result[index] += ANSWER_TYPE_BONUS
    return result


def best_quote(question: str, query_vector: np.ndarray, sources: Sources) -> Pick | None:
    """The sentence that best answers ``question``, with the next one when it is short
    (a heading-like line, or "It was built in 1889." needs what follows or precedes)."""
    found = scores(question, query_vector, sources)
    if not len(found):
        return None
    best = int(np.argmax(found))
    chosen = sources.sentences[best]
    picked: tuple[SourceSentence, ...] = (chosen,)
    following = sources.neighbour(chosen)
    if len(chosen.text.split()) < SHORT_QUOTE_WORDS and following is not None:
        picked = (chosen, following)
    return Pick(picked, float(found[best]))
