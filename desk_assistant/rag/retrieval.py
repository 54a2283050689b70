"""Hybrid retrieval: dense (Chroma) and lexical (BM25) results fused into one ranking.

Dense search finds paraphrases, BM25 finds rare names and exact terms. The default fusion
is a convex combination of normalised scores with equal weights (Bruch, Gai and Ingber,
"An Analysis of Fusion Functions for Hybrid Retrieval", 2023, found it more accurate
than rank fusion): every candidate from either list gets its exact cosine similarity
(from its stored vector) and its BM25 score, the similarities are min-max normalised
over the candidates and BM25 scores divided by the best one, and the two are averaged.
Reciprocal rank fusion stays available (``fusion = "rrf"``). Measured on SciFact with the
default model: RRF 0.709 nDCG@10, convex combination 0.732 (bench/retrieval.py).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

import numpy as np

from desk_assistant.backends.embeddings import Embedder
from desk_assistant.lexical import LexicalIndex
from desk_assistant.manifest import ChunkRow, Manifest
from desk_assistant.records import Passage
from desk_assistant.store import ChromaStore, VectorHit
from ingest.analysis import analyze

Mode = Literal["hybrid", "dense", "lexical"]
Fusion = Literal["convex", "rrf"]
RRF_K = 60  # the constant from Cormack et al. (2009); robust across collections


MAX_IN_FILTER = 500  # contents per Chroma "$in" filter; beyond it, over-fetch and filter


class Reranker(Protocol):
    def scores(self, query: str, texts: Sequence[str]) -> list[float]: ...


@dataclass(frozen=True, slots=True)
class Allowed:
    """The chunks a filter admits, and their contents (Chroma filters on content)."""

    chunk_ids: set[str]
    contents: set[str]


@dataclass(frozen=True, slots=True)
class RetrievalResult:
    passages: list[Passage]
    best_similarity: float | None  # highest dense cosine similarity seen
    # IDF-weighted share of the question's terms that the passages contain: a question
    # about something the documents never mention ("Lincoln" in a folder without him)
    # scores low even when its wording resembles theirs. None: no terms to weigh.
    coverage: float | None = None
    # The question's key terms and their IDF in the collection: what the packer weighs
    # the passages' sentences by.
    term_weights: Mapping[str, float] = field(default_factory=dict)

    @property
    def relevance(self) -> float:
        """What abstention compares with ``min_relevance``: similarity times coverage."""
        similarity = self.best_similarity or 0.0
        return similarity * (1.0 if self.coverage is None else self.coverage)


@functools.cache
def _question_words() -> frozenset[str]:
    """The words that shape a question rather than name its subject (the stop-word list
    keeps them): a document need not contain "how", "describe" or "make" to answer it."""
    return frozenset(
        analyze(
            "what who whom whose which when where why how does did do done were been being "
            "can could would should shall may might must will has have had i me my you your "
            "we us our they them their he him his she her it its this that these those there "
            "tell please explain describe name list give show find many much kind type "
            "make get use need mean happen take want know"
        )
    )


def _coverage(weights: Mapping[str, float], found: set[str]) -> float | None:
    """The IDF-weighted share of the question's key terms among ``found``."""
    total = sum(weights.values())
    if not total:
        return None
    return sum(w for term, w in weights.items() if term in found) / total


def convex(
    similarities: dict[str, float], lexical: dict[str, float], dense_weight: float = 0.5
) -> dict[str, float]:
    """Equal-footing fusion of exact cosine similarities (every candidate has one) and BM25
    scores (0 for a chunk BM25 did not return)."""
    if not similarities:
        return {}
    low, high = min(similarities.values()), max(similarities.values())
    spread = max(high - low, 1e-9)
    best = max(lexical.values(), default=0.0) or 1.0
    return {
        cid: dense_weight * (similarity - low) / spread
        + (1 - dense_weight) * lexical.get(cid, 0.0) / best
        for cid, similarity in similarities.items()
    }


def rrf(rankings: Sequence[Sequence[str]], k: int = RRF_K) -> dict[str, float]:
    """Reciprocal rank fusion of ranked id lists."""
    fused: dict[str, float] = {}
    for ranking in rankings:
        for rank, chunk_id in enumerate(ranking):
            fused[chunk_id] = fused.get(chunk_id, 0.0) + 1.0 / (k + rank + 1)
    return fused


class Retriever:
    def __init__(
        self,
        manifest: Manifest,
        store: ChromaStore,
        lexical: LexicalIndex,
        embedder: Embedder,
        collection: str,
        reranker: Reranker | None = None,
        rerank_depth: int = 30,
        fusion: Fusion = "convex",
        dense_weight: float = 0.5,
    ) -> None:
        self.manifest = manifest
        self.store = store
        self.lexical = lexical
        self.embedder = embedder
        self.collection = collection
        self.reranker = reranker
        self.rerank_depth = rerank_depth
        self.fusion = fusion
        self.dense_weight = dense_weight

    def search(
        self, query: str, k: int, *, mode: Mode = "hybrid", only: Allowed | None = None
    ) -> RetrievalResult:
        """The ``k`` best chunks; ``only`` restricts them to some chunks (filters)."""
        depth = max(50, 4 * k)  # fuse deeper lists than we return
        vector = self.embedder.embed_query(query)
        dense: list[str] = []
        similarities: dict[str, float] = {}
        lexical: dict[str, float] = {}
        if mode in ("hybrid", "dense"):
            hits = self._dense(vector, depth, only)
            dense = [h.chunk_id for h in hits]
            similarities = {h.chunk_id: h.similarity for h in hits}
        if mode in ("hybrid", "lexical"):
            allowed = only.chunk_ids if only is not None else None
            lexical = {h.chunk_id: h.score for h in self.lexical.search(query, depth, allowed)}
        # Lexical-only hits get their similarity too: fusion and the relevance checks
        # that decide what a model may see then judge every passage on the same scale.
        missing = [cid for cid in lexical if cid not in similarities]
        similarities.update(self.store.similarities(self.collection, missing, vector))
        fused = self._fuse(mode, dense, similarities, lexical)
        ranked = sorted(fused, key=lambda cid: fused[cid], reverse=True)
        if self.reranker is not None:
            ranked = self._rerank(query, ranked[: max(k, self.rerank_depth)], fused)
        top = ranked[:k]
        rows = self._rows(top)
        passages = [
            Passage(
                chunk_id=cid,
                path=rows[cid].path,
                page=rows[cid].page,
                heading=rows[cid].heading,
                start=rows[cid].start,
                end=rows[cid].end,
                text=rows[cid].text,
                score=fused[cid],
                similarity=similarities.get(cid),
            )
            for cid in top
            if cid in rows  # a vector of ours that the manifest lost is an orphan: ignore it
        ]
        best = max(similarities.values(), default=None)
        found = {term for p in passages for term in rows[p.chunk_id].terms.split()}
        weights = self.term_weights(query)
        return RetrievalResult(passages, best, _coverage(weights, found), weights)

    def term_weights(self, query: str) -> dict[str, float]:
        """The IDF of each key term of ``query`` in this collection (question words aside)."""
        return self.lexical.term_weights(set(analyze(query)) - _question_words())

    def _rows(self, ids: list[str]) -> dict[str, ChunkRow]:
        """The chunks by id: this data folder's from the manifest, and on a shared Chroma
        server the other clients' from what they stored with their vectors."""
        rows = self.manifest.chunks(ids)
        rows.update(self.store.shared_rows(self.collection, [c for c in ids if c not in rows]))
        return rows

    def _fuse(
        self,
        mode: Mode,
        dense: list[str],
        similarities: dict[str, float],
        lexical: dict[str, float],
    ) -> dict[str, float]:
        if mode == "dense":
            return {cid: similarities[cid] for cid in dense}
        if mode == "lexical":
            return lexical
        if self.fusion == "rrf":
            by_score = sorted(lexical, key=lambda cid: lexical[cid], reverse=True)
            return rrf([dense, by_score])
        return convex(similarities, lexical, self.dense_weight)

    def _rerank(self, query: str, candidates: list[str], fused: dict[str, float]) -> list[str]:
        """Order candidates by the cross-encoder; its score replaces the fused one."""
        assert self.reranker is not None
        rows = self._rows(candidates)
        present = [cid for cid in candidates if cid in rows]
        scores = self.reranker.scores(query, [rows[cid].text for cid in present])
        fused.update(zip(present, scores, strict=True))
        return sorted(present, key=lambda cid: fused[cid], reverse=True)

    def _dense(self, vector: np.ndarray, depth: int, only: Allowed | None) -> list[VectorHit]:
        if only is None:
            return self.store.query(self.collection, vector, depth)
        if not only.chunk_ids:
            return []
        if len(only.contents) <= MAX_IN_FILTER:
            where = {"content": {"$in": sorted(h[:20] for h in only.contents)}}
            return self.store.query(self.collection, vector, depth, where)
        # Too many files for a metadata filter: fetch deeper and keep the allowed ones.
        hits = self.store.query(self.collection, vector, depth * 8)
        return [h for h in hits if h.chunk_id in only.chunk_ids][:depth]
