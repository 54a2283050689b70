"""The facade the CLI and the desktop app share: ingest, search, ask, list, remove.

It returns the project's own frozen records and streams through plain generators: the
caller stops iterating and the work stops. Heavy parts (the embedding model, Chroma, the
LLM) load on first use, so listing sources or printing status stays instant.
"""

from __future__ import annotations

import glob
import os
import threading
from collections.abc import Callable, Generator, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from desk_assistant.disk_space import disk_full, is_disk_full
from desk_assistant.errors import DamagedStore, DeskAssistantError, DiskFull, NotFoundError
from desk_assistant.manifest import staging_name
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
from ingest.sandbox import load_isolated, run_isolated
from ingest.scan import Excludes, unreachable_root

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


WaitNotice = Callable[[str | None], None]


def check_pdf(path: str | Path, page: int, *, timeout: float = 30.0) -> int:
    """Open a PDF and render its ``page`` in an isolated process, as a viewer would, and
    return its page count: what the window does before its own PDF view (in the app's
    process and on its GUI thread) is given a file that could hang or crash it."""
    try:
        count: int = run_isolated(
            "ingest.loaders.pdf:open_page", str(path), page, timeout=timeout, memory_mb=1024
        )
    except LoaderError as exc:
        raise DeskAssistantError(f"Cannot show {Path(path).name}: {exc}") from exc
    return count


class Assistant:
    """One data folder's documents, collections, questions and chats, as intents.

    The work is done by the indexing pipeline, ``doctor`` and the answer path over the
    data folder's :class:`~desk_assistant.parts.Parts`; this facade only says what to do.

    Every intent that writes the index holds the data folder's writer lock (see
    :mod:`desk_assistant.writer_lock`): while another process or thread writes, it waits
    up to ``writer_wait`` seconds (``None``: as long as it takes), telling ``on_wait``
    whom it waits for when the wait begins and ``None`` when it ends. Streaming intents
    also yield a "waiting" event now and then, so a caller can give up by closing them.
    Reads never wait.
    """

    def __init__(
        self,
        parts: Parts,
        *,
        client: str = "Desk Assistant",
        writer_wait: float | None = None,
        on_wait: WaitNotice | None = None,
    ) -> None:
        self._parts = parts
        self._client = client
        self._writer_wait = writer_wait
        self._on_wait = on_wait
        self._interrupted = threading.Event()
        self.recovered: str | None = None  # what was rebuilt when this Assistant opened
        self._open_checks()

    @classmethod
    def open(
        cls,
        settings: Settings,
        *,
        embedder: Embedder | None = None,
        runtime: LLMRuntime | None = None,
        client: str = "Desk Assistant",
        writer_wait: float | None = None,
        on_wait: WaitNotice | None = None,
    ) -> Assistant:
        """The Assistant of the data folder ``settings`` name; ``embedder`` and ``runtime``
        replace the configured models (fakes in tests, a model shared between threads).
        ``client`` names the program for a writer waiting on this one ("desk-assistant",
        "the desktop app")."""
        return cls(
            Parts(settings, embedder=embedder, runtime=runtime),
            client=client,
            writer_wait=writer_wait,
            on_wait=on_wait,
        )

    def _open_checks(self) -> None:
        """What opening a data folder may have to do first, once.

        A manifest that lost collections the record lists (deleted, or emptied) is rebuilt
        from the vector store and the record: nothing is embedded again, and ``recovered``
        says what came back. A data folder an older version wrote (a manifest with
        collections but no record) gets its record, and its vectors the text that makes
        such a rebuild possible. A damaged manifest is left to ``doctor`` (every intent
        says so).
        """
        try:
            manifest = self._parts.manifest
            lost = manifest.lost_collections()
            older = not lost and not manifest.record_path.exists() and manifest.collections()
        except DamagedStore:
            return
        if lost:
            self._rebuild_lost()
        elif older:
            self._upgrade()

    def _rebuild_lost(self) -> None:
        from desk_assistant.restore import rebuild

        with self._writing("rebuild of the index"):
            lost = self._parts.manifest.lost_collections()  # unless another process did
            if lost:
                restored = rebuild(self._parts, lost)
                self.recovered = (
                    f"The index database had lost {len(lost)} collection(s); rebuilt from the "
                    f"vector store and the data folder's record: {restored.describe()}."
                )

    def _upgrade(self) -> None:
        from desk_assistant.doctor import upgrade_data_folder

        if self._on_wait is not None:
            self._on_wait(
                "Adding the passages' text to the vector store (once, for data an older "
                "version indexed)"
            )
        try:
            with self._writing("upgrade of the data folder"):
                if not self._parts.manifest.record_path.exists():
                    upgrade_data_folder(self._parts)
        except DamagedStore:
            pass  # the intents and doctor say what is damaged; the upgrade waits for repair
        finally:
            if self._on_wait is not None:
                self._on_wait(None)

    @contextmanager
    def _disk_guard(self, doing: str) -> Iterator[None]:
        """A full disk, from whichever layer, becomes one message naming the folder."""
        try:
            yield
        except DiskFull:
            raise
        except Exception as exc:
            if is_disk_full(exc):
                raise disk_full(self._parts.paths.home, doing=doing) from exc
            raise

    @contextmanager
    def _writing(self, what: str) -> Iterator[None]:
        """Be the data folder's only writer for the block."""
        waited = False

        def notify(message: str | None) -> None:
            nonlocal waited
            waited = True
            if self._on_wait is not None:
                self._on_wait(message)

        with self._parts.writer_lock.hold(
            f"{self._client} {what}",
            timeout=self._writer_wait,
            notify=notify,
            cancelled=self._interrupted.is_set,
        ):
            if waited and self._on_wait is not None:
                self._on_wait(None)
            with self._disk_guard(f"The {what}"):
                yield

    def _writes(
        self, what: str, work: Callable[[], Iterator[IngestEvent]]
    ) -> Iterator[IngestEvent]:
        """Run a streaming write under the writer lock; while waiting for it, yield a
        "waiting" event four times a second (the caller may stop there)."""
        lock = self._parts.writer_lock
        notice: str | None = None
        for holder in lock.waits(
            f"{self._client} {what}", timeout=self._writer_wait, cancelled=self._interrupted.is_set
        ):
            if notice is None:
                notice = lock.waiting_message(holder)
                if self._on_wait is not None:
                    self._on_wait(notice)
            yield IngestEvent("waiting", reason=notice)
        try:
            if notice is not None and self._on_wait is not None:
                self._on_wait(None)
            with self._disk_guard(f"The {what}"):
                yield from work()
        finally:
            lock.release()

    @property
    def settings(self) -> Settings:
        """What this Assistant was opened with (read-only: a change opens a new one)."""
        return self._parts.settings

    def close(self) -> None:
        self._parts.close()

    def abort(self) -> None:
        """Kill the child processes (document parsers, a chat template's render) at once,
        from any thread, while another thread may still be using this Assistant: for
        quitting without waiting for it. An intent waiting for another writer stops
        waiting (it raises ``WriterBusy``). The Assistant is not to be used afterwards."""
        self._interrupted.set()
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
        wanted = [absolute(p) for p in paths]
        return self._writes("ingest", lambda: self._ingest(wanted, collection))

    def _ingest(self, wanted: list[str], collection: str | None) -> Iterator[IngestEvent]:
        name = self._collection(collection)
        manifest = self._parts.manifest
        # Followed before the vector store is touched: when its server is away, the next
        # sync still knows what waits to be indexed.
        self._parts.check_embedding_model(name, create=True)
        manifest.follow(name, [p for p in wanted if Path(p).exists()])
        name, indexer = self._prepare(collection)
        yield from indexer.run(wanted, name, Excludes(tuple(manifest.excludes(name))))

    def sync(self, collection: str | None = None) -> Iterator[IngestEvent]:
        """Re-scan every file and folder the collection follows: new, changed, deleted."""
        return self._writes("sync", lambda: self._sync(collection))

    def _sync(self, collection: str | None) -> Iterator[IngestEvent]:
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
        with self._writing("exclude"):
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
        with self._writing("remove"):
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
        return self._writes("reindex", lambda: self._reindex(collection))

    def _reindex(self, collection: str | None) -> Iterator[IngestEvent]:
        """The new index is built beside the old one, which answers questions until the
        new one is complete and takes its place in one step (before the summary is
        reported). Stopped or killed half-way, the old index stays as it was; the next
        re-index drops the partial copy."""
        name = self._collection(collection)
        manifest = self._parts.manifest
        roots = manifest.roots(name)
        if manifest.embedding_model(name) is None:
            yield from self._ingest(roots, name)
            return
        known = manifest.known_files(name)
        away = [why for root in roots if (why := unreachable_root(root, known))]
        if away:
            raise DeskAssistantError(
                f"Cannot re-index '{name}' now: {away[0]}. Its documents there could not be "
                "read again; re-index once it is back, or remove it from the collection."
            )
        staged = staging_name(name)
        if manifest.embedding_model(staged) is not None:
            self._drop_index(staged)
        self._parts.check_embedding_model(staged, create=True)
        manifest.follow(staged, roots)
        manifest.set_excluded(staged, manifest.excludes(name), excluded=True)
        for event in self._ingest(roots, staged):
            if event.kind == "summary":
                replaced = manifest.replace_collection(name, staged)
                self._parts.forget_name(staged)
                self._parts.retire_index(name, replaced)
            yield event

    def doctor(self, collection: str | None = None, *, repair: bool = False) -> HealthReport:
        """Check (and optionally repair) manifest, vector store and lexical index."""
        from desk_assistant.doctor import check_collection, check_data_folder

        name = self._collection(collection)
        # Even a check holds the lock: a write in progress would look like damage.
        with self._writing("doctor --repair" if repair else "doctor"):
            folder = check_data_folder(self._parts, repair=repair)
            if any(f.check == "database" and not f.repaired for f in folder):
                return HealthReport(name, {}, tuple(folder))  # nothing else can be read
            report = check_collection(self._parts, name, repair=repair)
        return HealthReport(name, report.checked, (*folder, *report.findings))

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
        with self._disk_guard("Keeping the question in the chat"):
            chats = self._parts.chats
            history = turns(chats.messages(chat_id))
            chats.add_question(chat_id, question)
            items = answer_question(self._parts, question, name, k, where, history)
            yield from self._kept_in_chat(chat_id, question, items)

    def _kept_in_chat(
        self, chat_id: int, question: str, items: Iterator[Searched | Token | Answer]
    ) -> Iterator[Searched | Token | Answer]:
        """Pass ``items`` on and keep the answer in the chat, also one stopped half-way."""
        chats = self._parts.chats
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
        with self._writing("create collection"):
            checked = self._new_collection_name(name)
            self._parts.check_embedding_model(checked, create=True)
        return next(c for c in self.collections() if c.name == checked)

    def rename_collection(self, old: str, new: str) -> None:
        """Only the name changes: the index stays under the collection's internal id, and
        the chats asked in it follow it."""
        manifest = self._parts.manifest
        if manifest.embedding_model(old) is None:
            raise NotFoundError(f"there is no collection '{old}'")
        with self._writing("rename collection"):
            new = self._new_collection_name(new)
            self._indexer().recover()
            self._parts.forget_name(old)
            manifest.rename_collection(old, new)
            self._parts.chats.rename_collection(old, new)

    def delete_collection(self, name: str) -> None:
        """Forget a collection and its index (the files themselves are never touched)."""
        if self._parts.manifest.embedding_model(name) is None:
            raise NotFoundError(f"there is no collection '{name}'")
        with self._writing("delete collection"):
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
            unavailable=counts.get("unavailable", 0),
            chunks=counts.get("chunks", 0),
            embedding_model=stored[0] if stored else None,
            model=parts.model_location(),
            runtime=parts.settings.runtime,
            vector_store=parts.settings.chroma_url or str(parts.paths.chroma),
            pending_changes=len(manifest.pending()),
        )
