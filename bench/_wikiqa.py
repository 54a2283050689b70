"""The wikiqa evaluation set as the benchmarks use it: files, their articles, questions.

Each ``articles/<year>_set<N>_a<M>.htm`` is one Wikipedia article. ``qa.jsonl`` names the
article of a question (``article``, e.g. ``Abraham_Lincoln``) and the file it was written
from (``source_file``, e.g. ``S08/data/set3/a4`` -> ``S08_set3_a4.htm``). 20 files have
no questions; their article id is their first ``<h1>`` with spaces as underscores (this
rule reproduces the id of every file that does have questions). Several articles exist
in two or three files (one per year), so relevance is by article, as in ``qrels.tsv``:
a passage from any file of the question's article is a hit.
"""

from __future__ import annotations

import html
import json
import random
import re
from dataclasses import dataclass
from pathlib import Path

from _common import wikiqa_articles, wikiqa_dir

_H1 = re.compile(r"<h1>(.*?)</h1>", re.IGNORECASE | re.DOTALL)
_NULL_ANSWERS = {"", "null", "none"}


@dataclass(frozen=True, slots=True)
class Question:
    id: str
    text: str
    articles: frozenset[str]  # relevant article ids (one, except for shared question texts)
    difficulty: str


def _file_stem(source_file: str) -> str:
    """``S08/data/set3/a4`` -> ``S08_set3_a4``."""
    return source_file.replace("/data/", "_").replace("/", "_")


def _heading_id(file: Path) -> str | None:
    found = _H1.search(file.read_text(encoding="utf-8", errors="replace"))
    return html.unescape(found.group(1)).strip().replace(" ", "_") if found else None


def _records() -> list[dict[str, object]]:
    lines = (wikiqa_dir() / "qa.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def article_of_files() -> dict[str, str]:
    """File stem (``S08_set3_a4``) -> article id, for all 150 files."""
    by_stem = {_file_stem(str(r["source_file"])): str(r["article"]) for r in _records()}
    mapping = {}
    for file in wikiqa_articles():
        article = by_stem.get(file.stem) or _heading_id(file)
        if article:
            mapping[file.stem] = article
    return mapping


def article_of_path(path: str, mapping: dict[str, str]) -> str | None:
    return mapping.get(Path(path).stem)


def _answerable(record: dict[str, object]) -> bool:
    answers = record.get("answers") or []
    assert isinstance(answers, list)
    return any(str(a).strip().lower() not in _NULL_ANSWERS for a in answers)


def questions() -> list[Question]:
    """Answerable questions, identical texts merged (their articles are all relevant)."""
    merged: dict[str, Question] = {}
    for record in _records():
        if not _answerable(record):
            continue
        text = " ".join(str(record["question"]).split())
        article = str(record["article"])
        known = merged.get(text.lower())
        if known is None:
            merged[text.lower()] = Question(
                str(record["id"]), text, frozenset({article}), str(record["difficulty_questioner"])
            )
        elif article not in known.articles:
            merged[text.lower()] = Question(
                known.id, known.text, known.articles | {article}, known.difficulty
            )
    return list(merged.values())


def record_count() -> int:
    return len(_records())


def corpus_files(count: int) -> tuple[list[Path], set[str]]:
    """The ``count`` articles with the most questions (first file of each)."""
    mapping = article_of_files()
    per_article: dict[str, int] = {}
    for q in questions():
        for a in q.articles:
            per_article[a] = per_article.get(a, 0) + 1
    top = sorted(per_article, key=lambda a: (-per_article[a], a))[:count]
    files = {}
    for stem, article in sorted(mapping.items()):
        if article in top and article not in files:
            files[article] = wikiqa_dir() / "articles" / f"{stem}.htm"
    return list(files.values()), set(top)


def half_split() -> tuple[set[str], list[Path]]:
    """Half of the articles (seeded) and their files: a collection with the other half
    held out, so that questions about that half are unanswerable from it."""
    mapping = article_of_files()
    articles = sorted(set(mapping.values()))
    random.Random(0).shuffle(articles)
    kept = set(articles[: len(articles) // 2])
    return kept, [f for f in wikiqa_articles() if mapping.get(f.stem) in kept]
