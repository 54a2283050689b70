"""Naming a collection (new or renamed): any printable name, and a problem with it is
said under the field, in the dialog, where the name can be corrected.

The name is checked as the engine will check it (``collection_name``) and against the
collections that exist; then the engine does the work, and its answer - done, or why not
- comes back to the same dialog.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)

from desk_assistant.api import COLLECTION_NAME_LENGTH, collection_name
from ui.workers import Job


class CollectionNameDialog(QDialog):
    """Asks for a name; ``submit(name)`` starts the engine's job, and the dialog closes
    only when that job has finished (``name`` then holds what was used)."""

    def __init__(
        self,
        title: str,
        prompt: str,
        existing: Sequence[str],
        submit: Callable[[str], Job],
        *,
        current: str = "",
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        self.setMinimumWidth(420)
        self.name = ""
        self._existing = set(existing) - {current}
        self._current = current
        self._submit = submit
        label = QLabel(prompt, self)
        self.problem = QLabel(self)
        self.problem.setObjectName("problem")
        self.problem.setWordWrap(True)
        self.problem.hide()
        self.field = QLineEdit(current, self)
        self.field.setAccessibleName("Collection name")
        self.field.setMaxLength(COLLECTION_NAME_LENGTH)
        self.field.setPlaceholderText("e.g. Recipes & notes")
        self.field.selectAll()
        self.field.textEdited.connect(lambda _text: self.problem.hide())
        label.setBuddy(self.field)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self
        )
        self.buttons.accepted.connect(self.try_name)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(label)
        layout.addWidget(self.field)
        layout.addWidget(self.problem)
        layout.addWidget(self.buttons)

    def try_name(self) -> None:
        try:
            name = collection_name(self.field.text())
        except ValueError as exc:
            self._show_problem(f"{str(exc)[:1].upper()}{str(exc)[1:]}.")
            return
        if name == self._current:
            self.reject()  # nothing to change
            return
        if name in self._existing:
            self._show_problem(f"There is already a collection named “{name}”.")
            return
        self._busy(True)
        job = self._submit(name)
        job.deliver_to(
            self,
            finished=lambda _result: self._done(name),
            errored=lambda message, _exc: self._failed(message),
        )

    def _done(self, name: str) -> None:
        self.name = name
        self.accept()

    def _failed(self, message: str) -> None:
        self._busy(False)
        self._show_problem(f"{message[:1].upper()}{message[1:]}")

    def _busy(self, busy: bool) -> None:
        self.field.setEnabled(not busy)
        self.buttons.setEnabled(not busy)

    def _show_problem(self, text: str) -> None:
        self.problem.setText(text)
        self.problem.show()
        self.field.setFocus()
