"""The ingestion pipeline: scan, parse in sandboxed workers, embed, store, keep in sync.

Parsing runs in worker processes while this thread embeds (a two-stage pipeline), and
every store write follows the same protocol: journal the chunk ids, write the vectors,
commit the manifest (which drops the journal row), then mirror the change in the BM25
index. :func:`recover` undoes whatever a killed run left between those steps.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Generator, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from desk_assistant.manifest import Manifest
from desk_assistant.parts import Parts
from desk_assistant.records import FileOutcome, IngestEvent
from desk_assistant.store import Metadata, chunk_metadata, content_header
from ingest.loaders import is_supported
from ingest.progress import FileProgress
from ingest.sandbox import ParseFailure, ParseTask
from ingest.scan import NO_EXCLUDES, Excludes, ScanPlan, discover, plan
from ingest.types import FileEntry, ParsedDocument

if TYPE_CHECKING:
    from desk_assistant.lexical import LexicalIndex


def _source(entry: FileEntry) -> dict[str, str | int]:
    return {"path": entry.path, "root": entry.root, "size": entry.size, "mtime_ns": entry.mtime_ns}


def vector_metadata(
    manifest: Manifest, collection: str, ids: Sequence[str], *, shared: bool = False
) -> dict[str, Metadata]:
    """What the vector store keeps beside each of ``ids``, made from the manifest: the
    chunk's own metadata, and on each content's first chunk its header (its files); on a
    ``shared`` server also the chunk's path and terms."""
    model = manifest.embedding_model(collection)
    embedder = model[0] if model else ""
    rows = manifest.chunk_rows(ids)
    facts = manifest.content_facts({row.content_id for row in rows if row.chunk.index == 0})
    found: dict[str, Metadata] = {}
    for row in rows:
        data = chunk_metadata(row.content_hash, row.chunk, shared_path=row.path if shared else None)
        fact = facts.get(row.content_id) if row.chunk.index == 0 else None
        if fact is not None:
            data |= content_header(
                fmt=fact.format,
                pages=fact.pages,
                chunk_count=fact.chunk_count,
                indexed_at=fact.indexed_at,
                warnings=fact.warnings,
                sources=fact.sources,
                embedder=embedder,
            )
        found[row.id] = data
    return found


OUTCOMES = ("added", "updated", "unchanged", "removed", "failed", "skipped", "unavailable")


def chunk_id(collection: str, content_hash: str, index: int, writer: str) -> str:
    """Ids derive from the content, so writing the same content twice is an idempotent
    upsert and identical files share their chunks; and from the data folder that writes
    them, so two clients of a shared Chroma server never write, and so never delete,
    each other's vectors, even for the same file."""
    scope = hashlib.sha1(collection.encode("utf-8", "surrogatepass")).hexdigest()[:8]
    return f"{scope}-{writer}-{content_hash[:20]}-{index}"


@dataclass(slots=True)
class _Wanted:
    """One distinct content to parse, and every path (with its outcome) that shows it."""

    task: ParseTask
    entries: list[tuple[FileEntry, FileOutcome]] = field(default_factory=list)


@dataclass(slots=True)
class _Run:
    collection: str
    index: LexicalIndex | None
    total: int = 0
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(OUTCOMES, 0))
    done: int = 0
    # Contents whose files change in this run: their headers in the store are rewritten.
    relinked: set[int] = field(default_factory=set)

    def event(
        self,
        path: str,
        outcome: FileOutcome,
        reason: str | None = None,
        chunks: int = 0,
        pages: int | None = None,
        warnings: tuple[str, ...] = (),
    ) -> IngestEvent:
        self.counts[outcome] += 1
        if outcome in ("added", "updated", "failed"):
            self.done += 1
        return IngestEvent(
            "file",
            path=path,
            outcome=outcome,
            reason=reason,
            chunks=chunks,
            pages=pages,
            done=self.done,
            total=self.total,
            warnings=warnings,
        )


class Indexer:
    """Runs ingestion over the parts of one data folder (built there on first use)."""

    def __init__(self, parts: Parts) -> None:
        self.parts = parts
        self.max_file_bytes = parts.settings.max_file_bytes
        self.embed_batch = parts.settings.embed_batch_size

    @property
    def manifest(self) -> Manifest:
        return self.parts.manifest

    # the write protocol --------------------------------------------------------------

    def recover(self) -> int:
        """Undo vector writes a killed run never committed, then collect orphans.

        Called only by the holder of the data folder's writer lock: every writer that is
        alive has then finished its writes, so each journal row left is a dead one's.
        """
        pending = self.manifest.pending()
        for write in pending:
            committed = self.manifest.all_chunk_ids(write.collection)
            stray = [cid for cid in write.chunk_ids if cid not in committed]
            self.parts.store.delete(write.collection, stray)
            self.manifest.finish(write.journal_id)
        for collection in sorted({write.collection for write in pending}):
            self.collect_garbage(_Run(collection, index=None))
        return len(pending)

    def collect(self, collection: str) -> int:
        """Collect orphaned content of ``collection`` and save its lexical index."""
        run = _Run(collection, index=self.parts.lexical(collection))
        removed = self.collect_garbage(run)
        self._finish(run)
        return removed

    def collect_garbage(self, run: _Run) -> int:
        """Delete content that no path points at any more, from the store and the manifest."""
        orphans = self.manifest.orphans(run.collection)
        for orphan in orphans:
            journal = self.manifest.begin_write(run.collection, orphan.chunk_ids)
            self.parts.store.delete(run.collection, list(orphan.chunk_ids))
            self.manifest.drop_content(journal, run.collection, orphan.content_id)
            self._track(run, removed=orphan.chunk_ids)
        return len(orphans)

    def _track(
        self,
        run: _Run,
        *,
        removed: Iterable[str] = (),
        added: list[tuple[str, str]] | None = None,
    ) -> None:
        """Mirror a just-committed change in the lexical index (and tell the vector store
        its view is still current). When the manifest moved by more than this one change
        (another process wrote to it), the index is marked stale and rebuilt on its next
        use instead."""
        generation = self.manifest.generation(run.collection)
        self.parts.store.advanced(run.collection, generation)
        index = run.index
        if index is None or index.generation is None:
            return
        if generation != index.generation + 1:
            index.generation = None
            return
        index.remove(removed)
        index.add(added or [])
        index.generation = generation

    def _store(
        self, run: _Run, wanted: _Wanted, document: ParsedDocument, vectors: np.ndarray
    ) -> None:
        writer = self.parts.writer
        ids = [
            chunk_id(run.collection, document.content_hash, c.index, writer)
            for c in document.chunks
        ]
        journal = self.manifest.begin_write(run.collection, ids)
        shared_path = wanted.entries[0][0].path if self.parts.store.shared else None
        metadatas = [
            chunk_metadata(document.content_hash, c, shared_path=shared_path)
            for c in document.chunks
        ]
        metadatas[0] |= content_header(
            fmt=document.format,
            pages=document.pages,
            chunk_count=len(ids),
            indexed_at=time.time(),
            warnings=document.warnings,
            sources=[_source(entry) for entry, _ in wanted.entries],
            embedder=self.parts.embedder.model_id,  # the model that just embedded them
        )
        self.parts.store.upsert(run.collection, ids, vectors, metadatas)
        self.manifest.commit_content(
            journal,
            run.collection,
            [entry for entry, _ in wanted.entries],
            document.content_hash,
            fmt=document.format,
            pages=document.pages,
            chunks=list(zip(ids, document.chunks, strict=True)),
            warnings=document.warnings,
        )
        self._track(run, added=[(i, c.terms) for i, c in zip(ids, document.chunks, strict=True)])

    # a run -------------------------------------------------------------------------

    def run(
        self, paths: Iterable[str | Path], collection: str, excludes: Excludes = NO_EXCLUDES
    ) -> Iterator[IngestEvent]:
        """Bring ``collection`` in line with ``paths``: add, update, skip, remove.

        Stopping the iteration stops the run; what was stored stays stored, and the
        cleanup (orphaned content, the lexical index on disk) still happens.
        """
        run = _Run(collection, index=self.parts.lexical(collection))
        roots = [str(Path(p).expanduser().absolute()) for p in paths]
        found, skipped = discover(
            roots,
            is_supported=is_supported,
            max_file_bytes=self.max_file_bytes,
            excludes=excludes,
        )
        work = plan(
            found,
            self.manifest.known_files(collection),
            scanned_roots=roots,
            skipped=skipped,
            excludes=excludes,
        )
        run.total = len(work.added) + len(work.changed)
        run.counts["unchanged"] = len(work.unchanged) + len(work.touched)
        queued = [entry for entry, _ in (*work.added, *work.changed)]
        yield IngestEvent(
            "scan",
            total=run.total,
            queued=tuple(entry.path for entry in queued),
            sizes=tuple(entry.size for entry in queued),
            counts={"unchanged": run.counts["unchanged"]},
        )
        changing = [entry.path for entry, _ in (*work.added, *work.changed)] + work.removed
        run.relinked |= self.manifest.contents_of(collection, changing)
        try:
            self.manifest.mark_available(collection, work.reachable_roots)
            self.manifest.mark_unavailable(collection, work.unavailable)
            for path, reason in work.unavailable:
                yield run.event(path, "unavailable", reason)
            for entry, _digest in work.touched:
                self.manifest.refresh_stat(collection, entry)
            for skip in work.skipped:
                yield run.event(skip.path, "skipped", skip.reason)
            wanted = yield from self._relink(run, work)
            for gone in work.removed:
                self.manifest.remove_source(collection, gone)
                yield run.event(gone, "removed")
            yield from self._parse_and_store(run, wanted)
        finally:
            self._finish(run)
        yield IngestEvent("summary", counts=run.counts)

    def remove(self, paths: Iterable[str], collection: str) -> None:
        run = _Run(collection, index=self.parts.lexical(collection))
        paths = list(paths)
        run.relinked |= self.manifest.contents_of(collection, paths)
        for path in paths:
            self.manifest.remove_source(collection, path)
        self._finish(run)

    def _finish(self, run: _Run) -> None:
        self.collect_garbage(run)
        self._rewrite_headers(run)
        index = run.index
        if index is not None and index.generation == self.manifest.generation(run.collection):
            index.save()

    def _rewrite_headers(self, run: _Run) -> None:
        """The contents that gained or lost a file keep their file list in the store up to
        date (a crash before this leaves it stale; the next sync and doctor fix it)."""
        ids = self.manifest.first_chunk_ids(run.relinked)  # collected contents are gone
        if ids:
            described = vector_metadata(
                self.manifest, run.collection, ids, shared=self.parts.store.shared
            )
            self.parts.store.annotate(run.collection, list(described), list(described.values()))
        run.relinked.clear()

    def _relink(
        self, run: _Run, work: ScanPlan
    ) -> Generator[IngestEvent, None, dict[str, _Wanted]]:
        """Point new and changed paths at content that is already indexed (a rename, a
        copy, a reverted edit): no parsing, no embedding. The rest is grouped by content,
        so each distinct content is parsed once; returns that group."""
        wanted: dict[str, _Wanted] = {}
        groups: tuple[tuple[FileOutcome, list[tuple[FileEntry, str]]], ...] = (
            ("added", work.added),
            ("updated", work.changed),
        )
        for outcome, items in groups:
            for entry, digest in items:
                existing = self.manifest.content_id(run.collection, digest)
                if existing is None:
                    item = wanted.setdefault(digest, _Wanted(ParseTask(entry.path, digest)))
                    item.entries.append((entry, outcome))
                    continue
                self.manifest.link_source(run.collection, [entry], digest, existing)
                run.relinked.add(existing)
                yield run.event(entry.path, outcome, "same content as an indexed file")
        return wanted

    def _parse_and_store(self, run: _Run, wanted: dict[str, _Wanted]) -> Iterator[IngestEvent]:
        """Parse in the sandboxed workers while this thread embeds batches of documents."""
        if not wanted:
            return
        self.parts.agree_with_server(run.collection)
        batch: list[tuple[_Wanted, ParsedDocument]] = []
        size = 0
        tasks = [w.task for w in wanted.values()]
        for update in self.parts.parser().parse_with_progress(tasks):
            if isinstance(update, FileProgress):
                yield IngestEvent(
                    update.stage, path=update.path, done=update.done, total=update.total
                )
                # The parser is busy with a long file: embed what waits meanwhile.
                yield from self._embed_and_store(run, batch)
                batch, size = [], 0
                continue
            task, result = update
            item = wanted[task.content_hash]
            if isinstance(result, ParseFailure):
                entries = [entry for entry, _ in item.entries]
                self.manifest.record_failure(
                    run.collection, entries, task.content_hash, result.reason
                )
                for entry in entries:
                    yield run.event(entry.path, "failed", result.reason)
                continue
            batch.append((item, result))
            size += len(result.chunks)
            # Small documents share encode calls: fewer, fuller batches.
            if size >= 4 * self.embed_batch:
                yield from self._embed_and_store(run, batch)
                batch, size = [], 0
        yield from self._embed_and_store(run, batch)

    def _embed_and_store(
        self, run: _Run, batch: list[tuple[_Wanted, ParsedDocument]]
    ) -> Iterator[IngestEvent]:
        if not batch:
            return
        vectors = yield from self._embed([document for _, document in batch])
        offset = 0
        for item, document in batch:
            size = len(document.chunks)
            self._store(run, item, document, vectors[offset : offset + size])
            offset += size
            for entry, outcome in item.entries:
                yield run.event(
                    entry.path,
                    outcome,
                    chunks=size,
                    pages=document.pages,
                    warnings=document.warnings,
                )

    def _embed(self, documents: list[ParsedDocument]) -> Generator[IngestEvent, None, np.ndarray]:
        """The documents' chunk vectors, in order, computed one embedding batch at a time:
        after each, how far the documents in it are, so that a long document shows its
        progress instead of a minute of silence."""
        texts = [chunk.text for document in documents for chunk in document.chunks]
        owner_of = [n for n, document in enumerate(documents) for _ in document.chunks]
        embedded = [0] * len(documents)
        parts: list[np.ndarray] = []
        step = self.embed_batch
        for start in range(0, len(texts), step):
            touched = owner_of[start : start + step]
            for n in sorted({n for n in touched if not embedded[n]}):
                yield IngestEvent("embed", path=documents[n].path, total=len(documents[n].chunks))
            parts.append(self.parts.embedder.embed_documents(texts[start : start + step]))
            for n in touched:
                embedded[n] += 1
            for n in sorted(set(touched)):
                document = documents[n]
                yield IngestEvent(
                    "embed", path=document.path, done=embedded[n], total=len(document.chunks)
                )
        return np.concatenate(parts) if len(parts) > 1 else parts[0]
