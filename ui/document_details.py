"""The selected document in full: where it is, its status and, for a file that could not
be indexed, the whole reason - selectable, and one click to copy.

The table has room for a word of status; a reason like "parsing took longer than 60 s;
skipped" or "no text layer — OCR not available" needs a line of its own.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from ui.icons import Icons
from ui.qt_models import DocumentRow

_SELECTABLE = Qt.TextInteractionFlag.TextSelectableByMouse | (
    Qt.TextInteractionFlag.TextSelectableByKeyboard
)


class DocumentDetails(QFrame):
    """Name, folder, status and reason of one document; hidden when none is selected."""

    def __init__(self, icons: Icons, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("documentDetails")
        self.row: DocumentRow | None = None
        self.name = QLabel(self)
        self.name.setObjectName("heading")
        self.name.setWordWrap(True)
        self.folder = QLabel(self)
        self.folder.setObjectName("muted")
        self.folder.setWordWrap(True)
        self.status = QLabel(self)
        self.status.setWordWrap(True)
        for label in (self.name, self.folder, self.status):
            label.setTextInteractionFlags(_SELECTABLE)
            label.setTextFormat(Qt.TextFormat.PlainText)
        self.status.setAccessibleName("Document status")
        self.copy_button = QPushButton("Copy reason", self)
        self.copy_button.setToolTip("Copy the file's path and why it could not be indexed")
        icons.attach(self.copy_button, "copy")
        self.copy_button.clicked.connect(self.copy_reason)
        top = QHBoxLayout()
        top.setContentsMargins(0, 0, 0, 0)
        top.addWidget(self.name, 1)
        top.addWidget(self.copy_button, 0, Qt.AlignmentFlag.AlignTop)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 4, 6, 4)
        layout.setSpacing(2)
        layout.addLayout(top)
        layout.addWidget(self.folder)
        layout.addWidget(self.status)
        self.hide()

    def show_row(self, row: DocumentRow | None) -> None:
        self.row = row
        if row is None:
            self.hide()
            return
        self.name.setText(row.name)
        self.folder.setText(str(Path(row.path).parent))
        self.status.setText(self.describe(row))
        self.status.setObjectName("problem" if row.reason and row.status == "failed" else "")
        self.status.style().polish(self.status)
        self.copy_button.setVisible(bool(row.reason))
        self.show()

    @staticmethod
    def describe(row: DocumentRow) -> str:
        if row.status == "indexed":
            pages = f"{row.pages} pages · " if row.pages else ""
            return f"Indexed: {pages}{row.chunks} chunks"
        if row.status == "failed":
            return f"Could not be indexed: {row.reason or 'no reason given'}"
        if row.status == "unsupported":
            return f"Not indexed: {row.reason or 'not a supported file type'}"
        return row.status_text.capitalize()

    def copy_reason(self) -> None:
        if self.row is not None:
            QGuiApplication.clipboard().setText(f"{self.row.path}: {self.row.reason or ''}")
