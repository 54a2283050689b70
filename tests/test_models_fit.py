"""Fit check: memory arithmetic, verdicts, smaller quantizations, threads - with fake numbers."""

from __future__ import annotations

from pathlib import Path

import pytest

from desk_assistant.models.fit import (
    Memory,
    check_fit,
    estimate_memory,
    kv_cache_bytes,
    parse_meminfo,
    physical_cores,
    read_memory,
    smaller_quantization,
    suggest_threads,
    verdict_for,
)

GB = 1_000_000_000
# Llama-2-7B: 32 blocks, 4096 wide, 32 heads (no grouped-query attention), 6.74B weights.
LLAMA2_7B = {"block_count": 32, "embedding_length": 4096, "head_count": 32}
LLAMA2_7B_PARAMS = 6_738_415_616
Q4_K_M_7B = 4_081_004_224


def test_kv_cache_of_llama_2_7b_at_4096_tokens_is_2_gib() -> None:
    # 2 (K, V) x 32 layers x 4096 tokens x 4096 values x 2 bytes = 2 GiB: the figure
    # llama.cpp prints when it loads Llama-2-7B with n_ctx=4096.
    assert kv_cache_bytes(**LLAMA2_7B, head_count_kv=None, context_length=4096) == 2 * 1024**3


def test_grouped_query_attention_shrinks_the_kv_cache() -> None:
    # Llama-2-70B: 80 layers, 8192 wide, 64 heads but 8 KV heads -> 1/8 of the full cache.
    full = kv_cache_bytes(
        block_count=80, embedding_length=8192, head_count=64, head_count_kv=64, context_length=4096
    )
    gqa = kv_cache_bytes(
        block_count=80, embedding_length=8192, head_count=64, head_count_kv=8, context_length=4096
    )
    assert gqa * 8 == full
    assert gqa == 1280 * 1024**2


def test_estimate_adds_weights_kv_cache_and_overhead() -> None:
    estimate = estimate_memory(Q4_K_M_7B, 4096, **LLAMA2_7B)

    assert estimate.weights == Q4_K_M_7B
    assert estimate.kv_cache == 2 * 1024**3
    # TheBloke's model card says "max RAM required 6.58 GB" for this file.
    assert 6.5 * GB < estimate.total < 7.3 * GB


def test_unknown_shape_gives_no_kv_estimate() -> None:
    estimate = estimate_memory(GB, 4096, block_count=None, embedding_length=None, head_count=None)
    assert estimate.kv_cache == 0
    assert estimate.total > GB


@pytest.mark.parametrize(
    ("needed", "available", "total", "verdict"),
    [
        (6 * GB, 16 * GB, 16 * GB, "fits"),
        (7 * GB, 8 * GB, 8 * GB, "tight"),  # over 80 % of what is available
        (7 * GB, 4 * GB, 16 * GB, "tight"),  # fits if other programs are closed
        (9 * GB, 6 * GB, 8 * GB, "does not fit"),
    ],
)
def test_verdicts(needed: int, available: int, total: int, verdict: str) -> None:
    assert verdict_for(needed, Memory(available, total)) == verdict


def test_a_7b_model_on_an_8_gb_laptop_suggests_a_smaller_quantization() -> None:
    estimate = estimate_memory(int(7.16 * GB), 4096, **LLAMA2_7B)  # the Q8_0 file
    memory = Memory(available=int(5.5 * GB), total=8 * GB)

    report = check_fit(
        estimate, memory, quantization="Q8_0", parameter_count=LLAMA2_7B_PARAMS, threads=4
    )

    assert report.verdict == "does not fit"
    assert report.label == "does not fit"
    # No quantization fits comfortably beside a 2 GB KV cache; Q4_K_M would be tight.
    assert report.suggested_quantization == "Q4_K_M"
    assert report.suggestion is not None
    assert "Q4_K_M file of this model instead (smaller, a bit worse, still tight)" in (
        report.suggestion
    )
    assert "shorter context" in report.suggestion  # the 2 GB KV cache is worth cutting
    assert "needs about" in report.message and "5.50 GB of 8.00 GB" in report.message
    assert report.to_json()["label"] == "does not fit"


def test_ladder_picks_the_best_quantization_that_fits() -> None:
    estimate = estimate_memory(int(7.16 * GB), 2048, **LLAMA2_7B)
    roomy = Memory(available=10 * GB, total=16 * GB)

    assert smaller_quantization("Q8_0", estimate, roomy, LLAMA2_7B_PARAMS) == ("Q6_K", "fits")
    # Without a parameter count the size scales from the current file.
    assert smaller_quantization("Q8_0", estimate, roomy, None) == ("Q6_K", "fits")
    # With less room the ladder goes down further.
    less = Memory(available=9 * GB, total=16 * GB)
    assert smaller_quantization("Q8_0", estimate, less, LLAMA2_7B_PARAMS) == ("Q5_K_M", "fits")
    # Nothing fits in 2 GB: no quantization to suggest, a smaller model instead.
    tiny = Memory(available=2 * GB, total=4 * GB)
    assert smaller_quantization("Q8_0", estimate, tiny, LLAMA2_7B_PARAMS) is None
    report = check_fit(
        estimate, tiny, quantization="Q8_0", parameter_count=LLAMA2_7B_PARAMS, threads=1
    )
    assert report.suggestion is not None and "smaller model" in report.suggestion
    # An unknown quantization and no parameter count give nothing to scale from.
    assert smaller_quantization("IQ9_XYZ", estimate, roomy, None) is None


def test_fitting_model_gets_no_suggestion() -> None:
    estimate = estimate_memory(Q4_K_M_7B, 4096, **LLAMA2_7B)
    report = check_fit(
        estimate,
        Memory(16 * GB, 32 * GB),
        quantization="Q4_K_M",
        parameter_count=LLAMA2_7B_PARAMS,
        threads=4,
    )
    assert report.verdict == "fits"
    assert report.suggestion is None and report.suggested_quantization is None


def test_tight_suggests_closing_programs() -> None:
    estimate = estimate_memory(Q4_K_M_7B, 4096, **LLAMA2_7B)
    report = check_fit(
        estimate,
        Memory(available=7 * GB, total=8 * GB),
        quantization="Q4_K_M",
        parameter_count=LLAMA2_7B_PARAMS,
        threads=2,
    )
    assert report.verdict == "tight"
    assert report.label == "tight: may swap"
    assert report.suggestion is not None and report.suggestion.startswith("close other programs")


def test_meminfo_parsing() -> None:
    text = "MemTotal:       16318480 kB\nMemFree:  1000 kB\nMemAvailable:    8159240 kB\n"
    assert parse_meminfo(text) == Memory(available=8159240 * 1024, total=16318480 * 1024)
    # Old kernels without MemAvailable: free + page cache + buffers.
    old = "MemTotal: 4000 kB\nMemFree: 1000 kB\nCached: 500 kB\nBuffers: 100 kB\n"
    assert parse_meminfo(old) == Memory(available=1600 * 1024, total=4000 * 1024)
    assert parse_meminfo("garbage") is None


def test_read_memory_falls_back_to_sysconf(tmp_path: Path) -> None:
    memory = read_memory(tmp_path / "no-meminfo")
    assert memory is not None  # Linux has SC_AVPHYS_PAGES
    assert 0 < memory.available <= memory.total
    real = read_memory()
    assert real is not None and real.total > 0


CPUINFO_2_CORES_4_THREADS = "\n".join(
    f"processor\t: {n}\nphysical id\t: 0\ncore id\t\t: {n % 2}\nflags\t\t: fpu avx2\n"
    for n in range(4)
)


def test_physical_cores_from_cpuinfo() -> None:
    assert physical_cores(CPUINFO_2_CORES_4_THREADS) == 2
    two_sockets = "\n".join(
        f"processor\t: {n}\nphysical id\t: {n // 4}\ncore id\t\t: {n % 4}\n" for n in range(8)
    )
    assert physical_cores(two_sockets) == 8
    assert physical_cores("processor : 0\nBogoMIPS : 50\n") is None  # ARM: no core ids


@pytest.mark.parametrize(
    ("physical", "available", "threads"),
    [
        (2, 4, 2),  # hyper-threads do not count
        (None, 2, 2),  # unknown physical cores: every allowed CPU
        (4, 8, 4),
        (8, 16, 7),  # big machines keep one core for the desktop
        (16, 2, 2),  # a process limited to 2 CPUs gets 2
        (None, 1, 1),
    ],
)
def test_thread_suggestion(physical: int | None, available: int, threads: int) -> None:
    assert suggest_threads(physical, available) == threads
