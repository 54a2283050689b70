"""The vector store: Chroma, embedded (``PersistentClient``) or a server (``HttpClient``).

Chroma never embeds anything itself (no embedding function is attached), so it never
reaches for its downloadable default model, and its telemetry is off.

Beside each vector Chroma keeps the id of the data folder that wrote it (``writer``): a
Chroma server may be shared by several clients, each with its own manifest, and a client
only ever deletes or repairs what it wrote. On a server, a vector also carries what
another client needs to search and cite it without the writer's manifest: the chunk's
text (as the Chroma document), its BM25 terms, the path it came from, its page, heading
and span. The embedded store keeps only the writer, the content hash and the page: there
the manifest, on the same disk, has the rest. :func:`chunk_metadata` is the one place
that says what goes there.

Requests to a server have a timeout and are retried with backoff while the failure may
pass (the server restarts, is overloaded, or the network hiccups); what remains is a
:class:`~desk_assistant.errors.StoreError` that says what is wrong.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlparse

import numpy as np

from desk_assistant.errors import EmbeddingModelMismatch, StoreError, StoreUnavailable
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

log = logging.getLogger(__name__)

T = TypeVar("T")
_BATCH = 2000  # below Chroma's max batch size on every backend
Metadata = dict[str, str | int | float]


@dataclass(frozen=True, slots=True)
class VectorHit:
    chunk_id: str
    similarity: float  # cosine similarity, 1.0 = identical direction


@dataclass(frozen=True, slots=True)
class VectorChunk:
    """A chunk as the vector store records it beside its vector."""

    content_hash: str
    page: int | None
    path: str
    heading: str | None
    start: int
    end: int
    text: str
    terms: str


def chunk_metadata(chunk: VectorChunk, writer: str, *, shared: bool) -> Metadata:
    """What Chroma keeps beside a vector: the content (filters use it), the page and the
    writer; on a ``shared`` server also what another client needs to cite the chunk.
    The path is the one the writer indexed it under (its manifest follows renames)."""
    metadata: Metadata = {"content": chunk.content_hash[:20], "writer": writer}
    if chunk.page:
        metadata["page"] = chunk.page
    if shared:
        metadata.update(path=chunk.path, start=chunk.start, end=chunk.end, terms=chunk.terms)
        if chunk.heading:
            metadata["heading"] = chunk.heading
    return metadata


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
        text=document or "",
        terms=str(metadata.get("terms") or ""),
    )


class ChromaStore:
    """Dense vectors per collection, cosine space, written as ``writer``.

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
    ) -> None:
        enforce_offline()  # before the import: chromadb reads the telemetry flag once
        self.writer = writer
        self._key_of = key_of
        self.shared = bool(url)
        self._wait = wait
        self._where = f"The Chroma server at {server_label(url)}" if url else str(path)
        if url:
            self._client = self._call(lambda: _http_client(url, token, ca_bundle, wait))
        else:
            self._client = _persistent_client(path)
        self._collections: dict[str, Any] = {}

    def _classify(self, exc: BaseException) -> ServerError | None:
        from chromadb.errors import ChromaError

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

    def _collection(self, collection: str) -> Any:
        if collection not in self._collections:
            self._collections[collection] = self._call(
                lambda: self._client.get_or_create_collection(
                    self._key_of(collection),
                    configuration={"hnsw": {"space": "cosine"}},
                    embedding_function=None,
                    metadata={"desk_assistant_collection": collection},
                )
            )
        return self._collections[collection]

    def agree_on_model(self, collection: str, model_id: str, dimension: int) -> None:
        """A shared collection names the embedding model its vectors come from; a client
        with another model is refused instead of mixing two vector spaces."""
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
        metadatas: Sequence[Mapping[str, str | int | float]],
        documents: Sequence[str] | None = None,
    ) -> None:
        target = self._collection(collection)
        for start in range(0, len(ids), _BATCH):
            end = start + _BATCH
            batch = {
                "ids": list(ids[start:end]),
                "embeddings": vectors[start:end],
                "metadatas": [dict(m) for m in metadatas[start:end]],
            }
            if documents is not None:
                batch["documents"] = list(documents[start:end])
            self._call(lambda batch=batch: target.upsert(**batch))  # type: ignore[misc]

    def write_chunks(
        self,
        collection: str,
        ids: Sequence[str],
        vectors: np.ndarray,
        chunks: Sequence[VectorChunk],
    ) -> None:
        """Upsert chunks' vectors with what :func:`chunk_metadata` keeps beside them (and,
        on a shared server, their text as the Chroma document)."""
        metadatas = [chunk_metadata(c, self.writer, shared=self.shared) for c in chunks]
        documents = [c.text for c in chunks] if self.shared else None
        self.upsert(collection, ids, vectors, metadatas, documents)

    def delete(self, collection: str, ids: Sequence[str]) -> None:
        if not ids:
            return
        target = self._collection(collection)
        for start in range(0, len(ids), _BATCH):
            batch = list(ids[start : start + _BATCH])
            self._call(lambda batch=batch: target.delete(ids=batch))  # type: ignore[misc]

    def query(
        self,
        collection: str,
        vector: np.ndarray,
        k: int,
        where: Mapping[str, Any] | None = None,
    ) -> list[VectorHit]:
        target = self._collection(collection)
        count = self._call(target.count)
        if count == 0:
            return []
        result = self._call(
            lambda: target.query(
                query_embeddings=[vector],
                n_results=min(k, count),
                where=dict(where) if where else None,
                include=["distances"],
            )
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
        target = self._collection(collection)
        found = self._call(lambda: target.get(ids=list(ids), include=["embeddings"]))
        stored = np.asarray(found["embeddings"], dtype=np.float32)
        if stored.size == 0:
            return {}
        scores = stored @ np.asarray(vector, dtype=np.float32)
        return {cid: float(score) for cid, score in zip(found["ids"], scores, strict=True)}

    def ids(self, collection: str, *, writer: str | None = None) -> set[str]:
        """Every vector's id, or with ``writer`` those that data folder wrote."""
        target = self._collection(collection)
        where = {"writer": writer} if writer is not None else None
        found: set[str] = set()
        offset = 0
        while True:
            page = self._call(
                lambda offset=offset: target.get(  # type: ignore[misc]
                    where=where, include=[], limit=_BATCH, offset=offset
                )
            )
            found.update(page["ids"])
            if len(page["ids"]) < _BATCH:
                return found
            offset += _BATCH

    def shared_rows(self, collection: str, ids: Sequence[str]) -> dict[str, ChunkRow]:
        """Chunks other clients of a shared server wrote, as they recorded them (text,
        path, page, span, terms); this client's own unknown ids stay unknown (orphans)."""
        if not self.shared or not ids:
            return {}
        target = self._collection(collection)
        found = self._call(lambda: target.get(ids=list(ids), include=["documents", "metadatas"]))
        rows: dict[str, ChunkRow] = {}
        for chunk_id, document, metadata in zip(
            found["ids"], found["documents"] or [], found["metadatas"] or [], strict=True
        ):
            if metadata and metadata.get("writer") not in (None, self.writer):
                rows[chunk_id] = _shared_row(chunk_id, document, metadata)
        return rows

    def count(self, collection: str) -> int:
        target = self._collection(collection)
        return int(self._call(target.count))

    def forget(self, collection: str) -> None:
        """Drop what is cached under a name that is about to change."""
        self._collections.pop(collection, None)

    def drop(self, collection: str) -> None:
        """Delete a collection's vectors: on a shared server only the ones this data folder
        wrote (the collection stays for its other clients), else the whole collection."""
        if self.shared:
            self.delete(collection, sorted(self.ids(collection, writer=self.writer)))
            return
        name = self._key_of(collection)
        self._collections.pop(collection, None)
        if name in {c.name for c in self._call(self._client.list_collections)}:
            self._call(lambda: self._client.delete_collection(name))


def _persistent_client(path: Path) -> Any:
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    try:
        path.mkdir(parents=True, exist_ok=True)
        return chromadb.PersistentClient(
            path=str(path), settings=ChromaSettings(anonymized_telemetry=False, allow_reset=False)
        )
    except Exception as exc:  # chromadb raises many unrelated types here
        raise StoreError(f"Cannot open the vector store at {path}: {exc}") from exc


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
