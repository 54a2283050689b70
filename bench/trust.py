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
  alarms. The built-in model's answers rarely contain the reference (a few in a hundred),
  so false alarms are also measured where they can be counted in hundreds: the reference
  answers people wrote as sentences (4 words or more; correct by definition), judged
  against the passages the answer path packs for their question, for the questions
  whose passages hold a reference answer (``--without-model N`` questions, no
  generation).
* **Evidence quote**: how often the quote shown with the answer (the source sentence,
  or two, that best answers the question) contains a reference answer, next to how
  often the model's answer does; over the answered questions, and over those whose
  reference is not yes/no (a quote is the document's words, it never says "yes").
  Target: the quote at least 5x as often. The quote's rate is also given over
  ``--without-model`` questions (it needs no generation).

    python bench/trust.py                          # 320 + 60 questions (hours on 2 cores)
    python bench/trust.py --quick                  # 30 + 10
    python bench/trust.py --rescore bench/results/trust-answers.jsonl
    # in wikiqa.py's collection of all 150 articles (no ingest; every question answerable)
    python bench/trust.py --home H --collection wikiqa --answerable 400 --answers A.jsonl
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
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
REFERENCE_WORDS = 4  # people's reference answers this long are sentences to judge
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


def ask_all(
    assistant: Any, out: Path, sample: list[tuple[str, Question]], collection: str
) -> list[dict[str, Any]]:
    """Ask the sample; one JSON line per answer in ``out`` (kept if the run is cut off)."""
    from desk_assistant.records import Answer

    references = reference_answers([q for _, q in sample])
    records = []
    with recording_packs() as packed, out.open("w", encoding="utf-8") as lines:
        for number, (kind, q) in enumerate(sample, start=1):
            packed.clear()
            items = assistant.ask(q.text, collection)
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


@dataclass(slots=True)
class WithoutModel:
    """What the answer path gives before the model runs, on many questions: whether the
    quote contains a reference answer, and the support check of people's own reference
    sentences (correct by definition) against the passages that hold their answer."""

    quotes: list[bool] = field(default_factory=list)
    factual_quotes: list[bool] = field(default_factory=list)
    # per not-yes/no question: whether its packed passages hold a reference answer (the
    # quote, a sentence of them, can hold it only then)
    factual_held: list[bool] = field(default_factory=list)
    references: list[dict[str, Any]] = field(default_factory=list)  # {"sentences": [...]}


def without_model(parts: Any, asked: list[Question], collection: str) -> WithoutModel:
    from desk_assistant.rag import support
    from desk_assistant.rag.answer import Answerer, AnswerSettings, abstention
    from desk_assistant.rag.search import retrieve

    settings = AnswerSettings.of(parts.settings)
    answerer = Answerer(parts.runtime, parts.chat_format, settings, parts.embedder)
    references = reference_answers(asked)
    found = WithoutModel()
    for q in asked:
        retrieved = retrieve(parts, q.text, collection, parts.settings.top_k)
        if abstention(q.text, retrieved, settings, "", {}) is not None:
            continue
        prepared = answerer.prepare(q.text, retrieved)
        refs = [r for r in references.get(q.text, []) if r.lower().strip(" .!") not in YES_NO]
        quoted = prepared.pick is not None and contains_answer(prepared.pick.text, refs)
        found.quotes.append(quoted)
        held = contains_answer(" ".join(p.text for p in prepared.packed), refs)
        if not _is_yes_no(references.get(q.text, [])):
            found.factual_quotes.append(quoted)
            found.factual_held.append(held)
        if not held:
            continue  # the passages do not hold the answer: a flag would be right
        for sentence in (r for r in refs if len(r.split()) >= REFERENCE_WORDS):
            checks = support.check(sentence, prepared.sources, {}, 0.0, q.text)
            judged = [{"score": c.score, "missing": list(c.missing)} for c in checks]
            found.references.append({"result": {"sentences": judged}})
    return found


def rescore(records: list[dict[str, Any]], parts: Any, collection: str) -> list[dict[str, Any]]:
    """Judge saved answers again with the current support check and evidence quote (the
    quote weighs the question's terms by their IDF in ``collection``)."""
    from desk_assistant.rag import support
    from desk_assistant.rag.evidence import best_quote
    from desk_assistant.rag.grounding import Sources
    from desk_assistant.rag.packing import PackedPassage
    from desk_assistant.records import Passage

    embedder = parts.embedder
    retriever = parts.retriever(collection)
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
        checks = support.check(record["answer"], sources, shown, 0.0, record["question"])
        question = record["question"]
        weights = retriever.term_weights(question)
        pick = best_quote(question, embedder.embed_query(question), sources, weights)
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


def tables(records: list[dict[str, Any]], extra: WithoutModel) -> dict[str, Any]:
    answered = [r for r in records if r["grounded"] and r["passages"]]
    good = [r for r in answered if r["kind"] == "answerable"]
    bad = [r for r in answered if r["kind"] == "unanswerable"]
    right = [r for r in good if contains_answer(r["answer"], r["refs"])]
    wrong = [r for r in good if not contains_answer(r["answer"], r["refs"])]
    people = extra.references
    curve = [
        [
            threshold,
            share([flagged(r, threshold) for r in wrong]),
            share([flagged(r, threshold) for r in right]),
            share([flagged(r, threshold) for r in people]),
            share([flagged(r, threshold) for r in bad]),
        ]
        for threshold in THRESHOLDS
    ]
    print_table(
        f"Support check on wikiqa, SmolLM2-135M ({len(good)} answerable questions answered: "
        f"{len(right)} answers contain a reference answer, {len(wrong)} do not; "
        f"{len(bad)} held-out questions answered; "
        f"{sum(not (r['grounded'] and r['passages']) for r in records)} refused; "
        f"{len(people)} reference answers of {REFERENCE_WORDS}+ words written by people)",
        [
            "min_support",
            "caught: model's answers without the reference",
            "false alarms: model's answers with it",
            "false alarms: people's reference sentences",
            "held-out answers flagged",
        ],
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
        [f"answerable, not refused ({len(extra.quotes)}), no generation", share(extra.quotes), ""],
        [
            f"... reference not yes/no ({len(extra.factual_quotes)})",
            share(extra.factual_quotes),
            "",
        ],
        [
            f"... and the packed passages hold it ({sum(extra.factual_held)}): the ceiling "
            f"{share(extra.factual_held)}",
            share([q for q, h in zip(extra.factual_quotes, extra.factual_held, strict=True) if h]),
            "",
        ],
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
    parser.add_argument(
        "--collection",
        help="ask in this collection of --home as it is (e.g. wikiqa.py's, all 150 articles: "
        "every question is then answerable) instead of ingesting the kept half",
    )
    parser.add_argument("--answers", type=Path, help="save the answers here (JSON lines)")
    parser.add_argument(
        "--without-model", type=int, help="answerable questions judged without generating (1000)"
    )
    args = parser.parse_args()
    files, good, bad = split()
    if args.collection:  # every article is there: every question is answerable
        good, bad = good + bad, []
    n_good = args.answerable or (30 if args.quick else 320)
    n_bad = args.unanswerable if args.unanswerable is not None else (10 if args.quick else 60)
    n_quotes = (
        args.without_model if args.without_model is not None else (100 if args.quick else 1000)
    )
    with temp_dir("trust") as tmp, open_engine(args.home or tmp / "home") as (assistant, parts):
        collection = args.collection or COLLECTION
        if not args.collection:
            log(f"trust.py: ingesting {len(files)} files of the kept half ...")
            log(f"  {run_ingest(assistant, files, COLLECTION).counts}")
        if args.rescore:
            lines = args.rescore.read_text(encoding="utf-8").splitlines()
            saved = [json.loads(line) for line in lines if line.strip()]
            records = rescore(saved, parts, collection)
        else:
            sample = [("answerable", q) for q in good[:n_good]]
            sample += [("unanswerable", q) for q in bad[:n_bad]]
            answers = args.answers or RESULTS / "trust-answers.jsonl"
            answers.parent.mkdir(parents=True, exist_ok=True)
            records = ask_all(assistant, answers, sample, collection)
        extra = without_model(parts, good[:n_quotes], collection)
    figures = tables(records, extra)
    log(f"results: {write_results('trust', figures, args.out)}")


if __name__ == "__main__":
    main()
