"""The file chores of the model library: small JSON records, hashes, copies of large files.

Model files are gigabytes, so every pass over one is streamed, reports progress and is
done once: the SHA-256 computed while copying or downloading is remembered, keyed by the
file's identity (path, size, mtime), so ``info`` never hashes the same file twice.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

from desk_assistant.atomic import replacing, write_json
from desk_assistant.errors import DeskAssistantError
from ingest.hashing import BLOCK, Progress, file_sha256

SHA_CACHE_FILE = "model_sha256.json"


def read_json(path: Path) -> dict[str, Any]:
    """The JSON object in ``path``; a missing file is an empty record."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise DeskAssistantError(f"cannot read {path} ({exc}); fix or delete the file") from exc
    if not isinstance(data, dict):
        raise DeskAssistantError(f"{path} is not a JSON object; fix or delete the file")
    return data


def _identity(path: Path) -> str:
    stat = path.stat()
    return f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}"


def cached_sha256(path: Path, cache_dir: Path) -> str | None:
    """The remembered SHA-256 of ``path`` if the file has not changed since."""
    try:
        value = read_json(cache_dir / SHA_CACHE_FILE).get(_identity(path))
    except DeskAssistantError:
        return None  # a damaged cache only costs a re-hash
    return value if isinstance(value, str) else None


def remember_sha256(path: Path, cache_dir: Path, digest: str) -> None:
    try:
        entries = read_json(cache_dir / SHA_CACHE_FILE)
    except DeskAssistantError:
        entries = {}
    # Entries of files that changed or vanished are dropped as new ones come in.
    alive = {key: value for key, value in entries.items() if _still_there(key)}
    alive[_identity(path)] = digest
    write_json(cache_dir / SHA_CACHE_FILE, alive)


def _still_there(identity: str) -> bool:
    path, _, _ = identity.rpartition("|")[0].rpartition("|")
    try:
        return _identity(Path(path)) == identity
    except OSError:
        return False


def model_sha256(path: Path, cache_dir: Path, progress: Progress | None = None) -> str:
    """The model file's SHA-256, computed once per file version and then remembered."""
    known = cached_sha256(path, cache_dir)
    if known is not None:
        return known
    digest = file_sha256(path, progress)
    remember_sha256(path, cache_dir, digest)
    return digest


def check_free_space(folder: Path, needed: int, what: str) -> None:
    """Refuse before writing rather than fail at 95 % with a full disk."""
    free = shutil.disk_usage(folder).free
    if needed > free:
        raise DeskAssistantError(
            f"not enough free space for {what}: it needs {format_bytes(needed)} but "
            f"{folder} has {format_bytes(free)} free; free some space or link the file "
            "instead of copying it"
        )


def copy_with_progress(
    source: Path, target: Path, cache_dir: Path, progress: Progress | None = None
) -> str:
    """Copy ``source`` to ``target`` through a temporary file; returns the SHA-256,
    hashed on the way so that ``info`` need not read the copy again."""
    total = source.stat().st_size
    check_free_space(target.parent, total, f"a copy of {source.name}")
    digest = hashlib.sha256()
    done = 0
    with source.open("rb") as reader, replacing(target, suffix=".copying") as writer:
        while block := reader.read(BLOCK):
            writer.write(block)
            digest.update(block)
            done += len(block)
            if progress is not None:
                progress(done, total)
    remember_sha256(target, cache_dir, digest.hexdigest())
    return digest.hexdigest()


def format_bytes(size: float) -> str:
    """Sizes as model cards print them: decimal units (a "4.08 GB" file is 4.08e9 bytes)."""
    for unit in ("B", "kB", "MB", "GB"):
        if abs(size) < 1000:
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.2f} {unit}"
        size /= 1000
    return f"{size:.2f} TB"
