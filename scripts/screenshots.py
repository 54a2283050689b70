"""Screenshots of the real desktop window, for the README and for a person to check.

Run under a virtual X server (Debian: ``apt-get install xvfb``)::

    xvfb-run -a -s "-screen 0 1400x900x24" python scripts/screenshots.py [OUT_DIR]

It opens the window on a fresh, temporary data folder with the built-in models, drops
``assets/samples`` on it, asks a question, opens the cited PDF page and the model
library, saving ``empty.png``, ``indexing.png``, ``answer.png``, ``pdf-viewer.png`` and
``models.png`` (default: ``docs/screenshots``). Nothing outside the temporary folder and
OUT_DIR is touched.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "assets" / "samples"
QUESTION = "How much is the monthly rent?"
SIZE = (1280, 800)


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


def main(out: Path) -> int:
    sys.path.insert(0, str(ROOT))
    home = Path(tempfile.mkdtemp(prefix="desk-assistant-shots-"))
    os.environ["DESK_ASSISTANT_HOME"] = str(home)
    from PySide6.QtWidgets import QApplication

    from desk_assistant.settings import load_settings
    from ui.main_window import MainWindow
    from ui.theme import apply_theme

    app = QApplication(sys.argv[:1])
    apply_theme(app)
    # Small embedding batches: files report one by one, so the indexing shot shows progress.
    window = MainWindow(load_settings(home, embed_batch_size=1))
    window.resize(*SIZE)
    window.show()
    window.start()
    out.mkdir(parents=True, exist_ok=True)

    def shoot(name: str, wait: float = 0.4) -> None:
        settle(wait)
        path = out / name
        window.grab().save(str(path), "PNG", 0)
        print(f"{path} ({path.stat().st_size // 1024} KB)")

    wait_until(lambda: window.status.text() == "Ready", 180, "the models to load")
    shoot("empty.png")

    window.library.ingest([str(SAMPLES)])
    library = window.library
    wait_until(
        lambda: (
            library.progress.isVisible()
            and any(r.status == "indexed" for r in library.model.rows())
            and any(r.status in ("queued", "indexing") for r in library.model.rows())
        ),
        180,
        "indexing to be under way",
    )
    shoot("indexing.png", 0)
    wait_until(lambda: not library.indexing, 300, "indexing to finish")

    window.chat.input.setPlainText(QUESTION)
    window.chat.send()
    wait_until(lambda: not window.chat.generating, 300, "the answer")
    window.chat.input.clear()
    shoot("answer.png")

    replies = window.chat.view.replies
    if not replies or not replies[-1].citations:
        print("the answer has no citation: no PDF viewer screenshot", file=sys.stderr)
        return 1
    window.chat.view.citation_clicked.emit(replies[-1].citations[0], replies[-1].text)
    pdf = window.viewer.pdf
    assert pdf is not None, "QtPdf is missing"
    wait_until(
        lambda: not pdf.searching,
        30,
        "the passage in the PDF",
    )
    settle(1.5)
    shoot("pdf-viewer.png")

    models = window.open_models()
    wait_until(
        lambda: not models._jobs and "Architecture:" in models.details.text(),
        60,
        "the model library",
    )
    settle(0.4)
    models.grab().save(str(out / "models.png"), "PNG", 0)
    print(out / "models.png")
    models.close()
    window.close()
    return 0


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs" / "screenshots"
    raise SystemExit(main(target))
