"""Progress inside one file: a loader says how far it is while it reads a long document.

A loader calls :func:`report` (pages read so far, pages to OCR, sections split into
chunks); whoever runs the loader
decides where that goes with :func:`reporting_to` (the sandboxed worker sends it to the
indexing process). Without a receiver a report costs nothing, so the loaders do not care
whether anybody listens.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Literal

# Reading the text layer, reading page images by OCR, splitting the text into chunks.
Stage = Literal["parse", "ocr", "chunk"]


@dataclass(frozen=True, slots=True)
class FileProgress:
    """``done`` of ``total`` pages (sections, for "chunk") of ``path`` done at ``stage``."""

    path: str
    stage: Stage
    done: int
    total: int


Receiver = Callable[[Stage, int, int], None]
_receiver: ContextVar[Receiver | None] = ContextVar("_receiver", default=None)


def report(stage: Stage, done: int, total: int) -> None:
    receiver = _receiver.get()
    if receiver is not None:
        receiver(stage, done, total)


@contextmanager
def reporting_to(receiver: Receiver) -> Iterator[None]:
    token = _receiver.set(receiver)
    try:
        yield
    finally:
        _receiver.reset(token)
