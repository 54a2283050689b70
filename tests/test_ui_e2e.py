"""The product promise through the window, with the real embedded models.

A user drops a PDF, a Word file and a Markdown file on the window, watches them being
indexed, asks a question whose answer is on page 2 of the PDF, reads the answer as it
streams in, clicks [1] and lands on page 2 with the passage highlighted; then stops an
answer with Esc. The engine's heavy intents are watched: none may run on the GUI thread
(the window never freezes), and the stopped answer must end before the model's last word.
A heartbeat timer on the GUI thread reports how long the window went without an event
turn (shown with ``-s``; a figure, not an assertion: it depends on the machine's load).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QFileDialog
from pytestqt.qtbot import QtBot
from test_e2e import make_documents
from ui_helpers import (
    EngineCalls,
    Heartbeat,
    ask,
    click_link,
    drop_files,
    open_window,
    wait_answer,
    wait_indexed,
    wait_models,
)

pytestmark = [
    pytest.mark.slow,
    pytest.mark.model,
    pytest.mark.gui,
    pytest.mark.qt_log_level_fail("WARNING"),
    pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints"),
]


@pytest.fixture
def engine(monkeypatch: pytest.MonkeyPatch) -> EngineCalls:
    calls = EngineCalls()
    calls.install(monkeypatch)
    return calls


@pytest.fixture
def heartbeat() -> Iterator[Heartbeat]:
    beat = Heartbeat()
    yield beat
    beat.timer.stop()


def report(name: str, beat: Heartbeat) -> None:
    print(  # shown with -s: the figures the threshold above was set from
        f"\n{name}: max gap {max(beat.gaps, default=0) * 1000:.0f} ms, "
        f"p99 {beat.percentile(0.99):.0f} ms, {len(beat.gaps)} ticks",
        file=sys.stderr,
    )


def test_drop_ask_stream_and_land_on_the_cited_pdf_page(
    qtbot: QtBot,
    app_home: Path,
    tmp_path: Path,
    heartbeat: Heartbeat,
    engine: EngineCalls,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    docs = make_documents(tmp_path / "docs")
    heartbeat.start()
    window = open_window(qtbot, app_home)
    wait_models(qtbot, window)
    assert window.status.text() == "Ready", window.status.text()
    heartbeat.stop()
    report("loading the models", heartbeat)

    heartbeat.start()
    drop_files(window, [docs / "council-report.pdf", docs / "handbook.docx", docs / "recipes.md"])
    qtbot.waitUntil(window.library.progress.isVisible)
    wait_indexed(qtbot, window, 3)
    heartbeat.stop()
    report("ingestion", heartbeat)
    rows = {Path(r.path).name: r for r in window.library.model.rows()}
    assert rows["council-report.pdf"].pages == 3

    shown_while_streaming: list[str] = []
    view = window.chat.view
    view.textChanged.connect(
        lambda: (
            shown_while_streaming.append(view.toPlainText())
            if window.chat.generating and window.chat.tokens_received
            else None
        )
    )
    heartbeat.start()
    ask(qtbot, window, "When will the Harbor Bridge renovation be finished?")
    wait_answer(qtbot, window)
    heartbeat.stop()
    report("generation", heartbeat)

    reply = view.replies[-1]
    assert reply.grounded and reply.citations, reply
    first = reply.citations[0]
    assert first.path == str(docs / "council-report.pdf") and first.page == 2
    assert "2027" in reply.text
    assert shown_while_streaming, "the answer did not appear before it was finished"
    assert any(text.strip() for text in shown_while_streaming)

    click_link(view, "cite:0:1")
    viewer = window.viewer
    qtbot.waitUntil(lambda: viewer.pdf.found, timeout=15_000)
    assert viewer.isVisible() and viewer.stack.currentWidget() is viewer.pdf
    assert viewer.title.text() == "council-report.pdf"
    assert viewer.pdf.path == first.path
    assert viewer.pdf.view.pageNavigator().currentPage() == 1  # page 2, counted from 0
    highlighted = viewer.pdf.search.resultAtIndex(viewer.pdf.view.currentSearchResultIndex())
    assert highlighted.page() == 1 and highlighted.rectangles()
    assert viewer.pdf.search.searchString() in first.text.replace("\n", " ")

    # the sources' own words are above the built-in model's answer, with their citation
    text = view.toPlainText()
    assert text.index("From your documents: “") < text.index(reply.text.split("[")[0].strip())
    assert reply.evidence[0].n == 1 and "October 2027" in reply.evidence[0].text

    # an answer exports to PDF with its sources
    exported = tmp_path / "answer.pdf"
    monkeypatch.setattr(
        QFileDialog, "getSaveFileName", lambda *_a, **_k: (str(exported), "PDF (*.pdf)")
    )
    click_link(view, "export:0")
    assert exported.read_bytes().startswith(b"%PDF")

    # a follow-up: what was searched for shows while the answer is being written
    ask(qtbot, window, "What does it cost?")
    qtbot.waitUntil(lambda: window.chat.tokens_received > 0, timeout=120_000)
    assert "Searched for: What does Harbor Bridge cost?" in view.toPlainText()
    QTest.keyClick(window.chat.input, Qt.Key.Key_Escape)
    assert not window.chat.generating
    assert view.replies[-1].stopped
    qtbot.waitUntil(lambda: not window.lanes.asking._jobs, timeout=10_000)
    # The model stopped: the engine's answer ended without its final record.
    assert engine.answers_finished == [True, False]

    assert {"warm_up", "ingest", "ask"} <= set(engine.calls), engine.calls
    assert engine.on_gui_thread == [], f"heavy work on the GUI thread: {engine.on_gui_thread}"
