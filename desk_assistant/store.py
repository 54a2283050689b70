"""The vector store: Chroma, embedded (``PersistentClient``) or a server (``HttpClient``).

Only ids, vectors and a little metadata live here; texts and provenance live in the
manifest. Chroma never embeds anything itself (no embedding function is attached), so
it never reaches for its downloadable default model, and its telemetry is off.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import numpy as np

from desk_assistant.errors import StoreError
from desk_assistant.offline import enforce_offline

_BATCH = 2000  # below Chroma's max batch size on every backend


@dataclass(frozen=True, slots=True)
class VectorHit:
    chunk_id: str
    similarity: float  # cosine similarity, 1.0 = identical direction


def chunk_metadata(content_hash: str, page: int | None) -> dict[str, str | int | float]:
    """What Chroma keeps beside a vector: enough to filter on, nothing that can go stale
    (paths live in the manifest, since a renamed file keeps its vectors)."""
    return {"content": content_hash[:20], **({"page": page} if page else {})}


def chroma_collection_name(collection: str) -> str:
    """A Chroma-legal name (3-63 chars, [a-zA-Z0-9._-]) that is unique per collection."""
    slug = re.sub(r"[^a-zA-Z0-9_-]+", "-", collection).strip("-_")[:40] or "c"
    digest = hashlib.sha1(collection.encode("utf-8")).hexdigest()[:8]
    return f"da-{slug}-{digest}"


class ChromaStore:
    """Dense vectors per collection, cosine space."""

    def __init__(self, path: Path, url: str | None = None) -> None:
        enforce_offline()  # before the import: chromadb reads the telemetry flag once
        import chromadb
        from chromadb.config import Settings as ChromaSettings

        settings = ChromaSettings(anonymized_telemetry=False, allow_reset=False)
        try:
            if url:
                parsed = urlparse(url)
                self._client = chromadb.HttpClient(
                    host=parsed.hostname or "localhost",
                    port=parsed.port or (443 if parsed.scheme == "https" else 8000),
                    ssl=parsed.scheme == "https",
                    settings=settings,
                )
            else:
                path.mkdir(parents=True, exist_ok=True)
                self._client = chromadb.PersistentClient(path=str(path), settings=settings)
        except Exception as exc:  # chromadb raises many unrelated types here
            where = url or str(path)
            raise StoreError(f"Cannot open the vector store at {where}: {exc}") from exc
        self._collections: dict[str, Any] = {}

    def _collection(self, collection: str) -> Any:
        if collection not in self._collections:
            self._collections[collection] = self._client.get_or_create_collection(
                chroma_collection_name(collection),
                configuration={"hnsw": {"space": "cosine"}},
                embedding_function=None,
                metadata={"desk_assistant_collection": collection},
            )
        return self._collections[collection]

    def upsert(
        self,
        collection: str,
        ids: Sequence[str],
        vectors: np.ndarray,
        metadatas: Sequence[Mapping[str, str | int | float]],
    ) -> None:
        target = self._collection(collection)
        for start in range(0, len(ids), _BATCH):
            end = start + _BATCH
            target.upsert(
                ids=list(ids[start:end]),
                embeddings=vectors[start:end],
                metadatas=[dict(m) for m in metadatas[start:end]],
            )

    def delete(self, collection: str, ids: Sequence[str]) -> None:
        if not ids:
            return
        target = self._collection(collection)
        for start in range(0, len(ids), _BATCH):
            target.delete(ids=list(ids[start : start + _BATCH]))

    def query(
        self,
        collection: str,
        vector: np.ndarray,
        k: int,
        where: Mapping[str, Any] | None = None,
    ) -> list[VectorHit]:
        target = self._collection(collection)
        count = target.count()
        if count == 0:
            return []
        result = target.query(
            query_embeddings=[vector],
            n_results=min(k, count),
            where=dict(where) if where else None,
            include=["distances"],
        )
        ids = result["ids"][0]
        distances = result["distances"][0]
        return [VectorHit(cid, 1.0 - float(d)) for cid, d in zip(ids, distances, strict=True)]

    def similarities(
        self, collection: str, ids: Sequence[str], vector: np.ndarray
    ) -> dict[str, float]:
        """Cosine similarity of stored vectors to ``vector`` (both are unit length)."""
        if not ids:
            return {}
        found = self._collection(collection).get(ids=list(ids), include=["embeddings"])
        stored = np.asarray(found["embeddings"], dtype=np.float32)
        if stored.size == 0:
            return {}
        scores = stored @ np.asarray(vector, dtype=np.float32)
        return {cid: float(score) for cid, score in zip(found["ids"], scores, strict=True)}

    def ids(self, collection: str) -> set[str]:
        target = self._collection(collection)
        found: set[str] = set()
        offset = 0
        while True:
            page = target.get(include=[], limit=_BATCH, offset=offset)
            found.update(page["ids"])
            if len(page["ids"]) < _BATCH:
                return found
            offset += _BATCH

    def count(self, collection: str) -> int:
        return int(self._collection(collection).count())

    def rename(self, old: str, new: str) -> None:
        names = {c.name for c in self._client.list_collections()}
        self._collections.pop(old, None)
        self._collections.pop(new, None)
        if chroma_collection_name(new) in names:
            # Left behind by an earlier crash or a dropped manifest: only an empty one is
            # safe to replace.
            if self._client.get_collection(chroma_collection_name(new)).count():
                raise StoreError(
                    f"the vector store already holds vectors for a collection named '{new}'; "
                    "run 'desk-assistant doctor' or choose another name"
                )
            self._client.delete_collection(chroma_collection_name(new))
        if chroma_collection_name(old) in names:
            self._client.get_collection(chroma_collection_name(old)).modify(
                name=chroma_collection_name(new), metadata={"desk_assistant_collection": new}
            )

    def drop(self, collection: str) -> None:
        name = chroma_collection_name(collection)
        self._collections.pop(collection, None)
        if name in {c.name for c in self._client.list_collections()}:
            self._client.delete_collection(name)
