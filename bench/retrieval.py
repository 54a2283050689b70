"""Retrieval quality and latency on BEIR SciFact, through the project's own pipeline.

Each of the 5,183 abstracts becomes one file (`<id>.txt`, title on the first line) and
is ingested exactly as a user's documents are (parser workers, chunking, embeddings,
Chroma, BM25). The 300 test claims are then asked through `Assistant.retrieve` in four
variants: dense, BM25, hybrid with the default convex-combination fusion, and hybrid
with reciprocal rank fusion (plus hybrid + re-ranking when `--reranker FOLDER` is
given). Chunks are mapped back to their abstract; an abstract ranks where its best
chunk ranks. Beside them, the raw libraries are measured in the same run on whole
abstracts: sentence-transformers + numpy (dense), bm25s with English stemming and stop
words (BM25), and their reciprocal rank fusion. Published figures for reference: BM25
0.665, all-MiniLM-L6-v2 0.645, bge-small-en-v1.5 0.713, BM25 + cross-encoder 0.688.

Latency is retrieval only (query embedding included, no LLM), k = 5 passages, after a
warm-up. `--scale N` adds a run over N synthetic chunks (random unit vectors and
shuffled SciFact sentences, written straight into a fresh collection) to measure
latency at size. `--abstention` calibrates the refusal threshold: SciFact claims are
answerable in the SciFact collection, CMU Wikipedia questions are not, and the other
way round in a Wikipedia collection; it prints precision and recall of "refuse" for a
sweep of `min_relevance` values.

    python bench/retrieval.py [--home DIR] [--scale 100000] [--abstention] [--quick]
    python bench/retrieval.py --embedding-model ONNX_FOLDER --embedding-variant int8 --no-raw

`--home` keeps the ingested collection between runs (ingestion takes ~10 minutes here).
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import _common
import numpy as np

if TYPE_CHECKING:
    from desk_assistant.parts import Parts
    from desk_assistant.service import Assistant

COLLECTION = "scifact"
RRF_K = 60
LATENCY_K = 5
DEPTH = 200  # chunks retrieved per query for the quality metrics (>= 100 abstracts)


@dataclass(slots=True)
class Scores:
    ndcg10: list[float] = field(default_factory=list)
    recall100: list[float] = field(default_factory=list)
    mrr10: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)

    def add(self, ranked: Sequence[str], relevant: dict[str, int]) -> None:
        dcg = sum(relevant.get(d, 0) / math.log2(i + 2) for i, d in enumerate(ranked[:10]))
        ideal = sorted(relevant.values(), reverse=True)[:10]
        idcg = sum(r / math.log2(i + 2) for i, r in enumerate(ideal))
        self.ndcg10.append(dcg / idcg if idcg else 0.0)
        self.recall100.append(len(set(ranked[:100]) & set(relevant)) / len(relevant))
        first = next((i for i, d in enumerate(ranked[:10]) if d in relevant), None)
        self.mrr10.append(0.0 if first is None else 1.0 / (first + 1))

    def row(self, name: str) -> list[object]:
        return [
            name,
            f"{np.mean(self.ndcg10):.3f}",  # three places: the targets are 0.72 and 0.94
            f"{np.mean(self.recall100):.3f}",
            f"{np.mean(self.mrr10):.3f}",
            _common.median(self.seconds) * 1000,
            _common.percentile(self.seconds, 95) * 1000,
        ]


# data --------------------------------------------------------------------------------


def load_scifact(
    quick: bool,
) -> tuple[list[dict[str, str]], dict[str, str], dict[str, dict[str, int]]]:
    folder = _common.eval_dir() / "scifact"
    corpus = [json.loads(line) for line in (folder / "corpus.jsonl").open(encoding="utf-8")]
    queries = {
        q["_id"]: q["text"]
        for q in (json.loads(line) for line in (folder / "queries_test.jsonl").open())
    }
    qrels: dict[str, dict[str, int]] = {}
    for number, line in enumerate((folder / "qrels" / "test.tsv").open()):
        if number:
            query, doc, score = line.split()
            qrels.setdefault(query, {})[doc] = int(score)
    queries = {q: t for q, t in queries.items() if q in qrels}
    if quick:  # every relevant abstract, a sample of the others, a third of the claims
        kept = set(list(queries)[:100])
        queries = {q: t for q, t in queries.items() if q in kept}
        needed = {d for q in queries for d in qrels[q]}
        rng = random.Random(0)
        corpus = [d for d in corpus if d["_id"] in needed or rng.random() < 0.25]
    return corpus, queries, qrels


def write_corpus(corpus: Sequence[dict[str, str]], folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for doc in corpus:
        (folder / f"{doc['_id']}.txt").write_text(f"{doc['title']}\n{doc['text']}", "utf-8")


def ensure_collection(assistant: Assistant, corpus: Sequence[dict[str, str]], tmp: Path) -> None:
    if assistant.sources(COLLECTION):
        _common.log(f"reusing the ingested collection in {assistant.status().home}")
        return
    write_corpus(corpus, tmp / "scifact-docs")
    _common.log(f"ingesting {len(corpus)} abstracts through the normal pipeline...")
    run = _common.run_ingest(assistant, [tmp / "scifact-docs"], COLLECTION)
    _common.log(f"ingested {run.indexed} files, {run.chunks} chunks in {run.seconds:.0f} s")


# the project's pipeline --------------------------------------------------------------


def documents(passages: Sequence[Any]) -> list[str]:
    """Abstract ids in order of their best chunk."""
    seen: dict[str, None] = {}
    for passage in passages:
        seen.setdefault(Path(passage.path).stem, None)
    return list(seen)


def evaluate_pipeline(
    assistant: Assistant,
    queries: dict[str, str],
    qrels: dict[str, dict[str, int]],
    mode: str,
) -> Scores:
    scores = Scores()
    assistant.retrieve("warm up", COLLECTION, k=LATENCY_K, mode=mode)  # type: ignore[arg-type]
    for query_id, text in queries.items():
        result = assistant.retrieve(text, COLLECTION, k=DEPTH, mode=mode)  # type: ignore[arg-type]
        scores.add(documents(result.passages), qrels[query_id])
        _, seconds = _common.timed(
            partial(assistant.retrieve, text, COLLECTION, k=LATENCY_K, mode=mode)  # type: ignore[arg-type]
        )
        scores.seconds.append(seconds)
    return scores


# raw-library baselines ----------------------------------------------------------------


def raw_baselines(
    parts: Parts,
    corpus: Sequence[dict[str, str]],
    queries: dict[str, str],
    qrels: dict[str, dict[str, int]],
) -> dict[str, Scores]:
    import bm25s
    import Stemmer

    ids = [d["_id"] for d in corpus]
    texts = [f"{d['title']}\n{d['text']}" for d in corpus]
    model = parts.embedder._load()  # type: ignore[attr-defined]
    _common.log("raw baselines: encoding whole abstracts with sentence-transformers...")
    matrix = model.encode(texts, batch_size=64, normalize_embeddings=True, convert_to_numpy=True)
    stemmer = Stemmer.Stemmer("english")
    bm25 = bm25s.BM25()
    bm25.index(
        bm25s.tokenize(texts, stopwords="en", stemmer=stemmer, show_progress=False),
        show_progress=False,
    )

    def dense(text: str) -> list[str]:
        vector = model.encode([text], normalize_embeddings=True, convert_to_numpy=True)[0]
        order = np.argsort(-(matrix @ vector))[:100]
        return [ids[i] for i in order]

    def lexical(text: str) -> list[str]:
        tokens = bm25s.tokenize([text], stopwords="en", stemmer=stemmer, show_progress=False)
        rows, _ = bm25.retrieve(tokens, k=100, show_progress=False)
        return [ids[i] for i in rows[0]]

    def fused(text: str) -> list[str]:
        score: dict[str, float] = {}
        for ranking in (dense(text), lexical(text)):
            for rank, doc in enumerate(ranking):
                score[doc] = score.get(doc, 0.0) + 1.0 / (RRF_K + rank + 1)
        return sorted(score, key=score.__getitem__, reverse=True)

    results: dict[str, Scores] = {}
    for name, search in (
        ("raw dense (ST + numpy)", dense),
        ("raw BM25 (bm25s)", lexical),
        ("raw RRF(dense, BM25)", fused),
    ):
        scores = Scores()
        for query_id, text in queries.items():
            ranked, seconds = _common.timed(partial(search, text))
            scores.add(ranked, qrels[query_id])
            scores.seconds.append(seconds)
        results[name] = scores
    return results


# scale ---------------------------------------------------------------------------------


def scale_latency(
    assistant: Assistant, parts: Parts, corpus: Sequence[dict[str, str]], size: int
) -> Scores:
    """Latency over ``size`` synthetic chunks (random unit vectors, shuffled real words)."""
    from desk_assistant.store import chunk_metadata
    from ingest.analysis import analyze
    from ingest.types import Chunk, FileEntry

    collection = f"scale-{size}"
    rng = np.random.default_rng(0)
    words = " ".join(d["text"] for d in corpus).split()
    parts.manifest.ensure_collection(collection, parts.embedder.model_id, parts.embedder.dimension)
    if parts.manifest.counts(collection)["chunks"] < size:
        _common.log(f"writing {size} synthetic chunks...")
        per_file = 500
        for start in range(0, size, per_file):
            digest = f"{start:064x}"
            chunks = []
            for index in range(min(per_file, size - start)):
                picks = rng.integers(0, len(words), 60)
                text = " ".join(words[i] for i in picks)
                chunks.append(
                    (
                        f"syn-{start + index}",
                        Chunk(index, text, None, None, 0, len(text), " ".join(analyze(text))),
                    )
                )
            vectors = rng.standard_normal((len(chunks), parts.embedder.dimension))
            vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
            ids = [cid for cid, _ in chunks]
            journal = parts.manifest.begin_write(collection, ids)
            entry = FileEntry(f"/synthetic/{start}.txt", 1, 1, "/synthetic")
            shared_path = entry.path if parts.store.shared else None
            metadatas = [chunk_metadata(digest, c, shared_path=shared_path) for _, c in chunks]
            parts.store.upsert(collection, ids, vectors.astype(np.float32), metadatas)
            parts.manifest.commit_content(
                journal, collection, [entry], digest, fmt="text", pages=None, chunks=chunks
            )
    queries = [" ".join(rng.choice(words, 8)) for _ in range(100)]
    assistant.retrieve(queries[0], collection, k=LATENCY_K)  # builds the BM25 index once
    scores = Scores()
    for text in queries:
        _, seconds = _common.timed(partial(assistant.retrieve, text, collection, k=LATENCY_K))
        scores.seconds.append(seconds)
    return scores


# abstention ---------------------------------------------------------------------------


def wikiqa_questions(limit: int) -> list[str]:
    rows = [json.loads(line) for line in (_common.wikiqa_dir() / "qa.jsonl").open()]
    unique = list(dict.fromkeys(r["question"] for r in rows if r.get("answers")))
    random.Random(0).shuffle(unique)
    return unique[:limit]


def abstention_sweep(
    assistant: Assistant, queries: dict[str, str], tmp: Path
) -> list[list[object]]:
    """Precision/recall of refusing, pooled over two corpora where each other's questions
    are unanswerable."""
    wiki = wikiqa_questions(300)
    claims = list(queries.values())
    # Always run: ingestion is incremental, and a collection left half-built by an
    # interrupted run would turn answerable questions into unanswerable ones.
    _common.log("bringing the 150 CMU Wikipedia articles in for the abstention check...")
    _common.run_ingest(assistant, _common.wikiqa_articles(), "wikiqa")
    score = _common.relevances
    answerable = score(assistant, COLLECTION, claims) + score(assistant, "wikiqa", wiki)
    unanswerable = score(assistant, COLLECTION, wiki) + score(assistant, "wikiqa", claims)
    return _common.refusal_table(answerable, unanswerable)


# main ----------------------------------------------------------------------------------


def main() -> None:
    parser = _common.base_parser(__doc__)
    parser.add_argument("--home", type=Path, help="reuse this data folder between runs")
    parser.add_argument("--reranker", type=Path, help="cross-encoder folder for hybrid+rerank")
    parser.add_argument("--scale", type=int, default=0, help="synthetic chunks for a latency run")
    parser.add_argument("--abstention", action="store_true", help="calibrate the refusal threshold")
    parser.add_argument(
        "--embedding-model", type=Path, help="embedder folder (e.g. an ONNX export)"
    )
    parser.add_argument("--embedding-variant", help="its variant, e.g. int8 (embedding_variant)")
    parser.add_argument("--no-raw", action="store_true", help="skip the raw-library rows")
    args = parser.parse_args()
    # Only what was asked: the settings' defaults otherwise (a --home keeps its own model).
    engine: dict[str, Any] = {
        name: value
        for name, value in (
            ("embedding_model", args.embedding_model),
            ("embedding_variant", args.embedding_variant),
        )
        if value is not None
    }
    corpus, queries, qrels = load_scifact(args.quick)
    with _common.temp_dir("retrieval") as tmp:
        home = args.home or tmp / "home"
        with _common.open_engine(home, **engine) as (assistant, parts):
            ensure_collection(assistant, corpus, tmp)
            results = {
                "dense": evaluate_pipeline(assistant, queries, qrels, "dense"),
                "BM25": evaluate_pipeline(assistant, queries, qrels, "lexical"),
                "hybrid (default: convex)": evaluate_pipeline(assistant, queries, qrels, "hybrid"),
            }
            with _common.open_assistant(home, fusion="rrf", **engine) as rank_fused:
                results["hybrid (rrf)"] = evaluate_pipeline(rank_fused, queries, qrels, "hybrid")
            rerank_note = "not run (no --reranker folder: no cross-encoder ships offline)"
            if args.reranker:
                with _common.open_assistant(
                    home, reranker_model=str(args.reranker), **engine
                ) as reranked:
                    results["hybrid+rerank"] = evaluate_pipeline(reranked, queries, qrels, "hybrid")
                rerank_note = f"re-ranker {args.reranker}"
            baselines = {} if args.no_raw else raw_baselines(parts, corpus, queries, qrels)
            headers = ["variant", "nDCG@10", "recall@100", "MRR@10", "p50 ms", "p95 ms"]
            rows = [scores.row(f"pipeline {mode}") for mode, scores in results.items()]
            rows += [scores.row(name) for name, scores in baselines.items()]
            _common.print_table(
                f"SciFact test ({len(queries)} claims, {len(corpus)} abstracts); {rerank_note}",
                headers,
                rows,
            )
            data: dict[str, Any] = {"rows": [dict(zip(headers, r, strict=True)) for r in rows]}
            if args.scale:
                scale = scale_latency(assistant, parts, corpus, args.scale)
                scale_row = [
                    "hybrid",
                    _common.median(scale.seconds) * 1000,
                    _common.percentile(scale.seconds, 95) * 1000,
                ]
                _common.print_table(
                    f"Latency at {args.scale} synthetic chunks (k={LATENCY_K})",
                    ["variant", "p50 ms", "p95 ms"],
                    [scale_row],
                )
                data["scale"] = scale_row
            if args.abstention:
                sweep = abstention_sweep(assistant, queries, tmp)
                _common.print_table(
                    "Abstention: refuse when similarity x key-term coverage < threshold",
                    ["threshold", "precision", "recall", "answerable refused"],
                    sweep,
                )
                data["abstention"] = sweep
        _common.write_results("retrieval", data, args.out)


if __name__ == "__main__":
    main()
