"""Capacity of a Chroma server and the cost of answering through a model server.

What runs, on this machine, with servers on loopback (so the network costs nothing and
what is measured is the servers' own work and the HTTP/JSON in between):

* **Chroma server memory**: ``chroma run`` on an empty folder; its resident memory
  (``VmRSS``) before and after N chunks are written through the engine's own store
  (``ChromaStore.upsert``, 2,000 per request, as ingestion writes them): random
  unit vectors of all-MiniLM-L6-v2's 384 dimensions, each with what a shared server
  keeps beside it (its ~1,000-character text as the document, its BM25 terms, path,
  page and span). Memory is read after the searches below, so the HNSW index is loaded.
  Vectors per GB = N / (RSS after - RSS empty).
* **Search latency, local vs server**: the same N chunks also go into an embedded
  ``PersistentClient`` store (the default); then the same random query vectors are
  searched in both for the 50 nearest (what hybrid retrieval asks Chroma for): p50 and
  p95 of the store call, ratio server/local.
* **Tokens/s, local vs server, same model**: the bundled SmolLM2-135M GGUF loaded in
  this process by the ``llama_cpp`` runtime, and served by ``python -m llama_cpp.server``
  (same file, context, threads) through the ``openai`` runtime; the same question with
  the same passages, temperature 0, a fixed answer length. Rounds alternate the two.
  TTFT = call to first text; tokens/s = (tokens - 1) / (last piece - first piece),
  tokens counted with the model's tokenizer on the streamed text, for both.

    python bench/servers.py                  # 10,000 and 100,000 chunks, 3 rounds
    python bench/servers.py --quick          # 2,000 chunks, 1 round
    python bench/servers.py --sizes 50000 --rounds 5
"""

from __future__ import annotations

import random
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
from _common import base_parser, log, median, percentile, print_table, ratio, temp_dir
from _common import write_results as save

DIMENSION = 384  # all-MiniLM-L6-v2
BATCH = 2000
WORDS = (
    "lease notice period landlord tenant rent deposit council budget bridge renovation "
    "library park tree playground report annual holiday employee laptop department"
).split()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def _server(command: list[str], ready: str, port: int) -> Iterator[subprocess.Popen[bytes]]:
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}{ready}", timeout=2):
                    break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise SystemExit(f"{command[0]} did not start") from None
                time.sleep(0.3)
        yield process
    finally:
        process.kill()
        process.wait()


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _chunks(count: int, seed: int) -> Iterator[tuple[list[str], np.ndarray, list[Any]]]:
    from ingest.types import Chunk

    rng = np.random.default_rng(seed)
    words = random.Random(seed)
    for start in range(0, count, BATCH):
        size = min(BATCH, count - start)
        vectors = rng.standard_normal((size, DIMENSION)).astype(np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        records = []
        for number in range(start, start + size):
            text = " ".join(words.choice(WORDS) for _ in range(150))  # ~1,000 characters
            digest = f"{number:040x}"
            path = f"/home/team/docs/report-{number // 20}.pdf"
            records.append((digest, Chunk(0, text, number % 30 + 1, None, 0, 1000, text), path))
        yield [f"c-{number}" for number in range(start, start + size)], vectors, records


def _fill(store: Any, count: int) -> float:
    from desk_assistant.store import chunk_metadata

    started = time.perf_counter()
    for ids, vectors, records in _chunks(count, seed=count):
        metadatas = [
            chunk_metadata(digest, chunk, shared_path=path if store.shared else None)
            for digest, chunk, path in records
        ]
        store.upsert("bench", ids, vectors, metadatas)
    return time.perf_counter() - started


def _search_ms(store: Any, queries: np.ndarray) -> list[float]:
    times = []
    for vector in queries:
        started = time.perf_counter()
        store.query("bench", vector, 50)
        times.append((time.perf_counter() - started) * 1000)
    return times


def measure_store(size: int, queries: int) -> dict[str, float]:
    from desk_assistant.store import ChromaStore

    rng = np.random.default_rng(7)
    vectors = rng.standard_normal((queries, DIMENSION)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    chroma = str(Path(sys.executable).parent / "chroma")
    with temp_dir("bench-servers") as folder:
        port = _free_port()
        command = [chroma, "run", "--path", str(folder / "server"), "--port", str(port)]
        # key_of=str: "bench" is already a Chroma-legal name, no manifest id is needed.
        with _server(command, "/api/v2/heartbeat", port) as process:
            empty = _rss_mb(process.pid)
            remote = ChromaStore(
                folder, f"http://127.0.0.1:{port}", writer="bench", wait=600, key_of=str
            )
            log(f"{size} chunks -> Chroma server")
            fill_server = _fill(remote, size)
            local = ChromaStore(folder / "local", writer="bench", key_of=str)
            log(f"{size} chunks -> embedded store")
            fill_local = _fill(local, size)
            _search_ms(remote, vectors[:10])  # warm both: the index is loaded on first use
            _search_ms(local, vectors[:10])
            server_ms = _search_ms(remote, vectors)
            local_ms = _search_ms(local, vectors)
            full = _rss_mb(process.pid)
    grown = full - empty
    return {
        "chunks": size,
        "server_rss_empty_mb": empty,
        "server_rss_mb": full,
        "vectors_per_gb": size / (grown / 1024) if grown > 0 else float("nan"),
        "fill_server_s": fill_server,
        "fill_local_s": fill_local,
        "search_p50_local_ms": percentile(local_ms, 50),
        "search_p50_server_ms": percentile(server_ms, 50),
        "search_p95_local_ms": percentile(local_ms, 95),
        "search_p95_server_ms": percentile(server_ms, 95),
    }


QUESTION = "When does the Harbor Bridge renovation finish, and what does it cost?"
PASSAGE = (
    "[1] (council-report.pdf, page 2)\nInfrastructure. The Harbor Bridge renovation will be "
    "finished in October 2027. The renovation of the Harbor Bridge costs 45 million euros "
    "and replaces the steel deck."
)


def _user_message(number: int) -> str:
    """The question with its passage; the passage differs every round, so that neither
    side reuses more than the system prompt from the previous answer (llama-cpp-python's
    server keeps the KV cache of the longest common prefix; the engine resets it)."""
    passage = PASSAGE.replace("October 2027", f"October {2027 + number}")
    return f"Passages:\n\n{passage}\n\nQuestion: {QUESTION}"


def _stream_once(runtime: Any, prompt: str, tokens: int, count: Any) -> tuple[float, float]:
    started = time.perf_counter()
    first = last = 0.0
    pieces = []
    for piece in runtime.stream(prompt, max_tokens=tokens, temperature=0.0):
        last = time.perf_counter()
        first = first or last
        pieces.append(piece)
    generated = count("".join(pieces))
    speed = (generated - 1) / (last - first) if generated > 1 and last > first else float("nan")
    return first - started, speed


def measure_generation(tokens: int, rounds: int, threads: int) -> dict[str, float]:
    from desk_assistant.backends.defaults import default_llm_path
    from desk_assistant.backends.llm.base import LoadParams
    from desk_assistant.backends.llm.chat_format import chat_format_for, messages_format
    from desk_assistant.backends.llm.llama_cpp_runtime import LlamaCppRuntime
    from desk_assistant.backends.llm.openai_runtime import OpenAIRuntime
    from desk_assistant.rag.prompt import SYSTEM_PROMPT
    from desk_assistant.settings import load_settings

    model = default_llm_path()
    local = LlamaCppRuntime.load(model, LoadParams(context_length=2048, threads=threads))
    local_format, server_format = chat_format_for(local.info), messages_format()
    port = _free_port()
    command = [
        sys.executable, "-m", "llama_cpp.server", "--model", str(model), "--host",
        "127.0.0.1", "--port", str(port), "--n_ctx", "2048", "--n_threads", str(threads),
        "--model_alias", "smollm2",
    ]  # fmt: skip
    results: dict[str, list[float]] = {"local_ttft": [], "local_tps": [], "server_ttft": []}
    results["server_tps"] = []
    with temp_dir("bench-llm") as home, _server(command, "/v1/models", port):
        settings = load_settings(home, runtime="openai", llm_url=f"http://127.0.0.1:{port}/v1")
        remote = OpenAIRuntime.connect(settings)

        def count(text: str) -> int:
            return len(local.tokenize(text))

        for number in range(rounds + 1):  # the first round warms both up, untimed
            user = _user_message(number)
            order = [
                ("local", local, local_format.render(SYSTEM_PROMPT, user)),
                ("server", remote, server_format.render(SYSTEM_PROMPT, user)),
            ]
            for name, runtime, prompt in order if number % 2 else order[::-1]:
                ttft, speed = _stream_once(runtime, prompt, tokens, count)
                if number:
                    results[f"{name}_ttft"].append(ttft)
                    results[f"{name}_tps"].append(speed)
        remote.close()
    local.close()
    return {key: median(values) for key, values in results.items()}


def _store_table(stores: list[dict[str, float]]) -> None:
    print_table(
        "Chroma server memory and search latency (k=50), local store vs server",
        ["chunks", "server RSS MB", "vectors per GB", "p50 local ms", "p50 server ms",
         "p95 local ms", "p95 server ms", "server/local p50"],
        [
            [s["chunks"], s["server_rss_mb"], s["vectors_per_gb"], s["search_p50_local_ms"],
             s["search_p50_server_ms"], s["search_p95_local_ms"], s["search_p95_server_ms"],
             ratio(s["search_p50_server_ms"], s["search_p50_local_ms"])]
            for s in stores
        ],
    )  # fmt: skip


def main() -> None:
    parser = base_parser(__doc__)
    parser.add_argument("--sizes", default="10000,100000", help="chunk counts, comma-separated")
    parser.add_argument("--queries", type=int, default=200, help="searches per store")
    parser.add_argument("--tokens", type=int, default=128, help="answer length in tokens")
    parser.add_argument("--rounds", type=int, default=3, help="answers per runtime")
    parser.add_argument("--threads", type=int, default=2, help="LLM threads, both sides")
    args = parser.parse_args()
    sizes = [2000] if args.quick else [int(s) for s in args.sizes.split(",") if s]
    queries = 50 if args.quick else args.queries
    rounds = 1 if args.quick else args.rounds

    # Generation first: the embedded Chroma store of the other part keeps threads of its
    # own in this process, which would compete with the in-process model for the cores.
    log("generation: local llama_cpp vs llama_cpp.server")
    llm = measure_generation(args.tokens, rounds, args.threads)
    stores = [measure_store(size, queries) for size in sizes]
    if stores:
        _store_table(stores)
    print_table(
        f"SmolLM2-135M, {args.tokens}-token answers, {args.threads} threads: local vs server",
        ["runtime", "TTFT s", "tokens/s", "tokens/s vs local"],
        [
            ["llama_cpp (in process)", llm["local_ttft"], llm["local_tps"], 1.0],
            ["openai -> llama_cpp.server", llm["server_ttft"], llm["server_tps"],
             ratio(llm["server_tps"], llm["local_tps"])],
        ],
    )  # fmt: skip
    path = save("servers", {"stores": stores, "generation": llm}, args.out)
    log(f"results: {path}")


if __name__ == "__main__":
    main()
