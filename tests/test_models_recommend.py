"""The first model choice: which catalogue model fits this machine, and how fast it will
answer here - before anything is downloaded."""

from __future__ import annotations

import pytest

from desk_assistant.models.catalogue import CATALOGUE
from desk_assistant.models.fit import Memory
from desk_assistant.models.recommend import choices, quantization
from desk_assistant.models.speed import MachineSpeed, estimate_speed, measure_machine

GB = 1_000_000_000
MACHINE = MachineSpeed(memory_bytes_per_s=10 * GB, flops=40 * GB)


def test_llama_2_chat_comes_first_when_it_fits() -> None:
    listed = choices(4096, machine=MACHINE, memory=Memory(available=12 * GB, total=16 * GB))
    assert [c.entry.name for c in listed] == [e.name for e in CATALOGUE]
    (best,) = [c for c in listed if c.recommended]
    assert best.entry.name == "llama-2-7b-chat-q4_k_m"
    assert best.fit is not None and best.fit.verdict == "fits"
    assert all(c.speed is not None and c.fit is not None for c in listed)
    assert {c.entry.licence_name for c in listed} >= {
        "Llama 2 Community License",
        "Apache 2.0",
        "MIT",
        "Llama 3.2 Community License",
    }


def test_a_small_machine_gets_the_first_model_that_fits_it() -> None:
    listed = choices(4096, machine=MACHINE, memory=Memory(available=3 * GB, total=4 * GB))
    (best,) = [c for c in listed if c.recommended]
    assert best.fit is not None and best.fit.verdict == "fits"
    assert best.entry.size_bytes < 2 * GB
    before = listed[: listed.index(best)]
    assert before and all(c.fit is not None and c.fit.verdict != "fits" for c in before)


def test_nothing_is_recommended_where_nothing_fits() -> None:
    listed = choices(4096, machine=MACHINE, memory=Memory(available=GB // 4, total=GB // 2))
    assert not any(c.recommended for c in listed)


def test_speed_follows_the_machine_and_the_model() -> None:
    small = estimate_speed(GB, 1_500_000_000, MACHINE)
    large = estimate_speed(4 * GB, 7_000_000_000, MACHINE)
    assert small.answer_tokens_per_s == pytest.approx(4 * large.answer_tokens_per_s)
    assert small.prompt_tokens_per_s > large.prompt_tokens_per_s
    assert small.answer_seconds < large.answer_seconds
    assert large.describe().startswith("writes about ") and "a typical answer takes" in (
        large.describe()
    )
    measured = measure_machine()
    assert measured.memory_bytes_per_s > 0.1 * GB and measured.flops > 0.1 * GB
    assert quantization(CATALOGUE[0]) == "Q4_K_M"
