"""A summary of a 100-page PDF with the built-in model: how long, in how many steps.

What runs: a PDF of ``--pages`` pages (default 100, about 280 words a page) is made from
the text of wikiqa articles (real prose, one article after another, so there is
something to summarize), ingested into a temporary data folder, and summarized with
``Assistant.summarize`` and the bundled SmolLM2-135M (default settings: a 4,096-token
context window, as Llama-2-7B-Chat has, and ``summary_section_tokens`` = 1,500, so the
steps are those a 7B model would take too; it only reads them faster).

Reported: sections and steps, the whole summary's wall time, the median and slowest step,
the time left the progress predicted at a quarter, a half and three quarters of the
steps against what it really took, and the sections the final summary cites. The
baseline in the same run is the median step: the total is bounded by the number of
steps (linear in the document's length) times it.

    python bench/summarize.py              # 100 pages
    python bench/summarize.py --quick      # 12 pages
    python bench/summarize.py --pages 300
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
from pathlib import Path

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


def main() -> None:
    parser = base_parser(__doc__)
    parser.add_argument("--pages", type=int, help="pages of the PDF (default 100)")
    parser.add_argument("--pdf", type=Path, help="summarize this PDF instead of a generated one")
    args = parser.parse_args()
    pages = args.pages or (12 if args.quick else 100)
    from desk_assistant.records import Summary, SummaryProgress

    with temp_dir("summarize") as tmp, open_engine(tmp / "home") as (assistant, parts):
        if args.pdf:
            book = args.pdf.resolve()
        else:
            book = tmp / f"book-{pages}.pdf"
            make_book(book, pages)
        log(f"summarize.py: ingesting {book.name} ...")
        ingested = run_ingest(assistant, [book], COLLECTION)
        log(f"  {ingested.counts}")
        pages = ingested.pages
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
    # progress carries none)
    durations = [at - before for (before, _), (at, p) in itertools.pairwise(steps) if p.text]
    rows: list[list[object]] = [
        ["pages / sections (map steps)", f"{pages} / {int(summary.timings['sections'])}"],
        ["steps in all (map, combine, final)", done[-1][1].total],
        ["whole summary, wall s (model load not included)", f"{total_s:.0f}"],
        ["whole summary, CPU s of the process (all threads)", f"{cpu_s:.0f}"],
        ["CPU s per step", f"{cpu_s / len(durations):.1f}"],
        ["model load s", f"{load_s:.1f}"],
        ["median step s (baseline)", f"{median(durations):.1f}"],
        ["slowest step s", f"{max(durations):.1f}"],
        ["whole / (steps x median step)", f"{total_s / (len(durations) * median(durations)):.2f}"],
    ]
    for share in (0.25, 0.5, 0.75):
        at, step = done[max(0, int(len(done) * share) - 1)]
        real = total_s - at
        said = step.seconds_left or 0.0
        rows.append(
            [
                f"time left said at {step.done}/{step.total} steps vs real s",
                f"{said:.0f} vs {real:.0f}",
            ]
        )
    # the engine's timings hold counts as floats: 17, not 17.00
    looped = int(summary.timings["loops_stopped"])
    rows.append(["steps where the model looped (stopped there)", looped])
    rows.append(["sections cited by the summary", len(summary.sections)])
    rows.append(["summary words", len(re.findall(r"\w+", summary.text))])
    print_table(f"Summary of {book.name} ({pages} pages), SmolLM2-135M", ["metric", "value"], rows)
    data = {
        "rows": rows,
        "pdf": book.name,
        "pages": pages,
        "steps": done[-1][1].total,
        "wall_s": total_s,
        "cpu_s": cpu_s,
        "median_step_s": median(durations),
        "summary": summary.to_json(),
    }
    log(f"results: {write_results('summarize', data, args.out)}")


if __name__ == "__main__":
    main()
