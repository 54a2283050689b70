"""Hybrid retrieval: dense (Chroma) and lexical (BM25) rankings fused by reciprocal rank.

Dense search finds paraphrases, BM25 finds rare names and exact terms; RRF combines the
two rankings without needing their scores to be comparable.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

import numpy as np

from desk_assistant.backends.embeddings import Embedder
from desk_assistant.lexical import LexicalIndex
from desk_assistant.manifest import Manifest
from desk_assistant.records import Passage
from desk_assistant.store import ChromaStore, VectorHit

Mode = Literal["hybrid", "dense", "lexical"]
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
    best_similarity: float | None  # highest dense cosine similarity seen, for abstention


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
    ) -> None:
        self.manifest = manifest
        self.store = store
        self.lexical = lexical
        self.embedder = embedder
        self.collection = collection
        self.reranker = reranker
        self.rerank_depth = rerank_depth

    def search(
        self, query: str, k: int, *, mode: Mode = "hybrid", only: Allowed | None = None
    ) -> RetrievalResult:
        """The ``k`` best chunks; ``only`` restricts them to some chunks (filters)."""
        depth = max(50, 4 * k)  # fuse deeper lists than we return: RRF needs the overlap
        similarities: dict[str, float] = {}
        rankings: list[list[str]] = []
        vector = self.embedder.embed_query(query)
        if mode in ("hybrid", "dense"):
            hits = self._dense(vector, depth, only)
            similarities = {h.chunk_id: h.similarity for h in hits}
            rankings.append([h.chunk_id for h in hits])
        if mode in ("hybrid", "lexical"):
            allowed = only.chunk_ids if only is not None else None
            rankings.append([h.chunk_id for h in self.lexical.search(query, depth, allowed)])
        fused = rrf(rankings)
        ranked = sorted(fused, key=lambda cid: fused[cid], reverse=True)
        if self.reranker is not None:
            ranked = self._rerank(query, ranked[: max(k, self.rerank_depth)], fused)
        top = ranked[:k]
        # Lexical-only hits get a similarity too, so every passage can be judged on the
        # same scale when deciding what is relevant enough to show the model.
        missing = [cid for cid in top if cid not in similarities]
        similarities.update(self.store.similarities(self.collection, missing, vector))
        rows = self.manifest.chunks(top)
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
            if cid in rows  # a vector whose manifest row is gone is an orphan: ignore it
        ]
        best = max(similarities.values(), default=None)
        return RetrievalResult(passages, best)

    def _rerank(self, query: str, candidates: list[str], fused: dict[str, float]) -> list[str]:
        """Order candidates by the cross-encoder; its score replaces the fused one."""
        assert self.reranker is not None
        rows = self.manifest.chunks(candidates)
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
