"""The sentences of the passages a model was given, each embedded once per answer.

Both trust features work on single source sentences rather than whole passages: the
evidence quote is the sentence (or two) that best answers the question, and the support
check looks for the sentence that backs each sentence of the answer. A passage is too
coarse for the second: the tenancy agreement's notice paragraph holds the tenant's three
months and the landlord's twelve side by side, and "the tenant's notice period is 12
months" matches the paragraph well while no sentence of it says so.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from desk_assistant.backends.embeddings import Embedder
from desk_assistant.rag.citations import sentences
from desk_assistant.rag.claims import Claims, claims
from desk_assistant.rag.packing import PackedPassage
from desk_assistant.records import Passage

MAX_QUOTE_WORDS = 80  # a "sentence" longer than this is a table or a list: cut it short
HEADING_WORDS = 8  # a line this short, unpunctuated, before a capital: a heading


@dataclass(frozen=True, slots=True)
class SourceSentence:
    n: int  # the number of its passage in the prompt
    position: int  # its place in the passage, from 0
    text: str
    passage: Passage

    @property
    def claims(self) -> Claims:
        return claims(self.text)


def _shorten(text: str) -> str:
    words = text.split()
    return text if len(words) <= MAX_QUOTE_WORDS else " ".join(words[:MAX_QUOTE_WORDS]) + " …"


def _heading(line: str, following: str) -> bool:
    bare = line.strip()
    short = 0 < len(bare.split()) <= HEADING_WORDS and bare[-1] not in ".!?,;:"
    return short and following.strip()[:1].isupper()


def split_passage(text: str) -> list[str]:
    """A passage's sentences, whitespace collapsed; lines of one paragraph are joined
    (a PDF breaks lines mid-sentence) but paragraphs and headings stay apart."""
    lines = text.split("\n")
    joined = "".join(
        line + ("\n" if not line.strip() or _heading(line, following) else " ")
        for line, following in zip(lines, [*lines[1:], ""], strict=True)
    )
    found = (" ".join(s.split()) for s in sentences(joined))
    return [_shorten(s) for s in found if len(s.split()) >= 3]


class Sources:
    """The source sentences of one answer and their embeddings (computed on first use,
    in one batch: the quote and the support check share them)."""

    def __init__(self, packed: Sequence[PackedPassage], embedder: Embedder) -> None:
        self.embedder = embedder
        self.sentences = [
            SourceSentence(p.n, position, text, p.passage)
            for p in packed
            for position, text in enumerate(split_passage(p.text))
        ]

    @cached_property
    def vectors(self) -> np.ndarray:
        if not self.sentences:
            return np.zeros((0, 1), dtype=np.float32)
        return self.embedder.embed_documents([s.text for s in self.sentences])

    def similarities(self, vectors: np.ndarray) -> np.ndarray:
        """Cosine similarity of each row of ``vectors`` with each source sentence."""
        if not self.sentences or not len(vectors):
            return np.zeros((len(vectors), len(self.sentences)), dtype=np.float32)
        return np.asarray(vectors @ self.vectors.T, dtype=np.float32)

    def neighbour(self, sentence: SourceSentence, step: int = 1) -> SourceSentence | None:
        """The sentence ``step`` places after ``sentence`` in its passage (before it when
        negative), if any."""
        for other in self.sentences:
            if other.n == sentence.n and other.position == sentence.position + step:
                return other
        return None
