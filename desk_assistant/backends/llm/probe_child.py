"""The child side of a probe: load a model file, generate one token, print the verdict.

Run by :func:`desk_assistant.backends.llm.probe.probe_runtime` as
``python -m desk_assistant.backends.llm.probe_child RUNTIME PATH``; if the runtime
crashes the process, only this child dies and the parent reports the signal.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from desk_assistant.backends.llm.base import LoadParams
from desk_assistant.backends.llm.loader import FILE_RUNTIMES
from desk_assistant.backends.llm.probe import MARKER

# Small enough to load fast, large enough for the one-token prompt.
_PROBE_PARAMS = LoadParams(context_length=64, threads=1)


def _probe_here(runtime: str, path: Path) -> str | None:
    """Load and generate one token in this process; the reason for a failure, else None."""
    if runtime not in FILE_RUNTIMES:
        return f"unknown runtime {runtime!r}"
    model = FILE_RUNTIMES[runtime].load(path, _PROBE_PARAMS, probe=False)
    try:
        for _ in model.stream("Hello", max_tokens=1, temperature=0):
            break
    finally:
        model.close()
    return None


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        print(
            "usage: python -m desk_assistant.backends.llm.probe_child RUNTIME PATH",
            file=sys.stderr,
        )
        return 2
    runtime, path = args
    try:
        reason = _probe_here(runtime, Path(path))
    except Exception as exc:  # the verdict is the point: every failure becomes a reason
        reason = str(exc) or type(exc).__name__
    print(MARKER + json.dumps({"ok": reason is None, "reason": reason}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
