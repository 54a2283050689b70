"""Ingestion throughput of the real pipeline against raw ``SentenceTransformer.encode``.

What runs: the 150 wikiqa HTML articles and the 31 pdf_samples PDFs are copied into a
temporary folder; then, per repetition, a fresh Python process with a fresh app home runs
``Assistant.ingest`` on it (parser worker process, the bundled all-MiniLM-L6-v2 embedder,
embedded Chroma, SQLite manifest, BM25 rebuild: everything a ``desk-assistant ingest``
does, including loading the model and starting the worker). Then, in the same process:

* a re-run over the unchanged corpus (same ``Assistant``, then a new ``Assistant`` on the
  same home, as a second CLI call would), which should take well under a second;
* the baseline: ``SentenceTransformer.encode`` of exactly the chunk texts the run stored
  (read back from the manifest), same model object (already warm), same batch size,
  normalised - i.e. the embedding work alone, with no parsing, storage or model loading.

How to read it: ``ratio`` = ingest chunks/s / encode-only chunks/s. 1.0 would mean the
pipeline costs nothing beyond the embedding arithmetic; the target is >= 0.8. The ingest
wall time includes the one-off start-up (model load, worker start with its llama-index
import), which the baseline does not pay; "first embed at" shows how much of the wall
time passed before the first batch was embedded. "pages" counts PDF pages plus one per
HTML article. Peak RSS is ``getrusage`` of the ingesting process and of its (reaped)
parser worker. Numbers are per repetition plus the median (machines here are noisy).

On a shared machine the wall-clock ratio swings with other people's load (the ingest and
its baseline run minutes apart); the CPU-time ratio (encode-only CPU seconds / CPU
seconds of the ingesting process plus its parser worker) is the steadier view of the
same question: how much work the pipeline adds on top of the embedding.

    python bench/ingestion.py            # 181 files, 3 repetitions (~15-25 min per repetition
                                      # on a loaded 2-core box)
    python bench/ingestion.py --reps 1
    python bench/ingestion.py --quick    # 12 articles + the PDFs, 1 repetition
    python bench/ingestion.py --profile bench/results/ingest.prof  # cProfile the ingest call
    python bench/ingestion.py --diagnose # + encode-only in the ingest's own embed calls
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import json
import pstats
import resource
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from _common import (
    IngestRun,
    base_parser,
    copy_files,
    log,
    median,
    open_assistant,
    pdf_samples,
    peak_rss_mb,
    print_table,
    ratio,
    run_ingest,
    temp_dir,
    timed,
    wikiqa_articles,
    write_results,
)

if TYPE_CHECKING:
    import numpy as np

    from desk_assistant.backends.embeddings import SentenceTransformerEmbedder

COLLECTION = "bench"
QUICK_ARTICLES = 12


class TimedEmbedder:
    """The engine's own embedder, with the time spent inside ``embed_documents`` summed.

    A probe only: it adds two ``perf_counter`` calls per batch of ~256 chunks.
    """

    def __init__(self, inner: SentenceTransformerEmbedder) -> None:
        self.inner = inner
        self.seconds = 0.0
        self.first_call: float | None = None
        self.calls: list[list[str]] = []  # the texts of each call, for the batch baseline

    @property
    def model_id(self) -> str:
        return self.inner.model_id

    @property
    def dimension(self) -> int:
        return self.inner.dimension

    @property
    def tokenizer_file(self) -> Path | None:
        return self.inner.tokenizer_file

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        started = time.perf_counter()
        if self.first_call is None:
            self.first_call = started
        self.calls.append(list(texts))
        vectors = self.inner.embed_documents(texts)
        self.seconds += time.perf_counter() - started
        return vectors

    def embed_query(self, text: str) -> np.ndarray:
        return self.inner.embed_query(text)


def build_corpus(dest: Path, quick: bool) -> Path:
    articles = wikiqa_articles()
    if quick:
        articles = articles[:: max(1, len(articles) // QUICK_ARTICLES)][:QUICK_ARTICLES]
    copy_files(articles, dest / "wikiqa")
    copy_files(pdf_samples(), dest / "pdf")
    return dest


@contextlib.contextmanager
def maybe_profile(target: Path | None) -> Iterator[None]:
    if target is None:
        yield
        return
    profiler = cProfile.Profile()
    profiler.enable()
    try:
        yield
    finally:
        profiler.disable()
        target.parent.mkdir(parents=True, exist_ok=True)
        profiler.dump_stats(str(target))
        pstats.Stats(str(target), stream=sys.stderr).sort_stats("cumulative").print_stats(30)


def make_engine(home: Path) -> tuple[Any, Any, TimedEmbedder]:
    """An Assistant, its parts and the timed embedder they use."""
    from desk_assistant.backends.defaults import default_embedding_dir
    from desk_assistant.backends.embeddings import SentenceTransformerEmbedder
    from desk_assistant.parts import Parts
    from desk_assistant.service import Assistant
    from desk_assistant.settings import load_settings

    settings = load_settings(home)
    folder = settings.embedding_model or default_embedding_dir()
    probe = TimedEmbedder(SentenceTransformerEmbedder(folder, batch_size=settings.embed_batch_size))
    parts = Parts(settings, embedder=probe)
    return Assistant(parts), parts, probe


def cpu_seconds(*, children: bool) -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN if children else resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def wall_and_cpu(function: Callable[[], object]) -> tuple[float, float]:
    """Wall and CPU seconds (this process, all threads) of ``function()``."""
    cpu = cpu_seconds(children=False)
    _, wall = timed(function)
    return wall, cpu_seconds(children=False) - cpu


def encode_only(parts: Any, probe: TimedEmbedder, *, batches: bool) -> dict[str, float]:
    """Raw ``SentenceTransformer.encode`` on the stored chunk texts.

    ``encode_s``: all texts in one call (the baseline of the target). With ``batches``,
    also ``encode_batches_s``: the same texts in the same calls the ingest made (~4 x
    batch size each), which separates the cost of smaller calls (less length sorting,
    more padding) from the cost of sharing the CPU with the parser worker.
    """
    texts = [text for _, text in parts.manifest.iter_chunks(COLLECTION)]
    model = probe.inner._load()  # the very model object the ingest used: warm

    def encode(batch: list[str]) -> object:
        return model.encode(
            batch,
            batch_size=probe.inner.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )

    encode(texts[: probe.inner.batch_size])  # warm-up, untimed
    wall, cpu = wall_and_cpu(lambda: encode(texts))
    result = {"stored_chunks": len(texts), "encode_s": wall, "encode_cpu_s": cpu}
    if batches:
        result["encode_batches_s"], _ = wall_and_cpu(lambda: [encode(c) for c in probe.calls])
    return result


def one_run(corpus: Path, profile: Path | None, *, batches: bool) -> dict[str, Any]:
    """One repetition in this process: fresh home, ingest, re-runs, encode-only baseline."""
    with temp_dir("ingest-home") as home:
        started = time.perf_counter()
        cpu_before = cpu_seconds(children=False)
        assistant, parts, probe = make_engine(home)
        with assistant:
            with maybe_profile(profile):
                run: IngestRun = run_ingest(assistant, [corpus], COLLECTION)
            wall = time.perf_counter() - started
            cpu_main = cpu_seconds(children=False) - cpu_before
            rerun = run_ingest(assistant, [corpus], COLLECTION)
            baseline = encode_only(parts, probe, batches=batches)
        with open_assistant(home) as fresh:
            rerun_new = run_ingest(fresh, [corpus], COLLECTION)
        first_embed = (probe.first_call - started) if probe.first_call else float("nan")
        return {
            "files": run.indexed,
            "failed": run.counts.get("failed", 0),
            "failures": run.failures,
            "pages": run.pages,
            "chunks": run.chunks,
            "ingest_s": wall,
            "embed_in_ingest_s": probe.seconds,
            "embed_calls": len(probe.calls),
            "first_embed_at_s": first_embed,
            "ingest_cpu_main_s": cpu_main,
            "ingest_cpu_worker_s": cpu_seconds(children=True),
            **baseline,
            "rerun_s": rerun.seconds,
            "rerun_unchanged": rerun.counts.get("unchanged", 0),
            "rerun_new_assistant_s": rerun_new.seconds,
            "rss_mb": peak_rss_mb(),
            "worker_rss_mb": peak_rss_mb(children=True),
        }


def run_child(corpus: Path, flags: list[str]) -> dict[str, Any]:
    """Run :func:`one_run` in a fresh interpreter (cold model, clean peak RSS)."""
    with temp_dir("ingest-result") as folder:
        out = folder / "run.json"
        command = [sys.executable, str(Path(__file__).resolve()), "--child", str(corpus)]
        command += ["--out", str(out), *flags]
        subprocess.run(command, check=True, stdout=sys.stderr)
        result: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
        return result


def derived(run: dict[str, Any]) -> dict[str, float]:
    ingest_rate = ratio(run["chunks"], run["ingest_s"])
    ingest_cpu = run["ingest_cpu_main_s"] + run["ingest_cpu_worker_s"]
    encode_rate = ratio(run["stored_chunks"], run["encode_s"])
    return {
        "ingest_chunks_per_s": ingest_rate,
        "ingest_pages_per_s": ratio(run["pages"], run["ingest_s"]),
        "encode_chunks_per_s": encode_rate,
        "ratio": ratio(ingest_rate, encode_rate),
        "embed_share": ratio(run["embed_in_ingest_s"], run["ingest_s"]),
        "cpu_ratio": ratio(run["encode_cpu_s"], ingest_cpu),
    }


ROWS: list[tuple[str, str, int]] = [  # label, key, decimals
    ("files indexed", "files", 0),
    ("files failed (reason given)", "failed", 0),
    ("pages (PDF pages + 1 per HTML)", "pages", 0),
    ("chunks", "chunks", 0),
    ("ingest wall s (cold: model load + worker start included)", "ingest_s", 1),
    ("  first embed call at s", "first_embed_at_s", 1),
    ("  inside embed_documents s", "embed_in_ingest_s", 1),
    ("  embed share of ingest wall", "embed_share", 2),
    ("  CPU s, ingesting process (ingest only)", "ingest_cpu_main_s", 1),
    ("  CPU s, parser worker (whole run)", "ingest_cpu_worker_s", 1),
    ("ingest chunks/s", "ingest_chunks_per_s", 1),
    ("ingest pages/s", "ingest_pages_per_s", 2),
    ("baseline: encode-only s (warm, same texts)", "encode_s", 1),
    ("baseline: encode-only chunks/s", "encode_chunks_per_s", 1),
    ("**ratio ingest/encode-only (target >= 0.8)**", "ratio", 2),
    ("CPU s, encode-only", "encode_cpu_s", 1),
    ("CPU-time ratio encode-only/ingest (less noise-prone)", "cpu_ratio", 2),
    ("re-run unchanged s (same Assistant)", "rerun_s", 3),
    ("re-run unchanged s (new Assistant)", "rerun_new_assistant_s", 3),
    ("peak RSS MB (ingesting process)", "rss_mb", 0),
    ("peak RSS MB (parser worker)", "worker_rss_mb", 0),
]


DIAGNOSE_ROWS: list[tuple[str, str, int]] = [
    ("  encode-only in the ingest's own embed calls s", "encode_batches_s", 1),
]


def table_rows(runs: list[dict[str, Any]]) -> list[list[str]]:
    rows = []
    extra = DIAGNOSE_ROWS if "encode_batches_s" in runs[0] else []
    for label, key, digits in [*ROWS, *extra]:
        values = [float(r[key]) for r in runs]
        cells = [f"{v:.{digits}f}" for v in [*values, median(values)]]
        rows.append([label, *cells])
    return rows


def child_main(args: argparse.Namespace) -> None:
    result = one_run(args.child, args.profile, batches=args.diagnose)
    args.out.write_text(json.dumps(result), encoding="utf-8")


def main() -> None:
    parser = base_parser(__doc__)
    parser.add_argument("--reps", type=int, help="repetitions (default 3, --quick 1)")
    parser.add_argument("--profile", type=Path, help="cProfile the first ingest to this file")
    parser.add_argument(
        "--diagnose", action="store_true", help="also encode in the ingest's own batches"
    )
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        child_main(args)
        return
    reps = args.reps or (1 if args.quick else 3)
    with temp_dir("ingest-corpus") as folder:
        corpus = build_corpus(folder, args.quick)
        runs = []
        for number in range(reps):
            log(f"ingestion.py: repetition {number + 1}/{reps} ...")
            flags = ["--diagnose"] if args.diagnose else []
            if args.profile is not None and number == 0:
                flags += ["--profile", str(args.profile)]
            run = run_child(corpus, flags)
            run.update(derived(run))
            runs.append(run)
            log(f"  {run['chunks']} chunks in {run['ingest_s']:.1f} s, ratio {run['ratio']:.2f}")
    headers = ["metric", *[f"run {n + 1}" for n in range(reps)], "median"]
    mode = "quick" if args.quick else "full"
    print_table(f"Ingest throughput ({mode}, {reps} repetition(s))", headers, table_rows(runs))
    failures = runs[0]["failures"]
    if failures:
        listed = "; ".join(f"{Path(p).name}: {r}" for p, r in failures.items())
        print(f"\nFailed files (run 1): {listed}")
    path = write_results("ingest", {"mode": mode, "runs": runs}, args.out)
    log(f"results: {path}")


if __name__ == "__main__":
    main()
