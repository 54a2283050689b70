"""A summary of a 100-page PDF with the built-in model: how long, in how many steps.

What runs: a PDF of ``--pages`` pages (default 100, about 280 words a page) is made from
the text of wikiqa articles (real prose, one article after another, so there is
something to summarize), ingested into a temporary data folder, and summarized with
``Assistant.summarize`` and the bundled SmolLM2-135M (default settings: a 4,096-token
context window, as Llama-2-7B-Chat has, and ``summary_section_tokens`` = 1,500, so the
steps are those a 7B model would take too; it only reads them faster).

Reported, one column a run: sections and steps, the whole summary's wall and CPU time,
the median step, the time left the progress predicted at half the steps against what it
really took, the sections the final summary cites, the share of its sentences the
support check (``rag.support``) backs against the sections they cite, its words; and of
the section summaries (the map steps): the share of sentences their own section backs,
those that describe the text ("This section discusses...") rather than state its facts,
and the numbers and names a sentence carries. ``--reduce model,extract`` summarizes the
same document once with each ``summary_reduce`` value, in the same process: the model's
combining steps against the extractive pick, side by side. Without ``--reduce`` the
setting's default runs (and an older checkout of the app can be measured with this
script: ``PYTHONPATH=OLD_CHECKOUT python bench/summarize.py``).

    python bench/summarize.py              # 100 pages
    python bench/summarize.py --quick      # 12 pages
    python bench/summarize.py --pages 25 --reduce model,extract
    python bench/summarize.py --pdf GEOTOPO   # a real PDF, path below

``--pdf`` summarizes a real PDF instead of the generated one (GEOTOPO: the 117-page
``../shared/eval/docs/pdf_samples/009-pdflatex-geotopo/GeoTopo-komprimiert.pdf``, lecture
notes in German: a producer's real layout, formulas and all). CPU seconds are the
process's (all its threads), next to the wall time, because on a shared machine the wall
time mostly says how busy the other processes kept the cores.
"""

from __future__ import annotations

import itertools
import json
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from _common import (
    base_parser,
    log,
    median,
    open_engine,
    print_table,
    run_ingest,
    temp_dir,
    timed,
    wikiqa_dir,
    write_results,
)

if TYPE_CHECKING:
    from desk_assistant.backends.embeddings import Embedder
    from desk_assistant.parts import Parts
    from desk_assistant.records import Citation
    from desk_assistant.service import Assistant

WORDS_PER_PAGE = 280
COLLECTION = "book"


def prose(words_needed: int) -> list[tuple[str, str]]:
    """(title, text) of wikiqa articles, in order, until there are enough words."""
    found: list[tuple[str, str]] = []
    total = 0
    for line in (wikiqa_dir() / "corpus.jsonl").open(encoding="utf-8"):
        record = json.loads(line)
        text = " ".join(record["text"].split())
        found.append((record["title"], text))
        total += len(text.split())
        if total >= words_needed:
            break
    return found


def make_book(path: Path, pages: int) -> None:
    from fpdf import FPDF

    words: list[str] = []
    for title, text in prose(pages * WORDS_PER_PAGE):
        words += [f"{title.upper()}.", *text.split()]
    pdf = FPDF()
    pdf.set_font("Helvetica", size=10)
    for page in range(pages):
        pdf.add_page()
        chunk = " ".join(words[page * WORDS_PER_PAGE : (page + 1) * WORDS_PER_PAGE])
        latin = chunk.encode("latin-1", "replace").decode("latin-1")  # the core font's range
        pdf.multi_cell(0, 5, latin)
    pdf.output(str(path))


DESCRIBING = re.compile(
    r"^(the|this|these) (text|section|document|passage|part|article|summary)s?\b", re.I
)


def backed(pairs: list[tuple[str, list[Citation]]], embedder: Embedder) -> tuple[int, int]:
    """How many sentences of each text the support check backs against its sections
    (the text's ``[n]`` markers name them by ``n``), of how many."""
    from desk_assistant.rag import support
    from desk_assistant.rag.grounding import Sources
    from desk_assistant.rag.packing import PackedPassage
    from desk_assistant.records import Passage
    from desk_assistant.settings import Settings

    threshold = Settings.model_fields["min_support"].default
    yes = judged = 0
    for text, sections in pairs:
        packed = [
            PackedPassage(
                c.n, Passage(str(c.n), c.path, c.page, c.heading, 0, 0, c.text, 1), c.text
            )
            for c in sections
        ]
        checks = support.check(
            text, Sources(packed, embedder), {c.n: c.n for c in sections}, threshold
        )
        yes += sum(c.supported for c in checks)
        judged += len(checks)
    return yes, judged


def summarize_once(assistant: Assistant, parts: Parts, book: Path) -> dict[str, Any]:
    """One summary of ``book``, its figures and what it wrote."""
    from desk_assistant.rag.citations import sentences
    from desk_assistant.rag.claims import claims
    from desk_assistant.records import Summary, SummaryProgress

    _, load_s = timed(lambda: parts.runtime)
    started = time.perf_counter()
    cpu_started = time.process_time()
    steps: list[tuple[float, SummaryProgress]] = []
    summary: Summary | None = None
    for item in assistant.summarize(book, COLLECTION):
        if isinstance(item, SummaryProgress):
            steps.append((time.perf_counter() - started, item))
            left = "?" if item.seconds_left is None else f"{item.seconds_left:.0f} s left"
            cpu = time.process_time() - cpu_started
            # wall and CPU so far on every line: a run stopped early still says them
            log(
                f"  step {item.done}/{item.total}, {left} "
                f"({steps[-1][0]:.0f} s, {cpu:.0f} CPU-s so far)"
            )
            if item.text:
                log(f"    {item.text}")  # what the step wrote: loops show here
        elif isinstance(item, Summary):
            summary = item
    total_s = time.perf_counter() - started
    cpu_s = time.process_time() - cpu_started
    assert summary is not None
    done = [(at, p) for at, p in steps if p.done]
    # a step ends with the progress that carries its text (the final step's "begins"
    # progress carries none); a step of the model is one that took time (not the pick)
    durations = [at - before for (before, _), (at, p) in itertools.pairwise(steps) if p.text]
    mapped = [(p.text, [p.section]) for _, p in steps if p.section is not None and p.text]
    map_sentences = [s.strip() for text, _ in mapped for s in sentences(text) if s.strip()]
    half_at, half = done[max(0, len(done) // 2 - 1)]
    final_backed = backed([(summary.text, list(summary.sections))], parts.embedder)
    return {
        "sections": int(summary.timings["sections"]),
        "steps": done[-1][1].total,
        "wall_s": total_s,
        "cpu_s": cpu_s,
        "load_s": load_s,
        "median_step_s": median(durations),
        "time_left_half": [half.done, half.total, half.seconds_left or 0.0, total_s - half_at],
        "loops_stopped": summary.timings["loops_stopped"],
        "sections_cited": len(summary.sections),
        "final_backed": final_backed,
        "map_backed": backed(mapped, parts.embedder),
        "map_describing": sum(bool(DESCRIBING.match(s)) for s in map_sentences),
        "map_sentences": len(map_sentences),
        "map_specifics": sum(len(claims(s).specifics) for s in map_sentences),
        "summary_words": len(re.findall(r"\w+", summary.text)),
        "section_summaries": [text for text, _ in mapped],
        "summary": summary.to_json(),
    }


def share(pair: tuple[int, int] | list[int]) -> str:
    yes, of = pair
    return f"{yes}/{of} ({100 * yes / of:.0f} %)" if of else "-"


def table_rows(pages: int, runs: dict[str, dict[str, Any]]) -> list[list[object]]:
    """One row a figure, one column a run."""
    figures: list[tuple[str, Callable[[dict[str, Any]], object]]] = [
        ("pages / sections (map steps)", lambda r: f"{pages} / {r['sections']}"),
        ("steps in all (map, then combine+final or pick)", lambda r: r["steps"]),
        ("whole summary, wall s (model load not included)", lambda r: f"{r['wall_s']:.0f}"),
        ("whole summary, CPU s of the process (all threads)", lambda r: f"{r['cpu_s']:.0f}"),
        ("median step s", lambda r: f"{r['median_step_s']:.1f}"),
        (
            "time left said at half the steps vs real s",
            lambda r: "{:.0f} vs {:.0f}".format(*r["time_left_half"][2:]),
        ),
        # the engine's timings hold counts as floats: 17, not 17.00
        ("steps where the model looped (stopped there)", lambda r: int(r["loops_stopped"])),
        ("sections cited by the summary", lambda r: f"{r['sections_cited']} / {r['sections']}"),
        ("summary sentences its cited sections back", lambda r: share(r["final_backed"])),
        ("summary words", lambda r: r["summary_words"]),
        ("section-summary sentences their section backs", lambda r: share(r["map_backed"])),
        (
            "section-summary sentences describing the text",
            lambda r: share((r["map_describing"], r["map_sentences"])),
        ),
        (
            "numbers and names a section-summary sentence",
            lambda r: f"{r['map_specifics'] / max(1, r['map_sentences']):.2f}",
        ),
    ]
    return [[name, *(shown(run) for run in runs.values())] for name, shown in figures]


def main() -> None:
    parser = base_parser(__doc__)
    parser.add_argument("--pages", type=int, help="pages of the PDF (default 100)")
    parser.add_argument("--pdf", type=Path, help="summarize this PDF instead of a generated one")
    parser.add_argument(
        "--reduce",
        help="comma-separated summary_reduce values to run in turn on the same document "
        "(auto, extract, model; default: the setting's default only)",
    )
    args = parser.parse_args()
    pages = args.pages or (12 if args.quick else 100)
    modes = args.reduce.split(",") if args.reduce else ["default"]
    runs: dict[str, dict[str, Any]] = {}
    with temp_dir("summarize") as tmp:
        home = tmp / "home"
        if args.pdf:
            book = args.pdf.resolve()
        else:
            book = tmp / f"book-{pages}.pdf"
            make_book(book, pages)
        with open_engine(home) as (assistant, _parts):
            log(f"summarize.py: ingesting {book.name} ...")
            ingested = run_ingest(assistant, [book], COLLECTION)
        log(f"  {ingested.counts}")
        pages = ingested.pages
        for mode in modes:
            overrides = {} if mode == "default" else {"summary_reduce": mode}
            log(f"summarize.py: summary_reduce = {mode}")
            with open_engine(home, **overrides) as (assistant, parts):
                runs[mode] = summarize_once(assistant, parts, book)
            log(f"  {mode}: {runs[mode]['summary']['summary']}")
    rows = table_rows(pages, runs)
    print_table(
        f"Summary of {book.name} ({pages} pages), SmolLM2-135M, by summary_reduce",
        ["metric", *modes],
        rows,
    )
    first = runs[modes[0]]
    data = {
        "rows": rows,
        "pdf": book.name,
        "pages": pages,
        # the first run's figures at the top, as before: bench/run.py and old notes read them
        **{k: first[k] for k in ("steps", "wall_s", "cpu_s", "median_step_s", "summary")},
        "runs": runs,
    }
    log(f"results: {write_results('summarize', data, args.out)}")


if __name__ == "__main__":
    main()
