"""How the int8 ONNX embedder is fed: length-sorted windows and ONNX Runtime threads.

What runs: wikiqa articles are parsed and cut into chunks as ingestion cuts them (256
tokens, overlap 32, the model's tokenizer). The export's int8 variant then embeds the
same chunks with each configuration, round-robin for ``--reps`` rounds (a busy machine
slows every configuration alike), in this process, after a warm-up:

- *baseline*: what ingestion does: ``embed_documents`` on 64 chunks at a time
  (``embed_batch_size``) in document order, each call sorting its texts by length into
  passes of at most ``TOKENS_PER_PASS`` tokens; ONNX Runtime's default threads (one per
  core);
- *batch sorted*: the indexer's batch (~256 chunks: it embeds once 4 x
  ``embed_batch_size`` have been parsed) sorted by characters, longest first, then
  ``embed_documents`` on 64 at a time (what ``Indexer._embed`` could do cheaply);
- *sort window N*: ``embed_documents`` on N chunks at a time (still at most 64 per
  pass), sorted by tokens: longer runs of similar lengths, less padding;
- *threads N*: the baseline with ONNX Runtime's intra-op threads set to N.

How to read it: median chunks/s over rounds, each beside the baseline of the same run;
"padded tokens" is the share of the passes' tokens that are padding (computed, not
timed). A change is worth making the default at >= 1.10x in two runs.

    python bench/embed_passes.py --onnx FOLDER            # 40 articles, 5 rounds
    python bench/embed_passes.py --onnx FOLDER --quick    # 8 articles, 3 rounds
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from _common import (
    base_parser,
    fmt,
    log,
    median,
    print_table,
    ratio,
    temp_dir,
    wikiqa_articles,
    write_results,
)

from desk_assistant.backends.embeddings import rows_per_pass
from desk_assistant.backends.onnx_embedder import INT8_VARIANT, OnnxEmbedder
from ingest.chunking import Chunker, ChunkingConfig
from ingest.loaders import load

BATCH = 64  # embed_batch_size's default: the texts one pass may hold
BASELINE = "baseline (window 64, default threads)"
INDEXER_BATCH = 4 * BATCH


def chunk_texts(files: Sequence[Path], tokenizer: Path) -> list[str]:
    chunker = Chunker(ChunkingConfig(256, 32, str(tokenizer)))
    return [chunk.text for file in files for chunk in chunker.chunk(load(file).sections)]


def token_lengths(texts: Sequence[str], folder: Path) -> list[int]:
    """Each text's tokens as the embedder counts them (cut at the model's 256)."""
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
    tokenizer.enable_truncation(256)
    tokenizer.no_padding()
    return [len(encoding.ids) for encoding in tokenizer.encode_batch(list(texts))]


def calls_of(texts: Sequence[str], window: int, presort: bool) -> list[list[int]]:
    """The texts (by index) of each ``embed_documents`` call: ``window`` at a time or,
    with ``presort``, 64 at a time of each ``window`` sorted by characters, longest first
    (what the indexer could do)."""
    calls: list[list[int]] = []
    for start in range(0, len(texts), window):
        group = list(range(start, min(start + window, len(texts))))
        if presort:
            group.sort(key=lambda i: len(texts[i]), reverse=True)
            calls.extend(group[at : at + BATCH] for at in range(0, len(group), BATCH))
        else:
            calls.append(group)
    return calls


def padded_share(lengths: Sequence[int], calls: Sequence[Sequence[int]]) -> float:
    """Padding over all tokens of the passes the embedder makes of ``calls``."""
    real = padded = 0
    for call in calls:
        ordered = sorted((lengths[i] for i in call), reverse=True)
        at = 0
        while at < len(ordered):
            rows = ordered[at : at + rows_per_pass(ordered[at], BATCH)]
            real, padded = real + sum(rows), padded + ordered[at] * len(rows)
            at += len(rows)
    return 1 - real / padded


def rate(embedder: OnnxEmbedder, texts: Sequence[str], calls: Sequence[Sequence[int]]) -> float:
    started = time.perf_counter()
    for call in calls:
        embedder.embed_documents([texts[i] for i in call])
    return len(texts) / (time.perf_counter() - started)


def main() -> int:
    parser = base_parser(__doc__)
    parser.add_argument("--onnx", type=Path, help="an ONNX export with int8 (else exported here)")
    parser.add_argument("--articles", type=int, default=40)
    parser.add_argument("--reps", type=int, default=5)
    args = parser.parse_args()
    articles, reps = (8, 3) if args.quick else (args.articles, args.reps)
    with temp_dir("embed-passes") as scratch:
        folder = args.onnx
        if folder is None:
            from desk_assistant.backends.defaults import default_embedding_dir
            from desk_assistant.backends.onnx_export import export

            log("exporting the built-in embedder to ONNX")
            folder = scratch / "onnx"
            export(default_embedding_dir(), folder)
        texts = chunk_texts(wikiqa_articles()[:articles], folder / "tokenizer.json")
        lengths = token_lengths(texts, folder)
        # name -> (ONNX Runtime intra-op threads, window, sorted by characters first)
        configs: dict[str, tuple[int | None, int, bool]] = {
            BASELINE: (None, BATCH, False),
            "batch of 256 sorted by characters, 64 per call": (None, INDEXER_BATCH, True),
            "sort window 256": (None, 256, False),
            "threads 1": (1, BATCH, False),
            "threads 2": (2, BATCH, False),
        }
        plans = {name: calls_of(texts, window, sort) for name, (_, window, sort) in configs.items()}
        embedders = {
            name: OnnxEmbedder(folder, batch_size=BATCH, variant=INT8_VARIANT, threads=threads)
            for name, (threads, _, _) in configs.items()
        }
        for embedder in embedders.values():
            embedder.embed_documents(texts[:BATCH])  # load, allocate, warm the caches
        rates: dict[str, list[float]] = {name: [] for name in configs}
        for round_ in range(reps):
            log(f"round {round_ + 1} of {reps}: {len(texts)} chunks x {len(configs)}")
            for name, plan in plans.items():
                rates[name].append(rate(embedders[name], texts, plan))
    load_avg = os.getloadavg()
    base = median(rates[BASELINE])
    rows: list[list[Any]] = []
    results: dict[str, Any] = {"chunks": len(texts), "reps": reps, "load": load_avg, "rows": {}}
    for name, plan in plans.items():
        value = median(rates[name])
        share = padded_share(lengths, plan)
        rows.append([name, fmt(value, 1), fmt(base, 1), fmt(ratio(value, base)), fmt(share)])
        results["rows"][name] = {"chunks_s": value, "rounds": rates[name], "padded": share}
    print_table(
        f"int8 ONNX embedder, {len(texts)} wikiqa chunks, {reps} rounds "
        f"(load average {fmt(load_avg[0])}, {os.cpu_count()} CPUs)",
        ["configuration", "chunks/s", "baseline chunks/s", "ratio", "padded tokens"],
        rows,
    )
    write_results("embed_passes", results, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
