"""Summarize one indexed document with the local model: map, then reduce, with progress.

A document rarely fits in a model's context window (a 100-page PDF is ~40,000 tokens; a
Llama 2 model reads 4,096), so the summary is built in steps that each fit:

1. **map**: the document's chunks, in order and with their overlaps merged back, are cut
   into sections of at most ``summary_section_tokens`` (fewer when the context window
   is smaller), and each section is summarized in two or three sentences;
2. **reduce**, by the model (``summary_reduce = "model"``, the default for a model of
   the user's): as many section summaries as fit in one prompt are combined; while they
   do not all fit at once, groups are combined first, level after level; the last step
   writes the summary of the whole document, streamed, and each of its sentences cites
   the sections it came from (by the words they share, as answers do);
   or **extract** (the default for the built-in model, which drifts into generic text
   when it combines): the sentences of the section summaries that their own section
   backs are picked to stand for the whole document (:mod:`desk_assistant.summary_pick`),
   each citing its section - no model step at all;
3. every sentence of the summary is judged against the sections it cites by the support
   check, as an answer's are against its passages.

Every step reports progress (steps done and left, seconds left); the caller stops the
summary by no longer iterating, which stops the model at its next token.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Generator, Iterator, Mapping, Sequence
from contextlib import closing
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from desk_assistant.backends.registry import builtin_model
from desk_assistant.errors import NotFoundError
from desk_assistant.parts import Parts
from desk_assistant.paths import absolute
from desk_assistant.rag import support
from desk_assistant.rag.answer import sentence_check
from desk_assistant.rag.citations import attribute, sentences
from desk_assistant.rag.context import assemble
from desk_assistant.rag.grounding import Sources
from desk_assistant.rag.packing import PackedPassage, truncate
from desk_assistant.rag.prompt import neutralize
from desk_assistant.rag.repetition import LoopGuard, until_loop
from desk_assistant.records import Citation, Passage, Summary, SummaryProgress, Token
from desk_assistant.summary_pick import Candidate, candidates, cite, pick

SYSTEM = (
    "You summarize documents faithfully, using only the text you are given. Write plain "
    "sentences, no lists, no introduction."
)
SECTION_TOKENS = 160  # the longest summary of one section or group of sections
PROMPT_MARGIN = 32  # template tokens the renderer may add beyond what we count
ITEM_OVERHEAD = 12  # "[n] (pages 3-5)" and the blank line around a summary in a prompt

Count = Callable[[str], int]


@dataclass(frozen=True, slots=True)
class Section:
    """A stretch of the document summarized in one step."""

    n: int
    text: str
    first: Passage
    last: Passage

    @property
    def label(self) -> str:
        pages = (self.first.page, self.last.page)
        if pages[0] is not None and pages[1] is not None:
            return f"page {pages[0]}" if pages[0] == pages[1] else f"pages {pages[0]}-{pages[1]}"
        first, last = (
            p.heading.split(" > ")[-1] if p.heading else "" for p in (self.first, self.last)
        )
        if first and last and first != last:
            return f"{first} – {last}"
        return first or f"part {self.n}"

    def citation(self) -> Citation:
        p = self.first
        return Citation(
            self.n, p.path, p.page, self.text, 1.0, heading=self.label, start=p.start, end=p.end
        )

    def packed(self) -> PackedPassage:
        """The section as the support check reads a passage, numbered as the section."""
        return PackedPassage(self.n, self.first, self.text)


def _pieces(passage: Passage, budget: int, count: Count) -> list[Passage]:
    """A passage cut at sentence ends into pieces of at most ``budget`` tokens."""
    if count(passage.text) <= budget:
        return [passage]
    pieces: list[Passage] = []
    current = ""
    for sentence in sentences(passage.text):
        if current and count(current + sentence) > budget:
            pieces.append(_with_text(passage, current))
            current = ""
        current += sentence
        if count(current) > budget:  # one sentence longer than the budget (a table)
            pieces.append(_with_text(passage, truncate(current, budget, count)))
            current = ""
    if current.strip():
        pieces.append(_with_text(passage, current))
    return pieces


def _with_text(passage: Passage, text: str) -> Passage:
    return Passage(
        passage.chunk_id,
        passage.path,
        passage.page,
        passage.heading,
        passage.start,
        passage.end,
        text.strip(),
        passage.score,
    )


def make_sections(passages: Sequence[Passage], budget: int, count: Count) -> list[Section]:
    """Consecutive passages grouped into sections of at most ``budget`` tokens."""
    sections: list[Section] = []
    group: list[Passage] = []
    used = 0
    for passage in (piece for p in passages for piece in _pieces(p, budget, count)):
        cost = count(passage.text) + 2
        if group and used + cost > budget:
            sections.append(_section(len(sections) + 1, group))
            group, used = [], 0
        group.append(passage)
        used += cost
    if group:
        sections.append(_section(len(sections) + 1, group))
    return sections


def _section(n: int, group: list[Passage]) -> Section:
    return Section(n, "\n\n".join(p.text for p in group), group[0], group[-1])


class Clock:
    """Steps done of the total, and the time left: the seconds per step so far times the
    steps left that run the model (``free_steps``, the last ones, take next to none)."""

    def __init__(self, total: int, free_steps: int = 0) -> None:
        self.started = time.perf_counter()
        self.total = total
        self.done = 0
        self.free_steps = free_steps

    def progress(self, text: str, section: Section | None = None) -> SummaryProgress:
        elapsed = time.perf_counter() - self.started
        steps_left = max(0, self.total - self.done - self.free_steps)
        left = elapsed / self.done * steps_left if self.done else None
        citation = section.citation() if section else None
        return SummaryProgress(self.done, self.total, left, text, citation)

    def step(self, text: str, section: Section | None = None) -> SummaryProgress:
        """One more step done; ``text`` is what it wrote (of ``section``)."""
        self.done += 1
        return self.progress(text, section)


class Summarizer:
    """Map-reduce over one document's sections with the data folder's model."""

    def __init__(self, parts: Parts) -> None:
        self.parts = parts
        self.runtime = parts.runtime
        self.chat_format = parts.chat_format
        self.final_tokens = parts.settings.max_answer_tokens
        self.loops_stopped = 0  # steps of the current summary where the model looped
        reduce = parts.settings.summary_reduce
        self.extract = reduce == "extract" or (reduce == "auto" and builtin_model(parts.settings))

    def _count(self, text: str) -> int:
        return len(self.runtime.tokenize(text))

    def budget(self, reply_tokens: int) -> int:
        """Document tokens one step may read: the setting, or what the window leaves."""
        frame = self._count(self.chat_format.render(SYSTEM, self._map_request("x", "x", "")))
        room = self.runtime.context_length - reply_tokens - frame - PROMPT_MARGIN
        return max(64, min(self.parts.settings.summary_section_tokens, room))

    @staticmethod
    def _map_request(name: str, label: str, text: str, *, whole: bool = False) -> str:
        length = "a few sentences" if whole else "two or three sentences"
        # Asking for "the main facts: who did what, where and when, with the names, dates
        # and figures" instead was measured (bench/README.md, Summaries): the built-in
        # model's section summaries were no more often backed by their section.
        return (
            f"Text from {neutralize(name)} ({label}):\n\n{neutralize(text)}\n\n"
            f"Summarize this text in {length}."
        )

    @staticmethod
    def _reduce_request(name: str, parts: Sequence[tuple[str, str]], final: bool) -> str:
        listed = "\n\n".join(f"[{i}] ({label}) {text}" for i, (label, text) in enumerate(parts, 1))
        task = (
            "Write one summary of the whole document in a few sentences. After each "
            "sentence, cite the parts it comes from like [1] or [2][3]."
            if final
            else "Combine these into one summary of two or three sentences."
        )
        return f"Summaries of consecutive parts of {neutralize(name)}:\n\n{listed}\n\n{task}"

    def _step(self, request: str, max_tokens: int) -> Generator[Token, None, str]:
        """One step's text, streamed piece by piece (so that a caller who stops
        iterating stops the model at once); returns the whole text, without the loop
        the model fell into, if it did (the step then ends there)."""
        prompt = self.chat_format.render(SYSTEM, request)
        stream = self.runtime.stream(
            prompt, stop=self.chat_format.stop, max_tokens=max_tokens, temperature=0.1
        )
        guard = LoopGuard()
        with closing(until_loop(stream, guard)) as pieces:
            for piece in pieces:
                yield Token(piece)
        if guard.loop_at is not None:
            self.loops_stopped += 1
        return " ".join(guard.text.split())

    def _groups(self, items: Sequence[tuple[str, str]], budget: int) -> list[list[tuple[str, str]]]:
        """Consecutive summaries grouped so that each group fits one prompt."""
        groups: list[list[tuple[str, str]]] = [[]]
        used = 0
        for label, text in items:
            cost = self._count(text) + ITEM_OVERHEAD
            if groups[-1] and used + cost > budget:
                groups.append([])
                used = 0
            groups[-1].append((label, text))
            used += cost
        return groups

    def run(self, path: str, collection: str) -> Iterator[SummaryProgress | Token | Summary]:
        """Progress before and after every step, each step's text as it is written
        (``Token``s; the last step's is the summary of the whole document, which starts
        when ``done == total - 1``), then the cited ``Summary``."""
        target = absolute(path)
        chunks = self.parts.manifest.document_chunks(collection, target)
        if not chunks:
            raise NotFoundError(
                f"{target} is not indexed in collection '{collection}': add it first",
                command="desk-assistant ingest PATH",
            )
        self.loops_stopped = 0
        name = Path(target).name
        passages = [
            Passage(c.id, c.path, c.page, c.heading, c.start, c.end, c.text, 1.0) for c in chunks
        ]
        sections = make_sections(assemble(passages), self.budget(SECTION_TOKENS), self._count)
        reduce_budget = self.budget(self.final_tokens)
        if len(sections) == 1:  # it fits one step: that step is the whole summary
            clock = Clock(1)
            yield clock.progress("")
            only = sections[0]
            request = self._map_request(name, only.label, only.text, whole=True)
            text = yield from self._step(request, self.final_tokens)
            yield clock.step(text, only)
            yield self._finish(target, text, [(only.label, text)], sections, clock.started)
            return
        if self.extract:  # the sections, then the pick: no model step, next to no time
            clock = Clock(len(sections) + 1, free_steps=1)
        else:
            clock = Clock(len(sections) + self._reduce_steps(len(sections), reduce_budget))
        yield clock.progress("")
        partial: list[tuple[str, str]] = []
        judged: list[tuple[int, list[support.Check]]] = []
        for section in sections:
            request = self._map_request(name, section.label, section.text)
            text = yield from self._step(request, SECTION_TOKENS)
            partial.append((section.label, text))
            if self.extract:  # judged now, while the next step would wait anyway
                judged.append((section.n, self._judge(text, [section], {})))
            yield clock.step(text, section)
        if self.extract:
            yield clock.progress("")  # the pick, the whole document's summary, begins
            summary = self._extracted(target, judged, sections, clock.started)
            yield Token(summary.text)
            yield clock.step(summary.text)
            yield summary
            return
        final = yield from self._reduce(name, partial, reduce_budget, clock)
        yield self._finish(target, final, partial, sections, clock.started)

    def _reduce(
        self, name: str, partial: list[tuple[str, str]], budget: int, clock: Clock
    ) -> Generator[SummaryProgress | Token, None, str]:
        """The model's reduce: groups of summaries combined level by level while they do
        not fit one prompt, then the whole document's summary (returned)."""
        current = partial
        while len(groups := self._groups(current, budget)) > 1:
            clock.total = clock.done + len(groups) + self._reduce_steps(len(groups), budget)
            combined = []
            for group in groups:
                request = self._reduce_request(name, group, False)
                text = yield from self._step(request, SECTION_TOKENS)
                combined.append((f"{group[0][0]} to {group[-1][0]}", text))
                yield clock.step(text)
            current = combined
        clock.total = clock.done + 1  # the estimate counted summaries at their longest
        yield clock.progress("")  # the last step, the whole document's summary, begins
        final = yield from self._step(self._reduce_request(name, current, True), self.final_tokens)
        yield clock.step(final)
        return final

    def _judge(
        self, text: str, sections: Sequence[Section], shown_to_section: dict[int, int]
    ) -> list[support.Check]:
        """The support check of each sentence of ``text`` against ``sections``' text (a
        marker ``[shown]`` cites section ``shown_to_section[shown]``)."""
        sources = Sources([s.packed() for s in sections], self.parts.embedder)
        return support.check(text, sources, shown_to_section, self.parts.settings.min_support)

    def _extracted(
        self,
        target: str,
        judged: Sequence[tuple[int, Sequence[support.Check]]],
        sections: Sequence[Section],
        started: float,
    ) -> Summary:
        """The summary picked from the section summaries' sentences, each citing its
        section (numbered in the order they are first cited)."""
        found = candidates(judged)
        vectors = (
            np.asarray(self.parts.embedder.embed_documents([c.check.text for c in found]))
            if found
            else np.zeros((0, 1))
        )
        picked = pick(found, vectors, self.final_tokens, self._count)
        shown_of = {n: shown for shown, n in enumerate(dict.fromkeys(c.section for c in picked), 1)}
        checks = [_cited(c, shown_of[c.section]) for c in picked]
        return Summary(
            target,
            " ".join(c.text for c in checks),
            _citations(sections, shown_of),
            self.runtime.display_name,
            self._timings(len(sections), started, candidate_sentences=float(len(found))),
            sentences=tuple(sentence_check(c, shown_of) for c in checks),
            reduce="extract",
        )

    def _finish(
        self,
        target: str,
        final: str,
        partial: Sequence[tuple[str, str]],
        sections: Sequence[Section],
        started: float,
    ) -> Summary:
        """The cited summary: its sentences attributed to the sections whose summaries
        share their words (a one-section document is the source of its summary, markers
        or not), then judged against the sections they cite."""
        lead = (1,) if len(sections) == 1 else ()
        cited = attribute(final, [text for _label, text in partial], lead)
        shown_of = {n: shown for shown, n in enumerate(cited.cited, start=1)}
        checks = self._judge(
            cited.text,
            [sections[n - 1] for n in cited.cited],
            dict(enumerate(cited.cited, start=1)),
        )
        return Summary(
            target,
            cited.text,
            _citations(sections, shown_of),
            self.runtime.display_name,
            self._timings(len(sections), started),
            sentences=tuple(sentence_check(c, shown_of) for c in checks),
        )

    def _timings(self, sections: int, started: float, **extra: float) -> dict[str, float]:
        return {
            "total_s": time.perf_counter() - started,
            "sections": float(sections),
            "loops_stopped": float(self.loops_stopped),
            **extra,
        }

    def _reduce_steps(self, items: int, budget: int) -> int:
        """Steps still to come after ``items`` summaries exist: the combining levels,
        estimated with each summary at its longest, and the final step."""
        per_prompt = max(2, budget // (SECTION_TOKENS + ITEM_OVERHEAD))
        steps = 0
        while items > per_prompt:
            items = math.ceil(items / per_prompt)
            steps += items
        return steps + 1


def _citations(sections: Sequence[Section], shown_of: Mapping[int, int]) -> tuple[Citation, ...]:
    """The cited sections, numbered as the summary shows them (``shown_of``: section
    number -> its marker), in that order."""
    return tuple(replace(sections[n - 1].citation(), n=shown) for n, shown in shown_of.items())


def _cited(candidate: Candidate, shown: int) -> support.Check:
    """A picked sentence with the marker of its section, as the summary shows it."""
    return replace(candidate.check, text=cite(candidate.check.text, shown), cited=(shown,))
