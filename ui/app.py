"""Desktop app entry point: ``desk-assistant`` with no arguments, or ``python -m ui``.

The window is shown first and everything heavy loads after it, in the background: the
engine's models are imported and loaded by the lanes, never before ``show()``.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import sys
from pathlib import Path

from PySide6.QtCore import QLockFile, Qt, QTimer
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QApplication, QMessageBox

from desk_assistant.api import DeskAssistantError, enforce_offline, load_settings
from ui.main_window import MainWindow
from ui.plain_text import as_html
from ui.platform_check import check_xcb
from ui.theme import apply_theme


def _log_to(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(folder / "desktop.log", encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.INFO)


def _lock(home: Path) -> QLockFile | None:
    """One window per data folder: two would write the same index at once."""
    home.mkdir(parents=True, exist_ok=True)
    lock = QLockFile(str(home / "desktop.lock"))
    return lock if lock.tryLock(200) else None


def main(home: str | None = None, collection: str | None = None) -> int:
    multiprocessing.freeze_support()  # a frozen parser worker starts here (Windows, macOS)
    enforce_offline()
    if QApplication.instance() is None and (problem := check_xcb()):
        sys.stderr.write(problem + "\n")  # Qt would abort without saying what is missing
        return 1
    app = QApplication.instance() or QApplication(sys.argv)
    assert isinstance(app, QApplication)
    app.setApplicationName("Desk Assistant")
    app.setDesktopFileName("desk-assistant")
    apply_theme(app)
    try:
        settings = load_settings(home, collection=collection)
    except DeskAssistantError as exc:
        QMessageBox.critical(None, "Desk Assistant", as_html(str(exc)))
        return 2
    lock = _lock(settings.home)
    if lock is None:
        QMessageBox.warning(
            None,
            "Desk Assistant",
            as_html(
                f"Desk Assistant is already open for the data folder {settings.home}. "
                "Switch to that window, or close it and start again."
            ),
        )
        return 1
    _log_to(settings.paths.logs)
    window = MainWindow(settings, collection=collection)

    def follow_system_theme(scheme: Qt.ColorScheme) -> None:
        apply_theme(app, scheme)
        window.icons.refresh()

    QGuiApplication.styleHints().colorSchemeChanged.connect(follow_system_theme)
    window.show()
    QTimer.singleShot(0, window.start)
    try:
        code = int(app.exec())
    finally:
        lock.unlock()
    if not window.finished_cleanly:
        logging.getLogger(__name__).info("quit with work still running; it was stopped")
    # Everything is saved and closed. Python's own exit would now unload torch, Chroma and
    # the model (1.5-2.8 s measured here) and Qt's thread pools would wait for work that did
    # not stop in time (an embedding batch: seconds): leave at once instead.
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
