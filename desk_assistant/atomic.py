"""Write a file so that a crash or a concurrent writer never leaves half of it.

The content goes to a temporary file beside the target, is flushed to the disk, and is
then renamed over the target in one step: a reader sees the old file or the new one. A
writer killed half-way leaves its temporary file; the temporary file's name carries its
writer's process id, and the next write of the same file deletes those of dead writers.
"""

from __future__ import annotations

import glob
import json
import os
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO

from desk_assistant.disk_space import disk_full, is_disk_full


@contextmanager
def replacing(path: Path, *, suffix: str = ".tmp") -> Iterator[BinaryIO]:
    """A file to write the new content of ``path`` into: it replaces ``path`` when the
    block ends, and is deleted instead when the block fails."""
    path.parent.mkdir(parents=True, exist_ok=True)
    _sweep(path, suffix)
    fd, name = tempfile.mkstemp(
        dir=path.parent, prefix=f".{path.name}.{os.getpid()}.", suffix=suffix
    )
    partial = Path(name)
    try:
        with os.fdopen(fd, "wb") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        partial.replace(path)
    except BaseException as exc:
        partial.unlink(missing_ok=True)
        if isinstance(exc, OSError) and is_disk_full(exc):
            raise disk_full(path.parent, doing=f"Saving {path.name}") from exc
        raise


def _sweep(path: Path, suffix: str) -> None:
    """Delete the temporary files that killed writers of ``path`` left behind."""
    for leftover in path.parent.glob(f".{glob.escape(path.name)}.*{suffix}"):
        pid = leftover.name[len(path.name) + 2 :].split(".", 1)[0]
        if pid.isdigit() and not _alive(int(pid)):
            leftover.unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    if sys.platform == "win32":
        return True  # no cheap check there: the leftover stays, harmlessly
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # alive, but not ours to signal
    return True


def write_text(path: Path, text: str) -> None:
    with replacing(path) as handle:
        handle.write(text.encode("utf-8"))


def write_json(path: Path, data: Any) -> None:
    """``data`` as indented JSON with sorted keys (stable diffs for files people read)."""
    write_text(path, json.dumps(data, indent=2, sort_keys=True))
