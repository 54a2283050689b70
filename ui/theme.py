"""Light or dark, as the system says: Fusion with a palette for the current colour scheme.

The stylesheet names its colours by role (``@muted``, ``@error``…) and they are derived
from the palette in use, so one stylesheet serves both schemes; so are the few colours
drawn in code (muted text in the chat, the passage highlight).
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QGuiApplication, QPalette
from PySide6.QtWidgets import QApplication

STYLE_FILE = Path(__file__).resolve().parent / "resources" / "style" / "app.qss"


def is_dark() -> bool:
    return QGuiApplication.palette().color(QPalette.ColorRole.Window).lightness() < 128


def _blend(a: QColor, b: QColor, share_of_a: float) -> str:
    mix = [
        round(x * share_of_a + y * (1 - share_of_a))
        for x, y in ((a.red(), b.red()), (a.green(), b.green()), (a.blue(), b.blue()))
    ]
    return QColor(*mix).name()


def colors() -> dict[str, str]:
    """The few colours the app draws itself, derived from the palette in use."""
    palette = QGuiApplication.palette()
    text = palette.color(QPalette.ColorRole.WindowText)
    window = palette.color(QPalette.ColorRole.Window)
    highlight = palette.color(QPalette.ColorRole.Highlight)
    dark = is_dark()
    return {
        "text": text.name(),
        "muted": _blend(text, window, 0.6),
        "border": _blend(text, window, 0.25),
        "banner": palette.color(QPalette.ColorRole.AlternateBase).name(),
        "selection": _blend(highlight, palette.color(QPalette.ColorRole.Base), 0.35),
        "error": "#ff7b72" if dark else "#b3261e",
        "warning": "#e3b341" if dark else "#9a6700",
        "passage": "#6b5a12" if dark else "#fff0a0",
    }


def stylesheet() -> str:
    if not STYLE_FILE.is_file():
        return ""
    text = STYLE_FILE.read_text(encoding="utf-8")
    # Longest names first, so that no name is replaced inside a longer one.
    for name, value in sorted(colors().items(), key=lambda item: -len(item[0])):
        text = text.replace(f"@{name}", value)
    return text


def _dark_palette() -> QPalette:
    palette = QPalette()
    roles = {
        QPalette.ColorRole.Window: "#26282b",
        QPalette.ColorRole.WindowText: "#e6e6e6",
        QPalette.ColorRole.Base: "#1d1f21",
        QPalette.ColorRole.AlternateBase: "#2c2f33",
        QPalette.ColorRole.ToolTipBase: "#2c2f33",
        QPalette.ColorRole.ToolTipText: "#e6e6e6",
        QPalette.ColorRole.PlaceholderText: "#8c8f94",
        QPalette.ColorRole.Text: "#e6e6e6",
        QPalette.ColorRole.Button: "#303337",
        QPalette.ColorRole.ButtonText: "#e6e6e6",
        QPalette.ColorRole.BrightText: "#ff6b6b",
        QPalette.ColorRole.Link: "#7fb2ff",
        QPalette.ColorRole.LinkVisited: "#b39ddb",
        QPalette.ColorRole.Highlight: "#3d6fb6",
        QPalette.ColorRole.HighlightedText: "#ffffff",
        QPalette.ColorRole.Mid: "#45484d",
        QPalette.ColorRole.Dark: "#151617",
        QPalette.ColorRole.Light: "#3a3d42",
    }
    for role, color in roles.items():
        palette.setColor(role, QColor(color))
    for role in (
        QPalette.ColorRole.Text,
        QPalette.ColorRole.ButtonText,
        QPalette.ColorRole.WindowText,
    ):
        palette.setColor(QPalette.ColorGroup.Disabled, role, QColor("#7a7d82"))
    return palette


def apply_theme(app: QApplication, scheme: Qt.ColorScheme | None = None) -> None:
    """Fusion, the palette of the colour scheme (default: the system's), the stylesheet."""
    app.setStyle("Fusion")
    style = app.style()
    scheme = scheme or QGuiApplication.styleHints().colorScheme()
    dark = scheme == Qt.ColorScheme.Dark
    app.setPalette(_dark_palette() if dark else style.standardPalette())
    app.setStyleSheet(stylesheet())
