"""The model library in the app: what each model file is, whether it fits, its licence;
add (link or copy), remove, use, download.

Everything here goes through ``ModelLibrary``, the same engine object behind
``desk-assistant models``. Reading a file's header, probing it in a child process,
copying and downloading run as background jobs; a model is never loaded in the app
process before a runtime has loaded it in a child process (``add(verify=True)``).
"""

from __future__ import annotations

import html
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from desk_assistant.api import (
    CATALOGUE,
    PROMPT_FORMATS,
    DeskAssistantError,
    LibraryEntry,
    LicenceNotice,
    ModelLibrary,
    RemoveResult,
    Settings,
    UseResult,
    description_rows,
    format_bytes,
)
from ui.model_jobs import ByteProgress, ask_licence, run_for, show_bytes
from ui.model_server_dialog import ModelServerDialog
from ui.plain_text import as_html, plain
from ui.settings_form import FILE_FILTERS
from ui.theme import colors
from ui.workers import Job

OTHER_URL = "Another address (URL)…"


def _server_note(settings: Settings) -> str:
    return (
        f"Answers come from the model server at {settings.llm_url}. "
        '"Use this model" answers with a model file on this computer again.'
    )


class ModelsDialog(QDialog):
    """Lists the library; ``model_chosen`` carries the new settings after "Use", and
    ``format_changed`` says the model in use is to be prompted in another format."""

    model_chosen = Signal(object)
    format_changed = Signal()

    def __init__(self, settings: Settings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Models")
        self.resize(860, 520)
        self.settings = settings
        self.library = ModelLibrary(settings)
        self._jobs: set[Job] = set()
        self._cancel: threading.Event | None = None
        self._progress = ByteProgress(self)
        self._progress.changed.connect(self._show_progress)

        self.entries = QListWidget(self)
        self.entries.setAccessibleName("Models")
        self.entries.currentItemChanged.connect(lambda *_: self._describe_current())
        self.details = QLabel(self)
        # A table of the model file's metadata, every value escaped (it is untrusted).
        self.details.setTextFormat(Qt.TextFormat.RichText)
        self.details.setWordWrap(True)
        self.details.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.details.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.prompt_format = QComboBox(self)
        self.prompt_format.setAccessibleName("Prompt format")
        self.prompt_format.addItem("Detected from the file", None)
        for family, description in PROMPT_FORMATS.items():
            self.prompt_format.addItem(description, family)
        self.prompt_format.activated.connect(lambda _index: self._set_prompt_format())
        self.message = plain(QLabel(self))
        self.message.setWordWrap(True)
        self.message.setObjectName("muted")
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        # The way out of a failure, as a button (a download that needs a login in the
        # browser: then bring the file in with Add file…), never as a command to type.
        self.fix_button = QPushButton("Add the file you downloaded…", self)
        self.fix_button.clicked.connect(self.add_file)
        self.fix_button.hide()
        self.bar = QProgressBar(self)
        self.bar.hide()
        self.cancel_button = QPushButton("Cancel download", self)
        self.cancel_button.hide()
        self.cancel_button.clicked.connect(self._cancel_download)

        self.add_button = QPushButton("Add file…", self)
        self.add_button.clicked.connect(self.add_file)
        self.download_button = QPushButton("Download…", self)
        self.download_button.clicked.connect(self.download)
        self.server_button = QPushButton("Model server…", self)
        self.server_button.setToolTip(
            "Answer with a model on another machine (llama.cpp server, vLLM, Ollama, ...)"
        )
        self.server_button.clicked.connect(self.choose_server)
        self.remove_button = QPushButton("Remove", self)
        self.remove_button.clicked.connect(self.remove_current)
        self.use_button = QPushButton("Use this model", self)
        self.use_button.setDefault(True)
        self.use_button.clicked.connect(self.use_current)
        self._lay_out()
        self.refresh()
        if settings.runtime == "openai":
            self.message.setText(_server_note(settings))

    def _lay_out(self) -> None:
        close = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        close.rejected.connect(self.reject)
        buttons = QHBoxLayout()
        for button in (
            self.add_button,
            self.download_button,
            self.server_button,
            self.remove_button,
        ):
            buttons.addWidget(button)
        buttons.addStretch(1)
        buttons.addWidget(self.use_button)
        about = QVBoxLayout()
        about.addWidget(self.details, 1)
        override = QFormLayout()
        override.addRow("Prompt format:", self.prompt_format)
        about.addLayout(override)
        body = QHBoxLayout()
        body.addWidget(self.entries, 1)
        body.addLayout(about, 2)
        progress = QHBoxLayout()
        progress.addWidget(self.bar, 1)
        progress.addWidget(self.cancel_button)
        layout = QVBoxLayout(self)
        layout.addLayout(body, 1)
        said = QHBoxLayout()
        said.addWidget(self.message, 1)
        said.addWidget(self.fix_button, 0, Qt.AlignmentFlag.AlignTop)
        layout.addLayout(said)
        layout.addLayout(progress)
        layout.addLayout(buttons)
        layout.addWidget(close)

    def choose_server(self) -> ModelServerDialog:
        """Open the model server dialog; a chosen server answers from now on."""
        dialog = ModelServerDialog(self.settings, self)
        dialog.server_chosen.connect(self._server_chosen)
        dialog.open()
        return dialog

    def _server_chosen(self, settings: Settings) -> None:
        self.settings = settings
        self.message.setText(_server_note(settings))
        self.model_chosen.emit(settings)
        self.refresh()

    def done(self, result: int) -> None:
        """Closing stops a download (the part is kept for a resume)."""
        if self._cancel is not None:
            self._cancel.set()
        super().done(result)

    # background work --------------------------------------------------------------------

    def _run(
        self, name: str, work: Callable[[], Any], done: Callable[[Any], None], busy: str = ""
    ) -> Job:
        self.fix_button.hide()
        if busy:
            self._say(busy)

        def finished(result: Any) -> None:
            self._set_busy(False)
            done(result)

        def errored(message: str, exc: object) -> None:
            self._set_busy(False)
            self._failed(message, exc)

        job = run_for(self, self._jobs, name, work, finished, errored)
        self._set_busy(True)
        return job

    def _set_busy(self, busy: bool) -> None:
        self._update_buttons(busy)
        if not busy:
            self.bar.hide()
            self.cancel_button.hide()

    def _update_buttons(self, busy: bool) -> None:
        entry = self.current()
        self.add_button.setEnabled(not busy)
        self.download_button.setEnabled(not busy)
        self.remove_button.setEnabled(not busy and entry is not None and entry.removable)
        self.prompt_format.setEnabled(not busy and entry is not None and entry.exists)
        self.use_button.setEnabled(not busy and entry is not None and not entry.in_use)

    def _failed(self, message: str, exc: object) -> None:
        self._say(message, error=True)
        offer = isinstance(exc, DeskAssistantError) and exc.action == "add-model-file"
        self.fix_button.setVisible(offer)

    def _say(self, text: str, *, error: bool = False) -> None:
        """Say ``text`` (a model file's metadata or an error naming one: shown as text)."""
        self.message.setStyleSheet(f"color: {colors()['error']};" if error else "")
        self.message.setText(text)

    def _show_progress(self, done: int, total: int | None) -> None:
        show_bytes(self.bar, done, total)

    # listing and details ---------------------------------------------------------------

    def refresh(self, select: str | None = None) -> None:
        self._run("models-list", self.library.list, lambda entries: self._fill(entries, select))

    def _fill(self, entries: list[LibraryEntry], select: str | None) -> None:
        self.entries.clear()
        for entry in entries:
            size = "file missing" if entry.size_bytes is None else format_bytes(entry.size_bytes)
            mark = " — in use" if entry.in_use else ""
            item = QListWidgetItem(f"{entry.name}{mark}\n{entry.kind} · {size}")
            item.setData(Qt.ItemDataRole.UserRole, entry)
            self.entries.addItem(item)
            if entry.name == select or (select is None and entry.in_use):
                self.entries.setCurrentItem(item)
        if self.entries.currentItem() is None and self.entries.count():
            self.entries.setCurrentRow(0)

    def current(self) -> LibraryEntry | None:
        item = self.entries.currentItem()
        entry = item.data(Qt.ItemDataRole.UserRole) if item is not None else None
        return entry if isinstance(entry, LibraryEntry) else None

    def _describe_current(self) -> None:
        entry = self.current()
        self._update_buttons(bool(self._jobs))
        if entry is None:
            self.details.setText("")
            return
        if not entry.exists:
            self.details.setText(as_html(f"The file of {entry.name} is gone: {entry.path}"))
            return
        self.prompt_format.setCurrentIndex(max(self.prompt_format.findData(entry.prompt_format), 0))
        self.details.setText("Reading the file's header…")
        library = self.library

        def describe() -> str:
            report = library.report(entry.name, with_sha256=False)
            rows = description_rows(report.description, entry)
            fit = report.fit
            if fit is not None:
                memory = fit.message + (f" {fit.suggestion}" if fit.suggestion else "")
                rows.append(("Memory:", memory))
                rows.append(("Threads:", f"{fit.threads} suggested for this CPU"))
            if report.notice is not None:
                rows.append(("", "The Llama 2 licence notice is shown before first use."))
            cells = "".join(
                f"<tr><td><b>{html.escape(label)}</b></td><td>{html.escape(value)}</td></tr>"
                for label, value in rows
            )
            return f"<table cellspacing='4'>{cells}</table>"

        def show(text: str) -> None:
            if self.current() == entry:
                self.details.setText(text)

        self._run("models-info", describe, show)

    # changes ---------------------------------------------------------------------------

    def _set_prompt_format(self) -> None:
        """The user's override of the detected prompt format (None: detect again)."""
        entry = self.current()
        family = self.prompt_format.currentData()
        if entry is None or family == entry.prompt_format:
            return
        library = self.library

        def changed(updated: LibraryEntry) -> None:
            how = family or "the format detected from the file"
            self._say(f"Prompts for {updated.name} now use {how}.")
            if updated.in_use:
                self.format_changed.emit()
            self.refresh(select=updated.name)

        self._run("models-format", lambda: library.set_prompt_format(entry.name, family), changed)

    def add_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Add a model file (GGUF)", "", FILE_FILTERS["model_path"]
        )
        if not path:
            return
        box = QMessageBox(self)
        box.setWindowTitle("Add a model")
        box.setText(
            f"Use {Path(path).name} where it is, or copy it into the app's models folder "
            "(safe from moves and deletions of the original, but takes the disk space twice)?"
        )
        link = box.addButton("Use where it is", QMessageBox.ButtonRole.AcceptRole)
        copy = box.addButton("Copy", QMessageBox.ButtonRole.AcceptRole)
        box.addButton(QMessageBox.StandardButton.Cancel)
        box.exec()
        if box.clickedButton() not in (link, copy):
            return
        self.add_path(Path(path), copy=box.clickedButton() is copy)

    def add_path(self, path: Path, *, copy: bool) -> Job:
        """Add ``path`` after a runtime loaded it in a child process."""
        library, progress = self.library, self._progress.changed.emit
        return self._bring_in(
            "models-add",
            lambda: library.add(path, copy=copy, verify=True, progress=progress).entry.name,
            "Added {}. Select it and click “Use this model”.",
            f"Checking {path.name} in a separate process…",
        )

    def _bring_in(self, name: str, work: Callable[[], str], done: str, busy: str) -> Job:
        """Run ``work`` (it returns the new model's name), then say ``done`` and select it."""

        def arrived(model: str) -> None:
            self._say(done.format(model))
            self.refresh(select=model)

        return self._run(name, work, arrived, busy)

    def remove_current(self) -> None:
        entry = self.current()
        if entry is None or not entry.removable:
            return
        stored = entry.kind == "models folder"
        what = "and delete its file from the models folder" if stored else "(the file stays)"
        answer = QMessageBox.question(self, "Remove model", as_html(f"Remove {entry.name} {what}?"))
        if answer != QMessageBox.StandardButton.Yes:
            return
        library = self.library
        self._run(
            "models-remove",
            lambda: library.remove(entry.name, delete_file=stored and entry.exists),
            self._removed,
        )

    def _removed(self, result: RemoveResult) -> None:
        self._say(f"Removed {result.entry.name}.")
        if result.settings.model_path is None:
            self.model_chosen.emit(result.settings)  # it was in use: back to built-in
        self.refresh()

    def use_current(self) -> None:
        entry = self.current()
        if entry is None:
            return
        library = self.library
        self._run(
            "models-licence",
            lambda: library.licence_notice(entry.name),
            lambda notice: self._use(entry, notice),
        )

    def _use(self, entry: LibraryEntry, notice: LicenceNotice | None) -> None:
        if notice is not None and not self.accept_licence(notice):
            self._say(f"{entry.name} was not chosen: its licence was not accepted.")
            return
        library = self.library
        self._run(
            "models-use",
            lambda: library.use(entry.name, accept_licence=notice is not None),
            self._used,
        )

    def accept_licence(self, notice: LicenceNotice) -> bool:
        """Show the licence notice once; True when the user accepts it (stored)."""
        return ask_licence(self, notice)

    def _used(self, result: UseResult) -> None:
        note = f"Answers now come from {result.entry.name}."
        if result.runtime_changed_from:
            note += (
                f" The runtime was {result.runtime_changed_from}, which cannot load it: now auto."
            )
        if result.fit is not None and result.fit.verdict != "fits":
            note += f" {result.fit.message}"
        self._say(note)
        self.model_chosen.emit(result.settings)
        self.refresh(select=result.entry.name)

    # downloading -----------------------------------------------------------------------

    def download(self) -> None:
        """Only ever on request: pick a catalogue entry or paste an address."""
        choices = [
            f"{item.title} — {format_bytes(item.size_bytes)}, {item.licence_name}"
            for item in CATALOGUE
        ]
        choice, ok = QInputDialog.getItem(
            self, "Download a model", "Model to download:", [*choices, OTHER_URL], 0, False
        )
        if not ok:
            return
        catalogue: str | None = None
        url: str | None = None
        if choice == OTHER_URL:
            url, ok = QInputDialog.getText(self, "Download a model", "Address of a GGUF file:")
            if not ok or not url.strip():
                return
            url = url.strip()
        else:
            catalogue = CATALOGUE[choices.index(choice)].name
        self.start_download(url=url, catalogue=catalogue)

    def start_download(self, *, url: str | None = None, catalogue: str | None = None) -> Job:
        library, progress = self.library, self._progress.changed.emit
        cancel = self._cancel = threading.Event()
        job = self._bring_in(
            "models-download",
            lambda: (
                library.download(
                    url, catalogue=catalogue, progress=progress, cancel=cancel
                ).entry.name
            ),
            "Downloaded and checked {}.",
            "Downloading… (resumes if interrupted)",
        )
        self.cancel_button.show()
        self.cancel_button.setEnabled(True)
        return job

    def _cancel_download(self) -> None:
        if self._cancel is not None:
            self._cancel.set()
            self.cancel_button.setEnabled(False)
            self._say("Cancelling; the part downloaded so far is kept for a resume.")
