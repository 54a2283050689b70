"""What reaches the terminal from documents, file names and model files, made harmless.

A file named ``\\033]0;TITLE\\007`` or a passage holding ``\\033[2J`` would retitle or
clear the user's terminal if printed as it is, and a newline in a file name would split
a line of ``sources`` in two. So every character a terminal acts on - C0 and C1
controls (ESC starts escape sequences, CSI is 0x9b), DEL, the bidirectional overrides
that make text display as something else, and lone surrogates from undecodable file
names - is written as a ``\\uXXXX`` escape instead: readable, copyable, and a valid
escape inside a JSON string, so ``--json`` output stays exact JSON with the same values.

The CLI's stdout goes through :func:`safe_stream`, which leaves only newlines and tabs
alone; single-line fields (paths, names) also escape those with :func:`one_line`.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import tempfile
from collections.abc import Iterator
from typing import Any, TextIO, cast

# Controls except tab and newline; DEL and C1; Arabic letter mark, LRM/RLM, the embedding
# and override controls and the isolates; lone surrogates (undecodable bytes in names).
_ACTIVE = "\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\ud800-\udfff"
_UNSAFE = re.compile(f"[{_ACTIVE}]")
_UNSAFE_LINE = re.compile(f"[{_ACTIVE}\t\n]")


def _escape(match: re.Match[str]) -> str:
    return f"\\u{ord(match.group()):04x}"


def clean(text: str) -> str:
    """``text`` with every character a terminal would act on escaped, lines kept."""
    return _UNSAFE.sub(_escape, text)


def one_line(text: str) -> str:
    """``text`` for one field of one line: newlines and tabs escaped too."""
    return _UNSAFE_LINE.sub(_escape, text)


class _SafeWriter:
    """A text stream that escapes what it is given before passing it on."""

    def __init__(self, inner: TextIO) -> None:
        self._inner = inner

    def write(self, text: str) -> int:
        return self._inner.write(clean(text))

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def safe_stream(stream: TextIO) -> TextIO:
    """``stream`` with everything written to it cleaned (idempotent)."""
    if isinstance(stream, _SafeWriter):
        return cast(TextIO, stream)
    return cast(TextIO, _SafeWriter(stream))


def say(message: str) -> None:
    """A message for the user on stderr, as ``desk-assistant: ...``, cleaned."""
    sys.stderr.write(f"desk-assistant: {clean(message)}\n")
    sys.stderr.flush()


@contextlib.contextmanager
def native_stderr_held() -> Iterator[None]:
    """Hold back what native code writes to the terminal while a command runs.

    Chroma's Rust core reports a damaged store with a panic message written straight to
    file descriptor 2 ("thread '<unnamed>' panicked at ..."), beside the command's own
    message that already says what is wrong and what to do. For the command, descriptor 2
    goes to a temporary file and ``sys.stderr`` to the terminal; afterwards what native
    code wrote is passed on, without Rust panic reports.
    """
    try:
        python_side = sys.stderr.fileno() == 2
        sys.stderr.flush()
        terminal = os.dup(2)
    except (AttributeError, OSError, ValueError):  # no descriptor 2 (pythonw, a test)
        yield
        return
    original = sys.stderr
    with tempfile.TemporaryFile() as held:
        os.dup2(held.fileno(), 2)
        if python_side:
            sys.stderr = os.fdopen(
                os.dup(terminal), "w", encoding=original.encoding, errors="backslashreplace"
            )
        try:
            yield
        finally:
            if python_side:
                sys.stderr.close()
                sys.stderr = original
            os.dup2(terminal, 2)
            os.close(terminal)
            held.seek(0)
            rest = without_panics(held.read().decode("utf-8", "replace"))
            if rest.strip():
                sys.stderr.write(clean(rest))
                sys.stderr.flush()


def without_panics(text: str) -> str:
    """``text`` without Rust panic reports (from "panicked at" to the "note:" line)."""
    kept: list[str] = []
    skipping = False
    for line in text.splitlines(keepends=True):
        if "panicked at" in line:
            skipping = True
        elif skipping and line.startswith("note:"):
            skipping = False
            continue
        if not skipping:
            kept.append(line)
    return "".join(kept)
