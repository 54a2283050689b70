"""The facade the CLI and the desktop app share: ingest, search, ask, list, remove.

It returns the project's own frozen records and streams through plain generators: the
caller stops iterating and the work stops. Heavy parts (the embedding model, Chroma, the
LLM) load on first use, so listing sources or printing status stays instant.
"""

from __future__ import annotations

import glob
import hashlib
import os
import shutil
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from desk_assistant import offline
from desk_assistant.backends.defaults import default_embedding_dir, default_llm_path
from desk_assistant.chats import ChatStore
from desk_assistant.errors import DeskAssistantError, EmbeddingModelMismatch, NotFoundError
from desk_assistant.manifest import Manifest
from desk_assistant.records import (
    Answer,
    ChatInfo,
    CollectionInfo,
    IngestEvent,
    Passage,
    SearchFilter,
    SourceInfo,
    Token,
)
from desk_assistant.settings import Settings, load_settings
from ingest.chunking import ChunkingConfig
from ingest.loaders import LoadedText, LoaderError
from ingest.sandbox import SandboxedParser, load_isolated
from ingest.scan import Excludes

if TYPE_CHECKING:
    from desk_assistant.backends.embeddings import Embedder
    from desk_assistant.backends.llm.base import LLMRuntime
    from desk_assistant.backends.llm.chat_format import ChatFormat
    from desk_assistant.backends.reranker import CrossEncoderReranker
    from desk_assistant.doctor import Report
    from desk_assistant.indexing import Indexer
    from desk_assistant.lexical import LexicalIndex
    from desk_assistant.rag.retrieval import Mode, RetrievalResult, Retriever
    from desk_assistant.store import ChromaStore

offline.enforce_offline()


def _absolute(path: str | Path) -> str:
    return os.path.normpath(Path(path).expanduser().absolute())


def _inside(path: str, folder: str) -> bool:
    return path != folder and path.startswith(folder.rstrip(os.sep) + os.sep)


def read_sections(path: str | Path, *, timeout: float = 60.0, memory_mb: int = 2048) -> LoadedText:
    """A document's text by section, parsed in an isolated process like during indexing
    (for showing a source; a hostile file cannot hang or crash the caller)."""
    try:
        return load_isolated(str(path), timeout=timeout, memory_mb=memory_mb)
    except LoaderError as exc:
        raise DeskAssistantError(f"Cannot read {Path(path).name}: {exc}") from exc


class Assistant:
    """One app home: its manifest, vector store, lexical indexes and models."""

    def __init__(
        self,
        settings: Settings,
        *,
        embedder: Embedder | None = None,
        runtime: LLMRuntime | None = None,
    ) -> None:
        self.settings = settings
        self.paths = settings.paths.ensure()
        self.manifest = Manifest(self.paths.manifest)
        self._embedder = embedder
        self._runtime = runtime
        self._chat_format: ChatFormat | None = None
        self._store: ChromaStore | None = None
        self._lexical: dict[str, LexicalIndex] = {}
        self._parser: SandboxedParser | None = None
        self._chats: ChatStore | None = None
        self._reranker: CrossEncoderReranker | None = None
        self._parser_key: tuple[ChunkingConfig, int, int, float] | None = None

    def close(self) -> None:
        if self._parser is not None:
            self._parser.close()
            self._parser = None
        if self._runtime is not None:
            self._runtime.close()
            self._runtime = None
        if self._chats is not None:
            self._chats.close()
            self._chats = None
        self.manifest.close()

    def __enter__(self) -> Assistant:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # lazily built parts -------------------------------------------------------------

    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:
            from desk_assistant.backends.embeddings import SentenceTransformerEmbedder

            folder = self.settings.embedding_model or default_embedding_dir()
            self._embedder = SentenceTransformerEmbedder(
                Path(folder), batch_size=self.settings.embed_batch_size
            )
        return self._embedder

    @property
    def store(self) -> ChromaStore:
        if self._store is None:
            from desk_assistant.store import ChromaStore

            self._store = ChromaStore(self.paths.chroma, self.settings.chroma_url)
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
            index.save()
        return index

    def _lexical_folder(self, collection: str) -> Path:
        return self.paths.lexical / hashlib.sha1(collection.encode()).hexdigest()[:16]

    def model_path(self) -> Path:
        return Path(self.settings.model_path) if self.settings.model_path else default_llm_path()

    @property
    def runtime(self) -> LLMRuntime:
        if self._runtime is None:
            from desk_assistant.backends.llm.base import LoadParams
            from desk_assistant.backends.llm.loader import load_runtime

            self._runtime = load_runtime(
                self.model_path(),
                self.settings.runtime,
                LoadParams(
                    context_length=self.settings.context_length, threads=self.settings.threads
                ),
                cache_dir=self.paths.cache,
            )
        return self._runtime

    @property
    def chat_format(self) -> ChatFormat:
        if self._chat_format is None:
            from desk_assistant.backends.llm.chat_format import chat_format_for
            from desk_assistant.models.library import ModelLibrary

            override = ModelLibrary(self.settings).prompt_format_for(self.model_path())
            self._chat_format = chat_format_for(self.runtime.info, override)
        return self._chat_format

    def _collection(self, collection: str | None) -> str:
        return collection or self.settings.collection

    def _check_embedding_model(self, collection: str, *, create: bool) -> None:
        """Refuse to mix vector spaces: a collection keeps the model it was indexed with."""
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
                f"model, or re-index the collection with it: desk-assistant --collection "
                f"'{collection}' reindex"
            )

    # ingestion ---------------------------------------------------------------------

    @property
    def indexer(self) -> Indexer:
        from desk_assistant.indexing import Indexer

        return Indexer(
            self,
            max_file_bytes=self.settings.max_file_bytes,
            embed_batch=self.settings.embed_batch_size,
        )

    def recover(self) -> int:
        """Undo vector writes a killed run left uncommitted; returns how many there were."""
        return self.indexer.recover()

    def ingest(
        self, paths: Iterable[str | Path], collection: str | None = None
    ) -> Iterator[IngestEvent]:
        """Add ``paths`` to the collection and bring it in line with them: add, update,
        skip, remove. The paths are followed from now on (see :meth:`sync`)."""
        name = self._collection(collection)
        self.recover()
        self._check_embedding_model(name, create=True)
        absolute = [_absolute(p) for p in paths]
        self.manifest.follow(name, [p for p in absolute if Path(p).exists()])
        yield from self.indexer.run(absolute, name, Excludes(tuple(self.manifest.excludes(name))))

    def sync(self, collection: str | None = None) -> Iterator[IngestEvent]:
        """Re-scan every file and folder the collection follows: new, changed, deleted."""
        name = self._collection(collection)
        self.recover()
        self._check_embedding_model(name, create=True)
        roots = self.manifest.roots(name)
        yield from self.indexer.run(roots, name, Excludes(tuple(self.manifest.excludes(name))))

    def followed(self, collection: str | None = None) -> list[str]:
        return self.manifest.roots(self._collection(collection))

    def excludes(self, collection: str | None = None) -> list[str]:
        return self.manifest.excludes(self._collection(collection))

    def exclude(
        self, patterns: Iterable[str], collection: str | None = None, *, undo: bool = False
    ) -> list[str]:
        """Add (or with ``undo`` remove) exclusion patterns; the next sync applies them."""
        name = self._collection(collection)
        if self.manifest.embedding_model(name) is None:
            raise NotFoundError(f"there is no collection '{name}' yet: ingest something first")
        self.manifest.set_excluded(name, patterns, excluded=not undo)
        return self.manifest.excludes(name)

    def parser(self) -> SandboxedParser:
        """The parser workers, kept between runs and rebuilt when their settings change."""
        tokenizer = self.embedder.tokenizer_file
        config = ChunkingConfig(
            self.settings.chunk_size,
            self.settings.chunk_overlap,
            str(tokenizer) if tokenizer else None,
        )
        key = (
            config,
            self.settings.parse_workers,
            self.settings.parse_memory_mb,
            self.settings.parse_timeout,
        )
        if self._parser is None or self._parser_key != key:
            if self._parser is not None:
                self._parser.close()
            self._parser = SandboxedParser(
                config,
                workers=self.settings.parse_workers,
                timeout=self.settings.parse_timeout,
                memory_mb=self.settings.parse_memory_mb,
                # Parse ahead by at least one embedding batch of small documents, or the
                # parser idles while the embedder works and the other way round.
                prefetch=max(64, 4 * self.settings.embed_batch_size),
            )
            self._parser_key = key
        return self._parser

    def remove(self, path: str | Path, collection: str | None = None) -> list[str]:
        """Forget a file, or every file under a folder; returns the removed paths.

        A followed path stops being followed; a path inside a followed folder is excluded,
        so the next sync does not bring it back.
        """
        name = self._collection(collection)
        target = _absolute(path)
        removed = self.manifest.paths_under(name, target)
        followed = self.manifest.unfollow(name, target)
        if not removed and not followed:
            raise NotFoundError(f"{target} is not in collection '{name}'")
        if any(_inside(target, root) for root in self.manifest.roots(name)):
            escaped = glob.escape(target)
            self.manifest.set_excluded(name, [escaped, f"{escaped}/*"], excluded=True)
        self.recover()
        self.indexer.remove(removed, name)
        return removed

    def reindex(self, collection: str | None = None) -> Iterator[IngestEvent]:
        """Rebuild a collection from its files with the current embedding model."""
        name = self._collection(collection)
        roots = self.manifest.roots(name)
        excludes = self.manifest.excludes(name)
        if self.manifest.embedding_model(name) is not None:
            self.store.drop(name)
            self.manifest.drop_collection(name)
        self._check_embedding_model(name, create=True)
        self.manifest.set_excluded(name, excludes, excluded=True)
        yield from self.ingest(roots, name)

    def doctor(self, collection: str | None = None, *, repair: bool = False) -> Report:
        """Check (and optionally repair) manifest, vector store and lexical index."""
        from desk_assistant.doctor import check_collection

        name = self._collection(collection)
        return check_collection(
            name,
            self.manifest,
            self.store,
            lambda: self.lexical(name),
            self.embedder,
            repair=repair,
            recover=self.recover,
            collect_garbage=lambda: self.indexer.collect(name),
        )

    # questions ---------------------------------------------------------------------

    def retriever(self, collection: str | None = None) -> Retriever:
        from desk_assistant.rag.retrieval import Retriever

        name = self._collection(collection)
        self._check_embedding_model(name, create=False)
        return Retriever(
            self.manifest,
            self.store,
            self.lexical(name),
            self.embedder,
            name,
            self.reranker,
            self.settings.rerank_depth,
            self.settings.fusion,
            self.settings.dense_weight,
        )

    @property
    def reranker(self) -> CrossEncoderReranker | None:
        if self._reranker is None and self.settings.reranker_model is not None:
            from desk_assistant.backends.reranker import CrossEncoderReranker

            self._reranker = CrossEncoderReranker(Path(self.settings.reranker_model))
        return self._reranker

    def retrieve(
        self,
        query: str,
        collection: str | None = None,
        k: int | None = None,
        mode: Mode = "hybrid",
        where: SearchFilter | None = None,
    ) -> RetrievalResult:
        from desk_assistant.rag.retrieval import Allowed

        name = self._collection(collection)
        only = None
        if where:
            paths = tuple(_absolute(p) for p in where.paths)
            folders = tuple(_absolute(f) for f in where.folders)
            chunk_ids, contents = self.manifest.filtered(name, paths, folders, where.formats)
            only = Allowed(chunk_ids, contents)
        return self.retriever(name).search(query, k or self.settings.top_k, mode=mode, only=only)

    def search(
        self,
        query: str,
        collection: str | None = None,
        k: int | None = None,
        where: SearchFilter | None = None,
    ) -> list[Passage]:
        return self.retrieve(query, collection, k, where=where).passages

    def ask(
        self,
        question: str,
        collection: str | None = None,
        k: int | None = None,
        *,
        chat_id: int | None = None,
        where: SearchFilter | None = None,
    ) -> Iterator[Token | Answer]:
        """Stream the answer's tokens, then the ``Answer`` with its citations.

        With ``chat_id`` the question and the answer are kept in that chat, also an answer
        the caller stopped half-way (marked as stopped).
        """
        if chat_id is None:
            yield from self._answer(question, collection, k, where)
            return
        self.chats.add_question(chat_id, question)
        pieces: list[str] = []
        finished = False
        try:
            for item in self._answer(question, collection, k, where):
                if isinstance(item, Answer):
                    self.chats.add_answer(chat_id, item)
                    finished = True
                else:
                    pieces.append(item.text)
                yield item
        finally:
            if not finished:
                stopped = Answer(
                    question,
                    "".join(pieces).strip(),
                    (),
                    grounded=False,
                    model=self.model_path().name,
                    stopped=True,
                )
                self.chats.add_answer(chat_id, stopped)

    def _answer(
        self, question: str, collection: str | None, k: int | None, where: SearchFilter | None
    ) -> Iterator[Token | Answer]:
        from desk_assistant.rag.answer import Answerer, AnswerSettings, abstention

        timings: dict[str, float] = {}
        started = time.perf_counter()
        retrieved = self.retrieve(question, collection, k, where=where)
        timings["retrieval_s"] = time.perf_counter() - started
        settings = AnswerSettings(
            max_answer_tokens=self.settings.max_answer_tokens,
            temperature=self.settings.temperature,
            context_budget=self.settings.context_budget,
            strict_grounding=self.settings.strict_grounding,
            min_relevance=self.settings.min_relevance,
        )
        model = Path(self._runtime.info.path if self._runtime else self.model_path()).name
        refusal = abstention(question, retrieved, settings, model, timings)
        if refusal is not None:
            timings["total_s"] = time.perf_counter() - started
            yield refusal
            return
        loading = time.perf_counter()
        answerer = Answerer(self.runtime, self.chat_format, settings)
        timings["model_load_s"] = time.perf_counter() - loading
        for item in answerer.answer(question, retrieved, timings):
            if isinstance(item, Answer):
                timings["total_s"] = time.perf_counter() - started
            yield item

    # chats -------------------------------------------------------------------------

    @property
    def chats(self) -> ChatStore:
        if self._chats is None:
            self._chats = ChatStore(self.paths.home / "chats.sqlite3")
        return self._chats

    def new_chat(self, collection: str | None = None) -> ChatInfo:
        return self.chats.create(self._collection(collection))

    # listings ----------------------------------------------------------------------

    def create_collection(self, name: str) -> CollectionInfo:
        """An empty collection, bound to the configured embedding model."""
        checked = load_settings(self.paths.home, collection=name).collection  # validates
        if self.manifest.embedding_model(checked) is not None:
            raise DeskAssistantError(f"a collection named '{checked}' already exists")
        self._check_embedding_model(checked, create=True)
        return next(c for c in self.collections() if c.name == checked)

    def rename_collection(self, old: str, new: str) -> None:
        new = load_settings(self.paths.home, collection=new).collection  # validates the name
        if self.manifest.embedding_model(old) is None:
            raise NotFoundError(f"there is no collection '{old}'")
        if self.manifest.embedding_model(new) is not None:
            raise DeskAssistantError(f"a collection named '{new}' already exists")
        self.recover()
        self.store.rename(old, new)
        self.manifest.rename_collection(old, new)
        self._lexical.pop(old, None)
        shutil.rmtree(self._lexical_folder(old), ignore_errors=True)  # rebuilt under the new name

    def delete_collection(self, name: str) -> None:
        """Forget a collection and its index (the files themselves are never touched)."""
        if self.manifest.embedding_model(name) is None:
            raise NotFoundError(f"there is no collection '{name}'")
        self.store.drop(name)
        self.manifest.drop_collection(name)
        self._lexical.pop(name, None)
        shutil.rmtree(self._lexical_folder(name), ignore_errors=True)

    def sources(self, collection: str | None = None) -> list[SourceInfo]:
        return self.manifest.sources(self._collection(collection))

    def collections(self) -> list[CollectionInfo]:
        return self.manifest.collections()

    def status(self, collection: str | None = None) -> dict[str, Any]:
        name = self._collection(collection)
        counts = self.manifest.counts(name)
        stored = self.manifest.embedding_model(name)
        return {
            "home": str(self.paths.home),
            "collection": name,
            "collections": [c.name for c in self.collections()],
            "followed": self.manifest.roots(name),
            "excludes": self.manifest.excludes(name),
            "sources": sum(v for k, v in counts.items() if k != "chunks"),
            "indexed": counts.get("indexed", 0),
            "failed": counts.get("failed", 0),
            "chunks": counts.get("chunks", 0),
            "embedding_model": stored[0] if stored else None,
            "model": str(self.model_path()),
            "runtime": self.settings.runtime,
            "vector_store": self.settings.chroma_url or str(self.paths.chroma),
            "pending_changes": len(self.manifest.pending()),
        }
