"""Errors whose message is meant for the user: what went wrong and what to do.

The message (``str(exc)``) must make sense wherever it is read, so it names no command:
the desktop app shows it as it is. Where the way out is a command, the error carries it
in ``command`` and the CLI adds it; where the window can offer the way out as a button,
``action`` says which.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

# What the window can do about an error, offered as a button next to the message.
Action = Literal["add-model-file", "reindex", "choose-model", "repair"]


class DeskAssistantError(Exception):
    """Base of all expected failures; the CLI prints the message, the UI shows it."""

    def __init__(
        self, message: str = "", *, command: str | None = None, action: Action | None = None
    ) -> None:
        super().__init__(message)
        self.command = command
        self.action = action

    def for_terminal(self) -> str:
        """The message with the command that acts on it, as the CLI prints it."""
        message = str(self)
        if not self.command:
            return message
        return f"{message.rstrip('.')}: {self.command}"


class ModelLoadError(DeskAssistantError):
    """A model file that the chosen runtime cannot load (with the reason and an alternative)."""


class EmbeddingModelMismatch(DeskAssistantError):
    """A collection indexed with one embedding model queried or extended with another."""


class StoreError(DeskAssistantError):
    """The vector store or manifest could not be opened or written."""


class StoreUnavailable(StoreError):
    """The vector store's server cannot be reached now (down, restarting, overloaded);
    the same work can be done again once it is back."""


class DamagedStore(StoreError):
    """A database or the vector store of the data folder cannot be read as it is: a repair
    moves it aside and rebuilds it from what the data folder keeps elsewhere."""

    def __init__(self, message: str, *, path: Path) -> None:
        super().__init__(message, command="desk-assistant doctor --repair", action="repair")
        self.path = path


class DiskFull(StoreError):
    """A write failed because the disk (or the user's quota) is full; nothing was lost."""


class NotFoundError(DeskAssistantError):
    """A source, collection or chat that does not exist."""
