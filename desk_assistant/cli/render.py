"""Terminal output: a progress line for ingestion and readable answers and listings."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Sequence
from typing import Any, TextIO

from desk_assistant.api import Answer, IngestEvent, Passage, SourceInfo


def print_json(data: Any, out: TextIO) -> None:
    out.write(json.dumps(data, ensure_ascii=False) + "\n")
    out.flush()


class Progress:
    """A one-line progress bar on stderr, only when stderr is a terminal."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr  # looked up now: tests and IDEs swap sys.stderr
        self.enabled = self.stream.isatty()
        self.started = time.monotonic()
        self.chunks = 0

    def update(self, event: IngestEvent) -> None:
        self.chunks += event.chunks
        if event.outcome in ("failed", "skipped") and event.reason:
            self._clear()
            self.stream.write(f"{event.outcome}: {event.path}: {event.reason}\n")
        if not self.enabled or event.kind != "file" or not event.total:
            return
        fraction = event.done / event.total
        width = 24
        filled = int(width * fraction)
        elapsed = time.monotonic() - self.started
        eta = elapsed / fraction - elapsed if fraction else 0.0
        self.stream.write(
            f"\r[{'#' * filled}{'.' * (width - filled)}] {event.done}/{event.total} files, "
            f"{self.chunks} chunks, ETA {int(eta) // 60}:{int(eta) % 60:02d} "
        )
        self.stream.flush()

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
    return ", ".join(parts) + f" ({seconds:.1f} s)"


def location(path: str, page: int | None) -> str:
    return f"{path}, page {page}" if page is not None else path


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
        if s.status != "indexed":
            detail = f"{s.status}: {s.error}"
        out.write(f"{s.path}  [{detail}]\n")
