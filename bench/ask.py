"""Answer latency of ``Assistant.ask`` against raw llama-cpp-python on the same prompt.

What runs: a few wikiqa articles are ingested into a temporary home; the bundled
SmolLM2-135M-Instruct GGUF is loaded by the engine (llama_cpp runtime). Questions about
those articles are asked through ``Assistant.ask``; the exact prompt the engine sends to
the model is captured (the runtime's ``stream`` is wrapped to record its argument). Two
raw ``llama_cpp.Llama`` objects are built with the same model file, ``n_ctx``, threads and
seed as the engine's, and complete that same prompt string with the same ``max_tokens``
and temperature, ``stream=True``:

* **raw (reset)**: ``llama.reset()`` before each call: the whole prompt is read, the
  baseline the targets refer to (the engine reads less: it keeps the instructions'
  state between questions, see ``bench/prefix.py``);
* **raw (prefix kept)**: llama-cpp-python's default, which reuses the KV cache of the
  longest prompt prefix shared with the previous call.

Every round runs the three on the same question, in rotating order; a warm-up round
per question (stopped after the first token) runs first, untimed, so all three models
are warm and advance their sampling seeds in step (then they produce identical text).

How to read it: TTFT is from the call to the first non-empty piece of text; for the
engine it counts from the moment retrieval returned (``Assistant.retrieve`` is wrapped
to note it; retrieval is reported apart, the raw baseline has none), so engine TTFT =
abstention check + prompt packing + tokenising + prompt evaluation + first token.
Tokens/s = (tokens - 1) / (last piece - first piece), tokens counted with the model's
tokenizer on the streamed text, the same way for all three. Each is measured on two
clocks: wall time, and this process's CPU time (``time.process_time``), which other
people's jobs on a shared machine disturb far less. Ratios are medians of per-round
ratios, oriented so that 1.0 = as fast as raw and higher = better: TTFT raw/engine,
tokens/s engine/raw. Target >= 0.95 for both. ``--threads N`` sets the LLM threads of
all three (default: the engine's, i.e. all cores up to 4).

    python bench/ask.py              # 4 articles, 8 questions x 3 variants
    python bench/ask.py --quick      # 2 articles, 5 questions
    python bench/ask.py -n 12
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from typing import Any

from _common import (
    base_parser,
    fmt,
    fmt_count,
    log,
    median,
    open_engine,
    print_table,
    ratio,
    run_ingest,
    temp_dir,
    write_results,
)
from _wikiqa import Question, corpus_files, questions

from desk_assistant.backends.llm.base import LoadParams

COLLECTION = "bench"
SEED = 7
RAW_SEED = LoadParams().seed  # the engine's sampling seed
VARIANTS = ("engine", "raw_reset", "raw_prefix")
YES_NO_STARTS = {"is", "was", "did", "does", "do", "are", "were", "can", "has", "have", "could"}


@dataclass(frozen=True, slots=True)
class Clock:
    """A moment on two clocks: wall (``perf_counter``) and this process's CPU time
    (``process_time``, all threads). CPU time barely moves when other people's jobs
    take the cores, so it is the steadier measure on a shared machine."""

    wall: float
    cpu: float

    @classmethod
    def now(cls) -> Clock:
        return cls(time.perf_counter(), time.process_time())


@dataclass(slots=True)
class Sample:
    """One timed completion."""

    ttft_s: float
    ttft_cpu_s: float
    tokens: int
    tokens_per_s: float
    tokens_per_cpu_s: float
    total_s: float
    text: str
    retrieval_s: float = 0.0
    engine_first_token_s: float = float("nan")
    prompt_tokens: float = float("nan")


@dataclass(slots=True)
class Stream:
    """Pieces of text with the moment each arrived."""

    started: Clock
    first: Clock | None = None
    last: Clock | None = None
    text: str = ""

    def add(self, piece: str) -> None:
        if not piece:
            return
        now = Clock.now()
        self.first = self.first or now
        self.last = now
        self.text += piece


def to_sample(stream: Stream, count: Callable[[str], int]) -> Sample:
    first = stream.first or Clock.now()
    last = stream.last or first
    tokens = count(stream.text) if stream.text else 0
    steps = tokens - 1 if tokens > 1 else float("nan")
    return Sample(
        ttft_s=first.wall - stream.started.wall,
        ttft_cpu_s=first.cpu - stream.started.cpu,
        tokens=tokens,
        tokens_per_s=ratio(steps, last.wall - first.wall),
        tokens_per_cpu_s=ratio(steps, last.cpu - first.cpu),
        total_s=last.wall - stream.started.wall,
        text=stream.text,
    )


def token_counter(runtime: Any) -> Callable[[str], int]:
    """Tokens of a text as the model counts them (the engine's tokenizer, no BOS)."""

    def count(text: str) -> int:
        return len(runtime.tokenize(text))

    return count


# the engine side -------------------------------------------------------------------


@dataclass(slots=True)
class Hooks:
    """What the engine did inside ``ask``: the prompts it sent, when retrieval ended."""

    prompts: list[str]
    retrieved: Clock | None = None


def install_hooks(parts: Any) -> Hooks:
    """Wrap ``parts.retriever`` and ``runtime.stream`` of these two instances only."""
    hooks = Hooks([])
    runtime = parts.runtime
    retriever, stream = parts.retriever, runtime.stream

    def timed_retriever(*args: Any, **kwargs: Any) -> Any:
        found = retriever(*args, **kwargs)
        search = found.search

        def timed_search(*args: Any, **kwargs: Any) -> Any:
            result = search(*args, **kwargs)
            hooks.retrieved = Clock.now()
            return result

        setattr(found, "search", timed_search)  # noqa: B010 - one instance only
        return found

    def recorded_stream(prompt: str, **kwargs: Any) -> Any:
        hooks.prompts.append(prompt)
        return stream(prompt, **kwargs)

    setattr(parts, "retriever", timed_retriever)  # noqa: B010 - one instance only
    setattr(runtime, "stream", recorded_stream)  # noqa: B010
    return hooks


def engine_once(
    assistant: Any,
    runtime: Any,
    hooks: Hooks,
    question: str,
    *,
    first_only: bool = False,
    collection: str = COLLECTION,
) -> Sample:
    """``ask`` once; TTFT counts from the end of retrieval (which is reported apart)."""
    from desk_assistant.records import Answer, Token

    called = Clock.now()
    stream = Stream(called)
    answer: Answer | None = None
    items = assistant.ask(question, collection)
    for item in items:
        if isinstance(item, Answer):
            answer = item
        elif isinstance(item, Token):  # not the Searched that comes before the tokens
            stream.add(item.text)
            if first_only:
                items.close()
                break
    stream.started = hooks.retrieved or called
    sample = to_sample(stream, token_counter(runtime))
    sample.retrieval_s = stream.started.wall - called.wall
    timings = answer.timings if answer else {}
    sample.engine_first_token_s = timings.get("first_token_s", float("nan"))
    sample.prompt_tokens = timings.get("prompt_tokens", float("nan"))
    return sample


# the raw side ----------------------------------------------------------------------


def raw_llama(engine_runtime: Any) -> Any:
    """A second ``llama_cpp.Llama`` with the engine's file, n_ctx, threads and seed."""
    from llama_cpp import Llama

    engine = engine_runtime._model  # the engine's own Llama, to copy its parameters
    return Llama(
        model_path=engine_runtime.info.path,
        n_ctx=engine.n_ctx(),
        n_threads=engine.context_params.n_threads,
        n_threads_batch=engine.context_params.n_threads_batch,
        seed=RAW_SEED,
        verbose=False,
    )


def raw_once(
    llama: Any,
    prompt: str,
    settings: Any,
    count: Callable[[str], int],
    *,
    reset: bool,
    first_only: bool = False,
) -> Sample:
    if reset:
        llama.reset()
    stream = Stream(Clock.now())
    chunks: Iterator[Any] = llama.create_completion(
        prompt,
        max_tokens=settings.max_answer_tokens,
        temperature=settings.temperature,
        seed=RAW_SEED,  # the engine re-seeds every answer the same way
        stream=True,
    )
    for chunk in chunks:
        stream.add(chunk["choices"][0]["text"])
        if first_only and stream.text:
            break
    close = getattr(chunks, "close", None)
    if close is not None:
        close()
    return to_sample(stream, count)


# the benchmark ---------------------------------------------------------------------


def pick_questions(qs: list[Question], articles: set[str], limit: int) -> list[Question]:
    """Seeded sample of open (not yes/no) questions on the ingested articles: their
    answers are a sentence or more, so tokens/s is measured over more than a few tokens."""
    wanted = [
        q
        for q in qs
        if q.articles & articles and q.text.split(" ", 1)[0].lower() not in YES_NO_STARTS
    ]
    random.Random(SEED).shuffle(wanted)
    return wanted[: limit * 3]  # spares: questions the engine abstains on are skipped


class Bench:
    """The engine and the two raw models, with the prompts captured from the engine."""

    def __init__(self, assistant: Any, parts: Any) -> None:
        self.assistant = assistant
        self.settings = parts.settings
        self.runtime = runtime = parts.runtime  # loads the model (untimed)
        self.hooks = install_hooks(parts)
        self.prompts = self.hooks.prompts
        self.count = token_counter(runtime)
        self.raw = {"raw_reset": raw_llama(runtime), "raw_prefix": raw_llama(runtime)}

    def close(self) -> None:
        for llama in self.raw.values():
            llama.close()

    def run(self, variant: str, question: str, prompt: str, *, first_only: bool = False) -> Sample:
        if variant == "engine":
            return engine_once(
                self.assistant, self.runtime, self.hooks, question, first_only=first_only
            )
        llama = self.raw[variant]
        return raw_once(
            llama,
            prompt,
            self.settings,
            self.count,
            reset=variant == "raw_reset",
            first_only=first_only,
        )

    def warm_up(self, candidates: list[Question], wanted: int) -> list[tuple[Question, str]]:
        """Questions the engine answers (not abstains on), each run once by all three."""
        chosen = []
        for question in candidates:
            before = len(self.prompts)
            self.run("engine", question.text, "", first_only=True)
            if len(self.prompts) == before:
                continue  # abstained: the model was never called
            prompt = self.prompts[-1]
            for variant in VARIANTS[1:]:
                self.run(variant, question.text, prompt, first_only=True)
            chosen.append((question, prompt))
            if len(chosen) == wanted:
                break
        return chosen

    def rounds(self, chosen: list[tuple[Question, str]]) -> list[dict[str, Sample]]:
        results = []
        for number, (question, prompt) in enumerate(chosen):
            order = VARIANTS[number % 3 :] + VARIANTS[: number % 3]
            samples = {v: self.run(v, question.text, prompt) for v in order}
            if self.prompts[-1] != prompt:
                log(f"  warning: the engine built a different prompt for {question.id}")
            log(
                f"  round {number + 1}/{len(chosen)}: ttft "
                + ", ".join(f"{v}={samples[v].ttft_s:.3f}" for v in VARIANTS)
            )
            results.append(samples)
        return results


def summary_rows(results: list[dict[str, Sample]]) -> list[list[object]]:
    def med(variant: str, attribute: str) -> float:
        return median([getattr(r[variant], attribute) for r in results])

    def paired(attribute: str, variant: str, *, lower_is_better: bool) -> float:
        pairs = [
            ratio(getattr(r[variant], attribute), getattr(r["engine"], attribute))
            if lower_is_better
            else ratio(getattr(r["engine"], attribute), getattr(r[variant], attribute))
            for r in results
        ]
        return median(pairs)

    rows: list[list[object]] = []
    for label, attribute, lower in (
        ("TTFT s, wall (engine: from end of retrieval)", "ttft_s", True),
        ("TTFT s, CPU time", "ttft_cpu_s", True),
        ("generation tokens/s, wall", "tokens_per_s", False),
        ("generation tokens per CPU-s", "tokens_per_cpu_s", False),
        ("completion tokens", "tokens", False),
        ("call to last token s, wall", "total_s", True),
    ):
        show = fmt_count if attribute == "tokens" else fmt  # a median of counts: 64 or 64.5
        rows.append(
            [
                label,
                show(med("engine", attribute)),
                show(med("raw_reset", attribute)),
                paired(attribute, "raw_reset", lower_is_better=lower),
                show(med("raw_prefix", attribute)),
                paired(attribute, "raw_prefix", lower_is_better=lower),
            ]
        )
    same = sum(r["engine"].text == r["raw_reset"].text for r in results)
    rows.append(
        ["retrieval s (engine only, not in TTFT)", med("engine", "retrieval_s"), "-", "-", "-", "-"]
    )
    rows.append(
        [
            "engine's own first_token_s timing",
            med("engine", "engine_first_token_s"),
            "-",
            "-",
            "-",
            "-",
        ]
    )
    prompt_tokens = fmt_count(med("engine", "prompt_tokens"))
    rows.append(["prompt tokens", prompt_tokens, "same prompt", "-", "same prompt", "-"])
    rows.append(["identical text engine vs raw (reset)", f"{same}/{len(results)}", "", "", "", ""])
    return rows


def main() -> None:
    parser = base_parser(__doc__)
    parser.add_argument("-n", type=int, help="questions, each run by all 3 (default 8, quick 5)")
    parser.add_argument("--articles", type=int, help="articles to ingest (default 4, quick 2)")
    parser.add_argument("--threads", type=int, help="LLM threads for all three (default: engine's)")
    args = parser.parse_args()
    count = args.n or (5 if args.quick else 8)
    files, articles = corpus_files(args.articles or (2 if args.quick else 4))
    with (
        temp_dir("ask-home") as home,
        open_engine(home, threads=args.threads) as (assistant, parts),
    ):
        log(f"ask.py: ingesting {len(files)} articles ...")
        ingested = run_ingest(assistant, files, COLLECTION)
        log(f"  {ingested.chunks} chunks in {ingested.seconds:.1f} s; loading the model ...")
        bench = Bench(assistant, parts)
        try:
            chosen = bench.warm_up(pick_questions(questions(), articles, count), count)
            log(f"  warmed up; {len(chosen)} questions x {len(VARIANTS)} variants")
            results = bench.rounds(chosen)
        finally:
            bench.close()
    headers = ["metric (median)", "engine", "raw (reset)", "ratio", "raw (prefix kept)", "ratio"]
    title = f"ask vs raw llama-cpp-python, SmolLM2-135M Q4_1, {len(results)} rounds"
    print_table(title, headers, summary_rows(results))
    data = {
        "questions": [q.text for q, _ in chosen],
        "rounds": [{v: asdict(s) for v, s in r.items()} for r in results],
    }
    log(f"results: {write_results('ask', data, args.out)}")


if __name__ == "__main__":
    main()
