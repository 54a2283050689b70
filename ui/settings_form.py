"""Editors generated from the typed settings: one widget per field, chosen by its type.

The pydantic model is the single source of truth: the label is the field's description,
the range comes from its ``ge``/``le`` constraints, a ``Literal`` becomes a choice and an
optional number gets an "auto" value. A field added to ``Settings`` shows up here
without touching the UI.
"""

from __future__ import annotations

import types
import typing
from pathlib import Path
from typing import Any, Protocol

import annotated_types
from pydantic.fields import FieldInfo
from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QHBoxLayout,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QWidget,
)

_BIG = 1_000_000
_DECIMALS = 2
# How a path field is picked: a file with these filters, or else a folder.
FILE_FILTERS = {
    "model_path": "GGUF model files (*.gguf *.bin);;All files (*)",
    "ca_bundle": "PEM certificates (*.pem *.crt *.cer);;All files (*)",
}


class Editor(Protocol):
    @property
    def widget(self) -> QWidget: ...

    def value(self) -> Any: ...

    def set_value(self, value: Any) -> None: ...


def _bounds(info: FieldInfo) -> tuple[float | None, float | None, bool]:
    """(lowest, highest, lowest excluded) from the field's constraints."""
    low: float | None = None
    high: float | None = None
    exclusive = False
    for item in info.metadata:
        if isinstance(item, annotated_types.Ge):
            low = float(item.ge)  # type: ignore[arg-type]
        elif isinstance(item, annotated_types.Gt):
            low, exclusive = float(item.gt), True  # type: ignore[arg-type]
        elif isinstance(item, annotated_types.Le):
            high = float(item.le)  # type: ignore[arg-type]
        elif isinstance(item, annotated_types.Lt):
            high = float(item.lt)  # type: ignore[arg-type]
    return low, high, exclusive


def _unwrap_optional(annotation: Any) -> tuple[Any, bool]:
    args = typing.get_args(annotation)
    origin = typing.get_origin(annotation)
    if (origin is typing.Union or origin is types.UnionType) and type(None) in args:
        rest = [a for a in args if a is not type(None)]
        return (rest[0] if len(rest) == 1 else annotation), True
    return annotation, False


class BoolEditor:
    def __init__(self) -> None:
        self.widget = QCheckBox()

    def value(self) -> bool:
        return self.widget.isChecked()

    def set_value(self, value: Any) -> None:
        self.widget.setChecked(bool(value))


class IntEditor:
    """A spin box; an optional number gets a first value shown as "auto" meaning None."""

    def __init__(self, info: FieldInfo, optional: bool) -> None:
        low, high, exclusive = _bounds(info)
        self.widget = QSpinBox()
        self._optional = optional
        minimum = int(low if low is not None else -_BIG) + (1 if exclusive else 0)
        if optional:
            minimum -= 1
            self.widget.setSpecialValueText("auto")
        self._auto = minimum
        self.widget.setRange(minimum, int(high if high is not None else _BIG))

    def value(self) -> int | None:
        number = self.widget.value()
        return None if self._optional and number == self._auto else number

    def set_value(self, value: Any) -> None:
        self.widget.setValue(self._auto if value is None else int(value))


class FloatEditor:
    def __init__(self, info: FieldInfo) -> None:
        low, high, exclusive = _bounds(info)
        self.widget = QDoubleSpinBox()
        self.widget.setDecimals(_DECIMALS)
        minimum = low if low is not None else -_BIG
        if exclusive:
            minimum += 10.0**-_DECIMALS
        self.widget.setRange(minimum, high if high is not None else _BIG)
        span = (high - low) if high is not None and low is not None else 10.0
        self.widget.setSingleStep(0.05 if span <= 2 else 1.0)

    def value(self) -> float:
        return float(self.widget.value())

    def set_value(self, value: Any) -> None:
        self.widget.setValue(float(value))


class ChoiceEditor:
    """A choice among values, each shown by its name in ``names`` (else as it is)."""

    def __init__(self, choices: tuple[Any, ...], names: dict[str, str] | None = None) -> None:
        self.widget = QComboBox()
        for choice in choices:
            self.widget.addItem((names or {}).get(str(choice), str(choice)), choice)

    def value(self) -> Any:
        return self.widget.currentData()

    def set_value(self, value: Any) -> None:
        self.widget.setCurrentIndex(max(0, self.widget.findData(value)))


class TextEditor:
    def __init__(self, info: FieldInfo, optional: bool) -> None:
        self.widget = QLineEdit()
        self._optional = optional
        if optional:
            self.widget.setPlaceholderText(_empty_meaning(info))

    def value(self) -> str | None:
        text = self.widget.text().strip()
        return None if self._optional and not text else text

    def set_value(self, value: Any) -> None:
        self.widget.setText("" if value is None else str(value))


class PathWidget(QWidget):
    changed = Signal(str)

    def __init__(self, name: str, info: FieldInfo) -> None:
        super().__init__()
        self.line = QLineEdit(self)
        self.line.setMinimumWidth(320)  # room for a path, not a file name's first letters
        self.line.setPlaceholderText(_empty_meaning(info))
        self.line.editingFinished.connect(lambda: self.changed.emit(self.line.text().strip()))
        self.browse = QPushButton("Browse…", self)
        self.browse.setAccessibleName(f"Browse for {info.description or name}")
        self.browse.clicked.connect(self._browse)
        self._name = name
        self._title = info.description or name
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.line, 1)
        layout.addWidget(self.browse)

    def _browse(self) -> None:
        start = self.line.text().strip() or str(Path.home())
        if self._name in FILE_FILTERS:
            path, _ = QFileDialog.getOpenFileName(
                self, self._title, start, FILE_FILTERS[self._name]
            )
        else:
            path = QFileDialog.getExistingDirectory(self, self._title, start)
        if path:
            self.line.setText(path)
            self.changed.emit(path)


class PathEditor:
    def __init__(self, name: str, info: FieldInfo, optional: bool) -> None:
        self.widget = PathWidget(name, info)
        self._optional = optional

    def value(self) -> Path | None:
        text = self.widget.line.text().strip()
        return Path(text).expanduser() if text else None

    def set_value(self, value: Any) -> None:
        self.widget.line.setText("" if value is None else str(value))


def _empty_meaning(info: FieldInfo) -> str:
    """ "Chroma server URL (empty: embedded)" -> "embedded"."""
    description = info.description or ""
    if "(empty:" in description:
        return description.split("(empty:", 1)[1].rstrip(")").strip()
    return ""


def label_for(info: FieldInfo, name: str) -> str:
    description = info.description or name.replace("_", " ").capitalize()
    return description.split(" (empty:", 1)[0]


def editor_for(name: str, info: FieldInfo, names: dict[str, str] | None = None) -> Editor:
    """The editor of a field; ``names`` are what a choice's values are called."""
    annotation, optional = _unwrap_optional(info.annotation)
    if typing.get_origin(annotation) is typing.Literal:
        return ChoiceEditor(typing.get_args(annotation), names)
    if annotation is bool:
        return BoolEditor()
    if annotation is int:
        return IntEditor(info, optional)
    if annotation is float:
        return FloatEditor(info)
    if annotation is Path:
        return PathEditor(name, info, optional)
    return TextEditor(info, optional)
