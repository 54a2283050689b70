"""Plain data passed between discovery, loading and chunking."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Section:
    """A run of text at one location of a document.

    ``page`` is 1-based for paged formats (PDF pages) and ``None`` otherwise;
    ``heading`` is the heading path for structured text (``"Intro > Scope"``).
    """

    text: str
    page: int | None = None
    heading: str | None = None


@dataclass(frozen=True, slots=True)
class Chunk:
    """A passage ready to embed, with where it came from in the source file.

    ``start``/``end`` are character offsets into the text of its section, so a viewer
    can highlight the passage exactly. ``terms`` are its lexical-search terms
    (space-separated), computed where the chunk is made.
    """

    index: int
    text: str
    page: int | None
    heading: str | None
    start: int
    end: int
    terms: str = ""


@dataclass(frozen=True, slots=True)
class ParsedDocument:
    """What the sandboxed parser returns for one file."""

    path: str
    content_hash: str
    format: str
    pages: int | None
    chunks: tuple[Chunk, ...]
    warnings: tuple[str, ...] = field(default_factory=tuple)


@dataclass(frozen=True, slots=True)
class FileEntry:
    """A file found by discovery: identity for change detection."""

    path: str
    size: int
    mtime_ns: int
    root: str


@dataclass(frozen=True, slots=True)
class Skipped:
    """A path discovery passed over, with the reason a user will see."""

    path: str
    reason: str
