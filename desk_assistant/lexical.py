"""An incremental BM25 index per collection, exact at every moment.

bm25s (the measured baseline) precomputes every document-term score, so any added or
removed chunk changes IDF and document-length norms everywhere and forces a full
rebuild: about a minute at 100,000 chunks on these machines. This index stores raw term
frequencies instead, in append-only segments (sparse, column-per-term), and computes the
Lucene BM25 formula bm25s uses at query time from live statistics:

    score(q, d) = sum over t in q of idf(t) * tf / (tf + k1 * (1 - b + b * len(d) / avgdl))
    idf(t) = ln(1 + (N - df(t) + 0.5) / (df(t) + 0.5))

Adding chunks appends a segment; removing marks rows dead; ``df`` is counted from the
live postings of the query's terms, so scores always equal a fresh rebuild's. Segments
are merged when there are many or many dead rows. The index is derived data: it is saved
with the manifest generation it reflects and rebuilt from the manifest's stored terms
(no re-tokenizing) whenever that generation does not match.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import tempfile
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from scipy import sparse

from ingest.analysis import analyze

K1 = 1.5  # bm25s defaults
B = 0.75
_MAX_SEGMENTS = 8
_MAX_DEAD_FRACTION = 0.25
_META = "index.json"


_STALE_SECONDS = 3600.0  # staging folders older than this were left by killed writers


def _sweep(parent: Path, name: str) -> None:
    """Delete staging and retired folders that killed writers left behind."""
    for leftover in parent.glob(f".{name}.*-*"):
        with contextlib.suppress(OSError):
            if time.time() - leftover.stat().st_mtime > _STALE_SECONDS:
                shutil.rmtree(leftover, ignore_errors=True)


@dataclass(frozen=True, slots=True)
class LexicalHit:
    chunk_id: str
    score: float


class _Segment:
    """Rows = chunks, columns = term ids; CSC arrays so a term's postings are one slice."""

    def __init__(
        self,
        ids: list[str],
        lengths: np.ndarray,
        indptr: np.ndarray,
        rows: np.ndarray,
        tfs: np.ndarray,
        alive: np.ndarray | None = None,
    ) -> None:
        self.ids = ids
        self.lengths = lengths
        self.indptr = indptr  # len = columns + 1
        self.rows = rows
        self.tfs = tfs
        self.alive = alive if alive is not None else np.ones(len(ids), dtype=bool)

    @property
    def columns(self) -> int:
        return len(self.indptr) - 1

    @property
    def live(self) -> int:
        return int(self.alive.sum())

    @classmethod
    def build(cls, ids: list[str], term_ids: list[list[int]], vocabulary: int) -> _Segment:
        rows: list[int] = []
        cols: list[int] = []
        tfs: list[int] = []
        lengths = np.zeros(len(ids), dtype=np.int32)
        for row, terms in enumerate(term_ids):
            lengths[row] = len(terms)
            for term, tf in Counter(terms).items():
                rows.append(row)
                cols.append(term)
                tfs.append(tf)
        matrix = sparse.csc_matrix(
            (np.asarray(tfs, dtype=np.float32), (np.asarray(rows), np.asarray(cols))),
            shape=(len(ids), vocabulary),
        )
        return cls.from_matrix(ids, lengths, matrix)

    @classmethod
    def from_matrix(cls, ids: list[str], lengths: np.ndarray, matrix: Any) -> _Segment:
        matrix = sparse.csc_matrix(matrix)
        matrix.sort_indices()
        return cls(
            ids,
            lengths,
            matrix.indptr.astype(np.int64),
            matrix.indices.astype(np.int32),
            matrix.data.astype(np.float32),
        )

    def live_matrix(self, vocabulary: int) -> tuple[list[str], np.ndarray, Any]:
        """The live rows as a (rows x vocabulary) sparse matrix, for merging."""
        matrix = sparse.csc_matrix(
            (self.tfs, self.rows, self.indptr), shape=(len(self.ids), self.columns)
        )
        matrix.resize((len(self.ids), vocabulary))
        keep = np.flatnonzero(self.alive)
        ids = [self.ids[row] for row in keep]
        return ids, self.lengths[keep], sparse.csr_matrix(matrix)[keep]

    def postings(self, term: int) -> tuple[np.ndarray, np.ndarray]:
        if term >= self.columns:
            return np.empty(0, dtype=np.int32), np.empty(0, dtype=np.float32)
        start, end = self.indptr[term], self.indptr[term + 1]
        rows, tfs = self.rows[start:end], self.tfs[start:end]
        keep = self.alive[rows]
        return rows[keep], tfs[keep]


def _idf(live: int, df: int) -> float:
    return float(np.log(1.0 + (live - df + 0.5) / (df + 0.5)))


class LexicalIndex:
    """BM25 over one collection's chunks, updated in place as sources change."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.generation: int | None = None
        self._vocab: dict[str, int] = {}
        self._segments: list[_Segment] = []
        self._where: dict[str, tuple[_Segment, int]] = {}  # chunk id -> (segment, row)

    # state ---------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._where)

    def chunk_ids(self) -> set[str]:
        return set(self._where)

    def _term_ids(self, terms: Iterable[str], *, grow: bool) -> list[int]:
        ids = []
        for term in terms:
            known = self._vocab.get(term)
            if known is None and grow:
                known = self._vocab[term] = len(self._vocab)
            if known is not None:
                ids.append(known)
        return ids

    def add(self, chunks: Sequence[tuple[str, str]]) -> None:
        """Index ``(chunk id, space-separated terms)``; a known id is replaced."""
        if not chunks:
            return
        self.remove([cid for cid, _ in chunks if cid in self._where])
        ids = [cid for cid, _ in chunks]
        term_ids = [self._term_ids(terms.split(), grow=True) for _, terms in chunks]
        self._append(_Segment.build(ids, term_ids, len(self._vocab)))
        self._maybe_merge()

    def _append(self, segment: _Segment) -> None:
        self._segments.append(segment)
        self._where.update(
            (cid, (segment, row))
            for row, (cid, alive) in enumerate(zip(segment.ids, segment.alive, strict=True))
            if alive
        )

    def remove(self, chunk_ids: Iterable[str]) -> None:
        for cid in chunk_ids:
            where = self._where.pop(cid, None)
            if where is not None:
                where[0].alive[where[1]] = False
        self._maybe_merge()

    def _maybe_merge(self) -> None:
        """Tiered merging: the smallest segments merge into one when there are too many, so
        each chunk is rewritten O(log n) times; a segment with many dead rows is rewritten
        on its own (compaction)."""
        if len(self._segments) > _MAX_SEGMENTS:
            by_size = sorted(self._segments, key=lambda s: s.live)
            self._merge(by_size[: _MAX_SEGMENTS // 2 + 1])
        for segment in list(self._segments):
            rows = len(segment.ids)
            if rows and (rows - segment.live) / rows > _MAX_DEAD_FRACTION:
                self._merge([segment])

    def _merge(self, group: list[_Segment]) -> None:
        """Replace ``group`` by one segment of its live rows (vectorised, no re-analysis)."""
        parts = [s.live_matrix(len(self._vocab)) for s in group]
        ids = [cid for part_ids, _, _ in parts for cid in part_ids]
        self._segments = [s for s in self._segments if not any(s is g for g in group)]
        if ids:
            lengths = np.concatenate([part_lengths for _, part_lengths, _ in parts])
            matrix = sparse.vstack([part_matrix for _, _, part_matrix in parts])
            self._append(_Segment.from_matrix(ids, lengths, matrix))

    def rebuild(self, chunks: Iterable[tuple[str, str, str]], generation: int) -> None:
        """Start over from ``(chunk id, terms, text)``; text is analysed only if terms are
        missing (chunks stored before terms were kept)."""
        self._vocab, self._segments, self._where = {}, [], {}
        batch: list[tuple[str, str]] = []
        for chunk_id, terms, text in chunks:
            batch.append((chunk_id, terms or " ".join(analyze(text))))
        self.add(batch)
        if len(self._segments) > 1:
            self._merge(list(self._segments))
        self.generation = generation

    # search --------------------------------------------------------------------------

    def search(self, query: str, k: int, allowed: set[str] | None = None) -> list[LexicalHit]:
        """Top ``k`` chunks by BM25; ``allowed`` restricts the candidates (filters)."""
        terms = Counter(self._term_ids(analyze(query), grow=False))
        live = len(self._where)
        if not terms or not live:
            return []
        total_length = sum(int(s.lengths[s.alive].sum()) for s in self._segments)
        average = max(total_length / live, 1e-9)
        postings = [[s.postings(t) for s in self._segments] for t in terms]
        scores = [np.zeros(len(s.ids), dtype=np.float32) for s in self._segments]
        for repeats, per_segment in zip(terms.values(), postings, strict=True):
            df = sum(len(rows) for rows, _ in per_segment)
            if df == 0:
                continue
            idf = _idf(live, df)
            for segment, score, (rows, tfs) in zip(
                self._segments, scores, per_segment, strict=True
            ):
                norm = K1 * (1.0 - B + B * segment.lengths[rows] / average)
                score[rows] += repeats * idf * tfs / (tfs + norm)
        return self._top(scores, k, allowed)

    def term_weights(self, terms: Iterable[str]) -> dict[str, float]:
        """Each analysed term's IDF in this collection; a term no chunk contains gets the
        highest weight there is (a question about something absent)."""
        live = len(self._where)
        weights = {}
        for term in set(terms):
            known = self._vocab.get(term)
            df = sum(len(s.postings(known)[0]) for s in self._segments) if known is not None else 0
            weights[term] = _idf(live, df)
        return weights

    def _top(self, scores: list[np.ndarray], k: int, allowed: set[str] | None) -> list[LexicalHit]:
        candidates: list[tuple[float, str]] = []
        for segment, score in zip(self._segments, scores, strict=True):
            ranked = score
            if allowed is not None:
                mask = np.fromiter((cid in allowed for cid in segment.ids), dtype=bool)
                ranked = np.where(mask, score, 0.0)
            hits = np.flatnonzero(ranked > 0)
            if len(hits) > k:
                hits = hits[np.argpartition(-ranked[hits], k - 1)[:k]]
            candidates.extend((float(ranked[row]), segment.ids[row]) for row in hits)
        candidates.sort(key=lambda item: (-item[0], item[1]))
        return [LexicalHit(cid, value) for value, cid in candidates[:k]]

    # persistence ---------------------------------------------------------------------

    def save(self) -> None:
        """Write the index atomically (new folder, then rename) with its generation.

        Several writers may save the same collection's index at once (the window's lanes,
        another process that rebuilt it): every staging and retired folder has a name of
        its own, and a save that finds another's index put in place first keeps that one
        (both describe a committed manifest; the loader checks the generation).
        """
        if self.generation is None:
            return
        parent, name = self.folder.parent, self.folder.name
        parent.mkdir(parents=True, exist_ok=True)
        _sweep(parent, name)
        staging = Path(tempfile.mkdtemp(dir=parent, prefix=f".{name}.new-"))
        token = secrets.token_hex(8)  # ties the files of one save together
        vocab = sorted(self._vocab, key=self._vocab.__getitem__)
        segments = []
        for number, s in enumerate(self._segments):
            np.savez(
                staging / f"segment-{number}.npz",
                lengths=s.lengths,
                indptr=s.indptr,
                rows=s.rows,
                tfs=s.tfs,
                alive=s.alive,
                token=np.array(token),
            )
            segments.append(s.ids)
        meta = {"generation": self.generation, "vocab": vocab, "segments": segments, "token": token}
        (staging / _META).write_text(json.dumps(meta), encoding="utf-8")
        retired = parent / f".{name}.old-{os.getpid()}-{token}"
        with contextlib.suppress(FileNotFoundError):
            self.folder.rename(retired)
        try:
            staging.rename(self.folder)
        except OSError:  # another writer's index took the place in between: keep it
            shutil.rmtree(staging, ignore_errors=True)
        shutil.rmtree(retired, ignore_errors=True)

    def load(self) -> bool:
        """Read the saved index; False when there is none or it is unreadable."""
        try:
            meta: dict[str, Any] = json.loads((self.folder / _META).read_text(encoding="utf-8"))
            segments = []
            for number, ids in enumerate(meta["segments"]):
                with np.load(self.folder / f"segment-{number}.npz") as arrays:
                    if str(arrays["token"]) != meta["token"]:
                        return False  # the folder was replaced while it was being read
                    segments.append(
                        _Segment(
                            list(ids),
                            *(arrays[key] for key in ("lengths", "indptr", "rows", "tfs", "alive")),
                        )
                    )
        except (OSError, ValueError, KeyError):
            return False
        self._vocab = {term: number for number, term in enumerate(meta["vocab"])}
        self._segments, self._where = [], {}
        for segment in segments:
            self._append(segment)
        self.generation = int(meta["generation"])
        return True
