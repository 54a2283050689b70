"""The progress of an ingestion under the library: what is being done, a bar, Cancel.

The figures and the estimate come from the engine's ``RunProgress`` (the CLI's progress
line shows the same): files done, the page or chunk a long file is at, and the time left
at the measured rate. A timer re-reads the estimate every second, so it counts down
between reports instead of standing still.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from desk_assistant.api import IngestEvent, RunProgress
from ui.icons import Icons

_STEPS = 1000  # the bar's resolution


class IngestProgress(QWidget):
    """A progress bar with what is happening and a Cancel button; hidden when idle."""

    cancel_requested = Signal()

    def __init__(self, icons: Icons, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.label = QLabel(self)
        self.label.setTextFormat(Qt.TextFormat.PlainText)  # names files and processes
        self.label.setObjectName("muted")
        self.label.setWordWrap(True)
        self.bar = QProgressBar(self)
        self.bar.setTextVisible(False)
        self.bar.setMaximumHeight(10)
        self.bar.setAccessibleName("Indexing progress")
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
        self.run = RunProgress()
        self._ticker = QTimer(self)
        self._ticker.setInterval(1000)
        self._ticker.timeout.connect(self._show)
        self.hide()

    def start(self) -> None:
        self.run = RunProgress()
        self.bar.setRange(0, 0)  # busy until the scan says how much there is
        self.cancel.setEnabled(True)
        self.cancel.setText("Cancel")
        self._show()
        self._ticker.start()
        self.show()

    def add(self, event: IngestEvent) -> None:
        self.run.add(event)
        self._show()

    def stop(self) -> None:
        self._ticker.stop()
        self.hide()

    def _show(self) -> None:
        if not self.cancel.isEnabled():
            return  # "Stopping…" stays until the run ends
        fraction = self.run.fraction()
        if fraction is not None and self.run.total:
            self.bar.setRange(0, _STEPS)
            self.bar.setValue(round(fraction * _STEPS))
        self.label.setText(self.run.describe())

    def _cancel(self) -> None:
        self.cancel.setEnabled(False)
        self.cancel.setText("Cancelling…")
        self.label.setText("Stopping after the current file…")
        self.cancel_requested.emit()
