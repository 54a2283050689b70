"""Misbehaving parse functions for the sandbox tests; the spawned worker imports them by name."""

from __future__ import annotations

import os
import time
from pathlib import Path

from ingest.chunking import Chunker
from ingest.sandbox import ParseResult, ParseTask, parse_file


def misbehave(task: ParseTask, chunker: Chunker) -> ParseResult:
    name = Path(task.path).name
    if name.startswith("hang"):
        time.sleep(600)
    if name.startswith("crash"):
        os.abort()
    if name.startswith("bomb"):
        hog = bytearray(8 * 1024**3)  # far beyond the memory cap
        del hog
    return parse_file(task, chunker)
