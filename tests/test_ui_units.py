"""The desktop app's parts on their own: passages, citations, progress, models, jobs."""

from __future__ import annotations

import logging
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import shiboken6
from PySide6.QtCore import Qt, QThreadPool
from PySide6.QtWidgets import QCheckBox, QComboBox, QDoubleSpinBox, QLabel, QSpinBox, QWidget
from pytestqt.qtbot import QtBot

from desk_assistant.errors import NotFoundError
from desk_assistant.records import IngestEvent, SourceInfo
from desk_assistant.settings import Settings
from ui.chat_view import link_citations
from ui.passages import find_passage, pdf_search_phrases, snippet
from ui.qt_models import DocumentsModel
from ui.settings_form import PathWidget, editor_for
from ui.workers import Job

pytestmark = [
    pytest.mark.gui,
    pytest.mark.qt_log_level_fail("WARNING"),
    pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints"),
]


def test_a_passage_is_found_whatever_the_whitespace() -> None:
    text = "Intro.\n\nThe Harbor Bridge renovation\r\nwill be finished in October 2027. More."
    passage = "The Harbor Bridge renovation will be\nfinished in October 2027."
    start, end = find_passage(text, passage) or (0, 0)
    assert text[start:end].startswith("The Harbor") and text[start:end].endswith("2027.")
    assert find_passage(text, "nothing like it at all here") is None


def test_a_reflowed_passage_is_found_by_its_ends() -> None:
    words = [f"word{n}" for n in range(24)]
    text = "Before. " + " ".join(words) + " After."
    passage = " ".join([*words[:12], "CHANGED", *words[12:]])
    start, end = find_passage(text, passage) or (0, 0)
    assert text[start:end] == " ".join(words)


def test_pdf_phrases_come_from_single_lines_opening_first() -> None:
    passage = (
        "Heading\nThe bridge opens in 2027, the council says.\n"
        "The renovation of the Harbor Bridge costs 45 million euros\nend"
    )
    phrases = pdf_search_phrases(passage)
    assert phrases[:2] == [
        "The bridge opens in 2027, the council says.",
        "The renovation of the Harbor Bridge costs 45 million euros",
    ]
    assert all("\n" not in p and len(p) <= 80 for p in phrases)
    answer = "It costs 45 million euros."
    assert pdf_search_phrases(passage, answer)[0].startswith("The renovation of the Harbor")


def test_snippets_are_one_line_cut_at_a_word() -> None:
    text = "word " * 100
    cut = snippet(text, 30)
    assert cut.endswith("…") and len(cut) <= 31 and "\n" not in cut


def test_only_known_citation_markers_become_links() -> None:
    text = "Done in 2027 [1][2]. See [3] and [a link](http://x) and [1](already)."
    linked = link_citations(text, 4, {1, 2})
    assert "[\\[1\\]](cite:4:1)" in linked and "[\\[2\\]](cite:4:2)" in linked
    assert "See [3]" in linked and "[1](already)" in linked


def test_documents_show_queued_then_their_outcome(qtbot: QtBot) -> None:
    model = DocumentsModel()
    model.set_sources([SourceInfo("/d/old.md", "c", "indexed", None, "markdown", None, 2, 10, 1.0)])
    model.queue(["/d/b.pdf", "/d/a.docx"])
    statuses = {r.path: r.status for r in model.rows()}
    assert statuses == {"/d/old.md": "indexed", "/d/b.pdf": "indexing", "/d/a.docx": "queued"}
    model.apply(IngestEvent("file", path="/d/b.pdf", outcome="failed", reason="damaged"))
    rows = {r.path: r for r in model.rows()}
    assert rows["/d/b.pdf"].status_text == "failed: damaged"
    assert rows["/d/a.docx"].status == "indexing"
    model.apply(IngestEvent("file", path="/d/a.docx", outcome="added", chunks=3))
    model.apply(IngestEvent("file", path="/d/x.bin", outcome="skipped", reason="unsupported"))
    model.finish_run()
    texts = [model.data(model.index(r, 1)) for r in range(model.rowCount())]
    assert texts == ["indexed", "failed", "indexed", "not indexed"]  # the reason: in details
    tips = [model.data(model.index(r, 1), Qt.ItemDataRole.ToolTipRole) for r in (1, 3)]
    assert tips == ["/d/b.pdf\nfailed: damaged", "/d/x.bin\nnot indexed: unsupported"]
    model.set_sources([])  # what was passed over stays listed until the collection changes
    assert [r.path for r in model.rows()] == ["/d/x.bin"]


def test_the_settings_form_follows_the_settings_model(qtbot: QtBot) -> None:
    fields = Settings.model_fields
    threads = editor_for("threads", fields["threads"])
    assert isinstance(threads.widget, QSpinBox)
    qtbot.addWidget(threads.widget)
    threads.set_value(None)
    assert threads.widget.text() == "auto" and threads.value() is None
    threads.set_value(4)
    assert threads.value() == 4
    assert threads.widget.maximum() == 256
    temperature = editor_for("temperature", fields["temperature"])
    assert isinstance(temperature.widget, QDoubleSpinBox)
    assert (temperature.widget.minimum(), temperature.widget.maximum()) == (0.0, 2.0)
    runtime = editor_for("runtime", fields["runtime"])
    assert isinstance(runtime.widget, QComboBox)
    runtime.set_value("ctransformers")
    assert runtime.value() == "ctransformers"
    assert isinstance(editor_for("strict_grounding", fields["strict_grounding"]).widget, QCheckBox)
    model = editor_for("model_path", fields["model_path"])
    assert isinstance(model.widget, PathWidget)
    assert model.widget.line.placeholderText() == "built-in"
    model.set_value(Path("/m/x.gguf"))
    assert model.value() == Path("/m/x.gguf")
    for widget in (temperature.widget, runtime.widget, model.widget):
        qtbot.addWidget(widget)


def test_a_job_reports_engine_errors_in_their_own_words(qtbot: QtBot) -> None:
    def fail() -> None:
        raise NotFoundError("there is no chat 7")

    job = Job("fail", fail)
    with qtbot.waitSignal(job.signals.errored) as blocker:
        job.run()
    assert blocker.args[0] == "there is no chat 7"


def test_a_job_turns_a_bug_into_a_short_message_and_a_log_line(
    qtbot: QtBot, caplog: pytest.LogCaptureFixture
) -> None:
    job = Job("divide", lambda: 1 / 0)
    with caplog.at_level(logging.ERROR), qtbot.waitSignal(job.signals.errored) as blocker:
        job.run()
    assert blocker.args[0] == "unexpected error: ZeroDivisionError: division by zero"
    assert "job divide failed" in caplog.text and "Traceback" in caplog.text


def test_a_cancelled_stream_is_closed(qtbot: QtBot) -> None:
    closed = []

    def numbers() -> object:
        try:
            yield from range(1000)
        finally:
            closed.append(True)

    job = Job("count", numbers, stream=True)
    got: list[object] = []

    def take(item: object) -> None:  # run() is called here, so this runs synchronously
        got.append(item)
        job.cancel()

    job.signals.yielded.connect(take)
    with qtbot.waitSignal(job.signals.finished):
        job.run()
    assert got == [0]
    assert closed == [True]


def test_a_closed_window_gets_no_more_reports_from_its_job(qtbot: QtBot) -> None:
    """A window closed while its job still reports: the reports stop at it (they used to
    reach its deleted widgets and raise in the event loop, which pytest-qt reports as a
    failure of the test), and the job runs on to its end."""
    go_on = threading.Event()

    def work() -> Iterator[int]:
        yield 1
        go_on.wait(10)
        yield 2

    window = QWidget()
    window.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    label = QLabel(window)
    shown: list[object] = []

    def show(item: object) -> None:
        label.setText(str(item))  # raises once the label is deleted
        shown.append(item)

    job = Job("count", work, stream=True).deliver_to(window, yielded=show)
    pool = QThreadPool()
    pool.start(job)
    qtbot.waitUntil(lambda: shown == [1])
    window.close()
    qtbot.waitUntil(lambda: not shiboken6.isValid(label))
    with qtbot.waitSignal(job.signals.finished):
        go_on.set()  # the job reports 2, then its end, to the deleted window
    assert pool.waitForDone(5000)
    assert shown == [1]


def test_none_survives_the_bindings_reference_leak() -> None:
    """PySide6 6.12 drops a reference to None per void call (see ui.compat)."""
    script = (
        "import ui\nfrom PySide6.QtCore import QObject\no = QObject()\n"
        "for _ in range(200_000):\n    o.setObjectName('x')\nprint('alive')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr[-500:]
    assert done.stdout.strip() == "alive"


def test_a_document_indexed_with_warnings_says_what_was_not_read() -> None:
    from desk_assistant.api import SourceInfo
    from ui.qt_models import DocumentRow

    source = SourceInfo(
        "/d/scan.pdf", "default", "indexed", None, "pdf", 100, 12, 1000, 0.0,
        ("40 of 100 pages could not be read",),
    )  # fmt: skip
    row = DocumentRow.from_source(source)
    assert row.status == "indexed"
    assert row.status_text == "indexed (40 of 100 pages could not be read)"
