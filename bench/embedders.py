"""The built-in embedding model on its two engines: sentence-transformers (PyTorch; the
source install) against its ONNX export on ONNX Runtime (the installers), fp32 and the
export's dynamically quantized int8 variant (setting ``embedding_variant``).

What runs: the model is exported once into a temporary folder (timed: the build step).
Then, alternating the engines, each is started ``N`` times in a fresh process that
imports it, loads the model and embeds one query (wall time around ``subprocess``:
what the first question after a start pays), and each embeds the same ``--texts``
SciFact abstracts ``N`` times in this process with batch size 64 (median texts/s).
Finally the vectors are compared (minimum cosine over all texts: ONNX fp32 to torch,
int8 to fp32).

How to read it: "vs torch" is the ONNX figure over the sentence-transformers one from
the same run (a busy machine shifts both). fp32 agreement must stay >= 0.999, or a
library indexed by one install is not searched correctly by the other; int8 is its own
vector space (a collection records which variant indexed it), target texts/s >= 1.3x
torch.

    python bench/embedders.py            # N = 5, 512 abstracts
    python bench/embedders.py --quick    # N = 3, 128 abstracts
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from _common import (
    base_parser,
    eval_dir,
    fmt,
    log,
    median,
    print_table,
    ratio,
    temp_dir,
    timed,
    write_results,
)

from desk_assistant.backends.defaults import default_embedding_dir
from desk_assistant.backends.embeddings import Embedder, SentenceTransformerEmbedder
from desk_assistant.backends.onnx_embedder import OnnxEmbedder
from desk_assistant.backends.onnx_export import export

# What the app's embedder factory does for a folder (registry "auto"), timed from nothing.
_START = """
import sys, time
started = time.perf_counter()
from pathlib import Path
from desk_assistant.backends.registry import make_embedder
from desk_assistant.settings import Settings
settings = Settings(
    home=Path(sys.argv[2]), embedding_model=Path(sys.argv[1]), embedding_variant=sys.argv[3]
)
make_embedder(settings).embed_query("How much notice must the tenant give?")
print(time.perf_counter() - started)
"""


def abstracts(count: int) -> list[str]:
    texts = []
    with (eval_dir() / "scifact" / "corpus.jsonl").open(encoding="utf-8") as corpus:
        for line in corpus:
            record = json.loads(line)
            texts.append(f"{record['title']}\n{record['text']}")
            if len(texts) == count:
                break
    return texts


def start_seconds(folder: Path, variant: str, home: Path) -> float:
    """Wall time of a fresh process that loads the model and embeds one query."""
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-c", _START, str(folder), str(home), variant],
        check=True,
        capture_output=True,
    )
    return time.perf_counter() - started


def main() -> int:
    parser = base_parser(__doc__)
    parser.add_argument("--texts", type=int, default=None, help="abstracts to embed")
    args = parser.parse_args()
    reps = 3 if args.quick else 5
    texts = abstracts(args.texts or (128 if args.quick else 512))
    source = default_embedding_dir()
    with temp_dir("embedders") as scratch:
        log("exporting to ONNX")
        _, export_s = timed(lambda: export(source, scratch / "onnx"))
        onnx = scratch / "onnx"
        folders = {"torch": (source, "fp32"), "onnx": (onnx, "fp32"), "int8": (onnx, "int8")}
        engines: dict[str, Embedder] = {
            "torch": SentenceTransformerEmbedder(source, batch_size=64),
            "onnx": OnnxEmbedder(onnx, batch_size=64),
            "int8": OnnxEmbedder(onnx, batch_size=64, variant="int8"),
        }
        starts: dict[str, list[float]] = {name: [] for name in engines}
        rates: dict[str, list[float]] = {name: [] for name in engines}
        vectors: dict[str, np.ndarray] = {}
        for name, engine in engines.items():
            vectors[name] = engine.embed_documents(texts)  # warm-up, and the vectors compared
        for rep in range(reps):
            for name, engine in engines.items():
                log(f"round {rep + 1}/{reps}: {name}")
                starts[name].append(start_seconds(*folders[name], scratch / "home"))
                started = time.perf_counter()
                engine.embed_documents(texts)
                rates[name].append(len(texts) / (time.perf_counter() - started))
    agreement = float(np.min(np.sum(vectors["onnx"] * vectors["torch"], axis=1)))
    int8_cosines = np.sum(vectors["int8"] * vectors["onnx"], axis=1)
    start = {name: median(values) for name, values in starts.items()}
    rate = {name: median(values) for name, values in rates.items()}
    rows = [
        [
            "start + first query (s)",
            *(fmt(start[n]) for n in engines),
            fmt(ratio(start["onnx"], start["torch"])),
            fmt(ratio(start["int8"], start["torch"])),
        ],
        [
            "texts/s, batch 64",
            *(fmt(rate[n], 1) for n in engines),
            fmt(ratio(rate["onnx"], rate["torch"])),
            fmt(ratio(rate["int8"], rate["torch"])),
        ],
        ["export (s, build time, both)", "-", fmt(export_s, 1), "-", "-", "-"],
        ["min cosine to torch", "1", f"{agreement:.6f}", "-", "-", "-"],
        [
            "int8 cosine to fp32 (min / median)",
            "-",
            "1",
            f"{int8_cosines.min():.4f} / {np.median(int8_cosines):.4f}",
            "-",
            "-",
        ],
    ]
    print_table(
        f"Built-in embedder, {len(texts)} SciFact abstracts, N = {reps}",
        [
            "",
            "sentence-transformers",
            "ONNX fp32",
            "ONNX int8",
            "fp32 vs torch",
            "int8 vs torch (target >= 1.3)",
        ],
        rows,
    )
    write_results(
        "embedders",
        {
            "texts": len(texts),
            "reps": reps,
            "starts": starts,
            "rates": rates,
            "export_s": export_s,
            "min_cosine": agreement,
            "int8_min_cosine": float(int8_cosines.min()),
            "int8_median_cosine": float(np.median(int8_cosines)),
        },
        args.out,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
