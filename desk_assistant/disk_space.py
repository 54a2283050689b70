"""A full disk, recognised whichever layer hit it, and said in words a user can act on.

SQLite says "database or disk is full", Chroma's Rust core "No space left on device (os
error 28)", Python ``OSError(ENOSPC)`` (or ``EDQUOT`` for a full quota). Every write of
the index is journaled or atomic, so when one of them fails nothing already stored is
lost; the user needs to know which folder's disk is full and that, not an errno.
"""

from __future__ import annotations

import errno
import shutil
from pathlib import Path

from desk_assistant.errors import DiskFull

_FULL_ERRNOS = {errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)}
_FULL_MESSAGES = ("database or disk is full", "no space left on device", "disk quota exceeded")


def is_disk_full(exc: BaseException) -> bool:
    """Whether ``exc``, or an exception it was raised from, is a full disk or quota."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, DiskFull):
            return True
        if isinstance(current, OSError) and current.errno in _FULL_ERRNOS:
            return True
        if any(text in str(current).lower() for text in _FULL_MESSAGES):
            return True
        current = current.__cause__ or current.__context__
    return False


def _free(folder: Path) -> str:
    try:
        free = shutil.disk_usage(folder).free
    except OSError:
        return "no"
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if free >= scale:
            return f"{free / scale:.1f} {unit}"
    return f"{free} bytes"


def disk_full(folder: Path, *, doing: str = "The change") -> DiskFull:
    """The error to raise for a full disk under ``folder``."""
    return DiskFull(
        f"The disk that holds {folder} is full ({_free(folder)} free). Nothing was lost: "
        f"what was stored before is intact. {doing} stopped where it was and goes on from "
        "there once some space is freed."
    )
