"""What the window shows while files are dragged over it: where they will go.

A translucent sheet over the window's content, with the collection the files will be
added to. It takes no events itself: the window under it still receives the drag and the
drop.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtGui import QColor, QPainter, QPaintEvent, QPalette
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from ui.icons import render


class DropOverlay(QWidget):
    """Covers ``parent`` (kept at its size) while something is dragged over the window."""

    def __init__(self, parent: QWidget) -> None:
        super().__init__(parent)
        self.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        self.setAcceptDrops(False)
        self.setObjectName("dropOverlay")
        self.symbol = QLabel(self)
        self.symbol.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.label = QLabel(self)
        self.label.setObjectName("dropLabel")
        self.label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.label.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.addStretch(1)
        layout.addWidget(self.symbol)
        layout.addWidget(self.label)
        layout.addStretch(1)
        parent.installEventFilter(self)
        self.hide()

    def show_for(self, collection: str) -> None:
        self.symbol.setPixmap(render("drop").pixmap(48, 48))
        self.label.setText(f"Drop to add to the collection “{collection}”")
        parent = self.parentWidget()
        if parent is not None:
            self.setGeometry(parent.rect())
        self.raise_()
        self.show()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        parent = self.parentWidget()
        if watched is parent and parent is not None and event.type() == QEvent.Type.Resize:
            self.setGeometry(parent.rect())
        return False

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        palette = self.palette()
        sheet = QColor(palette.color(QPalette.ColorRole.Window))
        sheet.setAlpha(215)
        painter.fillRect(self.rect(), sheet)
        pen = painter.pen()
        pen.setColor(palette.color(QPalette.ColorRole.Highlight))
        pen.setWidth(3)
        pen.setStyle(Qt.PenStyle.DashLine)
        painter.setPen(pen)
        painter.drawRoundedRect(self.rect().adjusted(12, 12, -12, -12), 12, 12)
        painter.end()
