"""Will this model fit in memory, and how many threads should it get?

A model that does not fit in RAM does not fail: it swaps, and a 2-core laptop then takes
minutes per token while the rest of the desktop freezes. So the app warns before loading,
from numbers it can know without loading anything:

* weights: the file size (llama.cpp maps the file; every page is touched while generating);
* KV cache: 2 (K and V) x layers x context x (embedding x kv_heads / heads) x 2 bytes (f16);
* overhead: llama.cpp's compute buffers and the runtime itself, a fixed slice plus 10 %.

The functions that decide are pure (numbers in, verdict out) and unit-tested; only
``read_memory`` and ``read_cpu`` look at the machine.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

from desk_assistant.models.describe import ModelDescription
from desk_assistant.models.files import format_bytes

Verdict = Literal["fits", "tight", "does not fit"]
VERDICT_TEXT = {"fits": "fits", "tight": "tight: may swap", "does not fit": "does not fit"}

FIXED_OVERHEAD = 300_000_000
OVERHEAD_SHARE = 0.10
COMFORT = 0.8  # past 80 % of the available memory, the rest of the desktop starts to swap
TOTAL_LIMIT = 0.9  # what could be freed by closing other programs, at most
KV_BYTES_PER_VALUE = 2  # llama.cpp's default f16 KV cache

# Approximate bits per weight of llama.cpp's quantizations (file size x 8 / parameters,
# measured on Llama-2-7B files): enough to predict a smaller file's size.
BITS_PER_WEIGHT = {
    "F32": 32.0,
    "F16": 16.0,
    "BF16": 16.0,
    "Q8_0": 8.5,
    "Q6_K": 6.56,
    "Q5_1": 6.0,
    "Q5_K_M": 5.69,
    "Q5_K_S": 5.54,
    "Q5_0": 5.5,
    "Q4_1": 5.0,
    "Q4_K_M": 4.85,
    "Q4_K_S": 4.58,
    "Q4_0": 4.5,
    "Q3_K_L": 4.27,
    "Q3_K_M": 3.91,
    "Q3_K_S": 3.5,
    "Q2_K": 3.35,
}
# The quantizations worth suggesting, best first: each step costs a little quality.
QUANTIZATION_LADDER = ("Q8_0", "Q6_K", "Q5_K_M", "Q4_K_M", "Q3_K_M", "Q2_K")


@dataclass(frozen=True, slots=True)
class Memory:
    available: int  # what can be used without swapping (MemAvailable)
    total: int


@dataclass(frozen=True, slots=True)
class MemoryEstimate:
    weights: int
    kv_cache: int
    overhead: int
    context_length: int

    @property
    def total(self) -> int:
        return self.weights + self.kv_cache + self.overhead


@dataclass(frozen=True, slots=True)
class FitReport:
    verdict: Verdict
    message: str
    needed_bytes: int
    available_bytes: int
    total_bytes: int
    weights_bytes: int
    kv_cache_bytes: int
    context_length: int
    suggested_quantization: str | None
    suggestion: str | None
    threads: int

    @property
    def label(self) -> str:
        return VERDICT_TEXT[self.verdict]

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "label": self.label}


def kv_cache_bytes(
    *,
    block_count: int,
    embedding_length: int,
    head_count: int,
    head_count_kv: int | None,
    context_length: int,
    bytes_per_value: int = KV_BYTES_PER_VALUE,
) -> int:
    """Bytes of the K and V caches: grouped-query models (fewer KV heads) need less."""
    kv_heads = head_count_kv or head_count
    kv_width = embedding_length * kv_heads // max(head_count, 1)
    return 2 * block_count * context_length * kv_width * bytes_per_value


def estimate_memory(
    file_size: int,
    context_length: int,
    *,
    block_count: int | None,
    embedding_length: int | None,
    head_count: int | None,
    head_count_kv: int | None = None,
) -> MemoryEstimate:
    """Memory to run a model; a header without the shape keys gets no KV estimate."""
    kv = 0
    if block_count and embedding_length and head_count:
        kv = kv_cache_bytes(
            block_count=block_count,
            embedding_length=embedding_length,
            head_count=head_count,
            head_count_kv=head_count_kv,
            context_length=context_length,
        )
    overhead = FIXED_OVERHEAD + int(OVERHEAD_SHARE * file_size)
    return MemoryEstimate(file_size, kv, overhead, context_length)


def verdict_for(needed: int, memory: Memory) -> Verdict:
    if needed <= COMFORT * memory.available:
        return "fits"
    if needed <= memory.available or needed <= TOTAL_LIMIT * memory.total:
        return "tight"
    return "does not fit"


def smaller_quantization(
    current: str | None,
    estimate: MemoryEstimate,
    memory: Memory,
    parameter_count: int | None,
) -> tuple[str, Verdict] | None:
    """The best quantization below ``current`` that would fit comfortably, else (when
    the current file does not fit at all) the best one that would at least be tight."""
    current_bits = BITS_PER_WEIGHT.get((current or "").upper())
    if current_bits is None and not parameter_count:
        return None  # nothing to scale from
    verdicts: dict[str, Verdict] = {}
    for candidate in QUANTIZATION_LADDER:
        bits = BITS_PER_WEIGHT[candidate]
        if current_bits is not None and bits >= current_bits:
            continue
        if parameter_count:
            weights = int(parameter_count * bits / 8)
        else:
            assert current_bits is not None
            weights = int(estimate.weights * bits / current_bits)
        needed = weights + estimate.kv_cache + FIXED_OVERHEAD + int(OVERHEAD_SHARE * weights)
        verdicts[candidate] = verdict_for(needed, memory)
    acceptable: tuple[Verdict, ...] = ("fits",)
    if verdict_for(estimate.total, memory) == "does not fit":
        acceptable = ("fits", "tight")
    for wanted in acceptable:
        for candidate, verdict in verdicts.items():
            if verdict == wanted:
                return candidate, verdict
    return None


def suggest_threads(physical_cores: int | None, available_cpus: int) -> int:
    """Physical cores this process may use (hyper-threads slow llama.cpp down), minus one
    on machines with more than 4, so that the desktop stays responsive while generating."""
    cores = min(physical_cores, available_cpus) if physical_cores else available_cpus
    cores = max(cores, 1)
    return cores - 1 if cores > 4 else cores


def check_fit(
    estimate: MemoryEstimate,
    memory: Memory,
    *,
    quantization: str | None,
    parameter_count: int | None,
    threads: int,
) -> FitReport:
    needed = estimate.total
    verdict = verdict_for(needed, memory)
    message = (
        f"{VERDICT_TEXT[verdict]}: needs about {format_bytes(needed)} (weights "
        f"{format_bytes(estimate.weights)}, KV cache {format_bytes(estimate.kv_cache)} for "
        f"{estimate.context_length} tokens, overhead {format_bytes(estimate.overhead)}); "
        f"{format_bytes(memory.available)} of {format_bytes(memory.total)} RAM is available"
    )
    smaller = None
    suggestion = None
    if verdict != "fits":
        found = smaller_quantization(quantization, estimate, memory, parameter_count)
        if found is not None:
            smaller = found[0]
            suggestion = f"use the {smaller} file of this model instead (smaller, a bit worse"
            suggestion += ", still tight)" if found[1] == "tight" else ")"
        else:
            suggestion = "choose a smaller model (e.g. 7B instead of 13B)"
        if estimate.kv_cache > estimate.weights // 4 and estimate.context_length > 2048:
            suggestion += ", or a shorter context length (e.g. 2048)"
        if verdict == "tight":
            suggestion = f"close other programs, or {suggestion}"
    return FitReport(
        verdict=verdict,
        message=message,
        needed_bytes=needed,
        available_bytes=memory.available,
        total_bytes=memory.total,
        weights_bytes=estimate.weights,
        kv_cache_bytes=estimate.kv_cache,
        context_length=estimate.context_length,
        suggested_quantization=smaller,
        suggestion=suggestion,
        threads=threads,
    )


# --- the machine --------------------------------------------------------------------------


def parse_meminfo(text: str) -> Memory | None:
    values: dict[str, int] = {}
    for line in text.splitlines():
        key, _, rest = line.partition(":")
        parts = rest.split()
        if parts and parts[0].isdigit():
            scale = 1024 if len(parts) > 1 and parts[1] == "kB" else 1
            values[key.strip()] = int(parts[0]) * scale
    if "MemTotal" not in values:
        return None
    # Kernels before 3.14 have no MemAvailable; free + page cache is its old definition.
    available = values.get("MemAvailable")
    if available is None:
        available = values.get("MemFree", 0) + values.get("Cached", 0) + values.get("Buffers", 0)
    return Memory(available=available, total=values["MemTotal"])


def read_memory(meminfo: Path = Path("/proc/meminfo")) -> Memory | None:
    """RAM from the kernel on Linux, else from sysconf; None when neither says."""
    try:
        parsed = parse_meminfo(meminfo.read_text(encoding="ascii", errors="replace"))
    except OSError:
        parsed = None
    if parsed is not None:
        return parsed
    try:
        page = os.sysconf("SC_PAGE_SIZE")
        total = os.sysconf("SC_PHYS_PAGES") * page
        available = os.sysconf("SC_AVPHYS_PAGES") * page
    except (ValueError, OSError, AttributeError):
        return None  # macOS has no SC_AVPHYS_PAGES; Windows has no sysconf
    return Memory(available=available, total=total) if total > 0 else None


def physical_cores(cpuinfo: str) -> int | None:
    """Distinct (package, core) pairs in /proc/cpuinfo; None where they are not listed
    (many ARM kernels and some VMs)."""
    cores: set[tuple[str, str]] = set()
    package = core = None
    for line in [*cpuinfo.splitlines(), ""]:
        key, _, value = line.partition(":")
        key = key.strip()
        if key == "physical id":
            package = value.strip()
        elif key == "core id":
            core = value.strip()
        elif not line.strip():
            if core is not None:
                cores.add((package or "0", core))
            package = core = None
    return len(cores) or None


def read_cpu() -> tuple[int | None, int]:
    """(physical cores, CPUs this process may run on)."""
    available = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    available = available or os.cpu_count() or 1
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None, available
    return physical_cores(text), available


def fit_report(
    description: ModelDescription,
    context_length: int,
    *,
    memory: Memory | None = None,
    cpu: tuple[int | None, int] | None = None,
) -> FitReport | None:
    """The fit of a described model at ``context_length`` (capped at what it was trained
    for, as the runtimes do) on this machine; None when the RAM cannot be read."""
    memory = memory or read_memory()
    if memory is None:
        return None
    if description.context_length:
        context_length = min(context_length, description.context_length)
    estimate = estimate_memory(
        description.size_bytes,
        context_length,
        block_count=description.block_count,
        embedding_length=description.embedding_length,
        head_count=description.head_count,
        head_count_kv=description.head_count_kv,
    )
    return check_fit(
        estimate,
        memory,
        quantization=description.quantization,
        parameter_count=description.parameter_count,
        threads=suggest_threads(*(cpu or read_cpu())),
    )
