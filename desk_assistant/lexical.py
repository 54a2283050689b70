"""The lexical (BM25) index of a collection, persisted beside the vector store.

bm25s scores with English stemming and stop-word removal. The index is derived data: it
is rebuilt from the manifest's chunk texts whenever the collection's generation counter
moved, and written atomically (new folder, then rename), so a crash leaves either the
old index or the new one, and a stale one is simply rebuilt.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

_META = "desk_assistant.json"


@dataclass(frozen=True, slots=True)
class LexicalHit:
    chunk_id: str
    score: float


class _Loaded:
    def __init__(self, retriever: Any, ids: list[str], generation: int) -> None:
        self.retriever = retriever
        self.ids = ids
        self.generation = generation


class LexicalIndex:
    """BM25 over one collection's chunks."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._loaded: _Loaded | None = None
        self._lock = threading.Lock()
        self._stemmer: Any = None

    def _tokenize(self, texts: list[str]) -> list[list[str]]:
        import bm25s
        import Stemmer

        if self._stemmer is None:
            self._stemmer = Stemmer.Stemmer("english")
        tokens: list[list[str]] = bm25s.tokenize(
            texts, stopwords="en", stemmer=self._stemmer, return_ids=False, show_progress=False
        )
        return tokens

    def stored_generation(self) -> int | None:
        meta = self.folder / _META
        if not meta.is_file():
            return None
        try:
            return int(json.loads(meta.read_text(encoding="utf-8"))["generation"])
        except (ValueError, KeyError, OSError):
            return None

    def rebuild(self, chunks: Iterable[tuple[str, str]], generation: int) -> None:
        """Index ``(chunk id, text)`` pairs and persist them as ``generation``."""
        import bm25s

        ids: list[str] = []
        texts: list[str] = []
        for chunk_id, text in chunks:
            ids.append(chunk_id)
            texts.append(text)
        retriever = bm25s.BM25()
        if texts:
            retriever.index(self._tokenize(texts), show_progress=False)
        self.folder.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(dir=self.folder.parent, prefix=".lexical-"))
        if texts:
            retriever.save(str(staging))
        (staging / _META).write_text(
            json.dumps({"generation": generation, "ids": ids}), encoding="utf-8"
        )
        with self._lock:
            retired = self.folder.with_name(self.folder.name + ".old")
            if retired.exists():
                shutil.rmtree(retired)
            if self.folder.exists():
                self.folder.rename(retired)
            staging.rename(self.folder)
            shutil.rmtree(retired, ignore_errors=True)
            self._loaded = _Loaded(retriever if texts else None, ids, generation)

    def _load(self) -> _Loaded | None:
        import bm25s

        generation = self.stored_generation()
        if generation is None:
            return None
        meta = json.loads((self.folder / _META).read_text(encoding="utf-8"))
        ids = list(meta["ids"])
        retriever = bm25s.BM25.load(str(self.folder), mmap=False) if ids else None
        return _Loaded(retriever, ids, generation)

    def is_current(self, generation: int) -> bool:
        loaded = self._loaded
        if loaded is not None:
            return loaded.generation == generation
        return self.stored_generation() == generation

    def search(self, query: str, k: int, mask_ids: set[str] | None = None) -> list[LexicalHit]:
        """Top ``k`` chunks for ``query``; ``mask_ids`` restricts the candidates."""
        with self._lock:
            if self._loaded is None:
                self._loaded = self._load()
            loaded = self._loaded
        if loaded is None or loaded.retriever is None or not loaded.ids:
            return []
        vocab = loaded.retriever.vocab_dict
        terms = [t for t in self._tokenize([query])[0] if t in vocab]
        if not terms:
            return []
        weight_mask = None
        if mask_ids is not None:
            weight_mask = np.fromiter((cid in mask_ids for cid in loaded.ids), dtype=bool)
            if not weight_mask.any():
                return []
        k = min(k, len(loaded.ids))
        docs, scores = loaded.retriever.retrieve(
            [terms], k=k, show_progress=False, n_threads=0, weight_mask=weight_mask
        )
        return [
            LexicalHit(loaded.ids[int(doc)], float(score))
            for doc, score in zip(docs[0], scores[0], strict=True)
            if score > 0
        ]
