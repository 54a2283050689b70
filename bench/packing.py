"""Answer recall of the packed prompt against its tokens, on wikiqa, with no LLM in the loop.

What runs: the 150 wikiqa articles are ingested (or ``--home`` reuses a data folder that
holds them). The questions are wikiqa's answerable ones whose reference answer is a
string, not yes/no, that appears in the article's text (951 records, de-duplicated by
question). Each is retrieved once, as ``ask`` retrieves (hybrid, ``top_k`` passages),
then packed by the engine's own ``Answerer.compose`` — relevance floor, merging,
packing, the prompt rendered in the built-in model's format and counted with its
tokenizer; what ``ask`` does before the model runs, less the evidence quote, which is
not in the prompt — under each variant: whole passages (the packer before issue 14) and
sentence selection, at several budgets.

How to read it: *recall* is the share of questions whose reference answer (words
lower-cased, punctuation ignored) appears in the passages actually sent; *prompt
tokens* is the whole prompt (instructions, passages, question, template), median and
mean over the questions that were not refused. The baseline is the old default (whole
passages, budget 1,200), measured in the same run; the targets are median prompt
tokens <= 0.5 x the baseline's at recall >= the baseline's - 0.02.

    python bench/packing.py                    # every question, every variant
    python bench/packing.py --quick            # 200 questions
    python bench/packing.py --home DIR         # reuse (or fill) a data folder
    python bench/packing.py --split held-out   # only the questions not used for tuning

``--split`` halves the questions by a hash of their text: the selection's constants
were tuned on ``tune`` and are reported on ``held-out`` (``--quick`` then samples 200
of that half).
"""

from __future__ import annotations

import hashlib
import json
import random
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from _common import (
    base_parser,
    fmt_count,
    log,
    median,
    open_engine,
    print_table,
    ratio,
    run_ingest,
    temp_dir,
    wikiqa_articles,
    wikiqa_dir,
    write_results,
)

BASELINE = ("whole", 1200)
WHOLE_BUDGETS = (300, 540, 900, 1200)
SENTENCE_BUDGETS = (300, 400, 540, 700, 900, 1200)
QUICK_QUESTIONS = 200


@dataclass(frozen=True, slots=True)
class Item:
    question: str
    answers: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Row:
    packer: str
    budget: int
    recall: float
    median_tokens: float
    mean_tokens: float
    answered: int


def words(text: str) -> str:
    return " " + " ".join(re.findall(r"\w+", text.lower())) + " "


def _is_yes_no(answer: str) -> bool:
    return words(answer).strip() in {"yes", "no", "null", "none", ""}


def items() -> list[Item]:
    """Questions whose reference answer is a string found in their article's text."""
    folder = wikiqa_dir()
    lines = (folder / "corpus.jsonl").read_text(encoding="utf-8").splitlines()
    articles = {r["_id"]: words(r["text"]) for r in map(json.loads, lines) if r}
    found: dict[str, set[str]] = {}
    for line in (folder / "qa.jsonl").read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        text = articles.get(record["article"], "")
        answers = {a for a in record["answers"] if not _is_yes_no(a) and words(a).strip() in text}
        if answers:
            question = " ".join(str(record["question"]).split())
            found.setdefault(question, set()).update(answers)
    return [Item(q, tuple(sorted(a))) for q, a in sorted(found.items())]


def in_split(item: Item, split: str) -> bool:
    """Whether ``item`` belongs to ``split``: a stable half of the questions by hash."""
    half = int(hashlib.sha256(item.question.encode()).hexdigest(), 16) % 2
    return split == "all" or half == (split == "held-out")


def recalled(packed_texts: Sequence[str], answers: Sequence[str]) -> bool:
    sent = words(" ".join(packed_texts))
    return any(words(a) in sent for a in answers)


def measure(parts: Any, collection: str, sample: list[Item]) -> list[Row]:
    from desk_assistant.rag.answer import Answerer, AnswerSettings, is_relevant
    from desk_assistant.rag.search import retrieve

    config = parts.settings
    base = AnswerSettings(
        max_answer_tokens=config.max_answer_tokens,
        strict_grounding=config.strict_grounding,
        min_relevance=config.min_relevance,
    )
    log(f"retrieving {len(sample)} questions")
    results = [retrieve(parts, item.question, collection, config.top_k) for item in sample]
    variants = [("whole", b) for b in WHOLE_BUDGETS] + [("sentences", b) for b in SENTENCE_BUDGETS]
    rows = []
    for packer, budget in variants:
        settings = replace(base, context_budget=budget, sentence_selection=packer == "sentences")
        answerer = Answerer(parts.runtime, parts.chat_format, settings, parts.embedder)
        hits, tokens = 0, []
        for item, result in zip(sample, results, strict=True):
            if settings.strict_grounding and not is_relevant(result, settings.min_relevance):
                continue  # refused before packing: a miss for every variant alike
            composed = answerer.compose(item.question, result)
            tokens.append(len(parts.runtime.tokenize(composed.prompt)))
            hits += recalled([p.text for p in composed.packed], item.answers)
        row = Row(
            packer,
            budget,
            hits / len(sample),
            median(tokens),
            sum(tokens) / len(tokens),
            len(tokens),
        )
        log(f"  {packer} {budget}: recall {row.recall:.3f}, median tokens {row.median_tokens}")
        rows.append(row)
    return rows


def main() -> None:
    parser = base_parser(__doc__)
    parser.add_argument("--home", type=Path, help="data folder holding the wikiqa articles")
    parser.add_argument(
        "--split", choices=("all", "tune", "held-out"), default="all", help="half of the questions"
    )
    args = parser.parse_args()
    sample = [item for item in items() if in_split(item, args.split)]
    if args.quick:
        sample = random.Random(14).sample(sample, QUICK_QUESTIONS)
    with temp_dir("packing") as scratch:
        home = args.home or scratch
        with open_engine(home) as (assistant, parts):
            collection = parts.settings.collection
            log("ingesting the wikiqa articles (unchanged ones are skipped)")
            run_ingest(assistant, wikiqa_articles(), collection)
            rows = measure(parts, collection, sample)
    baseline = next(r for r in rows if (r.packer, r.budget) == BASELINE)
    default = parts.settings.context_budget
    print_table(
        f"Answer recall of the packed prompt, wikiqa ({len(sample)} questions, {args.split})",
        ["packer", "budget", "recall", "median prompt tokens", "mean", "vs baseline tokens"],
        [
            [
                r.packer
                + (" (default)" if r.packer == "sentences" and r.budget == default else ""),
                r.budget,
                f"{r.recall:.3f}",
                fmt_count(r.median_tokens),
                f"{r.mean_tokens:.0f}",
                f"{ratio(r.median_tokens, baseline.median_tokens):.2f}",
            ]
            for r in rows
        ],
    )
    write_results(
        "packing",
        {"questions": len(sample), "split": args.split, "rows": [asdict(r) for r in rows]},
        args.out,
    )


if __name__ == "__main__":
    main()
