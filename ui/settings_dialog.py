"""The settings dialog: every field of ``Settings``, checked before it is saved.

Basic holds what most people change (the model, answer length, grounding, the data
folder), Advanced the tuning, in sections; each setting has a plain label and a sentence
of help under it (``ui.settings_text``). Values are validated by the settings model
itself, so the dialog can never save what the CLI would refuse to load; the model file
is described and test-loaded in the background as soon as it is chosen.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from PySide6.QtCore import QCoreApplication, QThreadPool, QUrl
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import (
    QAbstractSpinBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QScrollArea,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from desk_assistant.api import (
    HOME_ENV,
    DeskAssistantError,
    ModelCheck,
    Settings,
    check_model,
    check_server,
    choose_home,
    chosen_home,
    update_settings,
)
from ui.plain_text import plain
from ui.settings_form import Editor, PathWidget, editor_for, label_for
from ui.settings_text import OTHER_SECTION, WORDING, Wording, gpu_offload_help
from ui.workers import Job

# The collection is chosen in the library panel; credentials never go to settings.json
# (the model server dialog keeps an API key in the system keyring).
NOT_HERE = {"collection", "llm_api_key", "chroma_token"}


def wording_for(name: str) -> Wording:
    """How the dialog speaks of a setting; a field not described yet gets its own
    description, in Advanced > Other."""
    if name in WORDING:
        return WORDING[name]
    info = Settings.model_fields[name]
    return Wording("Advanced", OTHER_SECTION, label_for(info, name), info.description or "")


_pool: QThreadPool | None = None


def _model_pool() -> QThreadPool:
    """One thread for model checks, owned by the application: a probe may outlive the
    dialog that asked for it (it is bounded by the probe's own timeout)."""
    global _pool  # noqa: PLW0603
    if _pool is None:
        _pool = QThreadPool(QCoreApplication.instance())
        _pool.setMaxThreadCount(1)
    return _pool


class SettingsDialog(QDialog):
    """Edit, validate and save the settings; ``saved`` holds what was saved."""

    def __init__(self, settings: Settings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Settings")
        self.setMinimumWidth(680)
        self.resize(760, 560)  # fits a 1024x640 screen; the tabs scroll
        self.settings = settings
        self.saved: Settings | None = None
        self.editors: dict[str, Editor] = {}
        self.help: dict[str, QLabel] = {}
        self.model_check: ModelCheck | None = None
        self._jobs: list[Job] = []

        self.tabs = QTabWidget(self)
        self._pages = {tab: self._add_tab(tab) for tab in ("Basic", "Advanced")}
        self._sections: dict[tuple[str, str], QFormLayout] = {}
        fields = Settings.model_fields
        order = [n for n in WORDING if n in fields]
        order += [n for n in fields if n not in WORDING and n not in NOT_HERE]
        for name in order:
            self._add_field(name)
        for page in self._pages.values():
            page.addStretch(1)

        self.problem = plain(QLabel(self))
        self.problem.setObjectName("problem")
        self.problem.setWordWrap(True)
        self.problem.hide()
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel, self
        )
        buttons.accepted.connect(self.save)
        buttons.rejected.connect(self.reject)
        self.save_button = buttons.button(QDialogButtonBox.StandardButton.Save)
        layout = QVBoxLayout(self)
        layout.addWidget(self.tabs, 1)
        layout.addWidget(self.problem)
        layout.addWidget(buttons)
        self._check_model(probe=False)

    def _add_tab(self, title: str) -> QVBoxLayout:
        page = QWidget()
        column = QVBoxLayout(page)
        scroll = QScrollArea(self.tabs)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        scroll.setWidget(page)
        self.tabs.addTab(scroll, title)
        return column

    def _section(self, tab: str, title: str) -> QFormLayout:
        """The form of a titled section of a tab, made when its first setting comes."""
        key = (tab, title)
        if key not in self._sections:
            box = QGroupBox(title)
            form = QFormLayout(box)
            form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
            form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapLongRows)
            self._pages[tab].addWidget(box)
            self._sections[key] = form
        return self._sections[key]

    def _add_field(self, name: str) -> None:
        info = Settings.model_fields[name]
        wording = wording_for(name)
        form = self._section(wording.tab, wording.section)
        if name == "home":
            form.addRow(wording.label, self._with_help(self._data_folder(), name, wording.help))
            return
        editor = editor_for(name, info, wording.choices)
        editor.set_value(getattr(self.settings, name))
        editor.widget.setToolTip(wording.help)
        editor.widget.setAccessibleName(wording.label)
        editor.widget.setAccessibleDescription(wording.help)
        if isinstance(editor.widget, QAbstractSpinBox):
            editor.widget.setMaximumWidth(180)  # a number, not a line of text
        self.editors[name] = editor
        form.addRow(wording.label, self._with_help(editor.widget, name, wording.help))
        if name == "runtime":
            assert isinstance(editor.widget, QComboBox)
            editor.widget.currentIndexChanged.connect(lambda _i: self._check_model(probe=True))
        if name == "llm_url":
            form.addRow("", self._server_test())
        if name == "model_path":
            assert isinstance(editor.widget, PathWidget)
            editor.widget.changed.connect(lambda _text: self._check_model(probe=True))
            # What the model file's header says: untrusted text.
            self.model_info = plain(QLabel("Reading the model file…", self))
            self.model_info.setWordWrap(True)
            form.addRow("", self.model_info)

    def _with_help(self, field: QWidget, name: str, text: str) -> QWidget:
        """The setting's field with a sentence of help under it."""
        box = QWidget(self)
        help_label = QLabel(text, box)
        help_label.setObjectName("muted")
        help_label.setWordWrap(True)
        self.help[name] = help_label
        column = QVBoxLayout(box)
        column.setContentsMargins(0, 0, 0, 6)
        column.setSpacing(2)
        column.addWidget(field)
        column.addWidget(help_label)
        return box

    def _data_folder(self) -> QWidget:
        """Where this window's data lives; another folder can be chosen for the next start
        (the data folder holds the settings file, so it cannot switch under a running
        window)."""
        box = QWidget(self)
        line = QLineEdit(str(self.settings.home), box)
        line.setReadOnly(True)
        line.setAccessibleName("Data folder")
        open_button = QPushButton("Open", box)
        open_button.clicked.connect(
            lambda: QDesktopServices.openUrl(QUrl.fromLocalFile(str(self.settings.home)))
        )
        change_button = QPushButton("Change…", box)
        change_button.clicked.connect(self._change_data_folder)
        self.data_folder_note = plain(QLabel(self._data_folder_note(chosen_home()), box))
        self.data_folder_note.setObjectName("muted")
        self.data_folder_note.setWordWrap(True)
        row = QHBoxLayout()
        row.addWidget(line, 1)
        row.addWidget(open_button)
        row.addWidget(change_button)
        column = QVBoxLayout(box)
        column.setContentsMargins(0, 0, 0, 0)
        column.addLayout(row)
        column.addWidget(self.data_folder_note)
        return box

    def _data_folder_note(self, chosen: Path | None) -> str:
        if os.environ.get(HOME_ENV):
            return f"{HOME_ENV} is set, so it decides the data folder."
        if chosen is not None and chosen != self.settings.home:
            return (
                f"From the next start the data folder is {chosen}. The data here stays where "
                "it is: to take your documents and chats along, copy this folder's contents "
                "there while Desk Assistant is closed."
            )
        return "Change… picks another folder for the next start; nothing here is moved."

    def _change_data_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(
            self, "Choose the data folder", str(self.settings.home)
        )
        if not folder:
            return
        try:
            choose_home(Path(folder))
        except OSError as exc:
            self.data_folder_note.setText(f"Cannot remember that folder: {exc}")
            return
        self.data_folder_note.setText(self._data_folder_note(chosen_home()))

    # the model server -----------------------------------------------------------------------

    def _server_test(self) -> QWidget:
        box = QWidget(self)
        self.server_test_button = QPushButton("Test connection", box)
        self.server_test_button.setToolTip("Ask the model server what it serves")
        self.server_test_button.clicked.connect(self.test_server)
        self.server_result = QLabel("", box)
        self.server_result.setObjectName("muted")
        self.server_result.setWordWrap(True)
        row = QHBoxLayout(box)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.server_test_button)
        row.addWidget(self.server_result, 1)
        return box

    def test_server(self) -> Job | None:
        """Test the model server as edited here, in the background."""
        try:
            candidate = Settings.model_validate(
                {**self.settings.model_dump(), **self.values(), "runtime": "openai"}
            )
        except ValidationError as exc:
            self.server_result.setText(f"⚠ {_explain(exc)}")
            return None
        self.server_result.setText("Connecting…")
        job = Job("test model server", lambda: check_server(candidate))
        job.deliver_to(
            self,
            finished=lambda info: self.server_result.setText(info.describe()),
            errored=lambda message, _e: self.server_result.setText(f"⚠ {message}"),
        )
        self._jobs.append(job)
        _model_pool().start(job)
        return job

    # the model file -------------------------------------------------------------------------

    def _check_model(self, *, probe: bool) -> None:
        path = self.editors["model_path"].value()
        runtime = str(self.editors["runtime"].value())
        cache = self.settings.paths.cache
        self.model_check = None
        self.model_info.setText(
            "Checking the model file (loading it in a test process)…"
            if probe
            else "Reading the model file…"
        )
        job = Job("check model", lambda: check_model(path, runtime, cache, probe=probe))
        job.deliver_to(self, finished=self._model_checked, errored=self._model_check_failed)
        self._jobs.append(job)
        _model_pool().start(job)

    def _model_checked(self, check: ModelCheck) -> None:
        current = self.editors["model_path"].value()
        if check.path != str(current or ""):
            return  # an answer about a file that is no longer chosen
        self.model_check = check
        self.model_info.setText(check.describe())
        self.help["gpu_layers"].setText(gpu_offload_help(check.runtime, check.gpu_offload))

    def _model_check_failed(self, message: str, _exc: object) -> None:
        self.model_info.setText(f"⚠ {message}")

    # saving -----------------------------------------------------------------------------

    def values(self) -> dict[str, Any]:
        return {name: editor.value() for name, editor in self.editors.items()}

    def validated(self) -> Settings:
        """The settings as edited; raises ValueError with a message a user can act on."""
        values = self.values()
        for name in ("model_path", "embedding_model", "reranker_model"):
            path = values.get(name)
            if isinstance(path, Path) and not path.exists():
                raise ValueError(f"{wording_for(name).label}: there is no file or folder at {path}")
        check = self.model_check
        if check is not None and check.problem and check.path == str(values["model_path"] or ""):
            raise ValueError(f"The model file cannot be used: {check.problem}")
        try:
            return Settings.model_validate({**self.settings.model_dump(), **values})
        except ValidationError as exc:
            raise ValueError(_explain(exc)) from None

    def save(self) -> None:
        """Write what the user changed here, nothing else (not what the environment or a
        command-line option decided)."""
        try:
            settings = self.validated()
            changed = {
                name: getattr(settings, name)
                for name in self.editors
                if getattr(settings, name) != getattr(self.settings, name)
            }
            update_settings(settings.home, changed)
        except (ValueError, DeskAssistantError) as exc:
            self._show_problem(str(exc))
            return
        except OSError as exc:
            self._show_problem(f"The settings could not be saved: {exc.strerror or exc}")
            return
        self.saved = settings
        self.accept()

    def _show_problem(self, text: str) -> None:
        self.problem.setText(text)
        self.problem.show()


def _explain(exc: ValidationError) -> str:
    """pydantic's errors in the dialog's words: the field's label, then what is wrong."""
    lines = []
    for error in exc.errors():
        names = [str(part) for part in error["loc"]]
        known = bool(names) and names[0] in Settings.model_fields
        where = wording_for(names[0]).label if known else "Settings"
        message = str(error["msg"]).removeprefix("Value error, ")
        for name in Settings.model_fields:
            message = re.sub(rf"\b{name}\b", wording_for(name).label.lower(), message)
        lines.append(f"{where}: {message}")
    return "\n".join(lines)
