"""Memory where users notice it: the window at rest, and ingestion per embedding engine.

What runs:

* **window idle**: ``python -m ui`` in a fresh process (offscreen, a fresh home, nothing
  asked), its resident set (``VmRSS`` of the process and its children) read every 0.5 s
  for ``--idle-s`` seconds; the figure is the last reading. Twice: with
  ``preload_models`` off (no model loaded: the target's "before a model loads") and with
  the default on (the window has loaded the embedder, the vector store and the built-in
  model by then). Baseline in the same run: a bare PySide6 ``QApplication`` with one
  shown ``QMainWindow``, what any Qt window costs.
* **ingestion**: ``--articles`` wikiqa articles ingested in a fresh process per engine
  (fresh home; parser worker, Chroma, manifest, BM25: everything ``ingest`` does) with
  the built-in embedder on sentence-transformers (torch: the source install, the
  baseline), ONNX fp32 and ONNX int8 (the installers; ``embedding_variant``). Peak RSS
  is ``getrusage`` of the ingesting process (the parser worker apart), chunks/s is
  chunks stored / wall time of the ``ingest`` call.

Targets: window idle <= 300 MB; ingestion peak <= 1 GB at equal throughput; ingestion
chunks/s >= 1.3x torch (int8).

    python bench/memory.py                 # 30 articles, 30 s idle
    python bench/memory.py --quick         # 8 articles, 15 s idle
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from _common import (
    REPO,
    base_parser,
    fmt,
    log,
    print_table,
    ratio,
    temp_dir,
    wikiqa_articles,
    write_results,
)

_BARE_WINDOW = """
from PySide6.QtWidgets import QApplication, QMainWindow
app = QApplication([])
window = QMainWindow()
window.show()
app.exec()
"""

_INGEST = """
import json, resource, sys, time
from pathlib import Path
sys.path.insert(0, sys.argv[1])
from _common import open_engine, run_ingest
home, out, variant, folder = Path(sys.argv[2]), Path(sys.argv[3]), sys.argv[4], sys.argv[5]
files = [Path(f) for f in sys.argv[6:]]
overrides = {"embedding_variant": variant}
if folder:
    overrides["embedding_model"] = Path(folder)
with open_engine(home, **overrides) as (assistant, parts):
    run = run_ingest(assistant, files, parts.settings.collection)
out.write_text(json.dumps({
    "chunks": run.chunks, "seconds": run.seconds, "indexed": run.indexed,
    "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    "worker_rss_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
}))
"""


def tree_rss_mb(pid: int) -> float:
    """VmRSS of ``pid`` and its descendants, in MB."""
    total = 0.0
    pending = [pid]
    while pending:
        current = pending.pop()
        try:
            status = Path(f"/proc/{current}/status").read_text()
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
        except OSError:
            continue
        total += next(
            (
                int(line.split()[1]) / 1024
                for line in status.splitlines()
                if line.startswith("VmRSS:")
            ),
            0.0,
        )
        pending += [int(c) for c in children]
    return total


def idle_rss(command: list[str], seconds: float, home: Path, *, preload: bool = True) -> float:
    env = {
        **os.environ,
        "QT_QPA_PLATFORM": "offscreen",
        "DESK_ASSISTANT_HOME": str(home),
        "DESK_ASSISTANT_PRELOAD_MODELS": str(preload).lower(),
        "PYTHONPATH": str(REPO),
    }
    process = subprocess.Popen(
        command, env=env, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    last = 0.0
    try:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and process.poll() is None:
            time.sleep(0.5)
            last = tree_rss_mb(process.pid) or last
        if process.poll() is not None:
            raise SystemExit(f"{command} exited with {process.returncode} before the measurement")
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    return last


def ingest_child(
    variant: str, folder: Path | None, files: list[Path], scratch: Path
) -> dict[str, Any]:
    home, out = scratch / f"home-{variant}-{folder is not None}", scratch / "result.json"
    subprocess.run(
        [
            sys.executable,
            "-c",
            _INGEST,
            str(Path(__file__).parent),
            str(home),
            str(out),
            variant,
            str(folder or ""),
            *map(str, files),
        ],
        check=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    result: dict[str, Any] = json.loads(out.read_text())
    return result


def main() -> None:
    parser = base_parser(__doc__)
    parser.add_argument("--articles", type=int, default=30)
    parser.add_argument("--idle-s", type=float, default=30.0)
    parser.add_argument("--onnx", type=Path, help="an ONNX export to reuse (else exported here)")
    args = parser.parse_args()
    articles = 8 if args.quick else args.articles
    idle_s = 15.0 if args.quick else args.idle_s
    files = wikiqa_articles()[:articles]
    with temp_dir("memory") as scratch:
        log("window at rest")
        window = idle_rss([sys.executable, "-m", "ui"], idle_s, scratch / "ui", preload=False)
        loaded = idle_rss([sys.executable, "-m", "ui"], idle_s, scratch / "ui-loaded")
        bare = idle_rss([sys.executable, "-c", _BARE_WINDOW], idle_s, scratch / "bare-home")
        folder = args.onnx
        if folder is None:
            from desk_assistant.backends.defaults import default_embedding_dir
            from desk_assistant.backends.onnx_export import export

            log("exporting the built-in embedder to ONNX")
            folder = scratch / "onnx"
            export(default_embedding_dir(), folder)
        runs = {}
        for name, variant, model in (
            ("torch", "fp32", None),
            ("ONNX fp32", "fp32", folder),
            ("ONNX int8", "int8", folder),
        ):
            log(f"ingesting {len(files)} articles with {name}")
            runs[name] = ingest_child(variant, model, files, scratch)
    print_table(
        "Window at rest",
        ["process", "RSS MB", "target"],
        [
            ["python -m ui, before a model loads (preload_models off)", fmt(window, 0), "<= 300"],
            ["python -m ui, models loaded at start (default)", fmt(loaded, 0), "-"],
            ["bare PySide6 window (baseline)", fmt(bare, 0), "-"],
        ],
    )
    torch_rate = runs["torch"]["chunks"] / runs["torch"]["seconds"]
    print_table(
        f"Ingestion, {len(files)} wikiqa articles, fresh process per engine",
        ["embedder", "chunks", "chunks/s", "vs torch", "peak RSS MB", "parser worker MB"],
        [
            [
                name,
                run["chunks"],
                fmt(run["chunks"] / run["seconds"], 1),
                fmt(ratio(run["chunks"] / run["seconds"], torch_rate)),
                fmt(run["rss_mb"], 0),
                fmt(run["worker_rss_mb"], 0),
            ]
            for name, run in runs.items()
        ],
    )
    write_results(
        "memory",
        {"window_mb": window, "loaded_window_mb": loaded, "bare_window_mb": bare, "ingest": runs},
        args.out,
    )


if __name__ == "__main__":
    main()
