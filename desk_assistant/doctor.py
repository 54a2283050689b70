"""Consistency checks across the manifest, the vector store and the lexical index.

The manifest is the source of truth. The vector store must hold exactly one vector per
manifest chunk; the BM25 index must index exactly the manifest's chunks; no write may be
left half-done. On a Chroma server shared with other clients only the vectors this data
folder wrote are compared: another client's vectors are never counted as orphans.
Every problem found can be repaired from the manifest alone: missing
vectors are re-embedded from the stored chunk text (no file is re-read), extra vectors
are deleted, the lexical index is rebuilt.
"""

from __future__ import annotations

import sqlite3

from desk_assistant.indexing import Indexer
from desk_assistant.manifest import Manifest
from desk_assistant.parts import Parts
from desk_assistant.records import Finding, HealthReport
from desk_assistant.store import VectorChunk

_BATCH = 256


def check_collection(parts: Parts, collection: str, *, repair: bool) -> HealthReport:
    """Compare the manifest with the vector store and the lexical index; with ``repair``,
    fix what differs. Heavy parts load only when needed (the embedder to re-embed)."""
    manifest, store = parts.manifest, parts.store
    checked: dict[str, int] = {}
    findings = _check_database(manifest)
    pending = len(manifest.pending())
    if pending:
        findings.append(
            Finding("journal", f"{pending} interrupted write(s) from a killed run", repair)
        )
        if repair:
            Indexer(parts).recover()
    expected = manifest.all_chunk_ids(collection)
    # On a shared server the vectors other clients wrote are theirs to check: this data
    # folder only compares (and deletes) the ones it wrote. Its vectors from before
    # vectors carried a writer count as missing and are written again, now tagged.
    stored = store.ids(collection, writer=parts.writer if store.shared else None)
    checked.update(chunks=len(expected), vectors=len(stored))
    if store.shared:
        checked["other_clients_vectors"] = store.count(collection) - len(stored)
    missing = sorted(expected - stored)
    extra = sorted(stored - expected)
    if missing:
        findings.append(Finding("vectors", f"{len(missing)} chunk(s) have no vector", repair))
        if repair:
            _reembed(parts, collection, missing)
    if extra:
        findings.append(
            Finding("vectors", f"{len(extra)} vector(s) belong to no chunk (orphans)", repair)
        )
        if repair:
            store.delete(collection, extra)
    orphans = manifest.orphans(collection)
    if orphans:
        findings.append(
            Finding("contents", f"{len(orphans)} indexed content(s) no file points at", repair)
        )
        if repair:
            Indexer(parts).collect(collection)
    findings += _check_lexical(parts, collection, expected, checked, repair=repair)
    return HealthReport(collection, checked, tuple(findings))


def _check_database(manifest: Manifest) -> list[Finding]:
    try:
        result = manifest.integrity_check()
    except sqlite3.DatabaseError as exc:
        result = str(exc)
    return [] if result == "ok" else [Finding("database", f"SQLite integrity check: {result}")]


def _check_lexical(
    parts: Parts, collection: str, expected: set[str], checked: dict[str, int], *, repair: bool
) -> list[Finding]:
    manifest = parts.manifest
    index = parts.lexical(collection)  # loads the saved index, or rebuilds it when stale
    indexed = index.chunk_ids()
    checked["lexical"] = len(indexed)
    if indexed == expected:
        return []
    if repair:
        index.rebuild(manifest.iter_terms(collection), manifest.generation(collection))
        index.save()
    differing = len(indexed ^ expected)
    return [
        Finding("lexical", f"BM25 index differs from the manifest ({differing} chunk(s))", repair)
    ]


def _reembed(parts: Parts, collection: str, ids: list[str]) -> None:
    for start in range(0, len(ids), _BATCH):
        rows = parts.manifest.chunk_rows(ids[start : start + _BATCH])
        vectors = parts.embedder.embed_documents([row.text for row in rows])
        records = [
            VectorChunk(r.content_hash, r.page, r.path, r.heading, r.start, r.end, r.text, r.terms)
            for r in rows
        ]
        parts.store.write_chunks(collection, [row.id for row in rows], vectors, records)
