"""Banners across the top of the window: news that must not block the user.

A dialog stops everything; a banner says what happened and offers the next step (undo,
add a model, open settings) while the user keeps working. Errors that need a decision
still use a dialog.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from ui.icons import render
from ui.plain_text import plain

Kind = Literal["info", "warning", "error"]
_ICONS = {"info": "info", "warning": "warning", "error": "warning"}


class Banner(QFrame):
    closed = Signal()

    def __init__(
        self,
        kind: Kind,
        text: str,
        actions: list[tuple[str, Callable[[], object]]],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.kind = kind
        self.setObjectName("banner")
        self.setProperty("kind", kind)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(10, 6, 6, 6)
        symbol = QLabel(self)
        symbol.setFixedSize(20, 20)
        symbol.setPixmap(render(_ICONS[kind]).pixmap(20, 20))
        layout.addWidget(symbol, 0, Qt.AlignmentFlag.AlignTop)
        self.label = plain(QLabel(text, self))  # may name files and quote their errors
        self.label.setWordWrap(True)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.label, 1)
        self.buttons: dict[str, QPushButton] = {}
        for caption, action in actions:
            button = QPushButton(caption, self)
            button.clicked.connect(lambda _checked=False, act=action: act())
            button.clicked.connect(self.dismiss)
            layout.addWidget(button, 0, Qt.AlignmentFlag.AlignTop)
            self.buttons[caption] = button
        close = QPushButton("Dismiss", self)
        close.setToolTip("Hide this message")
        close.clicked.connect(self.dismiss)
        layout.addWidget(close, 0, Qt.AlignmentFlag.AlignTop)
        self.buttons["Dismiss"] = close

    def dismiss(self) -> None:
        self.hide()
        self.closed.emit()
        self.deleteLater()


class BannerArea(QWidget):
    """A column of banners; one per topic (``key``), the newest replacing the older."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._layout = QVBoxLayout(self)
        self._layout.setContentsMargins(8, 6, 8, 0)
        self._layout.setSpacing(6)
        self._banners: dict[str, Banner] = {}
        self.setVisible(False)

    def show_banner(
        self,
        key: str,
        kind: Kind,
        text: str,
        actions: list[tuple[str, Callable[[], object]]] | None = None,
    ) -> Banner:
        self.remove(key)
        banner = Banner(kind, text, actions or [], self)
        banner.closed.connect(lambda: self._forget(key, banner))
        self._banners[key] = banner
        self._layout.addWidget(banner)
        self.setVisible(True)
        return banner

    def banner(self, key: str) -> Banner | None:
        return self._banners.get(key)

    def remove(self, key: str) -> None:
        banner = self._banners.pop(key, None)
        if banner is not None:
            banner.dismiss()

    def _forget(self, key: str, banner: Banner) -> None:
        if self._banners.get(key) is banner:
            del self._banners[key]
        self.setVisible(bool(self._banners))
