"""Consistency checks across the manifest, the vector store and the lexical index.

The manifest is the source of truth. The vector store must hold exactly one vector per
manifest chunk; the BM25 index must index exactly the manifest's chunks; no write may be
left half-done. Every problem found can be repaired from the manifest alone: missing
vectors are re-embedded from the stored chunk text (no file is re-read), extra vectors
are deleted, the lexical index is rebuilt.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from desk_assistant.manifest import Manifest
from desk_assistant.store import chunk_metadata

if TYPE_CHECKING:
    from desk_assistant.backends.embeddings import Embedder
    from desk_assistant.lexical import LexicalIndex
    from desk_assistant.store import ChromaStore


_BATCH = 256


@dataclass(slots=True)
class Finding:
    check: str
    problem: str
    repaired: bool = False

    def to_json(self) -> dict[str, Any]:
        return {"check": self.check, "problem": self.problem, "repaired": self.repaired}


@dataclass(slots=True)
class Report:
    collection: str
    checked: dict[str, int] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)

    @property
    def healthy(self) -> bool:
        return all(f.repaired for f in self.findings)

    def to_json(self) -> dict[str, Any]:
        return {
            "collection": self.collection,
            "healthy": self.healthy,
            "checked": self.checked,
            "findings": [f.to_json() for f in self.findings],
        }


def check_collection(
    collection: str,
    manifest: Manifest,
    store: ChromaStore,
    lexical: Callable[[], LexicalIndex],
    embedder: Embedder,
    *,
    repair: bool,
    recover: Callable[[], int],
    collect_garbage: Callable[[], int],
) -> Report:
    report = Report(collection)
    _check_database(manifest, report)
    pending = len(manifest.pending())
    if pending:
        report.findings.append(
            Finding("journal", f"{pending} interrupted write(s) from a killed run", repair)
        )
        if repair:
            recover()
    expected = manifest.all_chunk_ids(collection)
    stored = store.ids(collection)
    report.checked.update(chunks=len(expected), vectors=len(stored))
    missing = sorted(expected - stored)
    extra = sorted(stored - expected)
    if missing:
        report.findings.append(
            Finding("vectors", f"{len(missing)} chunk(s) have no vector", repair)
        )
        if repair:
            _reembed(collection, missing, manifest, store, embedder)
    if extra:
        report.findings.append(
            Finding("vectors", f"{len(extra)} vector(s) belong to no chunk (orphans)", repair)
        )
        if repair:
            store.delete(collection, extra)
    orphans = manifest.orphans(collection)
    if orphans:
        report.findings.append(
            Finding("contents", f"{len(orphans)} indexed content(s) no file points at", repair)
        )
        if repair:
            collect_garbage()
    _check_lexical(collection, manifest, lexical, expected, report, repair=repair)
    return report


def _check_database(manifest: Manifest, report: Report) -> None:
    try:
        result = manifest.integrity_check()
    except sqlite3.DatabaseError as exc:
        result = str(exc)
    if result != "ok":
        report.findings.append(Finding("database", f"SQLite integrity check: {result}"))


def _check_lexical(
    collection: str,
    manifest: Manifest,
    lexical: Callable[[], LexicalIndex],
    expected: set[str],
    report: Report,
    *,
    repair: bool,
) -> None:
    index = lexical()  # loads the saved index, or rebuilds it when it is stale
    indexed = index.chunk_ids()
    report.checked["lexical"] = len(indexed)
    if indexed != expected:
        report.findings.append(
            Finding(
                "lexical",
                f"BM25 index differs from the manifest ({len(indexed ^ expected)} chunk(s))",
                repair,
            )
        )
        if repair:
            index.rebuild(manifest.iter_terms(collection), manifest.generation(collection))
            index.save()


def _reembed(
    collection: str,
    ids: list[str],
    manifest: Manifest,
    store: ChromaStore,
    embedder: Embedder,
) -> None:
    for start in range(0, len(ids), _BATCH):
        rows = manifest.chunk_rows(ids[start : start + _BATCH])
        vectors = embedder.embed_documents([row.text for row in rows])
        metadatas = [chunk_metadata(row.content_hash, row.page) for row in rows]
        store.upsert(collection, [row.id for row in rows], vectors, metadatas)
