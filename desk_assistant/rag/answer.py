"""Answer a question from retrieved passages: abstain, pack, prompt, stream, cite.

Abstention is decided from retrieval scores *before* the model runs: a small model given
irrelevant passages answers from memory with confidence, so it must never be asked.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import NamedTuple

from desk_assistant.backends.llm.base import LLMRuntime
from desk_assistant.backends.llm.chat_format import ChatFormat
from desk_assistant.errors import DeskAssistantError
from desk_assistant.parts import Parts
from desk_assistant.rag.citations import attribute, drop_leading_number, first_repeat
from desk_assistant.rag.context import assemble
from desk_assistant.rag.packing import MIN_USEFUL_TOKENS, PackedPassage, pack
from desk_assistant.rag.prompt import (
    EMPTY_ANSWER,
    NO_ANSWER,
    SYSTEM_PROMPT,
    shared_prefixes,
    system_message,
    user_message,
)
from desk_assistant.rag.retrieval import RetrievalResult
from desk_assistant.rag.search import retrieve
from desk_assistant.records import Answer, Citation, Passage, SearchFilter, Token

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


def answer_question(
    parts: Parts, question: str, collection: str, k: int, where: SearchFilter | None
) -> Iterator[Token | Answer]:
    """The answer path: retrieve, then abstain or load the model and stream its answer.
    The ``Answer`` carries each step's timing, and ``total_s`` last."""
    timings: dict[str, float] = {}
    started = time.perf_counter()
    config = parts.settings
    settings = AnswerSettings(
        max_answer_tokens=config.max_answer_tokens,
        temperature=config.temperature,
        context_budget=config.context_budget,
        strict_grounding=config.strict_grounding,
        min_relevance=config.min_relevance,
        sentence_selection=config.sentence_selection,
    )
    if len(question.encode("utf-8", "surrogatepass")) > SHORT_QUESTION_BYTES:
        # Counted in the model's own tokens before anything else is spent on it.
        Answerer(parts.runtime, parts.chat_format, settings).budget(question)
    retrieved = retrieve(parts, question, collection, k, where=where)
    timings["retrieval_s"] = time.perf_counter() - started
    refusal = abstention(question, retrieved, settings, parts.model_name(), timings)
    if refusal is not None:
        timings["total_s"] = time.perf_counter() - started
        yield refusal
        return
    loading = time.perf_counter()
    answerer = Answerer(parts.runtime, parts.chat_format, settings)
    timings["model_load_s"] = time.perf_counter() - loading
    for item in answerer.answer(question, retrieved, timings):
        if isinstance(item, Answer):
            timings["total_s"] = time.perf_counter() - started
        yield item


class Prepared(NamedTuple):
    packed: list[PackedPassage]
    prompt: str
    prefixes: list[str]  # leading parts of the prompt that other prompts share


class Answerer:
    def __init__(self, runtime: LLMRuntime, chat_format: ChatFormat, settings: AnswerSettings):
        self.runtime = runtime
        self.chat_format = chat_format
        self.settings = settings

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

    def budget(self, question: str) -> int:
        """Passage tokens that fit beside the instructions, the question and the answer;
        :class:`QuestionTooLong` when that leaves too little to answer from."""
        frame = self.chat_format.render(SYSTEM_PROMPT, user_message(question))
        context = self.runtime.context_length
        window = context - self.settings.max_answer_tokens
        available = window - self._count(frame) - PROMPT_MARGIN
        if available < MIN_USEFUL_TOKENS:
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
        return min(self.settings.context_budget, available)

    def prepare(self, question: str, retrieved: RetrievalResult) -> Prepared:
        """The evidence that fits the budget, the prompt that carries it, and the
        prompt's leading parts that other prompts share."""
        weights = retrieved.term_weights if self.settings.sentence_selection else None
        budget = self.budget(question)
        packed = pack(self._relevant(retrieved), budget, self._count, weights=weights)
        system = system_message(packed)
        prompt = self.chat_format.render(system, user_message(question))
        prefixes = [p for p in shared_prefixes(self.chat_format, system) if prompt.startswith(p)]
        return Prepared(packed, prompt, prefixes)

    def answer(
        self, question: str, retrieved: RetrievalResult, timings: dict[str, float]
    ) -> Iterator[Token | Answer]:
        """Stream ``Token``s, then one ``Answer``. Closing the iterator stops generation.

        The caller has already checked :func:`abstention`; this always asks the model.
        """
        model = self.runtime.display_name
        started = time.perf_counter()
        packed, prompt, prefixes = self.prepare(question, retrieved)
        timings["prompt_tokens"] = float(self._count(prompt))
        timings["pack_s"] = time.perf_counter() - started
        pieces: list[str] = []
        first: float | None = None
        generation_started = time.perf_counter()
        stream = self.runtime.stream(
            prompt,
            stop=self.chat_format.stop,
            max_tokens=self.settings.max_answer_tokens,
            temperature=self.settings.temperature,
            prefixes=prefixes,
        )
        try:
            for piece in stream:
                if first is None:
                    first = time.perf_counter()
                    timings["first_token_s"] = first - generation_started
                pieces.append(piece)
                yield Token(piece)
                if any(mark in piece for mark in ".!?"):
                    written = "".join(pieces)
                    cut = first_repeat(written)
                    if cut is not None:  # the model loops: stop it, keep what came before
                        pieces = [written[:cut]]
                        timings["stopped_repeating"] = 1.0
                        break
        finally:
            close = getattr(stream, "close", None)
            if close is not None:
                close()
        finished = time.perf_counter()
        written = "".join(pieces).strip()
        generated = self._count(written) if written else 0
        timings["generation_s"] = finished - generation_started
        timings["completion_tokens"] = float(generated)
        if first is not None and generated > 1 and finished > first:
            timings["tokens_per_s"] = (generated - 1) / (finished - first)
        raw = drop_leading_number(written, len(packed))
        yield self._finish(question, raw, packed, model, timings)

    def _finish(
        self,
        question: str,
        raw: str,
        packed: Sequence[PackedPassage],
        model: str,
        timings: dict[str, float],
    ) -> Answer:
        result = attribute(raw, [p.text for p in packed])
        by_number = {p.n: p.passage for p in packed}
        # An answer too short to attribute ("Yes.") still came from the passages it was
        # given: list the most relevant one as its source rather than none.
        cited = result.cited or ((1,) if packed else ())
        citations = tuple(
            Citation(
                n=shown,
                path=by_number[n].path,
                page=by_number[n].page,
                text=by_number[n].text,
                score=by_number[n].similarity or by_number[n].score,
                heading=by_number[n].heading,
                start=by_number[n].start,
                end=by_number[n].end,
            )
            for shown, n in enumerate(cited, start=1)
        )
        timings["removed_markers"] = float(result.removed_markers)
        if not raw:
            return Answer(
                question, EMPTY_ANSWER, citations, grounded=False, model=model, timings=timings
            )
        return Answer(
            question,
            result.text,
            citations,
            grounded=bool(citations),
            model=model,
            timings=timings,
        )
