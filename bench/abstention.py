"""Abstention on questions about documents the user does not have: wikiqa, half held out.

The wikiqa articles are split by article (seeded): one half is ingested, the other held
out. Questions about the ingested half are answerable; questions about the held-out half
are not - the same kind of text and the same kind of question (Wikipedia articles on
people, places, animals, languages), only the article is missing. This is harder than
``retrieval.py --abstention``, where the unanswerable questions come from another field.
For each threshold on the relevance (the best passage's cosine similarity times the
IDF-weighted share of the question's key terms the passages contain: the quantity the
``min_relevance`` setting is compared with before the model is called) the table gives
the precision and recall of refusing and the share of answerable questions refused.

    python bench/abstention.py               # all answerable questions
    python bench/abstention.py --quick       # 300 of them
    python bench/abstention.py --home DIR    # keep the ingested half between runs
"""

from __future__ import annotations

import random
from pathlib import Path

from _common import (
    base_parser,
    log,
    open_assistant,
    print_table,
    refusal_table,
    relevances,
    run_ingest,
    temp_dir,
    write_results,
)
from _wikiqa import article_of_files, half_split, questions

COLLECTION = "half"


def main() -> None:
    parser = base_parser(__doc__)
    parser.add_argument("--home", type=Path, help="reuse this data folder between runs")
    args = parser.parse_args()
    kept, files = half_split()
    articles = set(article_of_files().values())
    asked = questions()
    if args.quick:
        asked = random.Random(1).sample(asked, 300)
    answerable = [q.text for q in asked if q.articles <= kept]
    unanswerable = [q.text for q in asked if not q.articles & kept]
    with temp_dir("abstention") as tmp, open_assistant(args.home or tmp / "home") as assistant:
        log(f"ingesting {len(files)} files of {len(kept)} articles (incremental)...")
        run_ingest(assistant, files, COLLECTION)
        log(f"retrieving for {len(answerable)} + {len(unanswerable)} questions...")
        good = relevances(assistant, COLLECTION, answerable)
        bad = relevances(assistant, COLLECTION, unanswerable)
    rows = refusal_table(good, bad)
    print_table(
        f"Abstention, wikiqa with half the articles held out ({len(kept)} of "
        f"{len(articles)} articles ingested; {len(answerable)} answerable, "
        f"{len(unanswerable)} unanswerable questions)",
        ["threshold", "precision", "recall", "answerable refused"],
        rows,
    )
    write_results("abstention", {"rows": rows, "kept_articles": sorted(kept)}, args.out)


if __name__ == "__main__":
    main()
