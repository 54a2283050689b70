"""The app's own SVG icons, drawn in the palette's text colour so they suit light and dark.

The SVG sources live in ``assets/icons``; ``ui/resources`` is a link to ``assets`` so
they ship inside the package as package data and an installed wheel or a frozen app has
them. Without them the app still works: actions show their text.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from PySide6.QtCore import QByteArray, QRectF, Qt
from PySide6.QtGui import QGuiApplication, QIcon, QPainter, QPalette, QPixmap
from PySide6.QtSvg import QSvgRenderer

ICON_DIR = Path(__file__).resolve().parent / "resources" / "icons"
_SIZES = (16, 24, 32, 48)


class HasIcon(Protocol):
    def setIcon(self, icon: QIcon, /) -> None: ...


def icon_file(name: str) -> Path | None:
    path = ICON_DIR / f"{name}.svg"
    return path if path.is_file() else None


def render(name: str, color: str | None = None) -> QIcon:
    """``name``.svg with ``currentColor`` replaced; an empty icon when the file is missing."""
    path = icon_file(name)
    if path is None:
        return QIcon()
    if color is None:
        color = QGuiApplication.palette().color(QPalette.ColorRole.WindowText).name()
    svg = path.read_text(encoding="utf-8").replace("currentColor", color)
    renderer = QSvgRenderer(QByteArray(svg.encode("utf-8")))
    if not renderer.isValid():
        return QIcon()
    icon = QIcon()
    for size in _SIZES:
        pixmap = QPixmap(size, size)
        pixmap.fill(Qt.GlobalColor.transparent)
        painter = QPainter(pixmap)
        renderer.render(painter, QRectF(0, 0, size, size))
        painter.end()
        icon.addPixmap(pixmap)
    return icon


class Icons:
    """Remembers which widget shows which icon, to redraw them when the palette changes."""

    def __init__(self) -> None:
        self._targets: list[tuple[HasIcon, str]] = []

    def attach(self, target: HasIcon, name: str) -> None:
        self._targets.append((target, name))
        target.setIcon(render(name))

    def refresh(self) -> None:
        alive: list[tuple[HasIcon, str]] = []
        for target, name in self._targets:
            try:
                target.setIcon(render(name))
            except RuntimeError:  # the widget is gone
                continue
            alive.append((target, name))
        self._targets = alive
