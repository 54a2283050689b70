"""Terminal output: a progress line for ingestion and readable answers and listings."""

from __future__ import annotations

import json
import shutil
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from desk_assistant.api import (
    Answer,
    ChatInfo,
    IngestEvent,
    Passage,
    Quote,
    RunProgress,
    SentenceCheck,
    SourceInfo,
    Summary,
    SummaryProgress,
)
from desk_assistant.cli.terminal import one_line


def print_json(data: Any, out: TextIO) -> None:
    out.write(json.dumps(data, ensure_ascii=False) + "\n")
    out.flush()


def _bar(fraction: float, width: int = 24) -> str:
    filled = int(width * fraction)
    return f"[{'#' * filled}{'.' * (width - filled)}]"


def _clock(seconds: float) -> str:
    return f"{int(seconds) // 60}:{int(seconds) % 60:02d}"


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
        self._line(f"{_bar(fraction)} {one_line(self.run.describe())}")
        self.stream.flush()

    def _line(self, line: str) -> None:
        """Write over the terminal's current line, cut to its width."""
        columns = shutil.get_terminal_size().columns
        self.stream.write(f"\r\033[K{line[: columns - 1]}")

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


class StepProgress(Progress):
    """The steps of a summary on stderr: a bar on a terminal, a line per step otherwise
    (a summary takes minutes; a log should show it moving)."""

    def update_step(self, step: SummaryProgress) -> None:
        left = "" if step.seconds_left is None else f", {_clock(step.seconds_left)} left"
        line = f"summarizing: step {step.done}/{step.total}{left}"
        if self.enabled:
            self._line(f"{_bar(step.done / step.total if step.total else 0.0)} {line}")
        else:
            self.stream.write(line + "\n")
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


def print_quotes(quotes: Sequence[Quote], out: TextIO) -> None:
    """The sources' own words, with their citation and place."""
    for q in quotes:
        marker = f" [{q.n}]" if q.n else ""
        out.write(
            f"From your documents: “{q.text}”{marker} ({location(Path(q.path).name, q.page)})\n"
        )


def print_flagged(sentences: Sequence[SentenceCheck], out: TextIO) -> None:
    """Each sentence its sources do not back, why, and the closest source sentence."""
    for check in sentences:
        if check.supported:
            continue
        out.write(f"! {check.reason}: “{check.text}”\n")
        if check.evidence is not None:
            where = location(Path(check.evidence.path).name, check.evidence.page)
            out.write(f"  closest: “{check.evidence.text}” ({where})\n")


def print_answer_notes(answer: Answer, out: TextIO) -> None:
    """After the answer: what the passages do not back, and (for a model other than the
    built-in one) the evidence quote."""
    if answer.sentences and not answer.supported:
        out.write("\n! This answer is not backed by your documents.\n")
    print_flagged(answer.sentences, out)
    if answer.evidence and not answer.evidence_first:
        out.write("\n")
        print_quotes(answer.evidence, out)


def print_citations(answer: Answer, out: TextIO) -> None:
    if not answer.citations:
        return
    out.write("\nSources:\n")
    for c in answer.citations:
        snippet = " ".join(c.text.split())[:160]
        out.write(f"  [{c.n}] {location(c.path, c.page)} (score {c.score:.2f})\n      {snippet}\n")


def print_summary(summary: Summary, out: TextIO) -> None:
    out.write(summary.text + "\n")
    if any(not check.supported for check in summary.sentences):
        out.write("\n")
        print_flagged(summary.sentences, out)
    if summary.sections:
        out.write("\nSections:\n")
    for c in summary.sections:
        out.write(f"  [{c.n}] {c.path}, {c.heading}\n")


def print_chats(chats: Sequence[ChatInfo], out: TextIO) -> None:
    if not chats:
        out.write('No chats yet. Start one: desk-assistant ask --chat new "QUESTION"\n')
    for c in chats:
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(c.updated_at))
        out.write(f"{c.id:>4}  {c.title}  ({c.collection}, {c.messages} messages, {when})\n")


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
