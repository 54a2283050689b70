"""A search over one collection: filters resolved against the manifest, then retrieval."""

from __future__ import annotations

from desk_assistant.parts import Parts
from desk_assistant.paths import absolute
from desk_assistant.rag.retrieval import Allowed, Mode, RetrievalResult
from desk_assistant.records import SearchFilter


def retrieve(
    parts: Parts,
    query: str,
    collection: str,
    k: int,
    mode: Mode = "hybrid",
    where: SearchFilter | None = None,
) -> RetrievalResult:
    """The ``k`` passages of ``collection`` that best match ``query``, within ``where``."""
    only = None
    if where:
        paths = tuple(absolute(p) for p in where.paths)
        folders = tuple(absolute(f) for f in where.folders)
        chunk_ids, contents = parts.manifest.filtered(collection, paths, folders, where.formats)
        only = Allowed(chunk_ids, contents)
    return parts.retriever(collection).search(query, k, mode=mode, only=only)
