"""The first model choice, as a guided step: which model to get for this computer, what
it costs to download, how fast it will answer here, and one click to get it.

It lists the catalogue (Llama 2 chat first) with each model's download size, licence,
memory fit and expected answer speed on this machine - measured when the guide opens
(``desk_assistant.models.speed``) - and recommends the first that fits in memory.
Nothing is downloaded until "Download (size) and use" is clicked; once the download is
done and checked, the model is put to use (after its licence notice, for Llama 2).
"""

from __future__ import annotations

import html
import threading

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from desk_assistant.api import (
    Choice,
    LicenceNotice,
    Machine,
    ModelLibrary,
    Settings,
    UseResult,
    choices,
    format_bytes,
    measure_this_machine,
)
from ui.model_jobs import ByteProgress, ask_licence, run_for, show_bytes
from ui.theme import colors
from ui.workers import Job

HOW_SPEED_IS_ESTIMATED = (
    "Speeds are estimated before anything is downloaded: this computer's memory and "
    "arithmetic speed were just measured, and how long the built-in model takes per word; "
    "a model reads its whole file for every word it writes and does about two operations "
    "per parameter for every word it reads. "
    "Expect the real speed within a factor of two or three: slower while other programs "
    "work, faster on short questions."
)


class ModelGuide(QDialog):
    """``model_chosen`` carries the new settings once a model is downloaded and in use;
    ``add_file_requested`` asks for the model library's Add file… instead."""

    model_chosen = Signal(object)
    add_file_requested = Signal()

    def __init__(self, settings: Settings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Choose a better model")
        self.resize(820, 520)
        self.library = ModelLibrary(settings)
        self._settings = settings
        self._jobs: set[Job] = set()
        self._cancel: threading.Event | None = None
        self.bar = QProgressBar(self)
        self.bar.hide()
        self._progress = ByteProgress(self)
        self._progress.changed.connect(lambda done, total: show_bytes(self.bar, done, total))
        intro = QLabel(
            "The built-in model is small: quick, but its answers are weak. These models "
            "answer better; each runs on this computer, and nothing you ask leaves it. A "
            "model is downloaded only when you click “Download … and use”.",
            self,
        )
        intro.setWordWrap(True)
        self.machine = QLabel("Measuring this computer's speed…", self)
        self.machine.setObjectName("muted")
        self.machine.setWordWrap(True)
        self.list = QListWidget(self)
        self.list.setAccessibleName("Models for this computer")
        self.list.setWordWrap(True)
        self.list.setSpacing(3)
        self.list.setAlternatingRowColors(True)
        self.list.currentItemChanged.connect(lambda *_: self._update_buttons())
        how = QLabel(HOW_SPEED_IS_ESTIMATED, self)
        how.setObjectName("muted")
        how.setWordWrap(True)
        self.message = QLabel(self)
        self.message.setWordWrap(True)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.cancel_button = QPushButton("Cancel download", self)
        self.cancel_button.hide()
        self.cancel_button.clicked.connect(self._cancel_download)
        self.download_button = QPushButton("Download and use", self)
        self.download_button.setDefault(True)
        self.download_button.clicked.connect(self.download_selected)
        self.file_button = QPushButton("I have a model file…", self)
        self.file_button.clicked.connect(self._add_file)
        self._lay_out(intro, how)
        self._fill(choices(settings.context_length, machine=None))
        run_for(
            self, self._jobs, "measure machine", measure_this_machine, self._measured, self._failed
        )

    def _lay_out(self, intro: QLabel, how: QLabel) -> None:
        progress = QHBoxLayout()
        progress.addWidget(self.bar, 1)
        progress.addWidget(self.cancel_button)
        buttons = QHBoxLayout()
        buttons.addWidget(self.file_button)
        buttons.addStretch(1)
        buttons.addWidget(self.download_button)
        close = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        close.rejected.connect(self.reject)
        buttons.addWidget(close)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addWidget(self.machine)
        layout.addWidget(self.list, 1)
        layout.addWidget(how)
        layout.addWidget(self.message)
        layout.addLayout(progress)
        layout.addLayout(buttons)

    def done(self, result: int) -> None:
        """Closing stops a download (the part is kept for a resume)."""
        if self._cancel is not None:
            self._cancel.set()
        super().done(result)

    # the choices -------------------------------------------------------------------------

    def _measured(self, machine: Machine) -> None:
        memory = machine.memory
        ram = (
            f"{format_bytes(memory.total)} of memory, {format_bytes(memory.available)} free"
            if memory
            else "memory unknown"
        )
        speed = machine.speed
        self.machine.setText(
            f"This computer: {ram}, {machine.cores} processor cores; it reads memory at "
            f"{speed.memory_bytes_per_s / 1e9:.1f} GB/s and computes "
            f"{speed.flops / 1e9:.0f} billion operations a second."
        )
        current = self.current()
        self._fill(
            choices(self._settings.context_length, machine=speed, memory=memory),
            current.entry.name if current else None,
        )

    def _fill(self, listed: list[Choice], select: str | None = None) -> None:
        self.list.clear()
        for choice in listed:
            item = QListWidgetItem(describe(choice))
            item.setData(Qt.ItemDataRole.UserRole, choice)
            self.list.addItem(item)
            if choice.entry.name == select or (select is None and choice.recommended):
                self.list.setCurrentItem(item)
        if self.list.currentItem() is None and self.list.count():
            self.list.setCurrentRow(0)

    def current(self) -> Choice | None:
        item = self.list.currentItem()
        choice = item.data(Qt.ItemDataRole.UserRole) if item is not None else None
        return choice if isinstance(choice, Choice) else None

    def _update_buttons(self) -> None:
        busy = any(job.name != "measure machine" for job in self._jobs)
        choice = self.current()
        self.download_button.setEnabled(not busy and choice is not None)
        if choice is not None:
            size = format_bytes(choice.entry.size_bytes)
            self.download_button.setText(f"Download ({size}) and use")
        self.file_button.setEnabled(not busy)
        self.list.setEnabled(not busy)

    # getting it --------------------------------------------------------------------------

    def download_selected(self) -> Job | None:
        """Download the selected model, check it, and use it (after its licence)."""
        choice = self.current()
        if choice is None:
            return None
        library, progress = self.library, self._progress.changed.emit
        cancel = self._cancel = threading.Event()
        name = choice.entry.name

        def fetch() -> tuple[str, LicenceNotice | None]:
            entry = library.download(catalogue=name, progress=progress, cancel=cancel).entry
            return entry.name, library.licence_notice(entry.name)

        self.message.setText(f"Downloading {choice.entry.title}… (resumes if interrupted)")
        job = run_for(self, self._jobs, "guide-download", fetch, self._downloaded, self._failed)
        self.cancel_button.show()
        self.cancel_button.setEnabled(True)
        self._update_buttons()
        return job

    def _downloaded(self, result: tuple[str, LicenceNotice | None]) -> None:
        name, notice = result
        self.bar.hide()
        self.cancel_button.hide()
        if notice is not None and not self.accept_licence(notice):
            self.message.setText(
                f"Downloaded {name}, but not put to use: its licence was not accepted. It "
                "stays in File > Models…, where you can use it later."
            )
            self._update_buttons()
            return
        library = self.library
        run_for(
            self,
            self._jobs,
            "guide-use",
            lambda: library.use(name, accept_licence=notice is not None),
            self._used,
            self._failed,
        )

    def accept_licence(self, notice: LicenceNotice) -> bool:
        return ask_licence(self, notice)

    def _used(self, result: UseResult) -> None:
        self._update_buttons()
        self.message.setText(
            f"Downloaded and checked. Answers now come from {result.entry.name}; it is "
            "loading in the background."
        )
        self.model_chosen.emit(result.settings)

    def _failed(self, message: str, _exc: object) -> None:
        self.bar.hide()
        self.cancel_button.hide()
        self._update_buttons()
        color = colors()["error"]
        self.message.setText(f"<span style='color:{color}'>{html.escape(message)}</span>")

    def _cancel_download(self) -> None:
        if self._cancel is not None:
            self._cancel.set()
            self.cancel_button.setEnabled(False)
            self.message.setText("Cancelling; the part downloaded so far is kept for a resume.")

    def _add_file(self) -> None:
        self.add_file_requested.emit()
        self.accept()


def describe(choice: Choice) -> str:
    """Two lines: the model, then what it costs here (download, licence, memory, speed)."""
    entry = choice.entry
    title = f"★ Recommended: {entry.title}" if choice.recommended else entry.title
    facts = [f"{format_bytes(entry.size_bytes)} download", entry.licence_name]
    if choice.fit is not None:
        facts.append(f"memory: {choice.fit.label} (needs {format_bytes(choice.fit.needed_bytes)})")
    facts.append(choice.speed.describe() if choice.speed else "measuring its speed here…")
    return f"{title}\n{' · '.join(facts)}"
