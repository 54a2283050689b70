"""The library: collections, their documents with status, and ingestion with progress.

Reads (documents, collections) go to the library lane and are instant; anything that
writes the vector store or needs the embedding model goes to the indexing lane, where it
waits its turn behind a running ingestion instead of competing with it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QModelIndex, Qt, QUrl, Signal
from PySide6.QtGui import QAction, QDesktopServices, QGuiApplication, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMenu,
    QMessageBox,
    QStackedWidget,
    QTableView,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from desk_assistant.api import (
    Assistant,
    CollectionInfo,
    IngestEvent,
    SourceInfo,
    StoreUnavailable,
)
from ui.collection_dialog import CollectionNameDialog
from ui.document_details import DocumentDetails
from ui.file_types import open_filter
from ui.folder_watcher import FolderWatcher
from ui.icons import Icons
from ui.ingest_progress import IngestProgress
from ui.lanes import Lanes
from ui.plain_text import as_html
from ui.qt_models import DocumentsModel
from ui.workers import Job

Notify = Callable[[str, str, str, list[tuple[str, Callable[[], object]]]], None]
# The summary under the table, in this order: how many of each (files waiting together).
SUMMARY = {
    "indexed": "indexed",
    "failed": "failed",
    "unavailable": "unavailable",  # kept while their folder is not there
    "unsupported": "not supported",
    "queued": "waiting",
    "indexing": "waiting",
}


@dataclass(frozen=True, slots=True)
class Queued:
    """Files an ingestion is about to add: the table shows them before they are done."""

    paths: list[str]


def ingest_stream(
    paths: Sequence[str], collection: str, unexclude: Sequence[str] = ()
) -> Callable[[Assistant], Iterator[object]]:
    """The work of one ingestion: announce the new files, then the engine's events."""

    def work(assistant: Assistant) -> Iterator[object]:
        if unexclude:
            assistant.exclude(unexclude, collection, undo=True)
        for event in assistant.ingest(paths, collection):
            if event.kind == "scan":
                yield Queued(list(event.queued))
            yield event

    return work


class LibraryPanel(QWidget):
    """Collections and documents; drop or add files to index them."""

    collection_changed = Signal(str)
    error = Signal(str, object)  # message, exception
    indexing_changed = Signal(bool)
    summarize_requested = Signal(str)  # the path of an indexed document

    def __init__(
        self, lanes: Lanes, icons: Icons, notify: Notify, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.lanes = lanes
        self._notify = notify
        self._icons = icons
        self.collection = lanes.settings.collection
        self._collections: list[CollectionInfo] = []
        self._ingest_jobs: list[Job] = []

        heading = QLabel("Library", self)
        heading.setObjectName("heading")
        self.collections = QComboBox(self)
        self.collections.setToolTip("The collection questions are answered from")
        self.collections.setAccessibleName("Collection")
        self.collections.activated.connect(self._collection_picked)
        self.collection_menu = self._menu_button(
            "Collections",
            "Create, rename or delete collections",
            "collection",
            [
                self._action("New collection…", None, self.new_collection),
                self._action("Rename collection…", "rename", self.rename_collection),
                self._action("Delete collection…", "remove", self.delete_collection),
            ],
        )
        self.model = DocumentsModel(self)
        self.table = self._documents_table()
        self.empty = QLabel(
            "No documents yet.\n\nDrop files or folders anywhere on this window,\n"
            "or use Add files… (Ctrl+O).",
            self,
        )
        self.empty.setObjectName("emptyState")
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty.setWordWrap(True)
        self.stack = QStackedWidget(self)
        self.stack.addWidget(self.empty)
        self.stack.addWidget(self.table)
        self.details = DocumentDetails(icons, self)
        self.summary = QLabel(self)
        self.summary.setObjectName("muted")
        self.summary.setWordWrap(True)

        self.remove_action = self._action("Remove from library", "remove", self.remove_selected)
        self.reveal_action = self._action("Show in folder", "reveal", self.reveal_selected)
        self.reindex_action = self._action("Re-index collection…", "reindex", self.reindex)
        self.sync_action = self._action("Check folders for changes", "reindex", self.sync)
        self.copy_action = self._action("Copy path and status", "copy", self.copy_selected)
        self.copy_action.setShortcut(QKeySequence.StandardKey.Copy)
        self.copy_action.setShortcutContext(Qt.ShortcutContext.WidgetShortcut)
        self.summarize_action = self._action(
            "Summarize this document", None, self.summarize_selected
        )
        self.summarize_action.setToolTip("A summary by the model, citing the sections it used")
        self.table.addActions(
            [self.summarize_action, self.reveal_action, self.remove_action, self.copy_action]
        )
        self.more = self._menu_button(
            "Documents",
            "Summarize, remove, show in folder, re-index",
            None,
            [
                self.summarize_action,
                self.remove_action,
                self.reveal_action,
                self.sync_action,
                self.reindex_action,
            ],
        )
        self.watcher = FolderWatcher(self)
        self.watcher.changed.connect(self._folders_changed)
        self.watcher.failed.connect(self._watcher_failed)
        self._sync_pending = False
        self.progress = IngestProgress(icons, self)
        self.progress.cancel_requested.connect(self.cancel_ingestion)
        self._lay_out(heading)
        self.table.selectionModel().selectionChanged.connect(self._selection_changed)
        self._selection_changed()

    def _lay_out(self, heading: QLabel) -> None:
        top = QHBoxLayout()
        top.addWidget(heading)
        top.addStretch(1)
        top.addWidget(self.more)
        pick = QHBoxLayout()
        pick.addWidget(self.collections, 1)
        pick.addWidget(self.collection_menu)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 8)
        layout.addLayout(top)
        layout.addLayout(pick)
        layout.addWidget(self.stack, 1)
        layout.addWidget(self.details)
        layout.addWidget(self.summary)
        layout.addWidget(self.progress)

    def _documents_table(self) -> QTableView:
        table = QTableView(self)
        table.setModel(self.model)
        table.setAccessibleName("Documents")
        table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        table.verticalHeader().hide()
        table.setShowGrid(False)
        table.setTabKeyNavigation(False)  # Tab leaves the table; arrows move in it
        table.setWordWrap(False)
        table.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        header = table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Interactive)
        header.resizeSection(1, 110)
        for column in (2, 3):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        table.setContextMenuPolicy(Qt.ContextMenuPolicy.ActionsContextMenu)
        table.doubleClicked.connect(self._open_document)
        return table

    def _menu_button(
        self, text: str, tip: str, icon: str | None, actions: list[QAction]
    ) -> QToolButton:
        button = QToolButton(self)
        button.setText(text)
        button.setToolTip(tip)
        button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        if icon:
            button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
            self._icons.attach(button, icon)
        menu = QMenu(button)
        menu.addActions(actions)
        button.setMenu(menu)
        return button

    def _action(self, text: str, icon: str | None, slot: Callable[[], object]) -> QAction:
        action = QAction(text, self)
        if icon:
            self._icons.attach(action, icon)
        action.triggered.connect(lambda _checked=False: slot())
        return action

    # collections ------------------------------------------------------------------------

    def refresh(self) -> None:
        """Read the collections and the current collection's documents again."""
        collection = self.collection
        job = self.lanes.library.call(
            "list documents", lambda a: (a.collections(), a.sources(collection))
        )
        job.deliver_to(
            self,
            finished=lambda result: self._listed(collection, *result),
            errored=self.error.emit,
        )

    def _listed(
        self, collection: str, collections: list[CollectionInfo], sources: list[SourceInfo]
    ) -> None:
        self._collections = collections
        names = [c.name for c in collections]
        if self.collection not in names:
            names.append(self.collection)  # not created until something is added to it
        self.collections.blockSignals(True)
        self.collections.clear()
        for name in sorted(names, key=str.lower):
            self.collections.addItem(name, name)
        self.collections.setCurrentIndex(self.collections.findData(self.collection))
        self.collections.blockSignals(False)
        if collection == self.collection:
            self.model.set_sources(sources)
            self._update_empty()

    def _collection_picked(self, index: int) -> None:
        name = self.collections.itemData(index)
        if isinstance(name, str) and name != self.collection:
            self.switch_collection(name)

    def switch_collection(self, name: str) -> None:
        self.collection = name
        self.model.clear()
        self._update_empty()
        self.refresh()
        self.follow_folders()
        self.collection_changed.emit(name)

    def follow_folders(self) -> None:
        """Keep watching; the watcher's first signal syncs what changed while the app was
        closed."""
        self.watcher.follow(self.lanes.settings.paths.manifest, self.collection)

    def _folders_changed(self) -> None:
        if self.indexing:
            self._sync_pending = True  # once the running job ends
        else:
            self.sync()

    def _watcher_failed(self, message: str) -> None:
        self._notify(
            "watcher",
            "warning",
            f"Watching the folders for changes stopped ({message}). Use Documents > Check "
            "folders for changes to pick up new files.",
            [],
        )

    def new_collection(self) -> None:
        dialog = CollectionNameDialog(
            "New collection",
            "Name of the new collection (any name: “Recipes & notes”, “Q3/Q4”, “中文”):",
            self.collection_names(),
            lambda name: self.lanes.indexing.call(
                "create collection", lambda a: a.create_collection(name)
            ),
            parent=self,
        )
        if dialog.exec():
            self.switch_collection(dialog.name)

    def rename_collection(self) -> None:
        old = self.collection
        dialog = CollectionNameDialog(
            "Rename collection",
            f"New name for “{old}”:",
            self.collection_names(),
            lambda name: self.lanes.indexing.call(
                "rename collection", lambda a: a.rename_collection(old, name)
            ),
            current=old,
            parent=self,
        )
        if dialog.exec():
            self.switch_collection(dialog.name)

    def collection_names(self) -> list[str]:
        return [c.name for c in self._collections]

    def delete_collection(self) -> None:
        name = self.collection
        answer = QMessageBox.question(
            self,
            "Delete collection",
            as_html(
                f"Delete the collection '{name}' and its index?\n\nYour files are not "
                "touched; their chats are kept."
            ),
        )
        if answer != QMessageBox.StandardButton.Yes:
            return
        job = self.lanes.indexing.call("delete collection", lambda a: a.delete_collection(name))
        job.deliver_to(self, finished=lambda _r: self._deleted(name), errored=self.error.emit)

    def _deleted(self, name: str) -> None:
        others = [c.name for c in self._collections if c.name != name]
        self.switch_collection(others[0] if others else self.lanes.settings.collection)

    # ingestion --------------------------------------------------------------------------

    def add_files(self) -> None:
        files, _ = QFileDialog.getOpenFileNames(
            self,
            "Add files to the library",
            "",
            open_filter(),
            options=QFileDialog.Option.HideNameFilterDetails,
        )
        if files:
            self.ingest(files)

    def add_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Add a folder to the library")
        if folder:
            self.ingest([folder])

    def ingest(self, paths: Sequence[str], unexclude: Sequence[str] = ()) -> Job:
        """Index ``paths`` (files or folders) into the current collection, in the background."""
        return self._run_ingestion(
            "ingest",
            ingest_stream([str(Path(p).absolute()) for p in paths], self.collection, unexclude),
        )

    def sync(self) -> Job:
        collection = self.collection
        return self._run_ingestion("sync", lambda a: a.sync(collection))

    def reindex(self, *, confirm: bool = True) -> Job | None:
        collection = self.collection
        if confirm:
            answer = QMessageBox.question(
                self,
                "Re-index collection",
                as_html(
                    f"Rebuild the index of '{collection}' from its files? Questions can still "
                    "be asked meanwhile, but answers may miss documents until it is done."
                ),
            )
            if answer != QMessageBox.StandardButton.Yes:
                return None
        return self._run_ingestion("reindex", lambda a: a.reindex(collection))

    def _run_ingestion(self, name: str, work: Callable[[Assistant], Iterator[object]]) -> Job:
        collection = self.collection
        job = self.lanes.indexing.stream(name, work).deliver_to(
            self,
            started=self._ingestion_started,
            yielded=lambda item: self._ingest_item(collection, item),
            finished=lambda _r: self._ingestion_ended(job),
            errored=lambda message, exc: self._ingestion_failed(job, message, exc),
        )
        self._ingest_jobs.append(job)
        if len(self._ingest_jobs) == 1:
            self.indexing_changed.emit(True)
        return job

    @property
    def indexing(self) -> bool:
        return bool(self._ingest_jobs)

    def cancel_ingestion(self) -> None:
        for job in self._ingest_jobs:
            job.cancel()

    def _ingestion_started(self) -> None:
        self.progress.start()

    def _ingest_item(self, collection: str, item: object) -> None:
        if collection != self.collection:
            return  # the user switched collections; the run goes on and is shown later
        if isinstance(item, Queued):
            self.model.queue(item.paths)
        elif isinstance(item, IngestEvent):
            self.model.apply(item)
            self.progress.add(item)
        self._update_empty()

    def _ingestion_ended(self, job: Job) -> None:
        self._forget(job)
        if self._sync_pending and not self.indexing:
            self._sync_pending = False
            self.sync()
        run = self.progress.run
        if run.failed:
            names = ", ".join(f"{Path(p).name} ({reason})" for p, reason in run.failed)
            count = len(run.failed)
            files = "file" if count == 1 else "files"
            self._notify(
                "ingest-failures", "warning", f"{count} {files} could not be indexed: {names}", []
            )
        elif job.cancelled:
            self._notify(
                "ingest-cancelled",
                "info",
                "Indexing cancelled. The files indexed so far stay in the library.",
                [],
            )

    def _ingestion_failed(self, job: Job, message: str, exc: object) -> None:
        # The vector store's server is away: what was not indexed stays queued for the
        # next run (the window tries again), instead of vanishing from the list.
        self._forget(job, keep_queue=isinstance(exc, StoreUnavailable))
        self.error.emit(message, exc)

    def _forget(self, job: Job, *, keep_queue: bool = False) -> None:
        if job in self._ingest_jobs:
            self._ingest_jobs.remove(job)
        if not self._ingest_jobs:
            self.progress.stop()
            if keep_queue:
                self.model.pause_run()
            else:
                self.model.finish_run()
            self.indexing_changed.emit(False)
        self.refresh()

    # documents --------------------------------------------------------------------------

    def selected_paths(self) -> list[str]:
        rows = {index.row() for index in self.table.selectionModel().selectedRows()}
        return [self.model.row_at(row).path for row in sorted(rows)]

    def _selection_changed(self, *_args: object) -> None:
        rows = self.table.selectionModel().selectedRows()
        chosen = bool(rows)
        self.remove_action.setEnabled(chosen)
        self.reveal_action.setEnabled(chosen)
        self.copy_action.setEnabled(chosen)
        one_indexed = len(rows) == 1 and self.model.row_at(rows[0].row()).status == "indexed"
        self.summarize_action.setEnabled(one_indexed)
        self.details.show_row(self.model.row_at(rows[0].row()) if len(rows) == 1 else None)

    def copy_selected(self) -> None:
        """The selected documents as lines of path and status, for a message or a list."""
        lines = []
        for path in self.selected_paths():
            row = next(r for r in self.model.rows() if r.path == path)
            lines.append(f"{path}\t{row.status_text}")
        QGuiApplication.clipboard().setText("\n".join(lines))

    def summarize_selected(self) -> None:
        for path in self.selected_paths()[:1]:
            self.summarize_requested.emit(path)

    def remove_selected(self) -> None:
        for path in self.selected_paths():
            self.remove(path)

    def remove(self, path: str) -> Job:
        """Forget a document; the banner offers to add it back (it is indexed again)."""
        collection = self.collection

        def work(assistant: Assistant) -> tuple[list[str], list[str]]:
            before = set(assistant.excludes(collection))
            removed = assistant.remove(path, collection)
            return removed, [p for p in assistant.excludes(collection) if p not in before]

        job = self.lanes.indexing.call("remove", work)
        return job.deliver_to(
            self, finished=lambda result: self._removed(path, *result), errored=self.error.emit
        )

    def _removed(self, path: str, removed: list[str], excluded: list[str]) -> None:
        self.refresh()
        what = Path(path).name if len(removed) <= 1 else f"{len(removed)} documents"
        self._notify(
            f"removed:{path}",
            "info",
            f"Removed {what} from the library.",
            [("Undo", lambda: self.ingest([path], unexclude=excluded))],
        )

    def reveal_selected(self) -> None:
        for path in self.selected_paths()[:1]:
            QDesktopServices.openUrl(QUrl.fromLocalFile(str(Path(path).parent)))

    def _open_document(self, index: QModelIndex) -> None:
        path = self.model.row_at(index.row()).path
        QDesktopServices.openUrl(QUrl.fromLocalFile(path))

    def _update_empty(self) -> None:
        """The table or the empty state, and the summary under it: what is what."""
        rows = self.model.rows()
        self.stack.setCurrentWidget(self.table if rows else self.empty)
        count = {s: sum(r.status == s for r in rows) for s in SUMMARY}
        count["queued"] += count.pop("indexing")
        parts = [f"{n} {SUMMARY[s]}" for s, n in count.items() if n or s == "indexed"]
        chunks = sum(r.chunks for r in rows if r.status in ("indexed", "unavailable"))
        parts.append(f"{chunks} chunk" + ("" if chunks == 1 else "s"))
        self.summary.setText(" · ".join(parts) if rows else "")
        if not rows:
            self.details.show_row(None)
