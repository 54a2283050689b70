"""Desktop app entry point (the full window is built in the desktop-app issue)."""

from __future__ import annotations

import sys


def main(home: str | None = None, collection: str | None = None) -> int:
    from PySide6.QtWidgets import QApplication, QLabel

    app = QApplication.instance() or QApplication(sys.argv)
    label = QLabel(
        "Desk Assistant\n\nThe desktop window is not built yet; use the command line:\n"
        "desk-assistant ingest PATH, desk-assistant ask QUESTION"
    )
    label.setWindowTitle("Desk Assistant")
    label.setMargin(24)
    label.show()
    del home, collection
    return int(app.exec())
