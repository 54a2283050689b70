"""How far an ingestion run is and how long the rest will take, for the CLI's progress line
and the window's progress bar alike.

The work of a run is measured in bytes of the files it reads (the scan knows their sizes).
A file counts as done when its outcome arrives, and a long file counts in part on its way:
``PARSE_SHARE`` of it as its pages are read, the rest as its chunks are embedded. The time
left is the work left at the rate measured so far in this run, so it moves with every page
and every batch - and grows, honestly, while nothing moves.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from desk_assistant.records import IngestEvent

# Of the time a text PDF costs, the share spent reading it (pdfium 0.5 s, splitting into
# chunks and BM25 terms 2.5 s); the rest is embedding (35 s). Measured on a 117-page,
# 340-chunk report on 2 cores.
PARSE_SHARE = 0.1
# No estimate before this share of the work is done, or this much time has passed: the
# first seconds include starting the parser process and warming up the embedding model,
# and an estimate from them is minutes off.
ESTIMATE_AFTER_SHARE = 0.1
ESTIMATE_AFTER_S = 30.0
FILE_STEPS = ("parse", "ocr", "chunk", "embed")  # the events of progress inside one file


def format_duration(seconds: float) -> str:
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


@dataclass(frozen=True, slots=True)
class Step:
    """What the run is doing inside one file right now."""

    path: str
    kind: str  # parse | ocr | embed
    done: int
    total: int

    def describe(self) -> str:
        name = Path(self.path).name
        if self.kind == "embed":
            return f"{name}: embedding {self.done} of {self.total} chunks"
        if self.kind == "ocr":
            return f"{name}: reading scanned page {self.done + 1} of {self.total} (OCR)"
        if self.kind == "chunk":
            return f"{name}: splitting into chunks ({100 * self.done // self.total} %)"
        return f"{name}: page {self.done} of {self.total}"


@dataclass(slots=True)
class RunProgress:
    """Counts what an ingestion reported; ``clock`` is replaceable for tests."""

    clock: Callable[[], float] = time.monotonic
    total: int | None = None  # files to read, once the scan has said
    done: int = 0
    chunks: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    step: Step | None = None
    waiting: str | None = None  # another process is writing to the data folder: who
    started: float = 0.0
    _sizes: dict[str, int] = field(default_factory=dict)
    _partial: dict[str, float] = field(default_factory=dict)  # file -> share done
    _finished_bytes: int = 0
    _embedded: bool = False  # the rate of embedding, most of the work, has been seen
    _moved_at: float = 0.0  # when the work last moved on

    def __post_init__(self) -> None:
        self.started = self._moved_at = self.clock()

    def add(self, event: IngestEvent) -> None:
        before = self.fraction()
        self._add(event)
        if self.fraction() != before:
            self._moved_at = self.clock()

    def _add(self, event: IngestEvent) -> None:
        self.waiting = event.reason if event.kind == "waiting" else None
        if event.kind == "scan":
            self.total = event.total
            self.started = self.clock()
            self._sizes = {p: max(s, 1) for p, s in zip(event.queued, event.sizes, strict=False)}
        elif event.kind in FILE_STEPS and event.path and event.total:
            self.step = Step(event.path, event.kind, event.done, event.total)
            share = event.done / event.total
            if event.kind == "embed":
                share = PARSE_SHARE + (1 - PARSE_SHARE) * share
                self._embedded = True
            else:
                share *= PARSE_SHARE
            self._partial[event.path] = max(share, self._partial.get(event.path, 0.0))
        elif event.kind == "file":
            self.done = event.done
            self.chunks += event.chunks
            self._embedded |= event.outcome in ("added", "updated")
            if event.path:
                self._partial.pop(event.path, None)
                self._finished_bytes += self._sizes.get(event.path, 0)
                if self.step is not None and self.step.path == event.path:
                    self.step = None
            if event.outcome == "failed" and event.path:
                self.failed.append((event.path, event.reason or "unknown reason"))
        elif event.kind == "summary":
            self.counts = dict(event.counts)
            self.step = None

    def fraction(self) -> float | None:
        """The share of the run's work done, 0..1; None before the scan."""
        if self.total is None:
            return None
        whole = sum(self._sizes.values())
        if not whole:
            return self.done / self.total if self.total else 1.0
        partial = sum(self._sizes.get(p, 0) * share for p, share in self._partial.items())
        return min(1.0, (self._finished_bytes + partial) / whole)

    def eta(self) -> float | None:
        """Seconds left at the rate measured so far; None until some embedding (most of the
        work) has been measured: reading alone would promise far too little.

        Between two reports the estimate counts down; when a report is later than the
        estimate allowed for, the rate is lower than measured and the estimate grows.
        """
        fraction = self.fraction()
        now = self.clock()
        if not self._embedded or not fraction or fraction >= 1.0:
            return None
        if fraction < ESTIMATE_AFTER_SHARE and now - self.started < ESTIMATE_AFTER_S:
            return None
        left = (1 - fraction) / fraction
        when_moved = (self._moved_at - self.started) * left
        since = now - self._moved_at
        return when_moved - since if since < when_moved else (now - self.started) * left

    def describe(self) -> str:
        if self.waiting is not None:
            return f"{self.waiting}…"
        if self.total is None:
            return "Looking for files…"
        if self.total == 0:
            return "Checking for changes…"
        parts = [f"Indexing {min(self.done + 1, self.total)} of {self.total} files"]
        if self.step is not None:
            parts.append(self.step.describe())
        if self.chunks:  # next to "embedding 16 of 340 chunks", "0 chunks" would confuse
            parts.append(f"{self.chunks} chunk" + (" indexed" if self.chunks == 1 else "s indexed"))
        eta = self.eta()
        if eta is not None:
            parts.append(f"about {format_duration(eta)} left")
        elif self.done < self.total:
            parts.append("estimating the time left…")
        return " · ".join(parts)
