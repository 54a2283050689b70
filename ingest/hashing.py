"""Content hashing: a file's identity is its bytes, not its name or mtime.

One streaming pass serves every caller: the scanner hashing documents, the model library
hashing multi-gigabyte model files (with progress), a resumed download hashing what it
already has. Memory stays flat whatever the file's size.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

BLOCK = 1 << 20

Progress = Callable[[int, int | None], None]  # (bytes done, bytes in total if known)


def hash_file(
    path: str | Path, digest: hashlib._Hash | None = None, progress: Progress | None = None
) -> hashlib._Hash:
    """Feed the file into ``digest`` (a new SHA-256 by default) in 1 MiB blocks; the
    digest can go on taking bytes after it (a download resumed where it stopped)."""
    digest = digest or hashlib.sha256()
    path = Path(path)
    total = path.stat().st_size if progress is not None else None
    done = 0
    with path.open("rb") as handle:
        while block := handle.read(BLOCK):
            digest.update(block)
            done += len(block)
            if progress is not None:
                progress(done, total)
    return digest


def file_sha256(path: str | Path, progress: Progress | None = None) -> str:
    """Hex SHA-256 of a file (a 4 GB model takes ~10 s)."""
    return hash_file(path, progress=progress).hexdigest()


def text_sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()
