"""Consistency checks across the manifest, the vector store and the lexical index, and
repairs of a damaged or lost one from the others.

The manifest is the source of truth for what should be indexed; the vector store keeps,
beside every vector, enough to rebuild the manifest's rows (text, position, the files of
each content); the record file keeps the collections, followed folders and exclusions.
So a repair never loses what cannot be rebuilt:

- a damaged manifest is moved aside (``damaged/``) and rebuilt from the vector store and
  the record; one that lost collections (deleted, emptied) gets them back the same way;
- a damaged vector store is moved aside and rebuilt by embedding the manifest's stored
  passages again (no file is re-read);
- a damaged chat history is moved aside and every chat that can still be read is copied
  into a new one;
- vectors the manifest does not know are restored into it when they carry their text
  and files, and deleted only when they cannot be (an older version's, with the manifest
  otherwise whole): never every vector because the manifest is empty;
- on a Chroma server shared with other clients only the vectors this data folder wrote
  are compared, restored or deleted: another client's vectors are never orphans;
- missing vectors are embedded again, stale metadata beside vectors is rewritten, the
  lexical index is rebuilt.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from pathlib import Path

from desk_assistant.chats import ChatStore
from desk_assistant.errors import DamagedStore
from desk_assistant.indexing import Indexer, vector_metadata
from desk_assistant.manifest import Manifest, read_record
from desk_assistant.parts import Parts
from desk_assistant.records import Finding, HealthReport
from desk_assistant.restore import collections_in_store, move_aside, rebuild, restore_contents
from desk_assistant.store import VectorRecord

_BATCH = 256
_BACKUP_KEYS = ("hash", "text")  # what a vector keeps so that a lost manifest is rebuilt


# the data folder ------------------------------------------------------------------------


def check_data_folder(parts: Parts, *, repair: bool) -> list[Finding]:
    """The databases of the data folder: damaged, or lost collections; with ``repair``,
    moved aside and rebuilt. Runs before the per-collection checks, which need them."""
    findings = _check_manifest(parts, repair=repair)
    findings += _check_chats(parts, repair=repair)
    return findings


def _check_manifest(parts: Parts, *, repair: bool) -> list[Finding]:
    try:
        verdict = parts.manifest.integrity_check()
    except DamagedStore as exc:
        verdict = str(exc.__cause__ or exc)
    if verdict != "ok":
        finding = f"the index database {parts.paths.manifest} is damaged ({verdict})"
        if not repair:
            return [Finding("database", finding)]
        parts.close_stores()
        kept = move_aside(parts.paths.manifest, parts.paths.home)
        restored = rebuild(parts)
        return [
            Finding(
                "database",
                f"{finding}; moved to {kept} and rebuilt from the vector store and the "
                f"record: {restored.describe()}",
                True,
            )
        ]
    return _check_lost_collections(parts, repair=repair)


def _check_lost_collections(parts: Parts, *, repair: bool) -> list[Finding]:
    """Collections the vector store or the record holds that the manifest lost."""
    known = {c.name for c in parts.manifest.collections()}
    recorded = {c["name"] for c in read_record(parts.paths.home)}
    in_store = set(_collections_in_store(parts))
    lost = sorted((in_store | (recorded if not known else set())) - known)
    if not lost:
        return []
    names = ", ".join(f"'{name}'" for name in lost)
    problem = f"the index database has lost the collection(s) {names}"
    if not repair:
        return [Finding("collections", f"{problem}; they can be rebuilt from the vector store")]
    restored = rebuild(parts, lost)
    return [Finding("collections", f"{problem}; rebuilt: {restored.describe()}", True)]


def _collections_in_store(parts: Parts) -> list[str]:
    try:
        return list(collections_in_store(parts, read_record(parts.paths.home)))
    except DamagedStore:
        return []  # the collection checks report it, and replace the store


def _check_chats(parts: Parts, *, repair: bool) -> list[Finding]:
    path = parts.paths.home / "chats.sqlite3"
    if not path.exists():
        return []
    try:
        verdict = parts.chats.integrity_check()
    except DamagedStore as exc:
        verdict = str(exc.__cause__ or exc)
    if verdict == "ok":
        return []
    finding = f"the chat history {path} is damaged ({verdict})"
    if not repair:
        return [Finding("chats", finding)]
    parts.close_chats()
    kept = move_aside(path, parts.paths.home)
    saved = _salvage_chats(kept, parts.chats)
    return [Finding("chats", f"{finding}; moved to {kept}, {saved} readable chat(s) kept", True)]


def _salvage_chats(damaged: Path, into: ChatStore) -> int:
    """Copy every chat (and its messages) that can still be read into a new history."""
    try:
        old = sqlite3.connect(f"file:{damaged}?mode=ro", uri=True)
    except sqlite3.DatabaseError:
        return 0
    try:
        return sum(into.copy_chat(old, chat_id) for chat_id in _readable_ids(old))
    finally:
        old.close()


def _readable_ids(db: sqlite3.Connection, lookahead: int = 1000) -> list[int]:
    """The chat ids that can be read: a scan up to the first damaged page, then single
    lookups past it (a damaged page costs the rows on it, not the ones after it)."""
    found: list[int] = []
    try:
        for (chat_id,) in db.execute("SELECT id FROM chats ORDER BY id"):
            found.append(int(chat_id))
        return found
    except sqlite3.DatabaseError:
        pass
    misses, candidate = 0, (found[-1] if found else 0) + 1
    while misses < lookahead:
        try:
            row = db.execute("SELECT id FROM chats WHERE id = ?", (candidate,)).fetchone()
        except sqlite3.DatabaseError:
            row = None
        if row is None:
            misses += 1
        else:
            found.append(candidate)
            misses = 0
        candidate += 1
    return found


# one collection -------------------------------------------------------------------------


def check_collection(parts: Parts, collection: str, *, repair: bool) -> HealthReport:
    """Compare the manifest with the vector store and the lexical index; with ``repair``,
    fix what differs. Heavy parts load only when needed (the embedder to re-embed)."""
    manifest = parts.manifest
    checked: dict[str, int] = {}
    findings: list[Finding] = []
    pending = len(manifest.pending())
    if pending:
        findings.append(
            Finding("journal", f"{pending} interrupted write(s) from a killed run", repair)
        )
        if repair:
            Indexer(parts).recover()
    stored, damaged = _stored(parts, collection, repair=repair)
    findings += damaged
    if damaged and not repair:
        return HealthReport(collection, checked, tuple(findings))
    findings += _check_extra(parts, collection, stored, repair=repair)
    expected = manifest.all_chunk_ids(collection)
    checked.update(chunks=len(expected), vectors=len(stored))
    if parts.store.shared:
        checked["other_clients_vectors"] = parts.store.count(collection) - len(stored)
    missing = sorted(expected - set(stored))
    if missing:
        findings.append(Finding("vectors", f"{len(missing)} chunk(s) have no vector", repair))
        if repair:
            _reembed(parts, collection, missing)
    findings += _check_metadata(parts, collection, stored, expected, repair=repair)
    orphans = manifest.orphans(collection)
    if orphans:
        findings.append(
            Finding("contents", f"{len(orphans)} indexed content(s) no file points at", repair)
        )
        if repair:
            Indexer(parts).collect(collection)
    findings += _check_lexical(
        parts, collection, manifest.all_chunk_ids(collection), checked, repair=repair
    )
    return HealthReport(collection, checked, tuple(findings))


def _own_vectors(parts: Parts) -> str | None:
    """The writer whose vectors this data folder checks: itself on a shared server (the
    others' are theirs), anyone's in its own store."""
    return parts.writer if parts.settings.chroma_url else None


def _stored(
    parts: Parts, collection: str, *, repair: bool
) -> tuple[dict[str, VectorRecord], list[Finding]]:
    """The collection's vectors with their metadata; a damaged store is reported and, with
    ``repair``, moved aside (the missing vectors are then embedded again)."""
    # On a shared server the vectors other clients wrote are theirs to check: this data
    # folder only compares (and restores or deletes) the ones it wrote. Its vectors from
    # before vectors carried a writer count as missing and are written again, now tagged.
    try:
        return {
            v.chunk_id: v for v in parts.store.stored(collection, writer=_own_vectors(parts))
        }, []
    except DamagedStore as exc:
        problem = str(exc).split(". Nothing is lost")[0]
        if not repair:
            return {}, [Finding("vectors", problem)]
        parts.close_store()
        kept = move_aside(parts.paths.chroma, parts.paths.home)
        note = f"{problem}; moved to {kept}, every passage is embedded again"
        return {}, [Finding("vectors", note, True)]


def _check_extra(
    parts: Parts, collection: str, stored: dict[str, VectorRecord], *, repair: bool
) -> list[Finding]:
    """Vectors the manifest does not know: restored into it when they carry their text and
    files (the manifest lost them), deleted when they cannot be and the manifest is whole
    otherwise, kept (and reported) when the manifest knows nothing else either."""
    manifest = parts.manifest
    known = manifest.all_chunk_ids(collection)
    extra = [stored[cid] for cid in stored if cid not in known]
    if not extra:
        return []
    if not repair:
        return [Finding("vectors", f"{len(extra)} vector(s) belong to no chunk the index knows")]
    documents, chunks, unrestorable = restore_contents(manifest, collection, extra)
    findings = []
    if chunks:
        findings.append(
            Finding(
                "vectors",
                f"{chunks} vector(s) the index had lost: {documents} document(s) restored",
                True,
            )
        )
    if unrestorable:
        restored_ids = manifest.all_chunk_ids(collection)
        leftover = [v.chunk_id for v in extra if v.chunk_id not in restored_ids]
        if known:
            parts.store.delete(collection, leftover)
            findings.append(Finding("vectors", f"{len(leftover)} orphan vector(s) deleted", True))
        else:
            findings.append(
                Finding(
                    "vectors",
                    f"{len(leftover)} vector(s) from an older version carry no text to rebuild "
                    "the index from; kept (add their folders again to index them)",
                    True,
                )
            )
        for cid in leftover:
            stored.pop(cid, None)
    return findings


def _check_metadata(
    parts: Parts,
    collection: str,
    stored: dict[str, VectorRecord],
    expected: set[str],
    *,
    repair: bool,
) -> list[Finding]:
    """Each vector must keep its chunk's text and each content's first one its files, or a
    lost manifest could not be rebuilt (vectors from before that, stale after a crash)."""
    manifest = parts.manifest
    present = [cid for cid in expected if cid in stored]
    bare = [cid for cid in present if not all(k in stored[cid].metadata for k in _BACKUP_KEYS)]
    stale = _stale_headers(manifest, stored, present)
    findings = []
    if bare:
        findings.append(
            Finding(
                "metadata",
                f"{len(bare)} vector(s) lack the passage text that would rebuild a lost index",
                repair,
            )
        )
    if stale:
        findings.append(
            Finding(
                "metadata",
                f"{len(stale)} document(s) list outdated files in the vector store",
                repair,
            )
        )
    if repair and (bare or stale):
        describe_vectors(parts, collection, sorted(set(bare) | set(stale)))
    return findings


def describe_vectors(parts: Parts, collection: str, ids: list[str]) -> None:
    """Write beside each vector of ``ids`` what rebuilds its manifest rows (no embedding)."""
    for start in range(0, len(ids), _BATCH):
        batch = ids[start : start + _BATCH]
        described = vector_metadata(parts.manifest, collection, batch, shared=parts.store.shared)
        parts.store.annotate(collection, list(described), list(described.values()))


def upgrade_data_folder(parts: Parts) -> int:
    """A data folder an older version wrote has no record file and vectors without their
    text: write the one and add the other (once), so that from now on a lost manifest can
    be rebuilt. Returns the number of vectors described."""
    manifest = parts.manifest
    manifest.save_record()
    described = 0
    for collection in manifest.collections():
        ours = parts.store.ids(collection.name, writer=_own_vectors(parts))
        ids = sorted(manifest.all_chunk_ids(collection.name) & ours)
        describe_vectors(parts, collection.name, ids)
        described += len(ids)
    return described


def _stale_headers(
    manifest: Manifest, stored: dict[str, VectorRecord], present: Iterable[str]
) -> list[str]:
    firsts = {cid for cid in present if stored[cid].metadata.get("ord") == 0}
    rows = {row.id: row.content_id for row in manifest.chunk_rows(sorted(firsts))}
    facts = manifest.content_facts(set(rows.values()))
    stale = []
    for cid, content_id in rows.items():
        kept = stored[cid].metadata.get("sources")
        paths = {s["path"] for s in json.loads(kept)} if isinstance(kept, str) else None
        fact = facts.get(content_id)
        if fact is not None and paths != {s["path"] for s in fact.sources}:
            stale.append(cid)
    return stale


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
        batch = ids[start : start + _BATCH]
        described = vector_metadata(parts.manifest, collection, batch, shared=parts.store.shared)
        rows = parts.manifest.chunk_rows(list(described))
        vectors = parts.embedder.embed_documents([row.chunk.text for row in rows])
        parts.store.upsert(
            collection, [row.id for row in rows], vectors, [described[row.id] for row in rows]
        )
