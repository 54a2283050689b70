"""Errors whose message is meant for the user: what went wrong and what to do."""

from __future__ import annotations


class DeskAssistantError(Exception):
    """Base of all expected failures; the CLI prints the message, the UI shows it."""


class ModelLoadError(DeskAssistantError):
    """A model file that the chosen runtime cannot load (with the reason and an alternative)."""


class EmbeddingModelMismatch(DeskAssistantError):
    """A collection indexed with one embedding model queried or extended with another."""


class StoreError(DeskAssistantError):
    """The vector store or manifest could not be opened or written."""


class StoreUnavailable(StoreError):
    """The vector store's server cannot be reached now (down, restarting, overloaded);
    the same work can be done again once it is back."""


class NotFoundError(DeskAssistantError):
    """A source, collection or chat that does not exist."""
