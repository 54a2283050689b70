"""The engine's parts for one data folder, each built on first use and then kept.

The facade (:class:`desk_assistant.service.Assistant`) offers intents; the indexing
pipeline, ``doctor`` and the answer path do the work, and they receive this container
rather than the facade. Every heavy part (the embedding model, Chroma, the LLM, the
parser processes) is built here and only when first asked for, so listing sources or
printing status stays instant. Which implementation builds a swappable part (an embedder,
an LLM runtime) is decided by the registries in :mod:`desk_assistant.backends.registry`.

One container belongs to one thread: its SQLite connections, caches and models are not
shared, except an embedder or runtime passed in (the desktop app shares one embedding
model between its threads, serialised).
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

from desk_assistant.chats import ChatStore
from desk_assistant.errors import EmbeddingModelMismatch
from desk_assistant.manifest import Manifest, recorded_embedding_models
from desk_assistant.paths import writer_id
from desk_assistant.settings import Settings
from desk_assistant.writer_lock import WriterLock
from ingest.chunking import ChunkingConfig
from ingest.sandbox import SandboxedParser

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    from desk_assistant.backends.embeddings import Embedder
    from desk_assistant.backends.llm.base import LLMRuntime
    from desk_assistant.backends.llm.chat_format import ChatFormat
    from desk_assistant.lexical import LexicalIndex
    from desk_assistant.rag.retrieval import Reranker, Retriever
    from desk_assistant.store import ChromaStore


def folder_embedder(settings: Settings) -> Embedder:
    """The embedding model the settings name for their data folder: an "auto"
    ``embedding_variant`` is resolved against the model ids the folder's collections were
    indexed with (``choose_variant``), so every process that opens the folder - the app,
    the CLI, the watcher - picks the same variant, and one that would send an existing
    collection to a reindex is never picked. Not loaded yet: that happens on first use."""
    from desk_assistant.backends.registry import make_embedder

    return make_embedder(settings, recorded=lambda: _recorded_models(settings))


def _recorded_models(settings: Settings) -> frozenset[str]:
    """The model ids "auto" weighs: the data folder's, and with a Chroma server those its
    collections record. A new data folder records none, so without the server's it would
    pick int8 where the other clients index with fp32, and then be refused by the server
    ("holds vectors of the embedding model ..."): it joins at their variant instead."""
    found = recorded_embedding_models(settings.paths.manifest)
    if not settings.chroma_url:
        return found
    from desk_assistant.credentials import secret
    from desk_assistant.store import server_embedding_models

    return found | server_embedding_models(
        settings.chroma_url,
        secret(settings, "chroma_token"),
        settings.ca_bundle,
        settings.chroma_timeout,
    )


class Parts:
    """Manifest, vector store, lexical indexes, embedder, reranker, runtime, chat format,
    parser workers and chat history of one data folder."""

    def __init__(
        self,
        settings: Settings,
        *,
        embedder: Embedder | None = None,
        runtime: LLMRuntime | None = None,
        reranker: Reranker | None = None,
    ) -> None:
        self.settings = settings
        self.paths = settings.paths.ensure()
        self.writer_lock = WriterLock(self.paths.home)  # held by every write, across processes
        self._manifest: Manifest | None = None
        self._embedder = embedder
        self._runtime = runtime
        self._chat_format: ChatFormat | None = None
        self._store: ChromaStore | None = None
        self._writer: str | None = None
        self._lexical: dict[str, LexicalIndex] = {}
        self._parser: SandboxedParser | None = None
        self._parser_key: tuple[ChunkingConfig, int, int, float] | None = None
        self._chats: ChatStore | None = None
        self._reranker = reranker

    def abort(self) -> None:
        """Kill the child processes now, from any thread (see Assistant.abort): the parsers,
        and what an untrusted model file may be running (a chat template's render)."""
        parser = self._parser
        if parser is not None:
            parser.abort()
        self._close_chat_format()

    def _close_chat_format(self) -> None:
        chat_format = self._chat_format
        if chat_format is not None:
            chat_format.close()

    def close(self) -> None:
        self._close_chat_format()
        if self._parser is not None:
            self._parser.close()
            self._parser = None
        if self._runtime is not None:
            self._runtime.close()
            self._runtime = None
        self.close_chats()
        self.close_stores()

    def close_chats(self) -> None:
        if self._chats is not None:
            self._chats.close()
            self._chats = None

    def close_store(self) -> None:
        """Close the vector store (a repair moves it aside); it opens again on next use."""
        if self._store is not None:
            self._store.close()
            self._store = None

    def close_stores(self) -> None:
        """Close the manifest and the vector store (a repair moves their files aside);
        they open again on next use."""
        self.close_store()
        if self._manifest is not None:
            self._manifest.close()
            self._manifest = None
        self._lexical.clear()

    @property
    def manifest(self) -> Manifest:
        """The index database, opened on first use: a damaged one raises ``DamagedStore``
        there, so that ``doctor`` can still be asked to repair it."""
        if self._manifest is None:
            self._manifest = Manifest(self.paths.manifest)
        return self._manifest

    # indexing ---------------------------------------------------------------------------

    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:
            self._embedder = folder_embedder(self.settings)
        return self._embedder

    @property
    def writer(self) -> str:
        """This data folder's id among the clients of a shared vector store."""
        if self._writer is None:
            self._writer = writer_id(self.paths)
        return self._writer

    @property
    def store(self) -> ChromaStore:
        if self._store is None:
            from desk_assistant.credentials import secret
            from desk_assistant.store import ChromaStore

            settings = self.settings
            self._store = ChromaStore(
                self.paths.chroma,
                settings.chroma_url,
                key_of=self.manifest.collection_key,  # closed with it (close_stores)
                writer=self.writer,
                token=secret(settings, "chroma_token"),
                ca_bundle=settings.ca_bundle,
                wait=settings.chroma_timeout,
                generation=self.manifest.generation,
            )
        return self._store

    def lexical(self, collection: str) -> LexicalIndex:
        """The collection's BM25 index, current with the manifest.

        Loaded from disk when the saved copy matches the manifest's generation, otherwise
        rebuilt from the stored terms (a crash, or another process changed the manifest).
        """
        index = self._lexical.get(collection)
        if index is None:
            from desk_assistant.lexical import LexicalIndex  # numpy, scipy: not for `status`

            index = self._lexical[collection] = LexicalIndex(self._lexical_folder(collection))
        generation = self.manifest.generation(collection)
        if index.generation != generation and not (index.load() and index.generation == generation):
            index.rebuild(self.manifest.iter_terms(collection), generation)
            try:
                index.save()
            except OSError as exc:  # a cache: a full disk must not fail the question
                log.warning("the BM25 index of %r was not saved: %s", collection, exc)
        return index

    def forget_lexical(self, collection: str) -> None:
        """Drop a collection's BM25 index (it is rebuilt from the manifest when needed);
        before its manifest row goes, which holds the id that names the index's folder."""
        self._lexical.pop(collection, None)
        shutil.rmtree(self._lexical_folder(collection), ignore_errors=True)

    def forget_name(self, collection: str) -> None:
        """Drop what is cached under a collection's name, which is about to change (the
        index and the vectors stay where they are: under the collection's id)."""
        self._lexical.pop(collection, None)
        self.store.forget(collection)

    def retire_index(self, collection: str, key: str) -> None:
        """Delete the index a re-index of ``collection`` replaced: its vectors and lexical
        index, under the internal id ``key`` that no collection name maps to any more."""
        self.forget_name(collection)
        self.store.drop_key(key)
        shutil.rmtree(self.paths.lexical / key, ignore_errors=True)

    def _lexical_folder(self, collection: str) -> Path:
        return self.paths.lexical / self.manifest.collection_key(collection)

    def parser(self) -> SandboxedParser:
        """The parser workers, kept between runs and rebuilt when their settings change."""
        settings = self.settings
        tokenizer = self.embedder.tokenizer_file
        config = ChunkingConfig(
            settings.chunk_size, settings.chunk_overlap, str(tokenizer) if tokenizer else None
        )
        key = (config, settings.parse_workers, settings.parse_memory_mb, settings.parse_timeout)
        if self._parser is None or self._parser_key != key:
            if self._parser is not None:
                self._parser.close()
            self._parser = SandboxedParser(
                config,
                workers=settings.parse_workers,
                timeout=settings.parse_timeout,
                memory_mb=settings.parse_memory_mb,
                # Parse ahead by at least one embedding batch of small documents, or the
                # parser idles while the embedder works and the other way round.
                prefetch=max(64, 4 * settings.embed_batch_size),
            )
            self._parser_key = key
        return self._parser

    def check_embedding_model(self, collection: str, *, create: bool) -> None:
        """Refuse to mix vector spaces: a collection keeps the model it was indexed with.
        With ``create``, a collection that does not exist yet is bound to the current one."""
        stored = self.manifest.embedding_model(collection)
        if stored is None:
            if create:
                self.manifest.ensure_collection(
                    collection, self.embedder.model_id, self.embedder.dimension
                )
            return
        if stored[0] != self.embedder.model_id:
            raise EmbeddingModelMismatch(
                f"Collection '{collection}' was indexed with the embedding model {stored[0]}, "
                f"but the configured model is {self.embedder.model_id}. Switch back to that "
                "model, or re-index the collection with it.",
                command=f"desk-assistant --collection '{collection}' reindex",
                action="reindex",
            )

    def agree_with_server(self, collection: str) -> None:
        """On a shared Chroma server, the collection's embedding model is the one its other
        clients use: refuse to mix vector spaces there too (checked when the server is
        first needed, so files are scanned and queued even while it is away)."""
        if self.settings.chroma_url:
            self.store.agree_on_model(collection, self.embedder.model_id, self.embedder.dimension)

    # questions --------------------------------------------------------------------------

    @property
    def reranker(self) -> Reranker | None:
        """The cross-encoder that re-orders the best passages, when one is configured."""
        if self._reranker is None and self.settings.reranker_model is not None:
            from desk_assistant.backends.reranker import CrossEncoderReranker

            self._reranker = CrossEncoderReranker(Path(self.settings.reranker_model))
        return self._reranker

    def retriever(self, collection: str) -> Retriever:
        from desk_assistant.rag.retrieval import Retriever

        self.check_embedding_model(collection, create=False)
        self.agree_with_server(collection)
        return Retriever(
            self.manifest,
            self.store,
            self.lexical(collection),
            self.embedder,
            collection,
            self.reranker,
            self.settings.rerank_depth,
            self.settings.fusion,
            self.settings.dense_weight,
        )

    def model_path(self) -> Path:
        """The GGUF file that answers: the configured one, else the built-in model."""
        from desk_assistant.backends.defaults import llm_path

        return llm_path(self.settings)

    def serves_remotely(self) -> bool:
        """Whether a model server answers (no local model file is involved)."""
        from desk_assistant.backends.registry import SERVER_RUNTIMES

        return self.settings.runtime in SERVER_RUNTIMES

    def model_name(self) -> str:
        """The answering model's name (its file's, or the server's), without loading it."""
        if self._runtime is not None:
            return self._runtime.display_name
        if self.serves_remotely():
            return self.settings.llm_model or "the model server's model"
        return self.model_path().name

    def model_location(self) -> str:
        """Where the answering model is: its file, or the server's address."""
        if self.serves_remotely():
            url = str(self.settings.llm_url)
            model = self.settings.llm_model
            return f"{model} at {url}" if model else url
        return str(self.model_path())

    @property
    def runtime(self) -> LLMRuntime:
        if self._runtime is None:
            from desk_assistant.backends.registry import make_runtime

            self._runtime = make_runtime(self.settings)
        return self._runtime

    def interrupt(self) -> None:
        """Stop the answer being generated, from another thread (see LLMRuntime)."""
        runtime = self._runtime
        if runtime is not None:
            runtime.interrupt()

    @property
    def chat_format(self) -> ChatFormat:
        if self._chat_format is None:
            own = self.runtime.own_chat_format()
            if own is not None:  # a server writes prompts in its model's own format
                self._chat_format = own
                return own
            from desk_assistant.backends.llm.chat_format import chat_format_for
            from desk_assistant.models.library import ModelLibrary

            override = ModelLibrary(self.settings).prompt_format_for(self.model_path())
            self._chat_format = chat_format_for(self.runtime.info, override)
        return self._chat_format

    # chats ------------------------------------------------------------------------------

    @property
    def chats(self) -> ChatStore:
        if self._chats is None:
            self._chats = ChatStore(self.paths.home / "chats.sqlite3")
        return self._chats
