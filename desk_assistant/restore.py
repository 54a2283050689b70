"""Rebuild a lost, emptied or damaged manifest from the vector store and the record file.

The manifest says what the vector store should hold, so losing it used to lose
everything: ``status`` showed nothing, ``doctor --repair`` deleted every vector as an
orphan, and the followed folders were forgotten. Now every vector carries its chunk's
text, content hash, position and page, the first chunk of each content carries the files
that show it (:func:`desk_assistant.store.content_header`), and what no file or vector
holds - collections, followed folders, exclusions - is kept in the record file beside the
manifest (:meth:`desk_assistant.manifest.Manifest.save_record`). From those two the
manifest is rebuilt row for row; no vector is deleted and nothing is embedded again.

What cannot come back: files that failed to parse (they have no vectors; the next sync
lists them again), and vectors written before the store kept text (an older version;
doctor reports them).
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from desk_assistant.manifest import Manifest, derived_key, read_record, unstaged
from desk_assistant.parts import Parts
from desk_assistant.store import VectorRecord
from ingest.analysis import analyze
from ingest.types import Chunk, FileEntry


@dataclass(slots=True)
class Restored:
    """What a rebuild brought back."""

    collections: list[str] = field(default_factory=list)
    documents: int = 0
    chunks: int = 0
    unrestorable: int = 0  # vectors without the metadata to rebuild from (older version)

    def describe(self) -> str:
        names = ", ".join(f"'{name}'" for name in self.collections) or "no collection"
        text = f"{self.documents} document(s) and {self.chunks} passage(s) in {names}"
        if self.unrestorable:
            text += f"; {self.unrestorable} older vector(s) had no text to rebuild from"
        return text


def move_aside(path: Path, home: Path) -> Path:
    """Keep a damaged file or folder (and a database's -wal/-shm files) under
    ``home/damaged/`` with the time in its name; returns where it went."""
    folder = home / "damaged"
    folder.mkdir(exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    target = folder / f"{path.stem}-{stamp}{path.suffix}"
    number = 1
    while target.exists():
        number += 1
        target = folder / f"{path.stem}-{stamp}-{number}{path.suffix}"
    shutil.move(str(path), str(target))
    for extra in ("-wal", "-shm"):
        companion = path.with_name(path.name + extra)
        if companion.exists():
            shutil.move(str(companion), str(target) + extra)
    return target


def rebuild(parts: Parts, names: Iterable[str] | None = None) -> Restored:
    """Bring back into the manifest the collections ``names`` (default: every collection
    the record or the vector store knows), their followed paths and exclusions from the
    record, and their documents from the vector store. Called under the writer lock."""
    manifest = parts.manifest
    record = {c["name"]: c for c in read_record(parts.paths.home)}
    in_store = collections_in_store(parts, record.values())
    writer = parts.writer if parts.store.shared else None  # another client's are theirs
    wanted = set(names) if names is not None else set(record) | set(in_store)
    # A collection only the record names comes back when the whole manifest was lost;
    # otherwise it is one whose deletion the record missed (a crash in between).
    whole = not manifest.collections()
    restored = Restored()
    for name in sorted(wanted):
        entry = record.get(name, {})
        if name not in in_store and not (whole and entry):
            continue
        # Made first, with its internal id: the vectors are found under that id.
        model = entry.get("embedding_model") or parts.embedder.model_id
        dim = int(entry.get("embedding_dim") or parts.embedder.dimension)
        key = in_store.get(name) or entry.get("key")
        manifest.ensure_collection(name, model, dim, entry.get("created_at"), key=key)
        vectors = list(parts.store.stored(name, writer=writer)) if name in in_store else []
        found = _embedder(vectors)
        if not entry.get("embedding_model") and found and found != model:
            manifest.set_embedding_model(name, found, dim)  # what the vectors say they are
        followed = [f["path"] for f in entry.get("followed", []) if isinstance(f, dict)]
        manifest.follow(name, followed or _roots(vectors))
        manifest.set_excluded(name, entry.get("excludes", []), excluded=True)
        documents, chunks, unrestorable = restore_contents(manifest, name, vectors)
        restored.collections.append(name)
        restored.documents += documents
        restored.chunks += chunks
        restored.unrestorable += unrestorable
    return restored


def collections_in_store(parts: Parts, record: Iterable[dict[str, Any]]) -> dict[str, str]:
    """The collections this data folder has in the vector store: their display name (the
    record's for the internal id, else the one the store noted when it made them) -> their
    internal id."""
    names = {str(c.get("key") or derived_key(c["name"])): c["name"] for c in record}
    stored = parts.store.collection_keys()

    def staged(key: str) -> bool:  # made by a re-index the record does not name
        return key not in names and stored[key] != unstaged(stored[key])

    found: dict[str, str] = {}
    for key in sorted(stored, key=staged):  # a re-index's partial copy comes last
        found.setdefault(names.get(key, unstaged(stored[key])), key)
    return found


def restore_contents(
    manifest: Manifest, collection: str, vectors: Iterable[VectorRecord]
) -> tuple[int, int, int]:
    """Put the contents ``vectors`` describe (grouped by content) into the manifest when it
    lacks them; returns (documents, chunks) restored and how many vectors could not be."""
    groups: dict[str, list[VectorRecord]] = {}
    unrestorable = 0
    for vector in vectors:
        digest = vector.metadata.get("hash")
        if isinstance(digest, str) and isinstance(vector.metadata.get("text"), str):
            groups.setdefault(digest, []).append(vector)
        else:
            unrestorable += 1
    documents = chunks = 0
    for digest, group in groups.items():
        group.sort(key=lambda v: int(v.metadata.get("ord", 0)))
        header = group[0].metadata
        if "sources" not in header or manifest.content_id(collection, digest) is not None:
            unrestorable += len(group) if "sources" not in header else 0
            continue
        entries = [
            FileEntry(str(s["path"]), int(s["size"]), int(s["mtime_ns"]), str(s["root"]))
            for s in json.loads(str(header["sources"]))
        ]
        manifest.commit_content(
            None,
            collection,
            entries,
            digest,
            fmt=_text(header.get("format")),
            pages=_number(header.get("pages")),
            chunks=[(v.chunk_id, _chunk(v.metadata)) for v in group],
            warnings=json.loads(str(header.get("warnings", "[]"))),
            indexed_at=float(header.get("indexed_at", time.time())),
        )
        documents += len(entries)
        chunks += len(group)
    return documents, chunks, unrestorable


def _chunk(data: Any) -> Chunk:
    text = str(data["text"])
    return Chunk(
        index=int(data.get("ord", 0)),
        text=text,
        page=_number(data.get("page")),
        heading=_text(data.get("heading")),
        start=int(data.get("start", 0)),
        end=int(data.get("end", len(text))),
        terms=" ".join(analyze(text)),  # what the parser workers computed, computed again
    )


def _embedder(vectors: list[VectorRecord]) -> str | None:
    return next((str(v.metadata["embedder"]) for v in vectors if "embedder" in v.metadata), None)


def _roots(vectors: list[VectorRecord]) -> list[str]:
    """Without a record, the folders the restored files were found under."""
    roots = set()
    for vector in vectors:
        for source in json.loads(str(vector.metadata.get("sources", "[]"))):
            roots.add(str(source["root"]))
    return sorted(roots)


def _number(value: Any) -> int | None:
    return int(value) if isinstance(value, int | float) else None


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None
