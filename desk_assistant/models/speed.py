"""How fast a model will answer on this machine, before it is downloaded.

An answer is two kinds of work for llama.cpp on a CPU:

* reading the prompt (instructions, passages, question): compute-bound, about two
  floating-point operations per parameter per token;
* writing the answer token by token: memory-bound, every weight (the file, nearly) is
  read once per token.

On top of both comes a fixed cost per token (scheduling the threads, the layers' small
operations), which on a small virtual machine is not small: the 98 MB built-in model
writes only about 10 tokens a second here, almost all of it overhead.

So this machine is measured three ways, in a second or two: how fast it reads memory
(summing a 256 MB array) and how fast it multiplies (a 1024 x 1024 float32 product on
all cores, numpy's BLAS), each the best of seven tries, and how long the built-in model
takes per token when it reads a prompt and when it writes (its own size subtracted,
what remains is the overhead). A
model's speed then follows from its file size and parameter count: overhead plus the
bytes or operations it needs at the share of the measured peaks llama.cpp reaches,
calibrated with a model of a real shape by ``bench/model_speed.py``. Expect the
estimate within a factor of two or three: other programs and the prompt's length move
it (the calibration ran on a machine shared with other work).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from desk_assistant.progress import format_duration

# Shares of the measured peaks llama.cpp reaches on top of its per-token overhead. From a
# Llama-2-7B Q4_0 shape on this machine class, quiet (DESIGN.md: 8.3 prompt and 3.7
# generated tokens/s against about 130 GFLOP/s and 20 GB/s measured here): 0.8 and 0.7;
# a 1.1B shape on the same machine while it was busy (bench/model_speed.py, 2026-12-01):
# 0.35-0.43 and 0.19-0.24. The guide offers 1-8 GB models: nearer the first.
PROMPT_EFFICIENCY = 0.7  # of the multiplication rate, reading the prompt
ANSWER_EFFICIENCY = 0.6  # of the memory read rate, writing the answer
# A typical question: the passages (context_budget, 1,200 tokens), instructions and the
# question itself; a typical answer of a few sentences.
TYPICAL_PROMPT_TOKENS = 1400
TYPICAL_ANSWER_TOKENS = 150
WORDS_PER_TOKEN = 0.75
_MEMORY_TEST_BYTES = 256 * 1024 * 1024
_MATRIX = 1024
_TRIES = 7  # the best of several: the machine's speed, not a moment when another program ran
_PROBE_PROMPT = "The notice period of the lease is three months, to the end of a month. " * 12
_PROBE_TOKENS = 24
BUILTIN_PARAMETERS = 135_000_000  # SmolLM2-135M


@dataclass(frozen=True, slots=True)
class MachineSpeed:
    memory_bytes_per_s: float
    flops: float  # floating-point operations per second, all cores
    prompt_overhead_s: float = 0.0  # per prompt token, whatever the model's size
    answer_overhead_s: float = 0.0  # per generated token


@dataclass(frozen=True, slots=True)
class SpeedEstimate:
    prompt_tokens_per_s: float
    answer_tokens_per_s: float

    @property
    def answer_seconds(self) -> float:
        """A typical answer, from the question to the last word."""
        return (
            TYPICAL_PROMPT_TOKENS / self.prompt_tokens_per_s
            + TYPICAL_ANSWER_TOKENS / self.answer_tokens_per_s
        )

    def describe(self) -> str:
        words = self.answer_tokens_per_s * WORDS_PER_TOKEN
        rate = f"{words:.0f}" if words >= 10 else f"{words:.1f}"
        return (
            f"writes about {rate} words a second; a typical answer takes about "
            f"{format_duration(self.answer_seconds)}"
        )


def estimate_speed(size_bytes: int, parameters: int, machine: MachineSpeed) -> SpeedEstimate:
    prompt_token = machine.prompt_overhead_s + 2 * max(parameters, 1) / (
        PROMPT_EFFICIENCY * machine.flops
    )
    answer_token = machine.answer_overhead_s + max(size_bytes, 1) / (
        ANSWER_EFFICIENCY * machine.memory_bytes_per_s
    )
    return SpeedEstimate(1 / prompt_token, 1 / answer_token)


def measure_peaks() -> MachineSpeed:
    """The memory read rate and the multiplication rate of this machine, best of seven."""
    import numpy as np

    block = np.ones(_MEMORY_TEST_BYTES // 4, dtype=np.float32)
    matrix = np.random.default_rng(0).standard_normal((_MATRIX, _MATRIX), dtype=np.float32)
    block.sum()  # touch every page once: the first pass also pays for the allocation
    matrix @ matrix
    reading = _best(block.sum)
    multiplying = _best(lambda: matrix @ matrix)
    return MachineSpeed(block.nbytes / reading, 2 * _MATRIX**3 / multiplying)


def measure_machine(model: Path | None = None) -> MachineSpeed:
    """The peaks, and the per-token overheads of llama.cpp measured with ``model``
    (default: the built-in model, which every installation has)."""
    from desk_assistant.backends.defaults import default_llm_path
    from desk_assistant.backends.llm.base import LoadParams
    from desk_assistant.backends.llm.llama_cpp_runtime import LlamaCppRuntime

    peaks = measure_peaks()
    path = model or default_llm_path()
    runtime = LlamaCppRuntime.load(path, LoadParams(context_length=512))
    try:
        prompt_tokens = len(runtime.tokenize(_PROBE_PROMPT))
        started = time.perf_counter()
        first = finished = 0.0
        written = 0
        for _piece in runtime.stream(_PROBE_PROMPT, max_tokens=_PROBE_TOKENS, temperature=1.0):
            written += 1
            finished = time.perf_counter()
            first = first or finished
    finally:
        runtime.close()
    size = path.stat().st_size
    known = estimate_speed(size, BUILTIN_PARAMETERS, peaks)  # without any overhead
    per_prompt_token = (first - started) / max(prompt_tokens, 1)
    per_answer_token = (finished - first) / max(written - 1, 1)
    return MachineSpeed(
        peaks.memory_bytes_per_s,
        peaks.flops,
        max(0.0, per_prompt_token - 1 / known.prompt_tokens_per_s),
        max(0.0, per_answer_token - 1 / known.answer_tokens_per_s),
    )


def _best(work: Callable[[], object]) -> float:
    times = []
    for _ in range(_TRIES):
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return max(min(times), 1e-9)
