"""Answer a question from retrieved passages: abstain, pack, prompt, stream, cite.

Abstention is decided from retrieval scores *before* the model runs: a small model given
irrelevant passages answers from memory with confidence, so it must never be asked.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import closing
from dataclasses import dataclass, replace
from typing import NoReturn

from desk_assistant.backends.embeddings import Embedder
from desk_assistant.backends.llm.base import LLMRuntime
from desk_assistant.backends.llm.chat_format import ChatFormat
from desk_assistant.backends.registry import builtin_model
from desk_assistant.errors import DeskAssistantError
from desk_assistant.parts import Parts
from desk_assistant.rag import support
from desk_assistant.rag.citations import attribute, drop_leading_number
from desk_assistant.rag.context import assemble
from desk_assistant.rag.evidence import Pick, best_quote
from desk_assistant.rag.followup import Turn, model_query, rule_query
from desk_assistant.rag.grounding import Sources, SourceSentence
from desk_assistant.rag.history import fitting_turns
from desk_assistant.rag.packing import MIN_USEFUL_TOKENS, PackedPassage, pack
from desk_assistant.rag.prompt import (
    EMPTY_ANSWER,
    NO_ANSWER,
    SYSTEM_PROMPT,
    shared_prefixes,
    system_message,
    user_message,
)
from desk_assistant.rag.repetition import LoopGuard, until_loop
from desk_assistant.rag.retrieval import RetrievalResult
from desk_assistant.rag.search import retrieve
from desk_assistant.records import (
    Answer,
    Citation,
    Passage,
    Quote,
    Searched,
    SearchFilter,
    SentenceCheck,
    Token,
)
from desk_assistant.settings import Settings

PROMPT_MARGIN = 16  # template tokens the renderer may add beyond what we count
# A question up to this many UTF-8 bytes has at most as many tokens, so it surely fits
# any context window it is checked against: only longer ones load the model to count.
SHORT_QUESTION_BYTES = 1024


class QuestionTooLong(DeskAssistantError):
    """The question leaves the model no room for passages from the documents."""


@dataclass(frozen=True, slots=True)
class AnswerSettings:
    max_answer_tokens: int = 384
    temperature: float = 0.1
    context_budget: int = 540
    strict_grounding: bool = True
    min_relevance: float = 0.20
    sentence_selection: bool = True
    min_support: float = 0.55
    chat_history_tokens: int = 400
    evidence_first: bool = False  # the quote goes above the answer (the built-in model)

    @classmethod
    def of(cls, settings: Settings) -> AnswerSettings:
        return cls(
            max_answer_tokens=settings.max_answer_tokens,
            temperature=settings.temperature,
            context_budget=settings.context_budget,
            strict_grounding=settings.strict_grounding,
            min_relevance=settings.min_relevance,
            sentence_selection=settings.sentence_selection,
            min_support=settings.min_support,
            chat_history_tokens=settings.chat_history_tokens,
            # The built-in model's answers are weak: the sources' own words go first.
            evidence_first=builtin_model(settings),
        )


def is_relevant(result: RetrievalResult, min_relevance: float) -> bool:
    """Whether the best match is close enough that the documents may hold the answer."""
    return bool(result.passages) and result.relevance >= min_relevance


def abstention(
    question: str,
    retrieved: RetrievalResult,
    settings: AnswerSettings,
    model: str,
    timings: dict[str, float],
) -> Answer | None:
    """The "not in your documents" answer when strict grounding applies, else ``None``.

    Decided before the model is loaded or called: it costs nothing and cannot invent.
    """
    if not settings.strict_grounding or is_relevant(retrieved, settings.min_relevance):
        return None
    return Answer(question, NO_ANSWER, (), grounded=False, model=model, timings=timings)


def standalone_query(parts: Parts, question: str, history: Sequence[Turn]) -> str:
    """What to search for: the question, made standalone when it leans on the chat."""
    if parts.settings.followup_rewrite == "model":
        return model_query(question, history, parts.runtime, parts.chat_format)
    return rule_query(question, history)


def answer_question(
    parts: Parts,
    question: str,
    collection: str,
    k: int,
    where: SearchFilter | None,
    history: Sequence[Turn] = (),
) -> Iterator[Searched | Token | Answer]:
    """The answer path: make the question standalone, retrieve, then abstain or load the
    model and stream its answer. ``Searched`` comes first, then the tokens, then the
    ``Answer``, which carries each step's timing and ``total_s`` last."""
    timings: dict[str, float] = {}
    started = time.perf_counter()
    settings = AnswerSettings.of(parts.settings)
    if len(question.encode("utf-8", "surrogatepass")) > SHORT_QUESTION_BYTES:
        # Counted in the model's own tokens before anything else is spent on it.
        Answerer(parts.runtime, parts.chat_format, settings, parts.embedder).budget(question)
    query = standalone_query(parts, question, history)
    timings["query_s"] = time.perf_counter() - started
    retrieved = retrieve(parts, query, collection, k, where=where)
    timings["retrieval_s"] = time.perf_counter() - started - timings["query_s"]
    refusal = abstention(question, retrieved, settings, parts.model_name(), timings)
    if refusal is not None:
        timings["total_s"] = time.perf_counter() - started
        yield Searched(question, query)
        yield replace(refusal, query=query)
        return
    loading = time.perf_counter()
    answerer = Answerer(parts.runtime, parts.chat_format, settings, parts.embedder)
    timings["model_load_s"] = time.perf_counter() - loading
    for item in answerer.answer(question, retrieved, timings, query=query, history=history):
        if isinstance(item, Answer):
            timings["total_s"] = time.perf_counter() - started
        yield item


@dataclass(frozen=True, slots=True)
class Composed:
    packed: list[PackedPassage]
    prompt: str
    prefixes: list[str]  # leading parts of the prompt that other prompts share


@dataclass(frozen=True, slots=True)
class Prepared:
    packed: list[PackedPassage]
    sources: Sources
    pick: Pick | None
    prompt: str
    prefixes: list[str]  # leading parts of the prompt that other prompts share


class Answerer:
    def __init__(
        self,
        runtime: LLMRuntime,
        chat_format: ChatFormat,
        settings: AnswerSettings,
        embedder: Embedder,
    ):
        self.runtime = runtime
        self.chat_format = chat_format
        self.settings = settings
        self.embedder = embedder

    def _relevant(self, retrieved: RetrievalResult) -> list[Passage]:
        """Passages worth the model's attention: off-topic ones cost prompt time and lead
        small models astray, so under strict grounding they are left out (the best
        passage always stays)."""
        passages = retrieved.passages
        if not self.settings.strict_grounding:
            return assemble(passages)
        floor = self.settings.min_relevance
        kept = [p for p in passages if p.similarity is not None and p.similarity >= floor]
        return assemble(kept or passages[:1])

    def _count(self, text: str) -> int:
        return len(self.runtime.tokenize(text))

    def budget(
        self, question: str, history: Sequence[Turn] = ()
    ) -> tuple[int, list[tuple[str, str]]]:
        """Passage tokens that fit beside the instructions, the earlier turns, the question
        and the answer; and those earlier turns. Turns give way to passages when both do
        not fit; :class:`QuestionTooLong` when the question alone leaves too little."""
        turns = fitting_turns(history, self.settings.chat_history_tokens, self._count)
        frame = self.chat_format.render(SYSTEM_PROMPT, user_message(question), turns)
        window = self.runtime.context_length - self.settings.max_answer_tokens
        available = window - self._count(frame) - PROMPT_MARGIN
        if available < MIN_USEFUL_TOKENS:
            if turns:
                return self.budget(question)
            self._refuse(question, window, available)
        return min(self.settings.context_budget, available), turns

    def _refuse(self, question: str, window: int, available: int) -> NoReturn:
        """Say why no answer fits: the settings leave no room at all, or the question is
        too long (and by how much)."""
        context = self.runtime.context_length
        empty = self.chat_format.render(SYSTEM_PROMPT, user_message(""))
        if window - self._count(empty) - PROMPT_MARGIN < MIN_USEFUL_TOKENS:
            raise DeskAssistantError(
                f"The model reads {context:,} tokens at a time, too few for its "
                f"instructions, passages and an answer of up to "
                f"{self.settings.max_answer_tokens:,} tokens: lower the longest answer "
                f"or raise the context length in the settings."
            )
        asked = self._count(question)
        most = max(0, asked + available - MIN_USEFUL_TOKENS)
        raise QuestionTooLong(
            f"The question is too long: it is {asked:,} tokens, and the model reads "
            f"{context:,} tokens at a time, which must also hold its instructions, "
            f"passages from your documents and the answer. Shorten the question to at "
            f"most about {most:,} tokens (roughly {most * 3 // 4:,} words)."
        )

    def compose(
        self, query: str, retrieved: RetrievalResult, history: Sequence[Turn] = ()
    ) -> Composed:
        """The passages that fit and the prompt (and its leading parts that other prompts
        share): what the model reads. ``bench/packing.py`` measures exactly this."""
        weights = retrieved.term_weights if self.settings.sentence_selection else None
        budget, turns = self.budget(query, history)
        packed = pack(self._relevant(retrieved), budget, self._count, weights=weights)
        system = system_message(packed)
        prompt = self.chat_format.render(system, user_message(query), turns)
        shared = shared_prefixes(self.chat_format, system, turns)
        return Composed(packed, prompt, [p for p in shared if prompt.startswith(p)])

    def prepare(
        self, query: str, retrieved: RetrievalResult, history: Sequence[Turn] = ()
    ) -> Prepared:
        """The composed prompt and the evidence quote among the passages' sentences:
        everything an answer needs before the model runs."""
        composed = self.compose(query, retrieved, history)
        sources = Sources(composed.packed, self.embedder)
        pick = best_quote(query, self.embedder.embed_query(query), sources, retrieved.term_weights)
        return Prepared(composed.packed, sources, pick, composed.prompt, composed.prefixes)

    def answer(
        self,
        question: str,
        retrieved: RetrievalResult,
        timings: dict[str, float],
        *,
        query: str | None = None,
        history: Sequence[Turn] = (),
    ) -> Iterator[Searched | Token | Answer]:
        """Stream ``Searched``, ``Token``s, then one ``Answer``. Closing the iterator stops
        generation. ``query`` is the question made standalone (what was searched for, and
        what the model is asked); ``history`` the chat's earlier turns.

        The caller has already checked :func:`abstention`; this always asks the model.
        """
        query = query or question
        model = self.runtime.display_name
        started = time.perf_counter()
        prepared = self.prepare(query, retrieved, history)
        packed, sources, pick, prompt = (
            prepared.packed,
            prepared.sources,
            prepared.pick,
            prepared.prompt,
        )
        timings["prompt_tokens"] = float(self._count(prompt))
        timings["prepare_s"] = time.perf_counter() - started
        first_shown = {pick.sentences[0].n: 1} if pick and self.settings.evidence_first else {}
        yield Searched(question, query, _quotes(pick, first_shown), self.settings.evidence_first)
        first: float | None = None
        generation_started = time.perf_counter()
        stream = self.runtime.stream(
            prompt,
            stop=self.chat_format.stop,
            max_tokens=self.settings.max_answer_tokens,
            temperature=self.settings.temperature,
            prefixes=prepared.prefixes,
        )
        guard = LoopGuard()
        with closing(until_loop(stream, guard)) as pieces:
            for piece in pieces:
                if first is None:
                    first = time.perf_counter()
                    timings["first_token_s"] = first - generation_started
                yield Token(piece)
        if guard.loop_at is not None:  # the model looped: stopped, what came before is kept
            timings["stopped_repeating"] = 1.0
        finished = time.perf_counter()
        written = guard.text.strip()
        generated = self._count(written) if written else 0
        timings["generation_s"] = finished - generation_started
        timings["completion_tokens"] = float(generated)
        if first is not None and generated > 1 and finished > first:
            timings["tokens_per_s"] = (generated - 1) / (finished - first)
        raw = drop_leading_number(written, len(packed))
        answer = self._finish(question, query, raw, packed, model, timings, sources, pick)
        timings["support_s"] = time.perf_counter() - finished
        yield replace(answer, query=query)

    def _finish(
        self,
        question: str,
        query: str,
        raw: str,
        packed: Sequence[PackedPassage],
        model: str,
        timings: dict[str, float],
        sources: Sources,
        pick: Pick | None,
    ) -> Answer:
        quoted = [s.n for s in pick.sentences] if pick else []
        lead = quoted[:1] if self.settings.evidence_first else []
        result = attribute(raw, [p.text for p in packed], lead)
        # An answer too short to attribute ("Yes.") still came from the passages it was
        # given: list the most relevant one as its source rather than none; the quote's
        # passage is always listed, so that its [n] leads somewhere.
        cited = list(result.cited or ((1,) if packed else ()))
        cited += [n for n in dict.fromkeys(quoted) if n not in cited]
        by_number = {p.n: p.passage for p in packed}
        citations = tuple(_citation(shown, by_number[n]) for shown, n in enumerate(cited, 1))
        shown_of = {n: shown for shown, n in enumerate(cited, start=1)}
        timings["removed_markers"] = float(result.removed_markers)
        answer = Answer(
            question,
            result.text,
            citations,
            grounded=bool(citations),
            model=model,
            timings=timings,
            evidence=_quotes(pick, shown_of),
            evidence_first=self.settings.evidence_first,
        )
        if not raw:
            return replace(answer, text=EMPTY_ANSWER, grounded=False)
        checks = support.check(
            result.text,
            sources,
            {shown: n for n, shown in shown_of.items()},
            self.settings.min_support,
            question,
            # in a follow-up, also the subject the standalone query names ("Where was he
            # born?" asked about Becquerel), which the source sentence calls "he"
            query if query != question else "",
        )
        return replace(answer, sentences=tuple(sentence_check(c, shown_of) for c in checks))


def _citation(shown: int, passage: Passage) -> Citation:
    return Citation(
        n=shown,
        path=passage.path,
        page=passage.page,
        text=passage.text,
        score=passage.similarity or passage.score,
        heading=passage.heading,
        start=passage.start,
        end=passage.end,
    )


def _quote(sentence: SourceSentence, text: str, shown_of: Mapping[int, int]) -> Quote:
    passage = sentence.passage
    return Quote(text, shown_of.get(sentence.n, 0), passage.path, passage.page, passage.heading)


def _quotes(pick: Pick | None, shown_of: Mapping[int, int]) -> tuple[Quote, ...]:
    """The evidence quote as the answer shows it: one quote of the picked sentences."""
    if pick is None:
        return ()
    return (_quote(pick.sentences[0], pick.text, shown_of),)


def sentence_check(check: support.Check, shown_of: Mapping[int, int]) -> SentenceCheck:
    """A judged sentence as an answer (or a summary) carries it, its evidence numbered
    as shown (``shown_of``: passage number in the prompt -> citation shown)."""
    evidence = check.evidence
    return SentenceCheck(
        text=check.text,
        citations=check.cited,
        supported=check.supported,
        evidence=_quote(evidence, evidence.text, shown_of) if evidence else None,
        score=check.score,
        reason=check.reason,
        missing=check.missing,
    )
