"""The model library in the window: add after a child-process probe, describe, licence
on first use, use, remove, download on request."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from model_server import serving
from PySide6.QtWidgets import QMessageBox
from pytestqt.qtbot import QtBot
from test_ui_window import fake_window
from tiny_gguf import write_tiny_llama_gguf

from desk_assistant.models.licence import LicenceNotice
from ui.models_dialog import ModelsDialog

PROBE_MS = 120_000  # a runtime loads the file in a child process first


def _idle(dialog: ModelsDialog) -> bool:
    return not dialog._jobs


def _saved_model(home: Path) -> object:
    settings = home / "settings.json"
    return json.loads(settings.read_text()).get("model_path") if settings.exists() else None


def test_a_llama2_file_is_probed_described_and_used_after_its_licence(
    qtbot: QtBot, app_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = write_tiny_llama_gguf(
        tmp_path / "llama-2-7b-chat.Q4_K_M.gguf", name="LLaMA v2", license=None
    )
    window = fake_window(qtbot, app_home)
    dialog = window.open_models()
    qtbot.waitUntil(lambda: dialog.entries.count() == 1 and _idle(dialog))
    builtin = dialog.current()
    assert builtin is not None and builtin.kind == "built-in" and builtin.in_use

    dialog.add_path(model, copy=False)
    qtbot.waitUntil(
        lambda: "Added llama-2-7b-chat-q4_k_m" in dialog.message.text(), timeout=PROBE_MS
    )
    qtbot.waitUntil(lambda: "Architecture:" in dialog.details.text() and _idle(dialog))
    details = dialog.details.text()
    assert "llama, 213K parameters" in details and "llama-2 (from the file name" in details
    assert "Memory:" in details and "licence notice is shown before first use" in details

    vicuna = dialog.prompt_format.findData("vicuna")
    dialog.prompt_format.setCurrentIndex(vicuna)
    dialog.prompt_format.activated.emit(vicuna)  # as when the user picks it
    qtbot.waitUntil(lambda: "now use vicuna" in dialog.message.text())
    qtbot.waitUntil(lambda: "vicuna (chosen by the user)" in dialog.details.text())
    dialog.prompt_format.setCurrentIndex(0)
    dialog.prompt_format.activated.emit(0)
    qtbot.waitUntil(lambda: "llama-2 (from the file name" in dialog.details.text())

    shown: list[LicenceNotice] = []
    monkeypatch.setattr(dialog, "accept_licence", lambda notice: bool(shown.append(notice)))
    dialog.use_current()
    qtbot.waitUntil(lambda: "its licence was not accepted" in dialog.message.text())
    assert "Llama 2 Community License" in shown[0].title and _saved_model(app_home) is None

    monkeypatch.setattr(dialog, "accept_licence", lambda notice: True)
    chosen: list[object] = []
    dialog.model_chosen.connect(chosen.append)
    dialog.use_current()
    qtbot.waitUntil(lambda: "Answers now come from llama-2-7b-chat-q4_k_m" in dialog.message.text())
    reloads: list[bool] = []
    dialog.format_changed.connect(lambda: reloads.append(True))
    alpaca = dialog.prompt_format.findData("alpaca")
    qtbot.waitUntil(lambda: _idle(dialog))
    dialog.prompt_format.setCurrentIndex(alpaca)
    dialog.prompt_format.activated.emit(alpaca)  # the model in use: the window reloads it
    qtbot.waitUntil(lambda: reloads == [True] and _idle(dialog))
    assert _saved_model(app_home) == str(model) and len(chosen) == 1
    qtbot.waitUntil(lambda: _idle(dialog) and "in use" in dialog.entries.currentItem().text())

    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.Yes)
    dialog.remove_current()
    qtbot.waitUntil(lambda: "Removed llama-2-7b-chat-q4_k_m" in dialog.message.text())
    assert model.exists() and _saved_model(app_home) is None  # linked: the file stays


def test_a_file_no_runtime_can_load_is_refused_with_the_reason(
    qtbot: QtBot, app_home: Path, tmp_path: Path
) -> None:
    fake = tmp_path / "broken.gguf"
    fake.write_bytes(b"GGUF" + b"\0" * 64)
    dialog = fake_window(qtbot, app_home).open_models()
    qtbot.waitUntil(lambda: _idle(dialog))
    dialog.add_path(fake, copy=True)
    qtbot.waitUntil(lambda: _idle(dialog) and "broken.gguf" in dialog.message.text())
    assert "color" in dialog.message.styleSheet()  # shown as an error, in plain text
    assert dialog.entries.count() == 1 and not (app_home / "models" / "broken.gguf").exists()


def test_a_download_asked_for_shows_progress_and_lands_in_the_library(
    qtbot: QtBot, app_home: Path, tmp_path: Path
) -> None:
    content = write_tiny_llama_gguf(tmp_path / "src.gguf").read_bytes()
    dialog = fake_window(qtbot, app_home).open_models()
    qtbot.waitUntil(lambda: _idle(dialog))
    with serving(content) as server:
        dialog.start_download(url=server.url)
        assert dialog.cancel_button.isVisible()
        qtbot.waitUntil(lambda: "Downloaded and checked" in dialog.message.text(), timeout=60_000)
    qtbot.waitUntil(lambda: _idle(dialog) and dialog.entries.count() == 2)
    entry = dialog.current()
    assert entry is not None and entry.kind == "models folder"
    assert entry.path.read_bytes() == content and not dialog.cancel_button.isVisible()
