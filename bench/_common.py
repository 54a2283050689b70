"""Helpers shared by the benchmark scripts: paths, timing, statistics, tables, temp homes.

Nothing here measures anything by itself. Scripts import it as ``_common`` (they run as
``python bench/NAME.py``, so ``bench/`` is on ``sys.path``; no script may be named like
a project package, or it would shadow it).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from desk_assistant.parts import Parts
    from desk_assistant.service import Assistant

REPO = Path(__file__).resolve().parents[1]
TESTS = REPO / "tests"
RESULTS = REPO / "bench" / "results"
EVAL_ENV = "DESK_ASSISTANT_EVAL"

T = TypeVar("T")


# data ------------------------------------------------------------------------------


def eval_dir() -> Path:
    """``../shared/eval`` beside the repository (or ``$DESK_ASSISTANT_EVAL``)."""
    folder = Path(os.environ.get(EVAL_ENV, REPO.parent / "shared" / "eval"))
    if not folder.is_dir():
        raise SystemExit(f"evaluation data not found at {folder} (set {EVAL_ENV})")
    return folder


def wikiqa_dir() -> Path:
    return eval_dir() / "wikiqa"


def wikiqa_articles() -> list[Path]:
    """The 150 saved Wikipedia pages, in a stable order."""
    return sorted((wikiqa_dir() / "articles").glob("*.htm"))


def pdf_samples() -> list[Path]:
    """The 31 real PDFs of py-pdf/sample-files (one per sub-folder)."""
    return sorted((eval_dir() / "docs" / "pdf_samples").rglob("*.pdf"))


def copy_files(files: Iterable[Path], dest: Path) -> list[Path]:
    """Copy ``files`` flat into ``dest`` (writable copies; a name clash gets a prefix)."""
    dest.mkdir(parents=True, exist_ok=True)
    copied = []
    for number, source in enumerate(files):
        target = dest / source.name
        if target.exists():
            target = dest / f"{number}-{source.name}"
        shutil.copyfile(source, target)
        copied.append(target)
    return copied


@contextlib.contextmanager
def temp_dir(prefix: str) -> Iterator[Path]:
    """A fresh temporary folder (never inside the repository), removed afterwards."""
    folder = Path(tempfile.mkdtemp(prefix=f"da-bench-{prefix}-"))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def use_test_helpers() -> None:
    """Make the tests' model writer (``tests/tiny_gguf.py``) importable: the benchmarks
    write their model-shaped GGUF files with it, and ``tests/`` is no package."""
    if str(TESTS) not in sys.path:
        sys.path.insert(0, str(TESTS))


# timing and statistics -------------------------------------------------------------


def timed(function: Callable[[], T]) -> tuple[T, float]:
    """``function()`` and its wall time in seconds (``time.perf_counter``)."""
    started = time.perf_counter()
    value = function()
    return value, time.perf_counter() - started


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0-100) with linear interpolation."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def ratio(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator else float("nan")


def peak_rss_mb(*, children: bool = False) -> float:
    """Peak resident memory of this process (or of its reaped children), in MB."""
    who = resource.RUSAGE_CHILDREN if children else resource.RUSAGE_SELF
    return resource.getrusage(who).ru_maxrss / 1024  # Linux reports KiB


def machine() -> dict[str, Any]:
    """What the numbers were measured on (load average: how noisy the machine was)."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cores": cores,
        "loadavg": [round(x, 2) for x in os.getloadavg()],
    }


# output ----------------------------------------------------------------------------


def fmt(value: object, digits: int = 2) -> str:
    if isinstance(value, float):
        return "n/a" if math.isnan(value) else f"{value:.{digits}f}"
    return str(value)


def fmt_count(value: float) -> str:
    """A count, or the median of counts: "390", or "390.5" half-way between two counts
    (an even number of them), never "390.00" - however the number is stored (the
    engine's timings keep counts as floats)."""
    return fmt(float(value), 1).removesuffix(".0")


def print_table(title: str, headers: Sequence[str], rows: Iterable[Sequence[object]]) -> None:
    """One markdown table with a bold title line."""
    cells = [[fmt(c) for c in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) for i, h in enumerate(headers)]
    line = "| " + " | ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)) + " |"
    print(f"\n**{title}**\n")
    print(line)
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in cells:
        print("| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |")
    sys.stdout.flush()


def git_state() -> dict[str, Any]:
    """The commit measured, and which tracked files had uncommitted edits then."""

    def git(*args: str) -> str:
        command = ["git", "-C", str(REPO), *args]
        done = subprocess.run(command, check=False, capture_output=True, text=True)
        return done.stdout

    changed = [line[3:] for line in git("status", "--porcelain", "-uno").splitlines()]
    return {"commit": git("rev-parse", "--short", "HEAD").strip(), "uncommitted": changed}


def write_results(name: str, data: dict[str, Any], out: Path | None = None) -> Path:
    """Write ``data`` (plus machine facts) as JSON to ``bench/results/NAME.json``."""
    target = out or RESULTS / f"{name}.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "benchmark": name,
        "machine": machine(),
        "git": git_state(),
        "when": time.time(),
        **data,
    }
    target.write_text(json.dumps(payload, indent=2, default=str) + "\n", encoding="utf-8")
    return target


def base_parser(doc: str | None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=(doc or "").split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--quick", action="store_true", help="a smaller run (a few minutes)")
    parser.add_argument("--out", type=Path, help="JSON results file (default bench/results/)")
    return parser


def log(message: str) -> None:
    """Progress goes to stderr so stdout holds only the table."""
    print(message, file=sys.stderr, flush=True)


# the engine ------------------------------------------------------------------------


def open_assistant(home: Path, **overrides: Any) -> Assistant:
    from desk_assistant.service import Assistant
    from desk_assistant.settings import load_settings

    return Assistant.open(load_settings(home, **overrides))


@contextmanager
def open_engine(home: Path, **overrides: Any) -> Iterator[tuple[Assistant, Parts]]:
    """An Assistant and the parts it works on, for benchmarks that time or fill a part."""
    from desk_assistant.parts import Parts
    from desk_assistant.service import Assistant
    from desk_assistant.settings import load_settings

    parts = Parts(load_settings(home, **overrides))
    with Assistant(parts) as assistant:
        yield assistant, parts


@dataclass(slots=True)
class IngestRun:
    """What one ``Assistant.ingest`` call did, summed from its events."""

    seconds: float = 0.0
    counts: dict[str, int] = field(default_factory=dict)
    chunks: int = 0
    pages: int = 0  # PDF pages, plus one per document without pages (HTML, text)
    failures: dict[str, str] = field(default_factory=dict)

    @property
    def indexed(self) -> int:
        return self.counts.get("added", 0) + self.counts.get("updated", 0)


def run_ingest(assistant: Assistant, paths: Sequence[Path], collection: str) -> IngestRun:
    """Drain one ingest run, timing it from the call to the summary event."""
    run = IngestRun()
    started = time.perf_counter()
    for event in assistant.ingest(paths, collection):
        if event.kind == "summary":
            run.counts = dict(event.counts)
        elif event.outcome in ("added", "updated"):
            run.chunks += event.chunks
            run.pages += event.pages or 1
        elif event.outcome == "failed" and event.path:
            run.failures[event.path] = event.reason or ""
    run.seconds = time.perf_counter() - started
    return run


# abstention ---------------------------------------------------------------------------

REFUSAL_THRESHOLDS = (0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4)


def relevances(
    assistant: Assistant, collection: str, questions: Sequence[str], k: int = 5
) -> list[float]:
    """What ``min_relevance`` is compared with before the model is called: the best
    passage's cosine similarity times the share of the question's key terms found."""
    return [assistant.retrieve(q, collection, k=k).relevance for q in questions]


def refusal_table(answerable: Sequence[float], unanswerable: Sequence[float]) -> list[list[object]]:
    """Per threshold: precision and recall of refusing (refusing an unanswerable question
    is right), and the share of answerable questions refused."""
    rows: list[list[object]] = []
    for threshold in REFUSAL_THRESHOLDS:
        refused_bad = sum(s < threshold for s in unanswerable)
        refused_good = sum(s < threshold for s in answerable)
        refused = refused_bad + refused_good
        precision = refused_bad / refused if refused else float("nan")
        recall = refused_bad / len(unanswerable)
        rows.append([threshold, precision, recall, refused_good / len(answerable)])
    return rows
