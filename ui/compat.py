"""Work-arounds for bugs in the Qt bindings we ship with, each with the reason it exists.

PySide6 6.12.0 returns ``None`` from every ``void`` method without taking a reference to
it. On Python 3.12+ ``None`` is immortal and nothing happens; on Python 3.11 (what this
project runs on) each call drops ``None``'s reference count by one, so after some
thousands of calls (``processEvents``, ``setText``, ``setValue``…) the interpreter
aborts with "Fatal Python error: none_dealloc". PySide6 6.11.3 does not have the bug,
but QtPdf for it only comes in the large PySide6-Addons wheel.

The cure is what Python 3.12 does: make ``None`` effectively immortal by giving it a
reference count that no leak can exhaust. ``None`` is never freed anyway, so the only
visible effect is a huge ``sys.getrefcount(None)``.
"""

from __future__ import annotations

import ctypes
import sys

_HEADROOM = 1 << 40  # ~10^12 leaked references: centuries of calls


def keep_none_alive() -> None:
    """Give ``None`` enough references to survive the binding's leak (Python < 3.12)."""
    if sys.version_info >= (3, 12) or getattr(sys, "_desk_assistant_none_pinned", False):
        return
    before = sys.getrefcount(None)
    refcount = ctypes.c_ssize_t.from_address(id(None))
    if abs(refcount.value - before) > 64:  # not the layout we expect (a debug build)
        return
    refcount.value += _HEADROOM
    sys._desk_assistant_none_pinned = True  # type: ignore[attr-defined]
