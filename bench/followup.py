"""Follow-up questions on wikiqa: is a question that leans on its chat still answered?

What runs: the 150 wikiqa HTML articles are ingested (as ``wikiqa.py`` does; ``--home``
keeps and re-uses the data folder). Follow-up pairs are built automatically from the
questions of each article: two questions that both name the article's subject (its
title, or a person's surname: "Abraham Lincoln", "Lincoln"); the first is asked as it
is, and in the second the subject (with its article, "the leopard") is replaced by a
pronoun - "his" before a noun, "he"/"she"/"it" (whichever the article uses most)
elsewhere: "When did Lincoln begin his political career?" becomes "When did he begin
his political career?". At most ``--per-article`` pairs per article (default 4).

For each pair, hit@5 of the second question (a passage of the article in the top 5 of
``Assistant.search``) is measured four ways:

* **standalone**: the original second question, subject named (the target's baseline);
* **follow-up alone**: the pronoun version, searched without the conversation (today's
  behaviour, a row of independent questions);
* **rule**: the query the engine's rule makes from the pronoun version and the first
  question (``followup_rewrite = "rule"``, the default);
* **model**: the query the built-in SmolLM2-135M rewrites (``followup_rewrite =
  "model"``), given the first question and its reference answer as the earlier turn;
  on a seeded sample of ``--model-pairs`` pairs (default 150; it generates).

Target: the follow-up's hit@5 within 5 points of the standalone question's.

``--half`` ingests only the half of the articles that ``trust.py`` and ``abstention.py``
keep (collection "half": their data folder can be re-used with ``--home``).

    python bench/followup.py
    python bench/followup.py --quick              # 30 articles, 40 model rewrites
    python bench/followup.py --home /tmp/wq       # keep the ingested articles
"""

from __future__ import annotations

import json
import random
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from _common import (
    base_parser,
    log,
    median,
    open_engine,
    print_table,
    run_ingest,
    timed,
    wikiqa_dir,
    write_results,
)
from _wikiqa import article_of_files, half_split, questions
from wikiqa import COLLECTION, corpus, first_relevant, home_dir, reference_answers, share

SEED = 20261201
K = 5
_PRONOUN_FOR = {"he": ("he", "him", "his"), "she": ("she", "her", "her"), "it": ("it", "it", "its")}


@dataclass(slots=True)
class Pair:
    article: str
    first: str
    standalone: str  # the second question as written
    followup: str  # the same with the subject replaced by a pronoun
    first_answer: str


@dataclass(slots=True)
class Outcome:
    pair: Pair
    rule_query: str
    model_query: str | None
    hits: dict[str, bool]


def subject_forms(article: str) -> list[str]:
    """How questions name the article's subject: the title, and a person's surname."""
    title = article.replace("_", " ")
    forms = [title]
    words = title.split()
    if len(words) > 1 and words[-1][:1].isupper() and "language" not in title.lower():
        forms.append(words[-1])
    return forms


def article_pronoun(text: str) -> str:
    """he, she or it: whichever of the three (with its forms) the article uses most."""
    words = Counter(re.findall(r"\b(he|his|him|she|her|it|its)\b", text.lower()))
    scores = {
        "he": words["he"] + words["his"] + words["him"],
        "she": words["she"] + words["her"],
        "it": words["it"] + words["its"],
    }
    return max(scores, key=scores.__getitem__)


def with_pronoun(question: str, forms: Sequence[str], pronoun: str) -> str | None:
    """The question with its first mention of the subject replaced by a pronoun, when
    that mention is a whole noun phrase ("the leopard", not "each leopard" or "Irving
    Berlin's piano"); None when no mention is."""
    subject, object_, possessive = _PRONOUN_FOR[pronoun]
    for form in forms:
        pattern = rf"\b(?:(?:the|a|an)\s+)?{re.escape(form)}(['’]s)?\b"
        for match in re.finditer(pattern, question, re.IGNORECASE):
            before = question[: match.start()].strip().split()
            previous = before[-1].lower() if before else ""
            if match.group(1):
                word = possessive
            elif previous in _SUBJECT_CONTEXT or not before:
                word = subject
            elif previous in _OBJECT_CONTEXT:
                word = object_
            else:
                continue
            if not before:
                word = word.capitalize()
            return question[: match.start()] + word + question[match.end() :]
    return None


# Words after which a noun phrase is the subject, or the object of a preposition.
_SUBJECT_CONTEXT = set(
    "what who when where why how which is was are were do does did can could would "
    "should has have had will and that if whether than".split()
)
_OBJECT_CONTEXT = set("of in to by for from about with on at as after before into".split())


def build_pairs(articles: set[str], per_article: int) -> list[Pair]:
    texts = {
        record["_id"]: record["text"]
        for record in map(json.loads, (wikiqa_dir() / "corpus.jsonl").open(encoding="utf-8"))
    }
    by_article: dict[str, list[str]] = {}
    for q in questions():
        if len(q.articles) == 1 and (article := next(iter(q.articles))) in articles:
            by_article.setdefault(article, []).append(q.text)
    answers = reference_answers([q for q in questions() if q.articles & articles])
    pairs = []
    for article, asked in sorted(by_article.items()):
        forms = subject_forms(article)
        pronoun = article_pronoun(texts.get(article, ""))
        naming = [
            q for q in asked if any(re.search(rf"\b{re.escape(f)}\b", q, re.I) for f in forms)
        ]
        made = 0
        for first, second in zip(naming[::2], naming[1::2], strict=False):
            followup = with_pronoun(second, forms, pronoun)
            if followup is None or made >= per_article:
                continue
            reply = next(iter(answers.get(first, [])), "")
            pairs.append(Pair(article, first, second, followup, reply))
            made += 1
    return pairs


def run_pairs(
    assistant: Any,
    collection: str,
    pairs: list[Pair],
    mapping: dict[str, str],
    rewrite: Callable[[Pair], str | None],
) -> list[Outcome]:
    from desk_assistant.rag.followup import Turn, rule_query

    outcomes = []
    for number, pair in enumerate(pairs, start=1):
        history = [Turn(pair.first, pair.first, pair.first_answer)]
        rule = rule_query(pair.followup, history)
        model = rewrite(pair)
        queries = {
            "standalone": pair.standalone,
            "follow-up alone": pair.followup,
            "rule": rule,
            **({"model": model} if model is not None else {}),
        }
        hits = {}
        for name, query in queries.items():
            paths = [p.path for p in assistant.search(query, collection, k=K)]
            hits[name] = first_relevant(paths, _question(pair), mapping) is not None
        outcomes.append(Outcome(pair, rule, model, hits))
        if number % 50 == 0:
            log(f"  {number}/{len(pairs)} pairs")
    return outcomes


def _question(pair: Pair) -> Any:
    from _wikiqa import Question

    return Question("", pair.standalone, frozenset({pair.article}), "")


def main() -> None:
    parser = base_parser(__doc__)
    parser.add_argument("--home", type=Path, help="app home to use and keep (re-used if present)")
    parser.add_argument("--per-article", type=int, default=4, help="pairs per article")
    parser.add_argument("--model-pairs", type=int, help="pairs rewritten by the model (150)")
    parser.add_argument(
        "--half", action="store_true", help="the half of the articles trust.py uses"
    )
    args = parser.parse_args()
    files = half_split()[1] if args.half else corpus(args.quick)
    collection = "half" if args.half else COLLECTION
    mapping = article_of_files()
    present = {mapping[f.stem] for f in files if f.stem in mapping}
    pairs = build_pairs(present, args.per_article)
    n_model = args.model_pairs if args.model_pairs is not None else (40 if args.quick else 150)
    sampled = {id(p) for p in random.Random(SEED).sample(pairs, min(n_model, len(pairs)))}
    seconds: list[float] = []
    with home_dir(args.home) as home, open_engine(home) as (assistant, parts):
        from desk_assistant.rag.followup import Turn, model_query

        log(f"followup.py: ingesting {len(files)} articles ...")
        ingested = run_ingest(assistant, files, collection)
        log(f"  {ingested.counts}; {len(pairs)} pairs, {len(sampled)} rewritten by the model")

        def rewrite(pair: Pair) -> str | None:
            if id(pair) not in sampled:
                return None
            history = [Turn(pair.first, pair.first, pair.first_answer)]
            query, took = timed(
                lambda: model_query(pair.followup, history, parts.runtime, parts.chat_format)
            )
            seconds.append(took)
            return query

        outcomes = run_pairs(assistant, collection, pairs, mapping, rewrite)
    modelled = [o for o in outcomes if "model" in o.hits]
    rows: list[list[object]] = [["pairs (articles)", f"{len(pairs)} ({len(present)})"]]
    for name in ("standalone", "follow-up alone", "rule"):
        rows.append([f"hit@5, {name}", share([o.hits[name] for o in outcomes])])
    rows.append([f"on the {len(modelled)} model-rewritten pairs:", ""])
    for name in ("standalone", "follow-up alone", "rule", "model"):
        rows.append([f"  hit@5, {name}", share([o.hits[name] for o in modelled])])
    rows.append(["  model rewrite, median s", f"{median(seconds):.2f}"])
    mode = "quick" if args.quick else "full"
    if args.half:
        mode += ", half of the articles"
    print_table(f"Follow-up questions on wikiqa ({mode})", ["metric", "value"], rows)
    data = {"mode": mode, "outcomes": [asdict(o) for o in outcomes]}
    log(f"results: {write_results('followup', data, args.out)}")


if __name__ == "__main__":
    main()
