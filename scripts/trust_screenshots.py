"""Screenshots of what an answer rests on, for the README: a flagged sentence, a summary.

Run under a virtual X server (Debian: ``apt-get install xvfb``)::

    xvfb-run -a -s "-screen 0 1280x800x24" python scripts/trust_screenshots.py [OUT_DIR]

In the window session of ``screenshots.py`` (a fresh temporary data folder, the built-in
models, the light palette) it indexes ``assets/samples`` and asks the tenant's notice
period in the tenancy agreement: the built-in model answers with the landlord's twelve
months. It clicks the flagged sentence, so that the source viewer shows the sentence
that does give the tenant's period, and saves ``flagged-WIDTHxHEIGHT-light.png``; then
it summarizes the tenancy agreement (``summary-WIDTHxHEIGHT-light.png``). Default
OUT_DIR: ``docs/screenshots``; nothing outside the temporary folder and OUT_DIR is
touched.
"""

from __future__ import annotations

import sys
from pathlib import Path

from screenshots import ROOT, SAMPLES, Session, settle, wait_until

WRONGLY_ANSWERED = "What is the notice period for the tenant?"
TRIES = 3  # the model may phrase an answer the check backs; ask again in a new chat


def ask_once(session: Session) -> bool:
    """Ask in a new chat; click the first flagged sentence. Whether there was one."""
    window = session.window
    chat = window.chat
    before = chat.chat.id if chat.chat else None
    window.chat_list.new_chat()
    wait_until(lambda: chat.chat is not None and chat.chat.id != before, 30, "a new chat")
    chat.input.setPlainText(WRONGLY_ANSWERED)
    chat.send()
    wait_until(lambda: not chat.generating, 300, "the answer")
    answer = chat.view.replies[-1]
    flagged = [s for s in answer.sentences if not s.supported]
    if not flagged:
        print(f"no sentence of {answer.text!r} is flagged", file=sys.stderr)
        return False
    from PySide6.QtGui import QTextDocument

    view = chat.view
    document = view.document()
    # The answer is the last place its words are, case and all (the question may hold
    # them too, in other case: find() ignores case by default).
    flags = QTextDocument.FindFlag.FindBackward | QTextDocument.FindFlag.FindCaseSensitively
    found = document.find(flagged[0].text[:20], document.characterCount(), flags)
    cursor = view.textCursor()
    cursor.setPosition(found.selectionStart() + 2)
    if not view.sentence_at(cursor):
        print(f"could not click {flagged[0].text!r}", file=sys.stderr)
        return False
    pdf = window.viewer.pdf
    wait_until(lambda: pdf is None or not pdf.searching, 30, "the sentence in the PDF")
    return True


def main(out: Path) -> int:
    sys.path.insert(0, str(ROOT))
    from PySide6.QtGui import QGuiApplication
    from PySide6.QtWidgets import QApplication

    app = QApplication(sys.argv[:1])
    screen = QGuiApplication.primaryScreen().size()
    out.mkdir(parents=True, exist_ok=True)
    session = Session(out, f"{screen.width()}x{screen.height()}", "light")
    window = session.window
    wait_until(lambda: window.status.text() == "Ready", 180, "the models to load")
    library = window.library
    library.ingest([str(SAMPLES)])
    wait_until(
        lambda: not library.indexing and any(r.status == "indexed" for r in library.model.rows()),
        300,
        "indexing",
    )
    flagged = any(ask_once(session) for _ in range(TRIES))
    if flagged:
        session.shoot("flagged", wait=1.5)
    dialog = window.summarize(str(SAMPLES / "tenancy-agreement.pdf"))
    dialog.resize(640, 520)
    wait_until(lambda: not dialog.running, 600, "the summary")
    settle(0.4)
    session.shoot("summary", dialog)
    dialog.close()
    window.close()
    app.quit()
    return 0 if flagged else 1


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs" / "screenshots"
    raise SystemExit(main(target))
