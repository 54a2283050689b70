"""Qt item models over the engine's records: the documents of a collection, the chats.

The rows are plain records (``SourceInfo``, ``ChatInfo``) plus what only the window knows
while it works: which files are queued or being indexed, and which were passed over.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, ClassVar

from PySide6.QtCore import (
    QAbstractListModel,
    QAbstractTableModel,
    QModelIndex,
    QPersistentModelIndex,
    Qt,
)
from PySide6.QtGui import QIcon

from desk_assistant.api import FILE_STEPS, ChatInfo, IngestEvent, SourceInfo
from ui.icons import render
from ui.theme import colors

AnyIndex = QModelIndex | QPersistentModelIndex


@functools.cache
def _warning_icon(color: str) -> QIcon:
    return render("warning", color)


STATUS_TEXT = {
    "indexed": "indexed",
    "queued": "queued",
    "indexing": "indexing…",
    "failed": "failed",
    "unsupported": "not indexed",
    "unavailable": "unavailable",
}


@dataclass(frozen=True, slots=True)
class DocumentRow:
    path: str
    status: str  # indexed | queued | indexing | failed | unsupported | unavailable
    reason: str | None = None
    pages: int | None = None
    chunks: int = 0
    warnings: tuple[str, ...] = ()  # indexed, but the loader could not read all of it

    @property
    def name(self) -> str:
        return Path(self.path).name or self.path

    @property
    def status_text(self) -> str:
        text = STATUS_TEXT.get(self.status, self.status)
        if self.reason:
            return f"{text}: {self.reason}"
        return f"{text} ({'; '.join(self.warnings)})" if self.warnings else text

    @classmethod
    def from_source(cls, source: SourceInfo) -> DocumentRow:
        status = source.status if source.status in ("indexed", "unavailable") else "failed"
        return cls(source.path, status, source.error, source.pages, source.chunks, source.warnings)


class DocumentsModel(QAbstractTableModel):
    """The library table: what is indexed, what is on its way, what failed and why."""

    COLUMNS: ClassVar[tuple[str, ...]] = ("Name", "Status", "Pages", "Chunks")
    PATH_ROLE = Qt.ItemDataRole.UserRole + 1

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._rows: list[DocumentRow] = []
        self._passed_over: dict[str, DocumentRow] = {}  # skipped files of this session
        self._queue: list[str] = []  # queued paths, in the order the pipeline takes them

    # what the engine says --------------------------------------------------------------

    def set_sources(self, sources: list[SourceInfo]) -> None:
        """The collection as stored; queued rows of a running ingestion are kept."""
        known = {s.path for s in sources}
        pending = [r for r in self._rows if r.status in ("queued", "indexing")]
        rows = [DocumentRow.from_source(s) for s in sources]
        rows += [r for r in pending if r.path not in known]
        rows += [r for path, r in self._passed_over.items() if path not in known]
        self._reset(sorted(rows, key=lambda r: r.name.lower()))

    def clear(self) -> None:
        self._passed_over.clear()
        self._queue.clear()
        self._reset([])

    def queue(self, paths: list[str]) -> None:
        """Files an ingestion is about to process: shown as queued until they report."""
        rows = {r.path: r for r in self._rows}
        for path in paths:
            rows[path] = DocumentRow(path, "queued")
        self._queue += [p for p in paths if p not in self._queue]
        self._reset(sorted(rows.values(), key=lambda r: r.name.lower()))
        self._mark_next_indexing()

    def apply(self, event: IngestEvent) -> None:
        """One file of a running ingestion finished: show its outcome at once. A file that
        reports progress is the one being worked on."""
        if event.kind in FILE_STEPS and event.path is not None:
            self._mark_indexing(event.path)
            return
        if event.kind != "file" or event.path is None:
            return
        outcome = event.outcome
        if event.path in self._queue:
            self._queue.remove(event.path)
        if outcome == "removed":
            self._remove_path(event.path)
            return
        if outcome == "skipped":
            row = DocumentRow(event.path, "unsupported", event.reason)
            self._passed_over[event.path] = row
        elif outcome == "unavailable":
            row = DocumentRow(event.path, "unavailable", event.reason)
        elif outcome == "failed":
            row = DocumentRow(event.path, "failed", event.reason)
        elif outcome in ("added", "updated"):
            row = DocumentRow(
                event.path, "indexed", None, event.pages, event.chunks, event.warnings
            )
        else:
            return
        self._upsert(row)
        self._mark_next_indexing()

    def finish_run(self) -> None:
        """The run ended (done or cancelled): nothing is queued any more."""
        self._queue.clear()
        self._reset([r for r in self._rows if r.status not in ("queued", "indexing")])

    def pause_run(self) -> None:
        """The run stopped before its end (the vector store's server is away): what it
        had not done stays queued for the next run."""
        self._queue.clear()
        self._reset(
            [replace(r, status="queued") if r.status == "indexing" else r for r in self._rows]
        )

    # helpers ----------------------------------------------------------------------------

    def _mark_next_indexing(self) -> None:
        """The first queued file is the one the pipeline works on (files go in order)."""
        if any(r.status == "indexing" for r in self._rows) or not self._queue:
            return
        self._mark_indexing(self._queue[0])

    def _mark_indexing(self, path: str) -> None:
        for number, row in enumerate(self._rows):
            if row.path == path and row.status == "queued":
                self._rows[number] = replace(row, status="indexing")
                self._changed(number)
                return

    def _upsert(self, row: DocumentRow) -> None:
        for number, existing in enumerate(self._rows):
            if existing.path == row.path:
                self._rows[number] = row
                self._changed(number)
                return
        position = sum(1 for r in self._rows if r.name.lower() < row.name.lower())
        self.beginInsertRows(QModelIndex(), position, position)
        self._rows.insert(position, row)
        self.endInsertRows()

    def _remove_path(self, path: str) -> None:
        for number, existing in enumerate(self._rows):
            if existing.path == path:
                self.beginRemoveRows(QModelIndex(), number, number)
                del self._rows[number]
                self.endRemoveRows()
                return

    def _changed(self, number: int) -> None:
        self.dataChanged.emit(self.index(number, 0), self.index(number, len(self.COLUMNS) - 1))

    def _reset(self, rows: list[DocumentRow]) -> None:
        self.beginResetModel()
        self._rows = rows
        self.endResetModel()

    def row_at(self, number: int) -> DocumentRow:
        return self._rows[number]

    def rows(self) -> list[DocumentRow]:
        return list(self._rows)

    # QAbstractTableModel -----------------------------------------------------------------

    def rowCount(self, parent: AnyIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: AnyIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.COLUMNS)

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return self.COLUMNS[section]
        return None

    def data(self, index: AnyIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        row = self._rows[index.row()]
        column = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            # The status in a word; the reason is in the details under the table.
            return (
                row.name,
                STATUS_TEXT.get(row.status, row.status),
                "" if row.pages is None else str(row.pages),
                str(row.chunks) if row.status in ("indexed", "unavailable") else "",
            )[column]
        if role == Qt.ItemDataRole.DecorationRole:
            return _warning_icon(colors()["warning"]) if column == 1 and row.reason else None
        if role == Qt.ItemDataRole.TextAlignmentRole:
            right = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
            return int(right) if column >= 2 else None
        if role == Qt.ItemDataRole.ToolTipRole:
            return f"{row.path}\n{row.status_text}"
        return row.path if role == self.PATH_ROLE else None


class ChatsModel(QAbstractListModel):
    """The chats of the current collection, most recent first."""

    CHAT_ID_ROLE = Qt.ItemDataRole.UserRole + 1

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._chats: list[ChatInfo] = []

    def set_chats(self, chats: list[ChatInfo]) -> None:
        self.beginResetModel()
        self._chats = list(chats)
        self.endResetModel()

    def chat_at(self, number: int) -> ChatInfo:
        return self._chats[number]

    def row_of(self, chat_id: int) -> int | None:
        return next((n for n, c in enumerate(self._chats) if c.id == chat_id), None)

    def rowCount(self, parent: AnyIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._chats)

    def data(self, index: AnyIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        chat = self._chats[index.row()]
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.EditRole):
            return chat.title
        if role == Qt.ItemDataRole.ToolTipRole:
            return f"{chat.title}\n{chat.messages} messages"
        if role == self.CHAT_ID_ROLE:
            return chat.id
        return None
