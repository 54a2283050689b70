"""Terminal output: a progress line for ingestion and readable answers and listings."""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Sequence
from typing import Any, TextIO

from desk_assistant.api import Answer, IngestEvent, Passage, RunProgress, SourceInfo
from desk_assistant.cli.terminal import one_line


def print_json(data: Any, out: TextIO) -> None:
    out.write(json.dumps(data, ensure_ascii=False) + "\n")
    out.flush()


class Progress:
    """A one-line progress bar on stderr, only when stderr is a terminal: the same
    figures and estimate as the window's progress bar (``RunProgress``)."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr  # looked up now: tests and IDEs swap sys.stderr
        self.enabled = self.stream.isatty()
        self.run = RunProgress()

    def update(self, event: IngestEvent) -> None:
        self.run.add(event)
        if event.outcome in ("failed", "skipped", "unavailable") and event.reason:
            self._note(event.outcome, event.path, event.reason)
        for warning in event.warnings:
            self._note("warning", event.path, warning)
        fraction = self.run.fraction()
        if not self.enabled or event.kind == "summary" or fraction is None:
            return
        width = 24
        filled = int(width * fraction)
        columns = shutil.get_terminal_size().columns
        line = f"[{'#' * filled}{'.' * (width - filled)}] {one_line(self.run.describe())}"
        self.stream.write(f"\r\033[K{line[: columns - 1]}")
        self.stream.flush()

    def _note(self, what: str, path: str | None, text: str) -> None:
        self._clear()
        self.stream.write(f"{what}: {one_line(path or '')}: {one_line(text)}\n")

    def _clear(self) -> None:
        if self.enabled:
            self.stream.write("\r\033[K")

    def finish(self) -> None:
        if self.enabled:
            self._clear()
            self.stream.flush()


def describe_summary(counts: dict[str, int], seconds: float) -> str:
    parts = [f"{counts.get(k, 0)} {k}" for k in ("added", "updated", "unchanged", "removed")]
    parts.append(f"{counts.get('failed', 0)} failed")
    if counts.get("skipped"):
        parts.append(f"{counts['skipped']} skipped")
    if counts.get("unavailable"):
        parts.append(f"{counts['unavailable']} unavailable (kept)")
    return ", ".join(parts) + f" ({seconds:.1f} s)"


def location(path: str, page: int | None) -> str:
    return f"{one_line(path)}, page {page}" if page is not None else one_line(path)


def print_citations(answer: Answer, out: TextIO) -> None:
    if not answer.citations:
        return
    out.write("\nSources:\n")
    for c in answer.citations:
        snippet = " ".join(c.text.split())[:160]
        out.write(f"  [{c.n}] {location(c.path, c.page)} (score {c.score:.2f})\n      {snippet}\n")


def print_passages(passages: Sequence[Passage], out: TextIO) -> None:
    if not passages:
        out.write("No matching passages.\n")
    for rank, p in enumerate(passages, start=1):
        snippet = " ".join(p.text.split())[:200]
        out.write(f"{rank}. {location(p.path, p.page)}  (score {p.score:.4f})\n   {snippet}\n")


def passage_json(rank: int, p: Passage) -> dict[str, Any]:
    return {
        "rank": rank,
        "path": p.path,
        "page": p.page,
        "score": round(p.score, 6),
        "text": p.text,
    }


def print_sources(sources: Sequence[SourceInfo], out: TextIO) -> None:
    if not sources:
        out.write("No documents in this collection yet. Add some: desk-assistant ingest PATH\n")
    for s in sources:
        detail = f"{s.chunks} chunks" + (f", {s.pages} pages" if s.pages else "")
        if s.warnings:
            detail += "; " + "; ".join(s.warnings)
        if s.status != "indexed":
            detail = f"{s.status}: {s.error}"
        out.write(f"{one_line(s.path)}  [{one_line(detail)}]\n")
