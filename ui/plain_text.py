"""Text from documents, file names and model files shown as text, never as markup.

A QLabel (and a QMessageBox, which is one inside) guesses whether its text is rich text:
a file named ``<img src=/etc/x.png>.pdf`` or a passage holding ``<a href=...>`` would be
rendered as an image or a live link. Labels that can show such text are switched to
plain text once; the static QMessageBox functions, which take no format, get the text
escaped into HTML that shows exactly the characters given.
"""

from __future__ import annotations

import html
from typing import TypeVar

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel

Label = TypeVar("Label", bound=QLabel)


def plain(label: Label) -> Label:
    """``label`` showing its text as it is, whatever it holds."""
    label.setTextFormat(Qt.TextFormat.PlainText)
    return label


def as_html(text: str) -> str:
    """``text`` for a widget that guesses the format: HTML that reads as ``text`` does."""
    lines = html.escape(text).split("\n")
    return "<p>" + "<br>".join(lines) + "</p>"
