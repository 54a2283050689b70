"""Ingestion at scale: re-scan of many unchanged files, memory on a 1,000-page PDF.

1. Re-scan: N small text files (default 10,000) are ingested once, then the same
   folder is ingested again with nothing changed; the second run's wall time is the
   re-scan time (target: at most 5 s for 10,000 files). The first run uses a hashing
   embedder so the setup takes minutes, not an hour: a re-scan that finds nothing new
   never reaches the embedder, so the figure is the same with the real model.
   Baseline in the same run: `os.scandir` + `stat` of the same tree (the floor any
   incremental scan pays).
2. Memory: a 100-page and a 1,000-page PDF (generated, ~250 words a page) are ingested
   with the real pipeline in fresh processes; peak RSS of the engine process and of the
   parser worker are reported. Flat memory means the 1,000-page figure stays close to
   the 100-page one instead of growing tenfold.

    python bench/scale_ingest.py [--files 10000] [--quick]
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import _common

WORDS = (
    "the council report covers parks libraries budget harbour bridge renovation steel deck "
    "trees playground district weekend opening hours tenants notice period rent deposit"
).split()


def make_tree(root: Path, files: int) -> None:
    for number in range(files):
        folder = root / f"f{number // 500:03d}"
        folder.mkdir(parents=True, exist_ok=True)
        words = [WORDS[(number * 7 + i) % len(WORDS)] for i in range(60)]
        (folder / f"note-{number:05d}.txt").write_text(f"Note {number}. " + " ".join(words))


def walk_and_stat(root: Path) -> int:
    """The floor: list every folder and stat every file, nothing else."""
    count = 0
    stack = [str(root)]
    while stack:
        for entry in os.scandir(stack.pop()):
            if entry.is_dir():
                stack.append(entry.path)
            else:
                entry.stat()
                count += 1
    return count


def rescan(files: int) -> list[list[object]]:
    from desk_assistant.backends.embeddings import HashingEmbedder
    from desk_assistant.service import Assistant
    from desk_assistant.settings import load_settings

    with _common.temp_dir("rescan") as tmp:
        make_tree(tmp / "tree", files)
        settings = load_settings(tmp / "home")
        with Assistant.open(settings, embedder=HashingEmbedder()) as assistant:
            _common.log(f"first ingestion of {files} files (hashing embedder)...")
            first = _common.run_ingest(assistant, [tmp / "tree"], "default")
            runs = []
            for _ in range(3):
                again = _common.run_ingest(assistant, [tmp / "tree"], "default")
                assert again.counts.get("unchanged") == files, again.counts
                runs.append(again.seconds)
        walks = [_common.timed(lambda: walk_and_stat(tmp / "tree"))[1] for _ in range(3)]
    return [
        [f"first ingestion, {files} files", first.seconds, "", ""],
        [
            f"re-scan, {files} unchanged files (median of 3)",
            _common.median(runs),
            _common.median(walks),
            _common.ratio(_common.median(runs), _common.median(walks)),
        ],
    ]


PDF_SCRIPT = """
import json, resource, sys, time
sys.path.insert(0, {repo!r})
from desk_assistant.service import Assistant
from desk_assistant.settings import load_settings
with Assistant.open(load_settings({home!r})) as a:
    started = time.perf_counter()
    events = list(a.ingest([{pdf!r}]))
    seconds = time.perf_counter() - started
own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
workers = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
print(json.dumps({{"seconds": seconds, "engine_mb": own, "worker_mb": workers,
                  "chunks": sum(e.chunks for e in events), "counts": events[-1].counts}}))
"""


def make_pdf(path: Path, pages: int) -> None:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_font("Helvetica", size=10)
    for page in range(pages):
        pdf.add_page()
        words = [WORDS[(page * 13 + i) % len(WORDS)] for i in range(250)]
        pdf.multi_cell(0, 5, f"Page {page + 1}. " + " ".join(words))
    pdf.output(str(path))


def pdf_memory(pages: int, tmp: Path) -> dict[str, float]:
    pdf = tmp / f"book-{pages}.pdf"
    make_pdf(pdf, pages)
    script = PDF_SCRIPT.format(
        repo=str(_common.REPO), home=str(tmp / f"home-{pages}"), pdf=str(pdf)
    )
    _common.log(f"ingesting a {pages}-page PDF in a fresh process...")
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = _common.base_parser(__doc__)
    parser.add_argument("--files", type=int, default=10_000)
    args = parser.parse_args()
    files = 2_000 if args.quick else args.files
    rows = rescan(files)
    _common.print_table(
        "Incremental re-scan (seconds)", ["run", "desk-assistant", "scandir + stat", "ratio"], rows
    )
    with _common.temp_dir("pdfmem") as tmp:
        small, large = pdf_memory(100, tmp), pdf_memory(1000, tmp)
    memory_rows = [
        [f"{pages} pages", r["chunks"], r["seconds"], r["engine_mb"], r["worker_mb"]]
        for pages, r in ((100, small), (1000, large))
    ]
    memory_rows.append(
        [
            "ratio 1000/100",
            _common.ratio(large["chunks"], small["chunks"]),
            _common.ratio(large["seconds"], small["seconds"]),
            _common.ratio(large["engine_mb"], small["engine_mb"]),
            _common.ratio(large["worker_mb"], small["worker_mb"]),
        ]
    )
    _common.print_table(
        "Peak memory ingesting one large PDF",
        ["PDF", "chunks", "seconds", "engine peak MB", "worker peak MB"],
        memory_rows,
    )
    _common.write_results(
        "scale_ingest",
        {"rescan": rows, "pdf_memory": memory_rows, "when_local": time.ctime()},
        args.out,
    )


if __name__ == "__main__":
    main()
