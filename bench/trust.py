"""Trust on wikiqa with the built-in model: flagged sentences and the evidence quote.

What runs: half of the wikiqa articles are ingested (the seeded split of
``abstention.py``). A seeded sample of ``--answerable`` questions about the ingested half
and ``--unanswerable`` questions about the held-out half (same kind of question, only
the article is missing: retrieval-based abstention lets most of them through, and the
model then invents an answer) are asked through ``Assistant.ask`` with the bundled
SmolLM2-135M, default settings. The passages each answer was given are recorded (the
engine's packing step is wrapped to note them), so that ``--rescore FILE`` can judge
saved answers again with the current code, without the model.

Tables:

* **Support check**: an answer is *flagged* when at least one of its sentences is judged
  unsupported. For each threshold on the support score (``min_support``): *caught* =
  share of the answerable questions' answers that do not contain a reference answer
  and are flagged; *false alarms* = share of those that do contain one and are flagged;
  *held-out flagged* = share of the answers to unanswerable questions that are flagged.
  "Contains a reference answer" is ``wikiqa.py``'s crude test (yes/no references must
  open the answer, others must appear in it). Target: >= 60 % caught at <= 15 % false
  alarms.
* **Evidence quote**: how often the quote shown with the answer (the source sentence,
  or two, that best answers the question) contains a reference answer, next to how
  often the model's answer does; over the answered questions, and over those whose
  reference is not yes/no (a quote is the document's words, it never says "yes").
  Target: the quote at least 5x as often.

    python bench/trust.py                          # 320 + 60 questions (hours on 2 cores)
    python bench/trust.py --quick                  # 30 + 10
    python bench/trust.py --rescore bench/results/trust-answers.jsonl
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from unittest import mock

from _common import (
    RESULTS,
    base_parser,
    log,
    open_engine,
    print_table,
    run_ingest,
    temp_dir,
    write_results,
)
from _wikiqa import Question, half_split, questions
from wikiqa import contains_answer, reference_answers

COLLECTION = "half"
SEED = 7
THRESHOLDS = (0.3, 0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7)
YES_NO = {"yes", "no"}


def _is_yes_no(references: list[str]) -> bool:
    return any(r.lower().strip(" .!") in YES_NO for r in references)


@contextmanager
def recording_packs() -> Iterator[list[Any]]:
    """Note the passages the answer path packs into each prompt (the last call's)."""
    import desk_assistant.rag.answer as answering
    from desk_assistant.rag.packing import pack

    packed: list[Any] = []

    def record(*args: Any, **kwargs: Any) -> Any:
        packed[:] = [pack(*args, **kwargs)]
        return packed[0]

    with mock.patch.object(answering, "pack", side_effect=record):
        yield packed


def split() -> tuple[list[Path], list[Question], list[Question]]:
    """The ingested half's files, and the answerable and unanswerable questions, shuffled."""
    kept, files = half_split()
    asked = questions()
    rng = random.Random(SEED)
    good = [q for q in asked if q.articles <= kept]
    bad = [q for q in asked if not q.articles & kept]
    return files, rng.sample(good, len(good)), rng.sample(bad, len(bad))


def ask_all(assistant: Any, out: Path, sample: list[tuple[str, Question]]) -> list[dict[str, Any]]:
    """Ask the sample; one JSON line per answer in ``out`` (kept if the run is cut off)."""
    from desk_assistant.records import Answer

    references = reference_answers([q for _, q in sample])
    records = []
    with recording_packs() as packed, out.open("w", encoding="utf-8") as lines:
        for number, (kind, q) in enumerate(sample, start=1):
            packed.clear()
            items = assistant.ask(q.text, COLLECTION)
            answer = next(a for a in items if isinstance(a, Answer))
            passages = packed[0] if packed else []
            shown = {
                c.n: p.n
                for c in answer.citations
                for p in passages
                if (p.passage.path, p.passage.start, p.passage.page) == (c.path, c.start, c.page)
            }
            record = {
                "kind": kind,
                "question": q.text,
                "refs": references.get(q.text, []),
                "answer": answer.text,
                "grounded": answer.grounded,
                "shown": shown,
                "passages": [
                    {"n": p.n, "path": p.passage.path, "page": p.passage.page, "text": p.text}
                    for p in passages
                ],
                "result": answer.to_json(),
            }
            lines.write(json.dumps(record) + "\n")
            lines.flush()
            records.append(record)
            seconds = answer.timings.get("total_s", 0.0)
            log(f"  {number}/{len(sample)} {kind} {seconds:.1f} s")
    return records


def quotes_only(parts: Any, asked: list[Question]) -> list[list[object]]:
    """The evidence quote of many answerable questions, as the answer path picks it
    (retrieval, abstention, packing, quote), without generating: its rate on a larger
    sample than the model can answer in reasonable time."""
    from desk_assistant.rag.answer import Answerer, AnswerSettings, abstention
    from desk_assistant.rag.search import retrieve

    settings = AnswerSettings.of(parts.settings)
    answerer = Answerer(parts.runtime, parts.chat_format, settings, parts.embedder)
    references = reference_answers(asked)
    contains: list[bool] = []
    factual: list[bool] = []
    for q in asked:
        retrieved = retrieve(parts, q.text, COLLECTION, parts.settings.top_k)
        if abstention(q.text, retrieved, settings, "", {}) is not None:
            continue
        pick = answerer.prepare(q.text, retrieved).pick
        refs = references.get(q.text, [])
        found = pick is not None and contains_answer(
            pick.text, [r for r in refs if r.lower().strip(" .!") not in YES_NO]
        )
        contains.append(found)
        if not _is_yes_no(refs):
            factual.append(found)
    return [
        [f"answerable, not refused ({len(contains)}), no generation", share(contains), ""],
        [f"... reference not yes/no ({len(factual)})", share(factual), ""],
    ]


def rescore(records: list[dict[str, Any]], parts: Any) -> list[dict[str, Any]]:
    """Judge saved answers again with the current support check and evidence quote."""
    from desk_assistant.rag import support
    from desk_assistant.rag.evidence import best_quote
    from desk_assistant.rag.grounding import Sources
    from desk_assistant.rag.packing import PackedPassage
    from desk_assistant.records import Passage

    embedder = parts.embedder
    for record in records:
        if not record["grounded"] or not record["passages"]:
            continue
        packed = [
            PackedPassage(
                p["n"],
                Passage(str(p["n"]), p["path"], p["page"], None, 0, 0, p["text"], 1.0),
                p["text"],
            )
            for p in record["passages"]
        ]
        sources = Sources(packed, embedder)
        shown = {int(k): v for k, v in record.get("shown", {}).items()}
        checks = support.check(record["answer"], sources, shown, 0.0)
        pick = best_quote(record["question"], embedder.embed_query(record["question"]), sources)
        record["result"] = {
            "sentences": [{"score": c.score, "missing": list(c.missing)} for c in checks],
            "evidence": [{"text": pick.text}] if pick else [],
        }
    return records


def flagged(record: dict[str, Any], threshold: float) -> bool:
    sentences = record["result"].get("sentences", [])
    return any(s["missing"] or s["score"] < threshold for s in sentences)


def share(flags: list[bool]) -> str:
    return f"{sum(flags) / len(flags):.2f} ({sum(flags)}/{len(flags)})" if flags else "n/a"


def tables(records: list[dict[str, Any]], more_quotes: list[list[object]]) -> dict[str, Any]:
    answered = [r for r in records if r["grounded"] and r["passages"]]
    good = [r for r in answered if r["kind"] == "answerable"]
    bad = [r for r in answered if r["kind"] == "unanswerable"]
    right = [r for r in good if contains_answer(r["answer"], r["refs"])]
    wrong = [r for r in good if not contains_answer(r["answer"], r["refs"])]
    curve = [
        [
            threshold,
            share([flagged(r, threshold) for r in wrong]),
            share([flagged(r, threshold) for r in right]),
            share([flagged(r, threshold) for r in bad]),
        ]
        for threshold in THRESHOLDS
    ]
    print_table(
        f"Support check on wikiqa, SmolLM2-135M ({len(good)} answerable questions answered: "
        f"{len(right)} answers contain a reference answer, {len(wrong)} do not; "
        f"{len(bad)} held-out questions answered; "
        f"{sum(not (r['grounded'] and r['passages']) for r in records)} refused)",
        ["min_support", "caught (no reference)", "false alarms (reference)", "held-out flagged"],
        curve,
    )

    def quote_has(r: dict[str, Any]) -> bool:
        quotes = r["result"].get("evidence", [])
        refs = [x for x in r["refs"] if x.lower().strip(" .!") not in YES_NO]
        return bool(quotes) and contains_answer(quotes[0]["text"], refs)

    factual = [r for r in good if not _is_yes_no(r["refs"])]
    rows: list[list[object]] = [
        [
            f"answerable, answered ({len(good)})",
            share([quote_has(r) for r in good]),
            share([contains_answer(r["answer"], r["refs"]) for r in good]),
        ],
        [
            f"... reference not yes/no ({len(factual)})",
            share([quote_has(r) for r in factual]),
            share([contains_answer(r["answer"], r["refs"]) for r in factual]),
        ],
        *more_quotes,
    ]
    print_table(
        "Evidence quote vs the model's answer: contains a reference answer",
        ["questions", "top quote", "model's answer"],
        rows,
    )
    return {"curve": curve, "evidence": rows}


def main() -> None:
    parser = base_parser(__doc__)
    parser.add_argument("--answerable", type=int, help="questions about ingested articles (320)")
    parser.add_argument("--unanswerable", type=int, help="questions about held-out ones (60)")
    parser.add_argument("--home", type=Path, help="reuse this data folder between runs")
    parser.add_argument("--rescore", type=Path, help="judge the answers saved in this file again")
    parser.add_argument("--quotes", type=int, help="answerable questions for the quote (1000)")
    args = parser.parse_args()
    files, good, bad = split()
    n_good = args.answerable or (30 if args.quick else 320)
    n_bad = args.unanswerable or (10 if args.quick else 60)
    n_quotes = args.quotes if args.quotes is not None else (100 if args.quick else 1000)
    with temp_dir("trust") as tmp, open_engine(args.home or tmp / "home") as (assistant, parts):
        log(f"trust.py: ingesting {len(files)} files of the kept half ...")
        log(f"  {run_ingest(assistant, files, COLLECTION).counts}")
        if args.rescore:
            lines = args.rescore.read_text(encoding="utf-8").splitlines()
            records = rescore([json.loads(line) for line in lines if line.strip()], parts)
        else:
            RESULTS.mkdir(parents=True, exist_ok=True)
            sample = [("answerable", q) for q in good[:n_good]]
            sample += [("unanswerable", q) for q in bad[:n_bad]]
            records = ask_all(assistant, RESULTS / "trust-answers.jsonl", sample)
        more_quotes = quotes_only(parts, good[:n_quotes]) if n_quotes else []
    figures = tables(records, more_quotes)
    log(f"results: {write_results('trust', figures, args.out)}")


if __name__ == "__main__":
    main()
