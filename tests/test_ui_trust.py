"""Conversations you can trust, in the window, on fakes: a follow-up shows what was
searched for, a wrong sentence is underlined and a click shows its closest source
sentence, the evidence quote sits above the built-in model's answer, an answer and a
chat are exported, and a document is summarized from the library with progress and
Stop."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from PySide6.QtCore import QUrl
from PySide6.QtGui import QGuiApplication, QTextCharFormat, QTextCursor
from PySide6.QtWidgets import QFileDialog
from pytestqt.qtbot import QtBot
from test_ui_window import SlowRuntime
from ui_helpers import ask, drop_files, open_window, wait_answer, wait_indexed

from desk_assistant.backends.embeddings import HashingEmbedder
from desk_assistant.backends.llm.fake import FakeRuntime
from ui.chat_view import ChatView
from ui.main_window import MainWindow
from ui.summary_dialog import SummaryDialog

pytestmark = [
    pytest.mark.gui,
    pytest.mark.qt_log_level_fail("WARNING"),
    pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints"),
]

LEASE = (
    "Termination and notice period\n\n"
    "The tenant may terminate the tenancy with a notice period of three months, to the end "
    "of a calendar month. The landlord may terminate only on the grounds allowed by law and "
    "with a notice period of at least twelve months.\n\n"
    "Rent\n\nThe monthly rent is 9,400 kroner, payable in advance each month.\n"
)


def reply(prompt: str) -> str:
    """A scripted model that swaps the landlord's figure into the tenant's answer."""
    if "Summarize this text" in prompt:
        return "The agreement sets notice periods for both parties and the rent."
    if "landlord" in prompt.rsplit("Question:", 1)[-1]:
        return "The landlord must give at least twelve months of notice [1]."
    return "The notice period for the tenant is 12 months [1]."


@pytest.fixture
def lease(tmp_path: Path) -> Path:
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "lease.txt").write_text(LEASE, encoding="utf-8")
    return folder / "lease.txt"


def window_with(qtbot: QtBot, home: Path, lease: Path, runtime: FakeRuntime) -> MainWindow:
    window = open_window(
        qtbot, home, settings={"min_relevance": 0.1}, embedder=HashingEmbedder(), runtime=runtime
    )
    drop_files(window, [lease])
    wait_indexed(qtbot, window, 1)
    return window


def underlined(view: ChatView) -> list[tuple[str, str]]:
    """(text, tooltip) of every underlined stretch of the conversation (a stretch's
    link, its citation marker, is a fragment of its own)."""
    found: list[tuple[str, str]] = []
    block = view.document().begin()
    while block.isValid():
        it = block.begin()
        joined = False
        while not it.atEnd():
            fragment = it.fragment()
            form = fragment.charFormat()
            if form.underlineStyle() == QTextCharFormat.UnderlineStyle.DotLine:
                if joined and found[-1][1] == form.toolTip():
                    found[-1] = (found[-1][0] + fragment.text(), form.toolTip())
                else:
                    found.append((fragment.text(), form.toolTip()))
                joined = True
            else:
                joined = False
            it += 1
        block = block.next()
    return found


def cursor_in(view: ChatView, text: str) -> QTextCursor:
    found = view.document().find(text)
    assert not found.isNull(), text
    cursor = QTextCursor(view.document())
    cursor.setPosition(found.selectionStart() + 2)
    return cursor


def test_a_wrong_sentence_is_flagged_and_a_follow_up_shows_its_query(
    qtbot: QtBot, app_home: Path, lease: Path
) -> None:
    window = window_with(qtbot, app_home, lease, FakeRuntime(reply))
    view = window.chat.view
    ask(qtbot, window, "What is the notice period for the tenant?")
    wait_answer(qtbot, window)
    text = view.toPlainText()
    # the built-in model's answers come after the sources' own words
    quote_at = text.index("From your documents: “The tenant may terminate")
    assert quote_at < text.index("The notice period for the tenant is 12 months")
    assert "This answer is not backed by your documents." in text
    [(flagged, tip)] = underlined(view)
    assert "12 months" in flagged and tip.startswith("not found in the cited passages (12)")

    # a click on the sentence shows the source sentence closest to it
    with qtbot.waitSignal(view.evidence_clicked) as clicked:
        assert view.sentence_at(cursor_in(view, "for the tenant is 12"))
    shown, _answer = clicked.args
    assert shown.text.startswith("The tenant may terminate") and shown.path == str(lease)
    qtbot.waitUntil(lambda: window.viewer.stack.currentWidget() is window.viewer.text)
    start, end = window.viewer.text.passage or (0, 0)
    assert window.viewer.text.toPlainText()[start:end].startswith("The tenant may terminate")

    ask(qtbot, window, "And for the landlord?")
    wait_answer(qtbot, window)
    latest = view.replies[-1]
    assert latest.query == "What is the notice period for the landlord?"
    assert "Searched for: What is the notice period for the landlord?" in view.toPlainText()
    assert latest.supported and len(underlined(view)) == 1

    # reopened from the history, the flags and the quote are still there
    window.chat.open_chat(window.chat_list.current)
    qtbot.waitUntil(lambda: len(view.replies) == 2)
    assert len(underlined(view)) == 1
    assert "Searched for: What is the notice period for the landlord?" in view.toPlainText()


def test_an_answer_and_a_chat_are_exported_with_their_sources(
    qtbot: QtBot, app_home: Path, lease: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    window = window_with(qtbot, app_home, lease, FakeRuntime(reply))
    ask(qtbot, window, "What is the notice period for the tenant?")
    wait_answer(qtbot, window)
    answer = window.chat.view.replies[-1]

    window.chat.copy_markdown(answer)
    copied = QGuiApplication.clipboard().text()
    assert copied.startswith("## What is the notice period for the tenant?")
    assert f"1. `{lease}`" in copied and "not found in the cited passages" in copied

    targets = iter([tmp_path / "answer.pdf", tmp_path / "chat.html", tmp_path / "chat"])
    chosen = iter(["PDF (*.pdf)", "Web page (*.html)", "Markdown (*.md)"])
    monkeypatch.setattr(
        QFileDialog, "getSaveFileName", lambda *_a, **_k: (str(next(targets)), next(chosen))
    )
    window.export_answer(answer)
    pdf = (tmp_path / "answer.pdf").read_bytes()
    assert pdf.startswith(b"%PDF") and len(pdf) > 2000
    window.export_chat()
    qtbot.waitUntil((tmp_path / "chat.html").is_file)
    page = (tmp_path / "chat.html").read_text(encoding="utf-8")
    assert 'class="unsupported"' in page and str(lease) in page and "<script" not in page
    window.export_chat()
    qtbot.waitUntil((tmp_path / "chat.md").is_file)  # the suffix of the chosen format
    assert "The tenant may terminate" in (tmp_path / "chat.md").read_text(encoding="utf-8")


def test_a_document_is_summarized_from_the_library_and_can_be_stopped(
    qtbot: QtBot, app_home: Path, lease: Path
) -> None:
    window = window_with(qtbot, app_home, lease, FakeRuntime(reply))
    window.library.table.selectRow(0)
    assert window.library.summarize_action.isEnabled()
    window.library.summarize_action.trigger()
    dialog = window.findChild(SummaryDialog)
    assert dialog is not None and dialog.isVisible()
    qtbot.waitUntil(lambda: dialog.summary is not None, timeout=20_000)
    assert dialog.summary is not None
    assert dialog.summary.text.startswith("The agreement sets notice periods")
    assert [c.n for c in dialog.summary.sections] == [1]
    assert re.search(r"Done in .*: 1 section read", dialog.status.text())
    assert dialog.progress.value() == dialog.progress.maximum()
    with qtbot.waitSignal(dialog.section_clicked) as clicked:
        dialog.view.anchorClicked.emit(QUrl("cite:1"))
    section, _summary = clicked.args
    assert section.path == str(lease) and section.text.startswith("Termination and notice")
    dialog.close()


def test_a_summary_shows_progress_and_stops_at_once(
    qtbot: QtBot, app_home: Path, lease: Path
) -> None:
    slow = SlowRuntime(lambda _prompt: " ".join(["word"] * 200))
    window = window_with(qtbot, app_home, lease, slow)
    dialog = window.summarize(str(lease))
    qtbot.waitUntil(lambda: slow.pieces_generated > 3, timeout=20_000)
    assert dialog.running and dialog.progress.maximum() == 1  # it fits one step
    dialog.stop()
    assert not dialog.running and "Stopped" in dialog.status.text()
    generated = slow.pieces_generated
    qtbot.wait(300)
    assert slow.pieces_generated <= generated + 1  # the model stopped with the dialog
    qtbot.waitUntil(lambda: not window.lanes.asking._jobs, timeout=5_000)


def test_a_summary_sentence_its_sections_do_not_back_is_underlined(qtbot: QtBot) -> None:
    from desk_assistant.api import Citation, SentenceCheck, Summary
    from ui.summary_dialog import _links

    section = Citation(1, "/docs/lease.txt", None, "The tenant gives three months.", 1.0)
    made = Summary(
        "/docs/lease.txt",
        "The tenant gives three months [1]. The landlord <b>owns</b> 12 flats [1].",
        (section,),
        "m.gguf",
        sentences=(
            SentenceCheck("The tenant gives three months [1].", (1,), True),
            SentenceCheck(
                "The landlord <b>owns</b> 12 flats [1].",
                (1,),
                False,
                reason="not found in the cited passages (12)",
            ),
        ),
    )
    shown = _links(made)
    assert shown.startswith("The tenant gives three months <a href='cite:1'>[1]</a>.")
    flagged = re.search(r"<span title='([^']*)'[^>]*>(.*?)</span>", shown)
    assert flagged is not None
    assert flagged.group(1) == "not found in the cited passages (12)"
    assert flagged.group(2).startswith("The landlord &lt;b&gt;owns&lt;/b&gt; 12 flats")


def test_each_cited_section_shows_its_own_summary_when_sections_share_a_heading() -> None:
    from desk_assistant.api import Citation
    from ui.summary_dialog import _section_text

    # two pieces of one long passage: same heading and start, different text
    first, second = (
        Citation(n, "/docs/penguin.htm", None, text, 1.0, heading="penguin", start=0, end=900)
        for n, text in ((1, "Penguins are flightless birds."), (2, "Penguins eat krill."))
    )
    written = [(first, "About flight."), (second, "About food.")]
    renumbered = Citation(1, "/docs/penguin.htm", None, second.text, 1.0, heading="penguin")
    assert _section_text(written, renumbered) == "About food."
    unknown = Citation(3, "/docs/penguin.htm", None, "Some other words here.", 1.0)
    assert _section_text(written, unknown) == "Some other words here. …"
