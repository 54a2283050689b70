"""Answer with a model on another machine: the "Model server…" dialog.

The user gives the address of an OpenAI-compatible server (llama.cpp's ``llama-server``,
llama-cpp-python's server, vLLM, Ollama, LM Studio), optionally the model, an API key
and a CA bundle; "Test connection" asks the server in the background and says what it
serves or what is wrong (refused, TLS, 401, unknown model, timeout); "Use this server"
saves the settings (the key goes to the system keyring, never into settings.json) and
hands the new settings to the window, which reloads the answering model.
"""

from __future__ import annotations

import functools
from pathlib import Path

import shiboken6
from PySide6.QtCore import QThreadPool, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from desk_assistant.api import (
    DeskAssistantError,
    ServerInfo,
    Settings,
    check_server,
    keyring_available,
    store_secret,
    update_settings,
)
from ui.settings_form import PathEditor
from ui.workers import Job


@functools.cache
def _pool() -> QThreadPool:
    """One thread for connection tests, not owned by the dialog (a test may outlive it;
    it is bounded by the request timeout)."""
    pool = QThreadPool()
    pool.setMaxThreadCount(1)
    return pool


class ModelServerDialog(QDialog):
    """Test and choose a model server; ``server_chosen`` carries the saved settings."""

    server_chosen = Signal(object)

    def __init__(self, settings: Settings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Model server")
        self.setMinimumWidth(560)
        self.settings = settings
        self.info: ServerInfo | None = None
        self._jobs: set[Job] = set()

        self.url = QLineEdit(settings.llm_url or "", self)
        self.url.setPlaceholderText("http://host:8080/v1")
        self.url.setAccessibleName("Server address")
        self.model = QComboBox(self)
        self.model.setEditable(True)
        self.model.setAccessibleName("Model")
        editor = self.model.lineEdit()
        if editor is not None:  # always, for an editable combo box
            editor.setPlaceholderText("the server's only model")
        self.model.setEditText(settings.llm_model or "")
        self.key = QLineEdit(self)
        self.key.setEchoMode(QLineEdit.EchoMode.Password)
        self.key.setAccessibleName("API key")
        self.key.setPlaceholderText("none, or as already stored")
        self.ca_bundle = PathEditor("ca_bundle", Settings.model_fields["ca_bundle"], True)
        self.ca_bundle.set_value(settings.ca_bundle)
        key_note = QLabel(self._key_note(), self)
        key_note.setObjectName("muted")
        key_note.setWordWrap(True)
        self.report = QLabel(
            "Test the connection to see what the server offers.", self, wordWrap=True
        )
        self.report.setObjectName("muted")

        self.test_button = QPushButton("Test connection", self)
        self.test_button.clicked.connect(self.test)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel, self)
        self.use_button = buttons.addButton(
            "Use this server", QDialogButtonBox.ButtonRole.AcceptRole
        )
        self.use_button.setEnabled(False)
        buttons.accepted.connect(self.use)
        buttons.rejected.connect(self.reject)

        form = QFormLayout()
        form.addRow("Address:", self.url)
        form.addRow("Model:", self.model)
        form.addRow("API key:", self.key)
        form.addRow("", key_note)
        form.addRow("CA certificates:", self.ca_bundle.widget)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.test_button)
        layout.addWidget(self.report)
        layout.addWidget(buttons)
        self.url.textChanged.connect(lambda _text: self._untested())
        self.model.editTextChanged.connect(lambda _text: self._untested())

    @staticmethod
    def _key_note() -> str:
        where = (
            "kept in the system keyring"
            if keyring_available()
            else "not stored (no system keyring here): set DESK_ASSISTANT_LLM_API_KEY"
        )
        return f"The key is never written to settings.json; it is {where}."

    def _untested(self) -> None:
        self.info = None
        self.use_button.setEnabled(False)

    def candidate(self) -> Settings:
        """The settings as they would be with this server; ValueError if they cannot be."""
        url = self.url.text().strip()
        if not url:
            raise ValueError("Enter the server's address, e.g. http://host:8080/v1")
        changes = {
            "runtime": "openai",
            "llm_url": url,
            "llm_model": self.model.currentText().strip() or None,
            "ca_bundle": self.ca_bundle.value(),
        }
        key = self.key.text().strip()
        if key:
            changes["llm_api_key"] = key
        try:
            return Settings.model_validate({**self.settings.model_dump(), **changes})
        except ValueError as exc:
            raise ValueError(str(exc).splitlines()[-1].strip()) from None

    def test(self) -> Job | None:
        """Ask the server in the background what it serves."""
        try:
            candidate = self.candidate()
        except ValueError as exc:
            self.report.setText(f"⚠ {exc}")
            return None
        self.report.setText("Connecting…")
        self.test_button.setEnabled(False)
        job = Job("test model server", lambda: check_server(candidate))
        job.deliver_to(self, finished=self._tested, errored=self._failed)
        self._jobs.add(job)
        _pool().start(job)
        return job

    def _tested(self, info: ServerInfo) -> None:
        if not shiboken6.isValid(self):
            return  # closed while the server was asked
        self.test_button.setEnabled(True)
        self.info = info
        current = self.model.currentText()
        self.model.blockSignals(True)
        self.model.clear()
        self.model.addItems(list(info.models))
        self.model.setEditText(current or info.model)
        self.model.blockSignals(False)
        self.report.setText(info.describe())
        self.use_button.setEnabled(True)

    def _failed(self, message: str, _exc: object) -> None:
        if not shiboken6.isValid(self):
            return
        self.test_button.setEnabled(True)
        self.report.setText(f"⚠ {message}")
        self._untested()

    def use(self) -> None:
        """Save the tested server as the one that answers (and its key in the keyring)."""
        try:
            candidate = self.candidate()
            key = self.key.text().strip()
            if key:
                store_secret("llm_api_key", candidate.llm_url, key)
            changes = {
                name: getattr(candidate, name)
                for name in ("runtime", "llm_url", "llm_model", "ca_bundle")
            }
            saved = update_settings(Path(self.settings.home), changes)
        except (ValueError, DeskAssistantError) as exc:
            self.report.setText(f"⚠ {exc}")
            return
        self.server_chosen.emit(saved)
        self.accept()
