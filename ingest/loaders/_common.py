"""Helpers shared by the loaders: error conversion and heading-path sections."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from ingest.loaders import LoaderError
from ingest.types import Section

HEADING_SEPARATOR = " > "


@contextmanager
def library_errors(reason: str) -> Iterator[None]:
    """Turn any parser exception into ``LoaderError(reason)``.

    Third-party parsers fail on hostile files with whatever exception their code happens to
    hit (KeyError, struct.error, RecursionError, ...); the user needs one readable reason,
    the traceback stays chained for the log. Running out of memory is not a property of the
    file's format, so it is left for the sandbox to report.
    """
    try:
        yield
    except (LoaderError, MemoryError):
        raise
    except Exception as exc:
        raise LoaderError(reason) from exc


class SectionBuilder:
    """Collects text into one section per heading, labelled with the heading path.

    Markdown, HTML and Word all nest headings by level; a heading closes every open heading
    of the same or deeper level, so "Install > Linux" follows "Install > Windows".
    """

    def __init__(self, page: int | None = None) -> None:
        self.sections: list[Section] = []
        self._page = page
        self._open: list[tuple[int, str]] = []
        self._lines: list[str] = []
        self._has_body = False

    @property
    def path(self) -> str | None:
        return HEADING_SEPARATOR.join(title for _, title in self._open) or None

    def heading(self, level: int, title: str, line: str | None = None) -> None:
        """Start a section under ``title``; ``line`` is the heading as it appears in the text.

        Keeping the heading line in the section text helps retrieval (the words of a heading
        describe its passage) and keeps Markdown offsets faithful to the source.
        """
        self.flush()
        while self._open and self._open[-1][0] >= level:
            self._open.pop()
        if title:
            self._open.append((level, title))
        if line is not None:
            self._lines.append(line)

    def add(self, line: str) -> None:
        self._lines.append(line)
        self._has_body = self._has_body or bool(line.strip())

    def flush(self) -> None:
        """Emit the pending section; a heading with no text under it is not worth a chunk."""
        text = "\n".join(self._lines).strip("\n")
        if self._has_body and text.strip():
            self.sections.append(Section(text=text, page=self._page, heading=self.path))
        self._lines.clear()
        self._has_body = False

    def finish(self) -> list[Section]:
        self.flush()
        return self.sections
