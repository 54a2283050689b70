"""Retrieval and answer sanity on wikiqa: do search and ask find the question's article?

What runs: the 150 wikiqa HTML articles are ingested (read in place from the eval
folder) into a temporary home, or into ``--home DIR``, which is kept and re-used (a
second run then skips the unchanged files). Files map to wikiqa article ids as
described in ``_wikiqa.py``; several articles exist in 2-3 files, and a passage from
any file of the question's article counts as relevant (article-level, as in qrels.tsv).

* Retrieval, every answerable question (answers not NULL/empty; identical question
  texts merged): ``Assistant.search(question, k=10)`` (hybrid dense + BM25, the engine's
  default). hit@1 / hit@5: a passage of the relevant article is ranked first / in the
  top 5; MRR@10: mean of 1/rank of the first relevant passage (0 if none in the top 10).
  Latency: wall time of each ``search`` call after one warm-up query (p50/p95).
* Answers, a seeded random sample (``--ask N``, default 40): the full ``Assistant.ask``
  with the bundled SmolLM2-135M model (loaded once, before timing). Reported: the share
  whose citations include the relevant article (over all sampled questions, and over
  those answered), the grounded share (answered from passages) and the abstained share
  ("not in your documents"), the median seconds per answer (``timings["total_s"]``:
  retrieval + prompt + generation), and - crude, for orientation only - the share whose
  answer text contains one of the reference answers (yes/no: the answer starts with it).

    python bench/wikiqa.py                       # 150 articles, all questions, ask 40
    python bench/wikiqa.py --quick               # 30 articles, their questions, ask 10
    python bench/wikiqa.py --home /tmp/wq --ask 100
"""

from __future__ import annotations

import contextlib
import json
import random
import re
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path
from typing import Any

from _common import (
    base_parser,
    log,
    median,
    open_engine,
    percentile,
    print_table,
    run_ingest,
    temp_dir,
    timed,
    wikiqa_articles,
    wikiqa_dir,
    write_results,
)
from _wikiqa import Question, article_of_files, article_of_path, questions

COLLECTION = "wikiqa"
SEED = 20240601
QUICK_FILES = 30
K = 10


@dataclass(slots=True)
class SearchResult:
    question: str
    rank: int | None  # 1-based rank of the first relevant passage within K
    seconds: float
    difficulty: str


@dataclass(slots=True)
class AskResult:
    question: str
    cited_relevant: bool
    grounded: bool
    seconds: float
    contains_answer: bool
    answer: str
    cited: list[str]


@contextlib.contextmanager
def home_dir(given: Path | None) -> Iterator[Path]:
    if given is not None:
        given.mkdir(parents=True, exist_ok=True)
        yield given
        return
    with temp_dir("wikiqa-home") as home:
        yield home


def corpus(quick: bool) -> list[Path]:
    files = wikiqa_articles()
    return files[:: max(1, len(files) // QUICK_FILES)][:QUICK_FILES] if quick else files


def first_relevant(paths: Sequence[str], q: Question, mapping: dict[str, str]) -> int | None:
    for rank, path in enumerate(paths, start=1):
        if article_of_path(path, mapping) in q.articles:
            return rank
    return None


def evaluate_search(
    assistant: Any, qs: list[Question], mapping: dict[str, str]
) -> list[SearchResult]:
    assistant.search(qs[0].text, COLLECTION, k=K)  # warm-up: model, indexes, caches
    results = []
    for number, q in enumerate(qs, start=1):
        passages, seconds = timed(partial(assistant.search, q.text, COLLECTION, k=K))
        rank = first_relevant([p.path for p in passages], q, mapping)
        results.append(SearchResult(q.text, rank, seconds, q.difficulty))
        if number % 250 == 0:
            log(f"  searched {number}/{len(qs)}")
    return results


def reference_answers(qs: list[Question]) -> dict[str, list[str]]:
    """Question text -> its reference answers (from qa.jsonl)."""
    wanted = {q.text for q in qs}
    found: dict[str, list[str]] = {}
    for line in (wikiqa_dir() / "qa.jsonl").read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        text = " ".join(str(record["question"]).split())
        if text in wanted:
            found.setdefault(text, []).extend(str(a) for a in record["answers"])
    return found


def _words(text: str) -> str:
    return " ".join(re.findall(r"\w+", text.lower()))


def contains_answer(answer: str, references: list[str]) -> bool:
    """Crude: yes/no references must open the answer; others must appear in it."""
    said = _words(answer)
    for reference in references:
        ref = _words(reference)
        if not ref or ref == "null":
            continue
        if ref in ("yes", "no"):
            if said.split(" ", 1)[0] == ref:
                return True
        elif ref in said:
            return True
    return False


def evaluate_ask(
    assistant: Any, sample: list[Question], mapping: dict[str, str]
) -> list[AskResult]:
    from desk_assistant.records import Answer

    references = reference_answers(sample)
    results = []
    for number, q in enumerate(sample, start=1):
        started = time.perf_counter()
        answer = next(a for a in assistant.ask(q.text, COLLECTION) if isinstance(a, Answer))
        seconds = answer.timings.get("total_s", time.perf_counter() - started)
        cited = sorted({article_of_path(c.path, mapping) or c.path for c in answer.citations})
        results.append(
            AskResult(
                q.text,
                bool(set(cited) & q.articles),
                answer.grounded,
                seconds,
                answer.grounded and contains_answer(answer.text, references.get(q.text, [])),
                answer.text,
                cited,
            )
        )
        log(f"  asked {number}/{len(sample)} ({seconds:.1f} s)")
    return results


def share(flags: Sequence[bool]) -> str:
    return f"{sum(flags) / len(flags):.3f} ({sum(flags)}/{len(flags)})" if flags else "n/a"


def search_rows(results: list[SearchResult]) -> list[list[object]]:
    ranks = [r.rank for r in results]
    seconds = [r.seconds for r in results]
    rows: list[list[object]] = [
        ["questions searched (answerable, de-duplicated)", len(results)],
        ["hit@1", share([r == 1 for r in ranks])],
        ["hit@5", share([r is not None and r <= 5 for r in ranks])],
        ["MRR@10", f"{sum(1 / r for r in ranks if r) / len(ranks):.3f}"],
    ]
    for level in ("easy", "medium", "hard"):
        subset = [r.rank for r in results if r.difficulty == level]
        rows.append(
            [
                f"  hit@5, questioner difficulty {level}",
                share([r is not None and r <= 5 for r in subset]),
            ]
        )
    rows.append(["search latency p50 ms", f"{percentile(seconds, 50) * 1000:.1f}"])
    rows.append(["search latency p95 ms", f"{percentile(seconds, 95) * 1000:.1f}"])
    return rows


def ask_rows(results: list[AskResult], load_s: float) -> list[list[object]]:
    answered = [r for r in results if r.grounded]
    return [
        ["ask: questions (seeded sample)", len(results)],
        [
            "ask: citations include the relevant article (all)",
            share([r.cited_relevant for r in results]),
        ],
        ["ask: ... among answered questions", share([r.cited_relevant for r in answered])],
        ["ask: grounded (answered from passages)", share([r.grounded for r in results])],
        ["ask: abstained (not in the documents)", share([not r.grounded for r in results])],
        [
            "ask: median s per answer (retrieval + generation)",
            f"{median([r.seconds for r in results]):.2f}",
        ],
        [
            "ask: answer contains a reference answer (crude)",
            share([r.contains_answer for r in results]),
        ],
        ["model load s (once, not in the above)", f"{load_s:.2f}"],
    ]


def main() -> None:
    parser = base_parser(__doc__)
    parser.add_argument("--ask", type=int, help="questions to ask the model (default 40, quick 10)")
    parser.add_argument("--home", type=Path, help="app home to use and keep (re-used if present)")
    parser.add_argument("--seed", type=int, default=SEED, help="seed of the ask sample")
    args = parser.parse_args()
    files = corpus(args.quick)
    mapping = article_of_files()
    present = {mapping[f.stem] for f in files if f.stem in mapping}
    qs = [q for q in questions() if q.articles & present]
    n_ask = args.ask if args.ask is not None else (10 if args.quick else 40)
    with home_dir(args.home) as home, open_engine(home) as (assistant, parts):
        log(f"wikiqa.py: ingesting {len(files)} articles ...")
        ingested = run_ingest(assistant, files, COLLECTION)
        log(f"  {ingested.counts} in {ingested.seconds:.1f} s; searching {len(qs)} questions ...")
        searched = evaluate_search(assistant, qs, mapping)
        _, load_s = timed(lambda: parts.runtime)
        sample = random.Random(args.seed).sample(qs, min(n_ask, len(qs)))
        asked = evaluate_ask(assistant, sample, mapping)
    rows: list[list[object]] = [
        ["articles ingested (files)", f"{len(present)} ({len(files)})"],
        ["ingest s (0 if --home was already current)", f"{ingested.seconds:.1f}"],
        *search_rows(searched),
        *ask_rows(asked, load_s),
    ]
    mode = "quick" if args.quick else "full"
    print_table(f"wikiqa retrieval and answer sanity ({mode})", ["metric", "value"], rows)
    data = {
        "mode": mode,
        "search": [asdict(r) for r in searched],
        "ask": [asdict(r) for r in asked],
    }
    log(f"results: {write_results('wikiqa', data, args.out)}")


if __name__ == "__main__":
    main()
