"""Which catalogue model to suggest for this machine: it must fit in memory, and the
Llama 2 chat family comes first, as the product's target; with each, its download size,
licence, memory fit and expected answer speed here.

Nothing is downloaded or loaded: the memory fit comes from each entry's shape (weights
plus KV cache, as ``fit`` computes for a file on disk) and the speed from a measurement
of this machine (``speed``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from desk_assistant.models.catalogue import CATALOGUE, CatalogueEntry
from desk_assistant.models.fit import (
    FitReport,
    Memory,
    check_fit,
    estimate_memory,
    read_cpu,
    read_memory,
    suggest_threads,
)
from desk_assistant.models.speed import (
    MachineSpeed,
    SpeedEstimate,
    estimate_speed,
    measure_machine,
)

_QUANTIZATION = re.compile(r"Q\d_K_[SML]|Q\d_K|Q\d_\d", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Machine:
    """This computer, as the model guide shows it and its estimates need it."""

    speed: MachineSpeed
    memory: Memory | None  # None: it could not be read
    cores: int


def measure_this_machine() -> Machine:
    """Speed, memory and cores of this computer (a second or two: see ``speed``)."""
    physical, usable = read_cpu()
    return Machine(measure_machine(), read_memory(), min(physical or usable, usable))


@dataclass(frozen=True, slots=True)
class Choice:
    entry: CatalogueEntry
    fit: FitReport | None  # None: this machine's memory could not be read
    speed: SpeedEstimate | None  # None: not measured
    recommended: bool = False


def quantization(entry: CatalogueEntry) -> str | None:
    found = _QUANTIZATION.search(entry.file_name)
    return found.group(0).upper() if found else None


def entry_fit(entry: CatalogueEntry, context_length: int, memory: Memory) -> FitReport:
    shape = entry.shape
    estimate = estimate_memory(
        entry.size_bytes,
        min(context_length, shape.context_length),
        block_count=shape.block_count,
        embedding_length=shape.embedding_length,
        head_count=shape.head_count,
        head_count_kv=shape.head_count_kv,
    )
    return check_fit(
        estimate,
        memory,
        quantization=quantization(entry),
        parameter_count=shape.parameters,
        threads=suggest_threads(*read_cpu()),
    )


def choices(
    context_length: int,
    *,
    machine: MachineSpeed | None = None,
    memory: Memory | None = None,
) -> list[Choice]:
    """The catalogue in its order (Llama 2 chat first), each with its fit and speed here.

    The recommended one is the first that fits comfortably; when none does, the smallest
    that fits at all (closing other programs); none when not even that.
    """
    memory = memory or read_memory()
    listed = [
        Choice(
            entry,
            entry_fit(entry, context_length, memory) if memory else None,
            estimate_speed(entry.size_bytes, entry.shape.parameters, machine) if machine else None,
        )
        for entry in CATALOGUE
    ]
    best = next((c for c in listed if c.fit is None or c.fit.verdict == "fits"), None)
    if best is None:
        tight = [c for c in listed if c.fit is not None and c.fit.verdict == "tight"]
        best = min(tight, key=lambda c: c.entry.size_bytes, default=None)
    return [Choice(c.entry, c.fit, c.speed, recommended=c is best) for c in listed]
