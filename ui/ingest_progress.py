"""Progress of an ingestion: files and chunks so far, and a time estimate.

The estimate is the average time per finished file times the files left; it says
nothing until a file has finished, rather than guessing.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from desk_assistant.api import IngestEvent
from ui.icons import Icons


def format_duration(seconds: float) -> str:
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


@dataclass(slots=True)
class IngestTracker:
    """Counts what an ingestion reported; ``clock`` is replaceable for tests."""

    clock: Callable[[], float] = time.monotonic
    total: int | None = None
    done: int = 0
    chunks: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    started: float = 0.0

    def __post_init__(self) -> None:
        self.started = self.clock()

    def add(self, event: IngestEvent) -> None:
        if event.kind == "scan":
            self.total = event.total
            self.started = self.clock()
        elif event.kind == "file":
            self.done = event.done
            self.chunks += event.chunks
            if event.outcome == "failed" and event.path:
                self.failed.append((event.path, event.reason or "unknown reason"))
        else:
            self.counts = dict(event.counts)

    def eta(self) -> float | None:
        if not self.total or not self.done or self.done >= self.total:
            return None
        per_file = (self.clock() - self.started) / self.done
        return per_file * (self.total - self.done)

    def describe(self) -> str:
        if self.total is None:
            return "Looking for files…"
        if self.total == 0:
            return "Checking for changes…"
        text = f"Indexing {min(self.done + 1, self.total)} of {self.total} files"
        text += f" · {self.chunks} chunks"
        eta = self.eta()
        if eta is not None:
            text += f" · about {format_duration(eta)} left"
        return text


class IngestProgress(QWidget):
    """A progress bar with what is happening and a Cancel button; hidden when idle."""

    cancel_requested = Signal()

    def __init__(self, icons: Icons, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.label = QLabel(self)
        self.label.setObjectName("muted")
        self.bar = QProgressBar(self)
        self.bar.setTextVisible(False)
        self.bar.setMaximumHeight(10)
        self.cancel = QPushButton("Cancel", self)
        self.cancel.setToolTip("Stop indexing; what is indexed so far stays indexed")
        icons.attach(self.cancel, "cancel")
        self.cancel.clicked.connect(self._cancel)
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.bar, 1)
        row.addWidget(self.cancel)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.label)
        layout.addLayout(row)
        self.tracker = IngestTracker()
        self.hide()

    def start(self) -> None:
        self.tracker = IngestTracker()
        self.bar.setRange(0, 0)  # busy until the scan says how many files
        self.cancel.setEnabled(True)
        self.cancel.setText("Cancel")
        self.label.setText(self.tracker.describe())
        self.show()

    def add(self, event: IngestEvent) -> None:
        self.tracker.add(event)
        if self.tracker.total:
            self.bar.setRange(0, self.tracker.total)
            self.bar.setValue(self.tracker.done)
        self.label.setText(self.tracker.describe())

    def _cancel(self) -> None:
        self.cancel.setEnabled(False)
        self.cancel.setText("Cancelling…")
        self.label.setText("Stopping after the current file…")
        self.cancel_requested.emit()
