"""The facade the CLI and the desktop app share: ingest, search, ask, list, remove.

It returns the project's own frozen records and streams through plain generators: the
caller stops iterating and the work stops. Heavy parts (the embedding model, Chroma, the
LLM) load on first use, so listing sources or printing status stays instant.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Generator, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from desk_assistant.errors import DeskAssistantError, NotFoundError
from desk_assistant.parts import Parts
from desk_assistant.paths import absolute
from desk_assistant.records import (
    Answer,
    ChatInfo,
    CollectionInfo,
    HealthReport,
    IngestEvent,
    Message,
    Passage,
    Searched,
    SearchFilter,
    SourceInfo,
    Status,
    Summary,
    SummaryProgress,
    Token,
)
from desk_assistant.settings import Settings, collection_name
from ingest.loaders import EXTENSIONS, LoadedText, LoaderError
from ingest.sandbox import load_isolated
from ingest.scan import Excludes

if TYPE_CHECKING:
    from desk_assistant.backends.embeddings import Embedder
    from desk_assistant.backends.llm.base import LLMRuntime
    from desk_assistant.indexing import Indexer
    from desk_assistant.rag.retrieval import Mode, RetrievalResult


def _inside(path: str, folder: str) -> bool:
    return path != folder and path.startswith(folder.rstrip(os.sep) + os.sep)


def supported_suffixes() -> dict[str, tuple[str, ...]]:
    """The file name suffixes ingestion reads (".pdf", ...), by format ("pdf", "code",
    "image", ...): for a file dialog's filter."""
    formats: dict[str, list[str]] = {}
    for suffix, fmt in EXTENSIONS.items():
        formats.setdefault(fmt, []).append(suffix)
    return {fmt: tuple(suffixes) for fmt, suffixes in formats.items()}


def read_sections(path: str | Path, *, timeout: float = 60.0, memory_mb: int = 2048) -> LoadedText:
    """A document's text by section, parsed in an isolated process like during indexing
    (for showing a source; a hostile file cannot hang or crash the caller)."""
    try:
        return load_isolated(str(path), timeout=timeout, memory_mb=memory_mb)
    except LoaderError as exc:
        raise DeskAssistantError(f"Cannot read {Path(path).name}: {exc}") from exc


class Assistant:
    """One data folder's documents, collections, questions and chats, as intents.

    The work is done by the indexing pipeline, ``doctor`` and the answer path over the
    data folder's :class:`~desk_assistant.parts.Parts`; this facade only says what to do.
    """

    def __init__(self, parts: Parts) -> None:
        self._parts = parts

    @classmethod
    def open(
        cls,
        settings: Settings,
        *,
        embedder: Embedder | None = None,
        runtime: LLMRuntime | None = None,
    ) -> Assistant:
        """The Assistant of the data folder ``settings`` name; ``embedder`` and ``runtime``
        replace the configured models (fakes in tests, a model shared between threads)."""
        return cls(Parts(settings, embedder=embedder, runtime=runtime))

    @property
    def settings(self) -> Settings:
        """What this Assistant was opened with (read-only: a change opens a new one)."""
        return self._parts.settings

    def close(self) -> None:
        self._parts.close()

    def abort(self) -> None:
        """Kill the child processes (document parsers) at once, from any thread, while
        another thread may still be using this Assistant: for quitting without waiting
        for it. The Assistant is not to be used afterwards."""
        self._parts.abort()

    def __enter__(self) -> Assistant:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _indexer(self) -> Indexer:
        from desk_assistant.indexing import Indexer  # numpy: not for `status`

        return Indexer(self._parts)

    # ingestion ---------------------------------------------------------------------

    def _collection(self, collection: str | None) -> str:
        return collection or self._parts.settings.collection

    def _prepare(self, collection: str | None) -> tuple[str, Indexer]:
        """The collection's name and an indexer, after a killed run's writes are undone
        and the collection is bound to the current embedding model."""
        name = self._collection(collection)
        indexer = self._indexer()
        indexer.recover()
        self._parts.check_embedding_model(name, create=True)
        return name, indexer

    def ingest(
        self, paths: Iterable[str | Path], collection: str | None = None
    ) -> Iterator[IngestEvent]:
        """Add ``paths`` to the collection and bring it in line with them: add, update,
        skip, remove. The paths are followed from now on (see :meth:`sync`)."""
        name = self._collection(collection)
        manifest = self._parts.manifest
        wanted = [absolute(p) for p in paths]
        # Followed before the vector store is touched: when its server is away, the next
        # sync still knows what waits to be indexed.
        self._parts.check_embedding_model(name, create=True)
        manifest.follow(name, [p for p in wanted if Path(p).exists()])
        name, indexer = self._prepare(collection)
        yield from indexer.run(wanted, name, Excludes(tuple(manifest.excludes(name))))

    def sync(self, collection: str | None = None) -> Iterator[IngestEvent]:
        """Re-scan every file and folder the collection follows: new, changed, deleted."""
        name, indexer = self._prepare(collection)
        manifest = self._parts.manifest
        roots = manifest.roots(name)
        yield from indexer.run(roots, name, Excludes(tuple(manifest.excludes(name))))

    def followed(self, collection: str | None = None) -> list[str]:
        return self._parts.manifest.roots(self._collection(collection))

    def excludes(self, collection: str | None = None) -> list[str]:
        return self._parts.manifest.excludes(self._collection(collection))

    def exclude(
        self, patterns: Iterable[str], collection: str | None = None, *, undo: bool = False
    ) -> list[str]:
        """Add (or with ``undo`` remove) exclusion patterns; the next sync applies them."""
        name = self._collection(collection)
        manifest = self._parts.manifest
        if manifest.embedding_model(name) is None:
            raise NotFoundError(f"there is no collection '{name}' yet: ingest something first")
        manifest.set_excluded(name, patterns, excluded=not undo)
        return manifest.excludes(name)

    def remove(self, path: str | Path, collection: str | None = None) -> list[str]:
        """Forget a file, or every file under a folder; returns the removed paths.

        A followed path stops being followed; a path inside a followed folder is excluded,
        so the next sync does not bring it back.
        """
        name = self._collection(collection)
        manifest = self._parts.manifest
        target = absolute(path)
        removed = manifest.paths_under(name, target)
        followed = manifest.unfollow(name, target)
        if not removed and not followed:
            raise NotFoundError(f"{target} is not in collection '{name}'")
        if any(_inside(target, root) for root in manifest.roots(name)):
            escaped = glob.escape(target)
            manifest.set_excluded(name, [escaped, f"{escaped}{os.sep}*"], excluded=True)
        indexer = self._indexer()
        indexer.recover()
        indexer.remove(removed, name)
        return removed

    def reindex(self, collection: str | None = None) -> Iterator[IngestEvent]:
        """Rebuild a collection from its files with the current embedding model."""
        name = self._collection(collection)
        manifest = self._parts.manifest
        roots = manifest.roots(name)
        excludes = manifest.excludes(name)
        if manifest.embedding_model(name) is not None:
            self._drop_index(name)
        self._parts.check_embedding_model(name, create=True)
        manifest.set_excluded(name, excludes, excluded=True)
        yield from self.ingest(roots, name)

    def doctor(self, collection: str | None = None, *, repair: bool = False) -> HealthReport:
        """Check (and optionally repair) manifest, vector store and lexical index."""
        from desk_assistant.doctor import check_collection

        return check_collection(self._parts, self._collection(collection), repair=repair)

    # questions ---------------------------------------------------------------------

    def retrieve(
        self,
        query: str,
        collection: str | None = None,
        k: int | None = None,
        mode: Mode = "hybrid",
        where: SearchFilter | None = None,
    ) -> RetrievalResult:
        """The passages that best match ``query``, with how relevant the best one is."""
        from desk_assistant.rag.search import retrieve

        k = k or self._parts.settings.top_k
        return retrieve(self._parts, query, self._collection(collection), k, mode, where)

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
    ) -> Generator[Searched | Token | Answer, None, None]:
        """Stream what is searched for (``Searched``, with the evidence quote), the
        answer's tokens, then the ``Answer`` with its citations and support check.

        With ``chat_id`` the question is read in the light of that chat (a follow-up is
        made standalone for the search, earlier turns go into the prompt) and the question
        and the answer are kept in it, also an answer the caller stopped half-way
        (marked as stopped).
        """
        from desk_assistant.rag.answer import answer_question
        from desk_assistant.rag.history import turns

        name = self._collection(collection)
        k = k or self._parts.settings.top_k
        if chat_id is None:
            yield from answer_question(self._parts, question, name, k, where)
            return
        chats = self._parts.chats
        history = turns(chats.messages(chat_id))
        chats.add_question(chat_id, question)
        items = answer_question(self._parts, question, name, k, where, history)
        pieces: list[str] = []
        query = ""
        finished = False
        try:
            for item in items:
                if isinstance(item, Answer):
                    chats.add_answer(chat_id, item)
                    finished = True
                elif isinstance(item, Searched):
                    query = item.query
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
                    model=self._parts.model_name(),
                    stopped=True,
                    query=query,
                )
                chats.add_answer(chat_id, stopped)

    def interrupt(self) -> None:
        """Stop the answer :meth:`ask` (or the summary :meth:`summarize`) is streaming in
        another thread, at once (the Stop button: a model server may not send its next
        words for minutes). That thread's ``ask`` then ends with an error, and the partial
        answer is kept as stopped."""
        self._parts.interrupt()

    def summarize(
        self, path: str | Path, collection: str | None = None
    ) -> Iterator[SummaryProgress | Token | Summary]:
        """Summarize an indexed document with the model, section by section: progress
        after each step, the final summary's tokens, then the ``Summary`` whose sentences
        cite the sections they came from. Stop iterating to stop it."""
        from desk_assistant.summarize import Summarizer

        yield from Summarizer(self._parts).run(str(path), self._collection(collection))

    def warm_up(self) -> str:
        """Load what the first question needs (embedding model, vector store, LLM and its
        prompt format) now, while the user is still looking around; returns the name of
        the model that answers."""
        parts = self._parts
        _ = parts.embedder.dimension, parts.store, parts.runtime, parts.chat_format
        return parts.model_name()

    # chats -------------------------------------------------------------------------

    def new_chat(self, collection: str | None = None) -> ChatInfo:
        return self._parts.chats.create(self._collection(collection))

    def chats(self, *, collection: str | None = None) -> list[ChatInfo]:
        """The chats, most recently used first: all of them, or those of ``collection``."""
        found = self._parts.chats.recent()
        return found if collection is None else [c for c in found if c.collection == collection]

    def chat(self, chat_id: int) -> ChatInfo:
        return self._parts.chats.get(chat_id)

    def messages(self, chat_id: int) -> list[Message]:
        """The chat's questions and answers, oldest first."""
        return self._parts.chats.messages(chat_id)

    def rename_chat(self, chat_id: int, title: str) -> None:
        self._parts.chats.rename(chat_id, title)

    def delete_chat(self, chat_id: int) -> None:
        """Hide the chat; :meth:`restore_chat` brings it back until it is purged."""
        self._parts.chats.delete(chat_id)

    def restore_chat(self, chat_id: int) -> None:
        self._parts.chats.restore(chat_id)

    def purge_chats(self, older_than: float = 30 * 24 * 3600) -> int:
        """Delete for good the chats deleted more than ``older_than`` seconds ago."""
        return self._parts.chats.purge(older_than)

    # listings ----------------------------------------------------------------------

    def _new_collection_name(self, name: str) -> str:
        """``name`` as a new collection may be called, or a message a user can act on."""
        try:
            checked = collection_name(name)
        except ValueError as exc:
            raise DeskAssistantError(str(exc)) from None
        if self._parts.manifest.embedding_model(checked) is not None:
            raise DeskAssistantError(f"there is already a collection named “{checked}”")
        return checked

    def create_collection(self, name: str) -> CollectionInfo:
        """An empty collection, bound to the configured embedding model."""
        checked = self._new_collection_name(name)
        self._parts.check_embedding_model(checked, create=True)
        return next(c for c in self.collections() if c.name == checked)

    def rename_collection(self, old: str, new: str) -> None:
        """Only the name changes: the index stays under the collection's internal id, and
        the chats asked in it follow it."""
        manifest = self._parts.manifest
        if manifest.embedding_model(old) is None:
            raise NotFoundError(f"there is no collection '{old}'")
        new = self._new_collection_name(new)
        self._indexer().recover()
        self._parts.forget_name(old)
        manifest.rename_collection(old, new)
        self._parts.chats.rename_collection(old, new)

    def delete_collection(self, name: str) -> None:
        """Forget a collection and its index (the files themselves are never touched)."""
        if self._parts.manifest.embedding_model(name) is None:
            raise NotFoundError(f"there is no collection '{name}'")
        self._drop_index(name)

    def _drop_index(self, name: str) -> None:
        """Delete the collection's vectors, lexical index and manifest rows (this last:
        the row holds the id that names the others)."""
        self._parts.store.drop(name)
        self._parts.forget_lexical(name)
        self._parts.manifest.drop_collection(name)

    def sources(self, collection: str | None = None) -> list[SourceInfo]:
        return self._parts.manifest.sources(self._collection(collection))

    def collections(self) -> list[CollectionInfo]:
        return self._parts.manifest.collections()

    def status(self, collection: str | None = None) -> Status:
        """What is indexed and with which models, read without loading any of them."""
        parts = self._parts
        manifest = parts.manifest
        name = self._collection(collection)
        counts = manifest.counts(name)
        stored = manifest.embedding_model(name)
        return Status(
            home=str(parts.paths.home),
            collection=name,
            collections=tuple(c.name for c in self.collections()),
            followed=tuple(manifest.roots(name)),
            excludes=tuple(manifest.excludes(name)),
            sources=sum(v for k, v in counts.items() if k != "chunks"),
            indexed=counts.get("indexed", 0),
            failed=counts.get("failed", 0),
            chunks=counts.get("chunks", 0),
            embedding_model=stored[0] if stored else None,
            model=parts.model_location(),
            runtime=parts.settings.runtime,
            vector_store=parts.settings.chroma_url or str(parts.paths.chroma),
            pending_changes=len(manifest.pending()),
        )
