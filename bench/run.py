"""Issue 14's whole table in one run: every speed and memory figure beside its baseline
measured in the same run, the target, and whether it is met.

What runs, each benchmark in its own process (their own tables go to stderr with the
progress; stdout holds only the final table), ``--quick`` unless ``--full``:

* ``packing.py``: answer recall and median prompt tokens of the default packer against
  the old default (whole passages, 1,200 tokens), no LLM;
* ``prefix.py``: follow-up against first-question time to first token, built-in model
  (and, with ``--llama7b``, the 7B-shaped Q4_0 model);
* with ``--llama7b`` also ``llama7b.py``: the 7B-shaped model (Q4_0, Q4_K_M; llama.cpp
  and ctransformers) through the app against the raw library (about an hour here; the
  model files are written once, see ``_llama7b_gguf.py``);
* ``memory.py``: the window at rest before a model loads (bare Qt window beside it),
  ingestion peak memory and chunks/s per embedder (torch, the baseline; ONNX fp32 and
  int8);
* with ``--only summarize``, ``summarize.py --reduce model,extract``: the built-in model's
  summary picked from what the sections back against combined by the model (sections
  cited, sentences backed, CPU seconds; the whole summary takes ~10 minutes quick);
* with ``--full`` also ``retrieval.py`` twice (SciFact nDCG@10 through the app with the
  ONNX export at fp32 and int8; about 20 minutes each here).

``--only NAME[,NAME]`` runs a subset; ``--results DIR`` keeps each benchmark's JSON, and
with ``--reuse`` a benchmark whose JSON is already there is read instead of run (the
table of an earlier run again, in seconds); ``--home DIR`` lets packing and prefix reuse
(or fill) a data folder holding the wikiqa articles (their ingestion is ~10 minutes of
the quick run).

    python bench/run.py                      # quick runs, ~15 minutes here
    python bench/run.py --results DIR --reuse  # the table of the run that kept DIR
    python bench/run.py --full               # every question and SciFact, ~1.5 hours
    python bench/run.py --llama7b            # plus the 7B-shaped model, ~1 more hour
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from _common import base_parser, fmt, fmt_count, log, machine, print_table, ratio

BENCH = Path(__file__).resolve().parent
GIB_MB = 1024.0


@dataclass(frozen=True)
class Figure:
    """One row: a measured value, its same-run baseline, and the target it is held to."""

    name: str
    value: float
    baseline: float | None
    shown: float  # what the target is about (a ratio, a difference or the value itself)
    target: str
    met: bool | None  # None: reported, no target
    counted: bool = False  # value and baseline are (medians of) counts: 390 or 390.5

    def row(self) -> list[str]:
        verdict = {True: "yes", False: "NO", None: "-"}[self.met]
        show = fmt_count if self.counted else fmt
        baseline = "-" if self.baseline is None else show(self.baseline)
        return [self.name, show(self.value), baseline, fmt(self.shown), self.target, verdict]


def at_most(name: str, value: float, baseline: float | None, limit: float) -> Figure:
    return Figure(name, value, baseline, value, f"<= {limit:g}", value <= limit)


def ratio_at_most(
    name: str, value: float, baseline: float, limit: float, *, counted: bool = False
) -> Figure:
    share = ratio(value, baseline)
    return Figure(name, value, baseline, share, f"x <= {limit:g}", share <= limit, counted)


def ratio_at_least(name: str, value: float, baseline: float, limit: float) -> Figure:
    share = ratio(value, baseline)
    return Figure(name, value, baseline, share, f"x >= {limit:g}", share >= limit)


def within(name: str, value: float, baseline: float, points: float) -> Figure:
    """``value`` no more than ``points`` below ``baseline`` (a quality kept)."""
    drop = value - baseline
    return Figure(name, value, baseline, drop, f"diff >= -{points:g}", drop >= -points)


# each benchmark's headline figures ----------------------------------------------------


def packing_figures(data: dict[str, Any]) -> Iterator[Figure]:
    from desk_assistant.settings import Settings

    budget = Settings.model_fields["context_budget"].default
    rows = data["rows"]
    old = next(r for r in rows if r["packer"] == "whole" and r["budget"] == 1200)
    default = next(r for r in rows if r["packer"] == "sentences" and r["budget"] == budget)
    yield ratio_at_most(
        "packing: median prompt tokens, default vs whole passages @1200",
        default["median_tokens"],
        old["median_tokens"],
        0.5,
        counted=True,
    )
    yield within("packing: answer recall of the prompt", default["recall"], old["recall"], 0.02)


def prefix_figures(data: dict[str, Any]) -> Iterator[Figure]:
    rounds = data["rounds"]
    first = sorted(r["first"] for r in rounds)[len(rounds) // 2]
    follow = sorted(r["follow_up"] for r in rounds)[len(rounds) // 2]
    share = data["ratios"]["follow-up / first (target <= 0.5)"]
    yield Figure(
        f"prefix reuse, {data['model']}: follow-up TTFT s vs first",
        follow,
        first,
        share,
        "x <= 0.5",
        share <= 0.5,
    )


def memory_figures(data: dict[str, Any]) -> Iterator[Figure]:
    yield at_most(
        "window at rest before a model loads, MB (baseline: bare Qt window)",
        data["window_mb"],
        data["bare_window_mb"],
        300,
    )
    loaded = data["loaded_window_mb"]
    yield Figure("window at rest, models loaded at start, MB", loaded, None, loaded, "-", None)
    runs = data["ingest"]
    torch_rate = runs["torch"]["chunks"] / runs["torch"]["seconds"]
    for name, run in runs.items():
        rate = run["chunks"] / run["seconds"]
        yield at_most(f"ingestion peak RSS MB, {name}", run["rss_mb"], None, GIB_MB)
        if name != "torch":
            yield Figure(
                f"ingestion chunks/s, {name} vs torch",
                rate,
                torch_rate,
                ratio(rate, torch_rate),
                "x >= 1.3" if "int8" in name else "-",
                ratio(rate, torch_rate) >= 1.3 if "int8" in name else None,
            )


def llama7b_figures(data: dict[str, Any]) -> Iterator[Figure]:
    for name, config in data["configs"].items():
        app, raw = config["app"], config["raw"]
        for label, key in (
            ("prompt", "prompt_tokens_per_s"),
            ("generation", "generation_tokens_per_s"),
        ):
            yield Figure(
                f"7B-shaped {name}: {label} tokens/s, app vs raw library",
                app[key],
                raw[key],
                ratio(app[key], raw[key]),
                "x >= 0.95",
                ratio(app[key], raw[key]) >= 0.95,
            )


def summarize_figures(data: dict[str, Any]) -> Iterator[Figure]:
    """The built-in model's summary picked (``extract``) against combined by the model
    (``model``, the baseline) on the same document in one run."""
    runs = data["runs"]
    picked, combined = runs["extract"], runs["model"]

    def backed(run: dict[str, Any]) -> float:
        yes, of = run["final_backed"]
        return float(yes / of) if of else 0.0

    def cited(run: dict[str, Any]) -> float:
        return float(run["sections_cited"] / run["sections"])

    pages = data["pages"]
    for name, value in (("sections cited", cited), ("sentences backed", backed)):
        gain = value(picked) - value(combined)
        yield Figure(
            f"summary of {pages} pages: share of {name}, picked vs combined",
            value(picked),
            value(combined),
            gain,
            "diff >= 0",
            gain >= 0,
        )
    yield Figure(
        f"summary of {pages} pages: CPU s, picked vs combined",
        picked["cpu_s"],
        combined["cpu_s"],
        ratio(picked["cpu_s"], combined["cpu_s"]),
        "-",
        None,
    )


def ndcg_figures(fp32: dict[str, Any], int8: dict[str, Any]) -> Iterator[Figure]:
    def hybrid(data: dict[str, Any]) -> float:
        row = next(r for r in data["rows"] if r["variant"] == "pipeline hybrid (default: convex)")
        return float(row["nDCG@10"])

    yield within("SciFact nDCG@10 through the app, int8 vs fp32", hybrid(int8), hybrid(fp32), 0.01)


# running them ------------------------------------------------------------------------


def run_bench(script: str, out: Path, *options: str) -> dict[str, Any]:
    """``bench/SCRIPT`` in a child process; its JSON results."""
    command = [sys.executable, str(BENCH / script), *options, "--out", str(out)]
    log(f"$ {' '.join(command[1:])}")
    # Its table and progress go to stderr: this script's stdout is the final table only.
    subprocess.run(command, check=True, stdout=sys.stderr)
    result: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
    return result


def onnx_export(folder: Path) -> Path:
    from desk_assistant.backends.defaults import default_embedding_dir
    from desk_assistant.backends.onnx_export import export

    if not (folder / "model.onnx").exists():
        log("exporting the built-in embedder to ONNX (once per run)")
        export(default_embedding_dir(), folder)
    return folder


def main() -> None:
    parser = base_parser(__doc__)
    parser.add_argument("--full", action="store_true", help="every question, plus SciFact")
    parser.add_argument("--llama7b", action="store_true", help="the 7B-shaped model too")
    parser.add_argument(
        "--only", help="comma-separated: packing,prefix,memory,ndcg,llama7b,summarize"
    )
    parser.add_argument("--results", type=Path, help="keep each benchmark's JSON here")
    parser.add_argument(
        "--reuse", action="store_true", help="with --results: read the JSON kept there, not run"
    )
    parser.add_argument("--home", type=Path, help="data folder with the wikiqa articles")
    args = parser.parse_args()
    if args.reuse and not args.results:
        parser.error("--reuse reads the JSON of --results DIR: give that folder")
    size = [] if args.full else ["--quick"]
    home = ["--home", str(args.home)] if args.home else []
    chosen = set((args.only or "packing,prefix,memory,ndcg,llama7b").split(","))
    if not args.llama7b and not args.only:
        chosen.discard("llama7b")
    if "ndcg" in chosen and not args.full and not args.only:
        chosen.discard("ndcg")  # SciFact twice is the long part: with --full or --only ndcg
    with tempfile.TemporaryDirectory(prefix="bench-run-") as scratch:
        folder = args.results or Path(scratch)
        folder.mkdir(parents=True, exist_ok=True)
        steps: list[tuple[str, Callable[[], Iterator[Figure]]]] = []

        def add(name: str, make: Callable[[], Iterator[Figure]]) -> None:
            if name in chosen:
                steps.append((name, make))

        def out(name: str) -> Path:
            return folder / f"{name}.json"

        def onnx() -> Path:
            return onnx_export(Path(scratch) / "onnx")

        def bench(script: str, name: str, *options: str | Callable[[], Path]) -> dict[str, Any]:
            """Its results: kept ones with --reuse, else a run (an option that is a
            function - a model file or an export to make - is called only then)."""
            kept = out(name)
            if args.reuse and kept.exists():
                log(f"reusing {kept}")
                found: dict[str, Any] = json.loads(kept.read_text(encoding="utf-8"))
                return found
            made = [o if isinstance(o, str) else str(o()) for o in options]
            return run_bench(script, kept, *made)

        add("packing", lambda: packing_figures(bench("packing.py", "packing", *size, *home)))
        add("prefix", lambda: prefix_figures(bench("prefix.py", "prefix", *size, *home)))
        if "llama7b" in chosen:
            from _llama7b_gguf import model_file

            model: list[str | Callable[[], Path]] = ["--model", lambda: model_file("Q4_0")]
            model += ["--rounds", "1", "--answer-tokens", "8"]
            add("llama7b", lambda: prefix_figures(bench("prefix.py", "prefix7b", *model, *home)))
            add("llama7b", lambda: llama7b_figures(bench("llama7b.py", "llama7b", *home)))
        add("memory", lambda: memory_figures(bench("memory.py", "memory", *size, "--onnx", onnx)))

        def ndcg() -> Iterator[Figure]:
            found = {
                variant: bench(
                    "retrieval.py",
                    f"retrieval-{variant}",
                    *size,
                    "--no-raw",
                    "--embedding-model",
                    onnx,
                    "--embedding-variant",
                    variant,
                )
                for variant in ("fp32", "int8")
            }
            return ndcg_figures(found["fp32"], found["int8"])

        add("ndcg", ndcg)
        add(  # only with --only summarize: the model writes for ~10 minutes here
            "summarize",
            lambda: summarize_figures(
                bench("summarize.py", "summarize", *size, "--reduce", "model,extract")
            ),
        )
        figures = [figure for _name, make in steps for figure in make()]
    reused = f"; kept results in {args.results} reused" if args.reuse else ""
    print_table(
        f"Issue 14: speed and memory (load average at the end {machine()['loadavg']}{reused})",
        ["figure", "value", "same-run baseline", "ratio / diff", "target", "met?"],
        [f.row() for f in figures],
    )


if __name__ == "__main__":
    main()
