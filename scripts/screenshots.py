"""Screenshots of the real desktop window, for the README and for a person to check.

Run under a virtual X server (Debian: ``apt-get install xvfb``), once per screen size::

    for size in 1024x640 1920x1200; do
        xvfb-run -a -s "-screen 0 ${size}x24" python scripts/screenshots.py [OUT_DIR]
    done

For the screen it runs on, in the light and then the dark palette, each time on a fresh
temporary data folder with the built-in models, the window fills the screen and:
drops ``assets/samples`` (with the 117-page GeoTopo PDF of ``../shared/eval`` when it is
there, and a damaged PDF) on it while indexing runs, asks a question, opens the cited PDF
page, and opens the settings and the model guide. Files are named
``NAME-WIDTHxHEIGHT-SCHEME.png`` (default OUT_DIR: ``docs/screenshots``); nothing
outside the temporary folders and OUT_DIR is touched. The model guide measures this
machine first, so its speeds are this machine's.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from PySide6.QtWidgets import QWidget

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "assets" / "samples"
LONG_PDF = ROOT.parent / "shared/eval/docs/pdf_samples/009-pdflatex-geotopo"
LONG_PDF /= "GeoTopo-komprimiert.pdf"
QUESTION = "What is the notice period for the tenant?"


def wait_until(check: Callable[[], bool], timeout: float, what: str) -> None:
    from PySide6.QtWidgets import QApplication

    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        QApplication.processEvents()
        time.sleep(0.02)


def settle(seconds: float) -> None:
    """Let the window paint (QPdfView renders pages asynchronously)."""
    end = time.monotonic() + seconds
    wait_until(lambda: time.monotonic() >= end, seconds + 1, "the window to paint")


def documents(folder: Path) -> Path:
    """The samples, the long PDF when available, and a file that cannot be indexed."""
    folder.mkdir()
    for sample in SAMPLES.iterdir():
        shutil.copy(sample, folder)
    if LONG_PDF.is_file():
        shutil.copy(LONG_PDF, folder)
    (folder / "scan-of-old-lease.pdf").write_bytes(b"%PDF-1.4\nthe rest of this file is lost")
    return folder


class Session:
    """One window on a fresh data folder, in one palette, taking its screenshots."""

    def __init__(self, out: Path, size: str, scheme: str) -> None:
        from PySide6.QtCore import Qt
        from PySide6.QtWidgets import QApplication

        from desk_assistant.settings import load_settings
        from ui.main_window import MainWindow
        from ui.theme import apply_theme

        app = QApplication.instance()
        assert isinstance(app, QApplication)
        apply_theme(app, Qt.ColorScheme.Dark if scheme == "dark" else Qt.ColorScheme.Light)
        self.out, self.size, self.scheme = out, size, scheme
        self.home = Path(tempfile.mkdtemp(prefix="desk-assistant-shots-"))
        os.environ["DESK_ASSISTANT_HOME"] = str(self.home)
        # Small embedding batches: the long PDF reports its chunks as they are embedded.
        self.window = MainWindow(load_settings(self.home, embed_batch_size=16))
        self.window.setGeometry(self.window.screen().availableGeometry())
        self.window.show()
        self.window.start()

    def shoot(self, name: str, widget: QWidget | None = None, wait: float = 0.4) -> None:
        settle(wait)
        path = self.out / f"{name}-{self.size}-{self.scheme}.png"
        (widget or self.window).grab().save(str(path), "PNG", 0)
        print(f"{path} ({path.stat().st_size // 1024} KB)")

    def index(self) -> None:
        """Indexing under way (a long file's chunks), then the failed file selected."""
        library = self.window.library
        library.ingest([str(documents(self.home / "documents"))])

        def embedding() -> bool:
            step = library.progress.run.step
            return step is not None and step.kind == "embed" and step.done > 0

        wait_until(embedding, 300, "a long file to show its progress")
        self.shoot("indexing", wait=0.2)
        wait_until(lambda: not library.indexing, 600, "indexing to finish")
        failed = next(n for n, r in enumerate(library.model.rows()) if r.status == "failed")
        library.table.selectRow(failed)

    def ask_and_cite(self) -> None:
        chat = self.window.chat
        chat.input.setPlainText(QUESTION)
        chat.send()
        wait_until(lambda: not chat.generating, 300, "the answer")
        self.shoot("answer")
        replies = chat.view.replies
        if not replies or not replies[-1].citations:
            raise SystemExit("the answer has no citation: no PDF viewer screenshot")
        chat.view.citation_clicked.emit(replies[-1].citations[0], replies[-1].text)
        pdf = self.window.viewer.pdf
        assert pdf is not None, "QtPdf is missing"
        wait_until(lambda: not pdf.searching, 30, "the passage in the PDF")
        pdf.set_zoom(1.0)  # readable, as a reader zooms in a pane beside the chat
        self.shoot("pdf-viewer", wait=1.5)

    def dialogs(self) -> None:
        from ui.settings_dialog import SettingsDialog

        settings = SettingsDialog(self.window.lanes.settings, self.window)
        settings.show()
        wait_until(lambda: settings.model_check is not None, 60, "the model check")
        self.shoot("settings", settings)
        settings.close()
        guide = self.window.open_model_guide()
        wait_until(lambda: "reads memory at" in guide.machine.text(), 120, "the measurement")
        self.shoot("model-guide", guide)
        guide.close()


def shoot_scheme(out: Path, size: str, scheme: str) -> None:
    session = Session(out, size, scheme)
    wait_until(lambda: session.window.status.text() == "Ready", 180, "the models to load")
    session.shoot("empty")
    session.index()
    session.ask_and_cite()
    session.dialogs()
    session.window.close()


def main(out: Path) -> int:
    sys.path.insert(0, str(ROOT))
    from PySide6.QtGui import QGuiApplication
    from PySide6.QtWidgets import QApplication

    app = QApplication(sys.argv[:1])
    screen = QGuiApplication.primaryScreen().size()
    size = f"{screen.width()}x{screen.height()}"
    out.mkdir(parents=True, exist_ok=True)
    for scheme in ("light", "dark"):
        shoot_scheme(out, size, scheme)
    app.quit()
    return 0


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs" / "screenshots"
    raise SystemExit(main(target))
