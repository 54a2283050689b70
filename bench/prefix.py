"""Time to first token of a follow-up question against the first, with the model's state
for the prompt's stable prefix kept between them.

What runs: the wikiqa articles with the most questions are ingested into a temporary
home (or ``--home``); the model (the built-in SmolLM2 or ``--model FILE``) is loaded by
the engine's runtime (``--runtime``). Each round takes two questions about one article,
as a user asks a question and then a follow-up: the first is retrieved and packed by the
engine (``Answerer.prepare``: the app's prompt, passages in the system message); the
follow-up is rendered in the chat format with the same passages and the first question
and its answer as an earlier turn, its shared prefixes named as the app names them
(``shared_prefixes``). Per round, on the same loaded model:

1. **first, cold**: the first question with no prefixes (the state is dropped and the
   whole prompt read, as before issue 14);
2. **first**: the first question as the app asks it (checkpoints named; nothing of this
   article is held yet), its answer generated (``--answer-tokens``) for the follow-up;
3. **follow-up**: the follow-up as the app asks it: the instructions and passages are
   held, only the earlier turn and the new question are read;
4. **follow-up, cold**: the same prompt with the state dropped: the baseline.

TTFT is from the ``stream`` call to the first non-empty piece of text; the ratios are
medians of per-round ratios. Targets: follow-up / first <= 0.5. "same first words" counts
rounds where the warm and cold follow-ups began with the same text (reuse must not
change answers).

    python bench/prefix.py                       # SmolLM2, llama_cpp, 5 rounds
    python bench/prefix.py --runtime ctransformers
    python bench/prefix.py --model /work/i14-data/llama-2-7b-shapes.Q4_0.gguf --rounds 2
"""

from __future__ import annotations

import random
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from _common import (
    base_parser,
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

SEED = 14
FIRST_WORDS = 8  # pieces compared between the warm and the cold follow-up


@dataclass(slots=True)
class Round:
    prompt_tokens: int
    follow_up_tokens: int
    first_cold: float
    first: float
    follow_up: float
    follow_up_cold: float
    same_start: bool


def timed_stream(
    runtime: Any, prompt: str, prefixes: Sequence[str], max_tokens: int
) -> tuple[float, str]:
    """(seconds to the first non-empty piece, the text of the first ``max_tokens``)."""
    started = time.perf_counter()
    first: float | None = None
    pieces = []
    stream = runtime.stream(prompt, max_tokens=max_tokens, temperature=0, prefixes=prefixes)
    for piece in stream:
        if piece and first is None:
            first = time.perf_counter() - started
        pieces.append(piece)
    return (float("nan") if first is None else first), "".join(pieces)


def pairs(qs: list[Question], articles: set[str], rounds: int) -> list[tuple[str, str]]:
    """Seeded pairs of questions about one article (a question and its follow-up)."""
    by_article: dict[str, list[str]] = {}
    for q in qs:
        for a in q.articles & articles:
            by_article.setdefault(a, []).append(q.text)
    rng = random.Random(SEED)
    chosen = []
    for number in range(rounds):
        texts = by_article[sorted(by_article)[number % len(by_article)]]
        chosen.append(tuple(rng.sample(texts, 2)))
    return [(a, b) for a, b in chosen]


def one_round(
    parts: Any, collection: str, first_q: str, follow_q: str, answer_tokens: int
) -> Round:
    from desk_assistant.rag.answer import Answerer, AnswerSettings
    from desk_assistant.rag.prompt import shared_prefixes, system_message, user_message
    from desk_assistant.rag.search import retrieve

    runtime, fmt, config = parts.runtime, parts.chat_format, parts.settings
    settings = AnswerSettings(
        max_answer_tokens=config.max_answer_tokens,
        context_budget=config.context_budget,
        strict_grounding=False,  # every round packs passages, relevant or not
    )
    answerer = Answerer(runtime, fmt, settings, parts.embedder)
    composed = answerer.compose(first_q, retrieve(parts, first_q, collection, config.top_k))
    packed, prompt, prefixes = composed.packed, composed.prompt, composed.prefixes
    first_cold, _ = timed_stream(runtime, prompt, [], 1)
    first, answer = timed_stream(runtime, prompt, prefixes, answer_tokens)
    system = system_message(packed)
    history = [(user_message(first_q), answer.strip())]
    follow = fmt.render(system, user_message(follow_q), history)
    follow_prefixes = [p for p in shared_prefixes(fmt, system, history) if follow.startswith(p)]
    follow_up, warm_text = timed_stream(runtime, follow, follow_prefixes, FIRST_WORDS)
    follow_up_cold, cold_text = timed_stream(runtime, follow, [], FIRST_WORDS)
    count = len(runtime.tokenize(prompt)), len(runtime.tokenize(follow))
    return Round(*count, first_cold, first, follow_up, follow_up_cold, warm_text == cold_text)


def main() -> None:
    parser = base_parser(__doc__)
    parser.add_argument("--home", type=Path, help="data folder holding the wikiqa articles")
    parser.add_argument("--model", type=Path, help="GGUF file (default: the built-in model)")
    parser.add_argument("--runtime", default="llama_cpp", choices=["llama_cpp", "ctransformers"])
    parser.add_argument("--threads", type=int, help="LLM threads (default: the engine's)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--answer-tokens", type=int, default=48)
    args = parser.parse_args()
    rounds = 2 if args.quick else args.rounds
    files, articles = corpus_files(3)
    overrides: dict[str, Any] = {"runtime": args.runtime, "threads": args.threads}
    if args.model:
        overrides["model_path"] = args.model
    with (
        temp_dir("prefix") as scratch,
        open_engine(args.home or scratch, **overrides) as (assistant, parts),
    ):
        collection = parts.settings.collection
        run_ingest(assistant, files, collection)
        log(f"loading {parts.model_name()} ({args.runtime})")
        parts.runtime  # noqa: B018 - loaded before the clock starts
        results = []
        for first_q, follow_q in pairs(questions(), articles, rounds):
            results.append(one_round(parts, collection, first_q, follow_q, args.answer_tokens))
            log(f"  {results[-1]}")
        model = parts.model_name()
    rows = [
        ["first question, cold (whole prompt read)", "first_cold"],
        ["first question (app)", "first"],
        ["follow-up (app: prefix reused)", "follow_up"],
        ["follow-up, cold (baseline)", "follow_up_cold"],
    ]

    def column(name: str) -> list[float]:
        return [getattr(r, name) for r in results]

    print_table(
        f"Time to first token, {model} via {args.runtime} ({len(results)} rounds)",
        ["prompt", "median TTFT s"],
        [[label, f"{median(column(name)):.3f}"] for label, name in rows],
    )
    ratios = {
        "follow-up / first (target <= 0.5)": [ratio(r.follow_up, r.first) for r in results],
        "follow-up / follow-up cold": [ratio(r.follow_up, r.follow_up_cold) for r in results],
        "first / first cold": [ratio(r.first, r.first_cold) for r in results],
    }
    print_table(
        "Ratios (medians of per-round ratios)",
        ["ratio", "median", "met?"],
        [
            [
                name,
                f"{median(values):.2f}",
                ("yes" if median(values) <= 0.5 else "no") if "target" in name else "",
            ]
            for name, values in ratios.items()
        ],
    )
    print(
        f"median prompt tokens: first {median(column('prompt_tokens')):.0f}, "
        f"follow-up {median(column('follow_up_tokens')):.0f}; "
        f"same first words warm and cold: {sum(r.same_start for r in results)}/{len(results)}"
    )
    write_results(
        "prefix",
        {
            "model": model,
            "runtime": args.runtime,
            "rounds": [asdict(r) for r in results],
            "ratios": {k: median(v) for k, v in ratios.items()},
        },
        args.out,
    )


if __name__ == "__main__":
    main()
