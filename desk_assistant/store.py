"""The vector store: Chroma, embedded (``PersistentClient``) or a server (``HttpClient``).

Beside each vector Chroma keeps what the chunk *is* - its text, content hash, position and
page - and the first chunk of each file content also keeps which paths show it (see
:func:`chunk_metadata`, :func:`content_header`). So the manifest can be lost, emptied or
damaged and rebuilt from here (:mod:`desk_assistant.restore`). Chroma never embeds
anything itself (no embedding function is attached), so it never reaches for its
downloadable default model, and its telemetry is off.

Beside each vector Chroma also keeps the id of the data folder that wrote it (``writer``):
a Chroma server may be shared by several clients, each with its own manifest, and a
client only ever deletes, repairs or restores what it wrote. On a server, a vector also
carries what another client needs to search and cite it without the writer's manifest:
the path it came from and its BM25 terms (with the text, page, heading and span that
every vector keeps). Requests to a server have a timeout and are retried with backoff
while the failure may pass (the server restarts, is overloaded, or the network hiccups);
what remains is a :class:`~desk_assistant.errors.StoreError` that says what is wrong.

An embedded Chroma loads a collection's vector index into memory once and does not see
what another process (the CLI while the window is open, a watcher) writes afterwards:
its searches miss the new vectors and fetching one by id fails. Each store therefore runs
its own Chroma instance, knows which manifest generation its view of each collection
reflects, and before it touches a collection reloads if the manifest has moved past that
without it (``generation`` tells it where the manifest is; :meth:`advanced` hears of its
own writes).
Errors of a damaged store (a Rust panic, "database disk image is malformed") become a
:class:`DamagedStore` that names the folder and the way out.
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import threading
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlparse

import numpy as np

from desk_assistant.disk_space import is_disk_full
from desk_assistant.errors import (
    DamagedStore,
    EmbeddingModelMismatch,
    StoreError,
    StoreUnavailable,
)
from desk_assistant.manifest import ChunkRow
from desk_assistant.offline import enforce_offline
from desk_assistant.remote import (
    ServerError,
    describe,
    refused_credentials,
    server_label,
    timeout,
    with_retries,
)
from ingest.types import Chunk

log = logging.getLogger(__name__)

T = TypeVar("T")
_BATCH = 2000  # below Chroma's max batch size on every backend
Metadata = dict[str, str | int | float | bool]
OURS = "desk_assistant_collection"  # collection metadata: the name the user gave it
_instances = itertools.count(1)


@dataclass(frozen=True, slots=True)
class VectorHit:
    chunk_id: str
    similarity: float  # cosine similarity, 1.0 = identical direction


@dataclass(frozen=True, slots=True)
class VectorRecord:
    """A vector's metadata as read back from the store (to rebuild a lost manifest)."""

    chunk_id: str
    metadata: Mapping[str, Any]


def chunk_metadata(content_hash: str, chunk: Chunk, *, shared_path: str | None = None) -> Metadata:
    """What Chroma keeps beside a chunk's vector: enough to filter on (``content``,
    ``page``) and to rebuild the manifest's row for it. Paths are not here (a renamed file
    keeps its vectors); they are in the content's header on its first chunk. On a shared
    server (``shared_path``: the path the writer indexed it under; its own manifest
    follows renames) also what another client needs to cite and BM25-search the chunk."""
    data: Metadata = {
        "content": content_hash[:20],
        "hash": content_hash,
        "ord": chunk.index,
        "start": chunk.start,
        "end": chunk.end,
        "text": chunk.text,
    }
    if chunk.page:
        data["page"] = chunk.page
    if chunk.heading:
        data["heading"] = chunk.heading
    if shared_path is not None:
        data.update(path=shared_path, terms=chunk.terms)
    return data


def content_header(
    *,
    fmt: str | None,
    pages: int | None,
    chunk_count: int,
    indexed_at: float,
    warnings: Sequence[str],
    sources: Sequence[Mapping[str, Any]],
    embedder: str,
) -> Metadata:
    """What the first chunk of a content also keeps: the file's facts, the embedding model
    of its vectors and every path that shows it (``sources``: path, root, size,
    mtime_ns), as JSON where Chroma wants scalars."""
    header: Metadata = {
        "embedder": embedder,
        "chunks": chunk_count,
        "indexed_at": indexed_at,
        "warnings": json.dumps(list(warnings)),
        "sources": json.dumps(list(sources)),
    }
    if fmt:
        header["format"] = fmt
    if pages:
        header["pages"] = pages
    return header


def _shared_row(chunk_id: str, document: str | None, metadata: Mapping[str, Any]) -> ChunkRow:
    page = metadata.get("page")
    heading = metadata.get("heading")
    return ChunkRow(
        id=chunk_id,
        path=str(metadata.get("path") or ""),
        page=int(page) if isinstance(page, (int, float)) else None,
        heading=str(heading) if heading else None,
        start=int(metadata.get("start") or 0),
        end=int(metadata.get("end") or 0),
        text=str(metadata.get("text") or document or ""),
        terms=str(metadata.get("terms") or ""),
    )


def _damage_reason(exc: BaseException) -> str | None:
    """Why the store cannot be used, if ``exc`` is a damaged store's (not a bug of ours)."""
    kind = type(exc).__name__
    if kind == "PanicException":  # Chroma's Rust core gave up on what it read
        return "its files cannot be read"
    if kind in ("InternalError", "OperationalError", "DatabaseError") or "sqlite" in str(exc):
        return str(exc).splitlines()[0][:200] if str(exc) else kind
    return None


class ChromaStore:
    """Dense vectors per collection, cosine space, written as ``writer``; safe to share
    between threads.

    Methods take the collection's name; ``key_of`` maps it to the collection's internal id
    (the manifest's), which names the Chroma collection: a Chroma-legal name whatever the
    user called the collection, and one that stays when it is renamed.
    """

    def __init__(
        self,
        path: Path,
        url: str | None = None,
        *,
        key_of: Callable[[str], str],
        writer: str = "",
        token: str | None = None,
        ca_bundle: Path | None = None,
        wait: float = 30.0,
        generation: Callable[[str], int] | None = None,
    ) -> None:
        enforce_offline()  # before the import: chromadb reads the telemetry flag once
        self.writer = writer
        self._key_of = key_of
        self.shared = bool(url)
        self._path = path
        self._url = url
        self._token = token
        self._ca_bundle = ca_bundle
        self._wait = wait
        self._where = f"The Chroma server at {server_label(url)}" if url else str(path)
        self._generation = generation
        self._guard = threading.RLock()
        self._handles: dict[str, Any] = {}  # Chroma collection objects by our name
        self._seen: dict[str, int] = {}  # manifest generation each collection's view shows
        self._client = self._connect()

    @property
    def where(self) -> str:
        return server_label(self._url) if self._url else str(self._path)

    def _connect(self) -> Any:
        if self._url:
            url = self._url
            return self._call(lambda: _http_client(url, self._token, self._ca_bundle, self._wait))
        import chromadb
        from chromadb.config import Settings as ChromaSettings

        settings = ChromaSettings(anonymized_telemetry=False, allow_reset=False)
        try:
            self._path.mkdir(parents=True, exist_ok=True)
            # Chroma shares one instance per path string; a path of our own (the same
            # folder) gives this store an instance it can reload without touching others.
            own = str(self._path) + os.sep * next(_instances)
            return chromadb.PersistentClient(path=own, settings=settings)
        except BaseException as exc:  # chromadb raises many unrelated types here
            if not isinstance(exc, Exception) and type(exc).__name__ != "PanicException":
                raise
            raise self._failure(exc, f"Cannot open the vector store at {self.where}") from exc

    def close(self) -> None:
        with self._guard:
            self._handles.clear()
            close = getattr(self._client, "close", None)
            if close is not None:
                close()

    # freshness -----------------------------------------------------------------------

    def _refresh(self, collection: str) -> None:
        """Make the view of ``collection`` show the manifest's generation: reload the store
        when another process wrote to it since this one last looked (a server is always
        current)."""
        if self._generation is None or self._url:
            return
        generation = self._generation(collection)
        seen = self._seen.get(collection)
        if seen is not None and seen != generation:
            self.close()
            self._seen.clear()
            self._client = self._connect()
        self._seen[collection] = generation

    def advanced(self, collection: str, generation: int) -> None:
        """This store made the change that brought ``collection`` to ``generation`` (if its
        view was current before, it still is; otherwise the next refresh reloads)."""
        with self._guard:
            if self._seen.get(collection) == generation - 1:
                self._seen[collection] = generation
            elif collection in self._seen:
                self._seen[collection] = -1

    # errors --------------------------------------------------------------------------

    def _classify(self, exc: BaseException) -> ServerError | None:
        from chromadb.errors import ChromaError, NotFoundError

        if isinstance(exc, NotFoundError):
            return None  # a collection deleted behind this handle's back: looked up again
        if isinstance(exc, ChromaError):
            status = exc.code()
            if status in (401, 403):
                return refused_credentials(self._where, status, "chroma_token")
            return ServerError(
                f"{self._where}: {exc}", transient=status in (429, 500, 502, 503, 504)
            )
        if isinstance(exc, ValueError) and "Could not connect" in str(exc):
            return ServerError(
                f"{self._where} refused the connection: is it running and listening on that port?",
                transient=True,
            )
        return describe(exc, self._where, self._wait, "chroma_token")

    def _call(self, work: Callable[[], T]) -> T:
        """``work()`` against the server, retried while it may pass; a StoreError (or
        StoreUnavailable: try again later) when it fails for good."""
        if not self.shared:
            return work()
        try:
            return with_retries(work, self._classify)
        except ServerError as exc:
            kind = StoreUnavailable if exc.transient else StoreError
            raise kind(str(exc)) from exc

    def _failure(self, exc: BaseException, doing: str) -> StoreError:
        if is_disk_full(exc):
            return StoreError(f"{doing}: {exc}")  # said by the caller as a full disk
        reason = _damage_reason(exc)
        if reason is None or self._url:
            return StoreError(f"{doing}: {type(exc).__name__}: {exc}")
        return DamagedStore(
            f"The vector store in {self._path} is damaged ({reason}). Nothing is lost: the "
            "index database keeps every passage, and a repair moves the damaged store aside "
            "and rebuilds it by embedding them again.",
            path=self._path,
        )

    @contextmanager
    def _calling(self, doing: str, collection: str | None = None) -> Iterator[None]:
        with self._guard:
            try:
                if collection is not None:
                    self._refresh(collection)
                yield
            except (StoreError, KeyboardInterrupt):
                raise
            except BaseException as exc:  # a Rust panic is a BaseException
                if not isinstance(exc, Exception) and type(exc).__name__ != "PanicException":
                    raise
                raise self._failure(exc, doing) from exc

    # collections ---------------------------------------------------------------------

    def _collection(self, collection: str, *, create: bool = True) -> Any:
        """The Chroma collection; ``None`` when it does not exist and ``create`` is off.
        A handle whose collection another process deleted (and maybe made again) is
        looked up afresh."""
        from chromadb.errors import NotFoundError

        handle = self._handles.get(collection)
        if handle is not None:
            return handle
        name = self._key_of(collection)
        if create:
            handle = self._call(
                lambda: self._client.get_or_create_collection(
                    name,
                    configuration={"hnsw": {"space": "cosine"}},
                    embedding_function=None,
                    metadata={OURS: collection},
                )
            )
        else:
            try:
                handle = self._call(
                    lambda: self._client.get_collection(name, embedding_function=None)
                )
            except NotFoundError:
                return None
        self._handles[collection] = handle
        return handle

    def _retrying(self, collection: str, call: Any, *, create: bool = True) -> Any:
        """``call(handle)``, again with a fresh handle if the collection was deleted and
        made anew behind this one's back (a reindex or delete in another lane or process)."""
        from chromadb.errors import NotFoundError

        for attempt in (1, 2):
            handle = self._collection(collection, create=create)
            if handle is None:
                return None
            try:
                return self._call(partial(call, handle))
            except NotFoundError:
                self._handles.pop(collection, None)
                if attempt == 2 or (
                    not create and self._collection(collection, create=False) is None
                ):
                    return None
        return None

    def collection_keys(self) -> dict[str, str]:
        """Our collections in the store: internal id (the Chroma name) -> the name the
        collection had when the store made it (a rename does not touch the store). On a
        shared server, those that hold a vector this data folder wrote (the others belong
        to other clients)."""
        with self._calling(f"Cannot read the vector store at {self.where}"):
            found = {}
            for info in self._call(self._client.list_collections):
                metadata = info.metadata or {}
                if isinstance(metadata.get(OURS), str) and self._holds_ours(info):
                    found[info.name] = metadata[OURS]
            return found

    def _holds_ours(self, info: Any) -> bool:
        if not self.shared:
            return True
        target = self._call(lambda: self._client.get_collection(info.name, embedding_function=None))
        mine = self._call(lambda: target.get(where={"writer": self.writer}, limit=1, include=[]))
        return bool(mine["ids"])

    # vectors -------------------------------------------------------------------------

    def agree_on_model(self, collection: str, model_id: str, dimension: int) -> None:
        """A shared collection names the embedding model its vectors come from; a client
        with another model is refused instead of mixing two vector spaces."""
        with self._calling(f"Cannot read the vector store at {self.where}"):
            target = self._collection(collection)
        metadata = dict(target.metadata or {})
        recorded = metadata.get("embedding_model")
        if recorded is None:
            metadata.update(embedding_model=model_id, embedding_dim=dimension)
            metadata.pop("hnsw:space", None)  # set at creation; Chroma refuses to change it
            self._call(lambda: target.modify(metadata=metadata))
            return
        if recorded != model_id:
            raise EmbeddingModelMismatch(
                f"Collection '{collection}' on {self._where} holds vectors of the embedding "
                f"model {recorded}, but the configured model is {model_id}. Use the same "
                "embedding model as the other clients of that server."
            )

    def upsert(
        self,
        collection: str,
        ids: Sequence[str],
        vectors: np.ndarray,
        metadatas: Sequence[Mapping[str, str | int | float | bool]],
    ) -> None:
        """Write vectors with what is kept beside them, tagged with this writer (and on a
        shared server with their text as the Chroma document, which its tools show)."""
        tagged = [{**m, "writer": self.writer} for m in metadatas]
        with self._calling(f"Cannot write to the vector store at {self.where}", collection):

            def write(target: Any) -> None:
                for start in range(0, len(ids), _BATCH):
                    end = start + _BATCH
                    batch = tagged[start:end]
                    target.upsert(
                        ids=list(ids[start:end]),
                        embeddings=vectors[start:end],
                        metadatas=batch,
                        documents=[str(m.get("text", "")) for m in batch] if self.shared else None,
                    )

            self._retrying(collection, write)

    def annotate(self, collection: str, ids: Sequence[str], metadatas: Sequence[Metadata]) -> None:
        """Replace what is kept beside existing vectors (not the vectors)."""
        if not ids:
            return
        with self._calling(f"Cannot write to the vector store at {self.where}", collection):

            def write(target: Any) -> None:
                for start in range(0, len(ids), _BATCH):
                    end = start + _BATCH
                    target.update(
                        ids=list(ids[start:end]),
                        metadatas=[{**m, "writer": self.writer} for m in metadatas[start:end]],
                    )

            self._retrying(collection, write, create=False)

    def delete(self, collection: str, ids: Sequence[str]) -> None:
        if not ids:
            return
        with self._calling(f"Cannot write to the vector store at {self.where}", collection):

            def remove(target: Any) -> None:
                for start in range(0, len(ids), _BATCH):
                    target.delete(ids=list(ids[start : start + _BATCH]))

            self._retrying(collection, remove, create=False)

    def query(
        self,
        collection: str,
        vector: np.ndarray,
        k: int,
        where: Mapping[str, Any] | None = None,
    ) -> list[VectorHit]:
        with self._calling(f"Cannot search the vector store at {self.where}", collection):

            def search(target: Any) -> list[VectorHit]:
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
                return [
                    VectorHit(cid, 1.0 - float(d)) for cid, d in zip(ids, distances, strict=True)
                ]

            hits: list[VectorHit] | None = self._retrying(collection, search, create=False)
            return hits or []

    def similarities(
        self, collection: str, ids: Sequence[str], vector: np.ndarray
    ) -> dict[str, float]:
        """Cosine similarity of stored vectors to ``vector`` (both are unit length)."""
        if not ids:
            return {}
        with self._calling(f"Cannot read the vector store at {self.where}", collection):

            def fetch(target: Any) -> Any:
                return target.get(ids=list(ids), include=["embeddings"])

            found = self._retrying(collection, fetch, create=False)
            if found is None:
                return {}
            stored = np.asarray(found["embeddings"], dtype=np.float32)
            if stored.size == 0:
                return {}
            scores = stored @ np.asarray(vector, dtype=np.float32)
            return {cid: float(score) for cid, score in zip(found["ids"], scores, strict=True)}

    def ids(self, collection: str, *, writer: str | None = None) -> set[str]:
        """Every vector's id, or with ``writer`` those that data folder wrote."""
        return {item.chunk_id for item in self.stored(collection, metadata=False, writer=writer)}

    def stored(
        self, collection: str, *, metadata: bool = True, writer: str | None = None
    ) -> Iterator[VectorRecord]:
        """Every vector's id (and what is kept beside it), page by page; with ``writer``
        only those that data folder wrote."""
        where = {"writer": writer} if writer is not None else None
        offset = 0
        include = ["metadatas"] if metadata else []
        while True:
            doing = f"Cannot read the vector store at {self.where}"
            with self._calling(doing, collection if offset == 0 else None):
                page = self._retrying(
                    collection,
                    lambda target, at=offset: target.get(
                        where=where, include=include, limit=_BATCH, offset=at
                    ),
                    create=False,
                )
            if page is None:
                return
            metadatas = page.get("metadatas") if metadata else None
            for number, chunk_id in enumerate(page["ids"]):
                yield VectorRecord(chunk_id, (metadatas[number] or {}) if metadatas else {})
            if len(page["ids"]) < _BATCH:
                return
            offset += _BATCH

    def shared_rows(self, collection: str, ids: Sequence[str]) -> dict[str, ChunkRow]:
        """Chunks other clients of a shared server wrote, as they recorded them (text,
        path, page, span, terms); this client's own unknown ids stay unknown (orphans)."""
        if not self.shared or not ids:
            return {}
        with self._calling(f"Cannot read the vector store at {self.where}", collection):
            found = self._retrying(
                collection,
                lambda target: target.get(ids=list(ids), include=["documents", "metadatas"]),
                create=False,
            )
        rows: dict[str, ChunkRow] = {}
        if found is None:
            return rows
        for chunk_id, document, metadata in zip(
            found["ids"], found["documents"] or [], found["metadatas"] or [], strict=True
        ):
            if metadata and metadata.get("writer") not in (None, self.writer):
                rows[chunk_id] = _shared_row(chunk_id, document, metadata)
        return rows

    def count(self, collection: str) -> int:
        with self._calling(f"Cannot read the vector store at {self.where}", collection):
            counted = self._retrying(collection, lambda target: target.count(), create=False)
            return int(counted or 0)

    def forget(self, collection: str) -> None:
        """Drop what is cached under a name that is about to change."""
        with self._guard:
            self._handles.pop(collection, None)
            self._seen.pop(collection, None)

    def drop(self, collection: str) -> None:
        """Delete a collection's vectors (see :meth:`drop_key`)."""
        with self._guard:
            self._handles.pop(collection, None)
        self.drop_key(self._key_of(collection))

    def drop_key(self, key: str) -> None:
        """Delete the vectors kept under the internal id ``key`` (also one no collection
        name maps to any more: the index a re-index replaced): on a shared server only the
        ones this data folder wrote (the collection stays for its other clients), else the
        whole collection."""
        from chromadb.errors import NotFoundError

        with self._calling(f"Cannot write to the vector store at {self.where}"):
            try:
                target = self._call(
                    lambda: self._client.get_collection(key, embedding_function=None)
                )
            except NotFoundError:
                return
            if self.shared:
                self._call(lambda: target.delete(where={"writer": self.writer}))
            else:
                self._call(lambda: self._client.delete_collection(key))


def _http_client(url: str, token: str | None, ca_bundle: Path | None, wait: float) -> Any:
    """A Chroma HttpClient that sends the token, trusts ``ca_bundle`` and gives up on a
    request after ``wait`` seconds.

    chromadb's client has no timeout of its own (it waits forever on a server that
    accepted the connection and hangs), so its HTTP session gets one here, right after
    it is made; the first requests (tenant and database checks) run inside the
    constructor, hence the reachability check with the same limits before it.
    """
    import chromadb
    import httpx
    from chromadb.config import Settings as ChromaSettings

    from desk_assistant.remote import tls_context

    parsed = urlparse(url)
    https = parsed.scheme == "https"
    # Chroma's own token header and the usual bearer one: a reverse proxy in front of the
    # server (where Chroma 1.x leaves authentication) checks one or the other.
    headers = {"Authorization": f"Bearer {token}", "X-Chroma-Token": token} if token else {}
    base = url.rstrip("/")
    with httpx.Client(
        headers=headers, timeout=timeout(wait), verify=tls_context(ca_bundle), trust_env=False
    ) as probe:
        probe.get(f"{base}/api/v2/heartbeat").raise_for_status()
    settings = ChromaSettings(anonymized_telemetry=False, allow_reset=False)
    if ca_bundle is not None:
        settings.chroma_server_ssl_verify = str(Path(ca_bundle).expanduser())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # httpx: verify=<path string>
        client = chromadb.HttpClient(
            host=parsed.hostname or "localhost",
            port=parsed.port or (443 if https else 8000),
            ssl=https,
            headers=headers,
            settings=settings,
        )
    session = getattr(getattr(client, "_server", None), "_session", None)
    if isinstance(session, httpx.Client):
        session.timeout = timeout(wait)
    else:  # a chromadb whose internals moved: requests then wait as long as chromadb does
        log.warning("cannot set a timeout on chromadb's HTTP session")
    return client


def server_embedding_models(
    url: str, token: str | None, ca_bundle: Path | None, wait: float
) -> frozenset[str]:
    """The embedding model ids that the Desk Assistant collections on the Chroma server
    at ``url`` record (see :meth:`ChromaStore.agree_on_model`), asked once.

    Nothing when the server cannot be asked now (down, refused, another token): choosing an
    embedding variant must not wait through the retries of a server that is not needed
    yet, and whatever needs it later retries and says what is wrong.
    """
    enforce_offline()  # before the import: chromadb reads the telemetry flag once
    try:
        client = _http_client(url, token, ca_bundle, wait)
        try:
            listed = client.list_collections()
        finally:
            client.close()
    except Exception as exc:  # chromadb and httpx raise many unrelated types here
        log.info("cannot read the embedding models on %s: %s", server_label(url), exc)
        return frozenset()
    return frozenset(
        str(metadata["embedding_model"])
        for metadata in (info.metadata or {} for info in listed)
        if OURS in metadata and metadata.get("embedding_model")
    )
