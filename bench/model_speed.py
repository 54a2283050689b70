"""How much of this machine's measured peaks llama.cpp reaches: the efficiencies behind the
answer-speed estimates the model guide shows before a download
(``desk_assistant.models.speed``).

What runs: ``N`` rounds of (1) the machine measurement the app makes (memory read rate:
summing a 256 MB array; multiplication rate: a 1024 x 1024 float32 product, each the
best of seven; llama.cpp's
per-token overheads, from the built-in model), then (2) llama.cpp reading a prompt of
about 500 tokens and writing 64 tokens with a model of a real shape - random Q4_0
weights with the proportions of a 1.1B Llama (22 layers, width 2048, feed-forward 5632,
32 heads, 4 KV heads; written once, about 0.6 GB, no download).

How to read it: prompt efficiency = 2 x parameters / (FLOP/s x (seconds per prompt
token - overhead)); answer efficiency = file size / (memory bytes/s x (seconds per
generated token - overhead)); medians over the rounds. ``speed.py`` uses these two
numbers; the table also shows what they predict for the built-in model and for the
Llama-2-7B shape measured in DESIGN.md (3.7 generated and 8.3 prompt tokens/s on this
machine class, quiet) as a check.

    python bench/model_speed.py            # N = 3
    python bench/model_speed.py --quick    # N = 1
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import TypedDict

from _common import base_parser, log, median, print_table, use_test_helpers


class Shape(TypedDict):
    """write_tiny_llama_gguf's shape arguments (so that mypy checks them against it)."""

    embedding_length: int
    block_count: int
    feed_forward_length: int
    head_count: int
    head_count_kv: int
    vocab_size: int
    context_length: int


SHAPE: Shape = {
    "embedding_length": 2048,
    "block_count": 22,
    "feed_forward_length": 5632,
    "head_count": 32,
    "head_count_kv": 4,
    "vocab_size": 32000,
    "context_length": 2048,
}
PROMPT_WORDS = 380  # about 500 tokens of the random model's vocabulary
ANSWER_TOKENS = 64


def parameters() -> int:
    width, ff, layers = (
        SHAPE["embedding_length"],
        SHAPE["feed_forward_length"],
        SHAPE["block_count"],
    )
    kv = width * SHAPE["head_count_kv"] // SHAPE["head_count"]
    per_layer = 2 * width * width + 2 * width * kv + 3 * width * ff
    return layers * per_layer + 2 * SHAPE["vocab_size"] * width


def write_model(folder: Path) -> Path:
    use_test_helpers()  # the tests' writer, at a real shape
    from tiny_gguf import write_tiny_llama_gguf

    log("writing a random-weight Q4_0 model of a 1.1B shape…")
    return write_tiny_llama_gguf(folder / "speed-1b.Q4_0.gguf", quantized=True, **SHAPE)


def run_model(path: Path) -> tuple[float, float]:
    """(prompt tokens/s, generated tokens/s) of llama.cpp on this file."""
    from desk_assistant.backends.llm.base import LoadParams
    from desk_assistant.backends.llm.llama_cpp_runtime import LlamaCppRuntime

    runtime = LlamaCppRuntime.load(path, LoadParams(context_length=SHAPE["context_length"]))
    try:
        prompt = " ".join(["the house of the people is near the sea"] * (PROMPT_WORDS // 9))
        tokens = len(runtime.tokenize(prompt))
        started = time.perf_counter()
        first = 0.0
        count = 0
        for _piece in runtime.stream(prompt, max_tokens=ANSWER_TOKENS, temperature=1.0):
            count += 1
            if count == 1:
                first = time.perf_counter()
        finished = time.perf_counter()
    finally:
        runtime.close()
    return tokens / (first - started), (count - 1) / (finished - first)


def main() -> int:
    from desk_assistant.backends.defaults import default_llm_path
    from desk_assistant.models.speed import MachineSpeed, estimate_speed, measure_machine

    args = base_parser(__doc__ or "").parse_args()
    rounds = 1 if args.quick else 3
    with tempfile.TemporaryDirectory(prefix="model-speed-") as tmp:
        model = write_model(Path(tmp))
        size = model.stat().st_size
        machines: list[MachineSpeed] = []
        rates: list[tuple[float, float]] = []
        for number in range(rounds):
            log(f"round {number + 1} of {rounds}")
            machines.append(measure_machine())
            rates.append(run_model(model))
    memory = median([m.memory_bytes_per_s for m in machines])
    flops = median([m.flops for m in machines])
    prompt_rate = median([r[0] for r in rates])
    answer_rate = median([r[1] for r in rates])
    prompt_overhead = median([m.prompt_overhead_s for m in machines])
    answer_overhead = median([m.answer_overhead_s for m in machines])
    prompt_eff = 2 * parameters() / (flops * (1 / prompt_rate - prompt_overhead))
    answer_eff = size / (memory * (1 / answer_rate - answer_overhead))
    machine = MachineSpeed(memory, flops, prompt_overhead, answer_overhead)
    builtin = default_llm_path()
    rows = [
        ["memory read rate", f"{memory / 1e9:.1f} GB/s", ""],
        ["multiplication rate", f"{flops / 1e9:.1f} GFLOP/s", ""],
        [
            "overhead per token",
            f"{1000 * prompt_overhead:.1f} / {1000 * answer_overhead:.1f} ms",
            "prompt / answer, from the built-in model",
        ],
        ["1.1B Q4_0 prompt", f"{prompt_rate:.1f} tokens/s", f"efficiency {prompt_eff:.2f}"],
        ["1.1B Q4_0 answer", f"{answer_rate:.1f} tokens/s", f"efficiency {answer_eff:.2f}"],
    ]
    for name, file_size, count in (
        ("built-in SmolLM2-135M (predicted)", builtin.stat().st_size, 135_000_000),
        ("Llama-2-7B Q4_0 (predicted)", 3_800_000_000, 6_740_000_000),
    ):
        guess = estimate_speed(file_size, count, machine)
        rows.append(
            [
                name,
                f"{guess.prompt_tokens_per_s:.1f} / {guess.answer_tokens_per_s:.1f} tokens/s",
                "prompt / answer, with speed.py's efficiencies",
            ]
        )
    print_table(
        "Model speed: llama.cpp against the measured peaks", ["what", "measured", "note"], rows
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
