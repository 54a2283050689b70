"""Discovery: walk files and folders, skip what must not be read, diff against what is known.

The walk never follows a symlinked directory twice (loops), never enters hidden folders
or ``.git``, and reports every file it passes over with a reason, so a user can tell
"not supported" from "too large" from "could not read".
"""

from __future__ import annotations

import fnmatch
import os
import stat
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from ingest.hashing import file_sha256
from ingest.types import FileEntry, Skipped

IGNORED_DIRS = frozenset({".git", ".hg", ".svn", "__pycache__", "node_modules", ".venv"})


@dataclass(frozen=True, slots=True)
class Excludes:
    """Glob patterns a collection never indexes.

    A pattern without a slash matches any file or folder *name* below the scanned
    folders (``*.log``, ``drafts``, ``~$*``); one with a slash matches the whole absolute
    path (``/home/me/Documents/private/*``; ``*`` crosses folders).
    """

    patterns: tuple[str, ...] = ()

    def match(self, path: str, root: str | None = None) -> str | None:
        """The first pattern that excludes ``path``, if any. Name patterns are tried on
        every folder between ``root`` and the file (so ``drafts`` excludes what is
        inside a drafts folder), or on the file name alone without a root."""
        names = [Path(path).name]
        if root is not None and _is_under(path, [root]):
            names = list(Path(path).relative_to(root).parts) or names
        for pattern in self.patterns:
            if "/" in pattern or os.sep in pattern:
                # Typed with '/' on Windows too: compare with the platform's separator.
                if fnmatch.fnmatchcase(path, pattern.replace("/", os.sep)):
                    return pattern
            elif any(fnmatch.fnmatchcase(name, pattern) for name in names):
                return pattern
        return None


NO_EXCLUDES = Excludes()


@dataclass(frozen=True, slots=True)
class KnownFile:
    """What the manifest remembers of a file from the last run."""

    size: int
    mtime_ns: int
    content_hash: str


@dataclass(slots=True)
class ScanPlan:
    """The work a run has to do, decided before anything is parsed."""

    added: list[tuple[FileEntry, str]] = field(default_factory=list)
    changed: list[tuple[FileEntry, str]] = field(default_factory=list)
    touched: list[tuple[FileEntry, str]] = field(default_factory=list)
    unchanged: list[FileEntry] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    # Known files that cannot be reached now (an unplugged drive, an unmounted share, a
    # folder without read permission), with the reason: kept, never removed for it.
    unavailable: list[tuple[str, str]] = field(default_factory=list)
    reachable_roots: list[str] = field(default_factory=list)  # scanned roots that are there


def _is_hidden(name: str) -> bool:
    return name.startswith(".")


def discover(
    paths: Iterable[str | Path],
    *,
    is_supported: Callable[[Path], bool],
    max_file_bytes: int,
    excludes: Excludes = NO_EXCLUDES,
) -> tuple[list[FileEntry], list[Skipped]]:
    """Find the files to ingest below ``paths``; return them and what was skipped.

    Paths given explicitly are taken even when hidden; inside folders, hidden entries,
    version-control folders and excluded names are left out silently (a user never
    meant them).
    """
    found: dict[str, FileEntry] = {}
    skipped: list[Skipped] = []
    for raw in paths:
        given = Path(raw).expanduser()
        absolute = Path(os.path.normpath(given.absolute()))
        try:
            _discover_root(given, absolute, found, skipped, is_supported, max_file_bytes, excludes)
        except OSError as exc:  # a root that cannot even be looked at (EACCES, EIO, ESTALE)
            skipped.append(Skipped(str(absolute), f"cannot read: {exc.strerror or exc}"))
    return list(found.values()), skipped


def _discover_root(
    given: Path,
    absolute: Path,
    found: dict[str, FileEntry],
    skipped: list[Skipped],
    is_supported: Callable[[Path], bool],
    max_file_bytes: int,
    excludes: Excludes,
) -> None:
    pattern = excludes.match(str(absolute))
    if pattern is not None:
        skipped.append(Skipped(str(absolute), f"excluded by the pattern '{pattern}'"))
    elif given.is_symlink() and not given.exists():
        skipped.append(Skipped(str(absolute), "broken symbolic link"))
    elif absolute.is_dir():
        root = str(absolute)
        for entry in _walk(absolute, skipped, excludes):
            _consider(entry, root, found, skipped, is_supported, max_file_bytes)
    elif absolute.exists():
        root = str(absolute)
        _consider(absolute, root, found, skipped, is_supported, max_file_bytes)
    else:
        skipped.append(Skipped(str(absolute), "no such file or folder"))


def _walk(top: Path, skipped: list[Skipped], excludes: Excludes) -> Iterator[Path]:
    seen_dirs: set[tuple[int, int]] = set()
    stack = [top]
    while stack:
        folder = stack.pop()
        try:
            info = folder.stat()
        except OSError as exc:
            skipped.append(Skipped(str(folder), f"cannot read folder: {exc.strerror}"))
            continue
        key = (info.st_dev, info.st_ino)
        if key in seen_dirs:
            skipped.append(Skipped(str(folder), "symbolic link loop"))
            continue
        seen_dirs.add(key)
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError as exc:
            skipped.append(Skipped(str(folder), f"cannot read folder: {exc.strerror}"))
            continue
        subfolders: list[Path] = []
        for entry in entries:
            if _is_hidden(entry.name) or entry.name in IGNORED_DIRS:
                continue
            if excludes.match(entry.path) is not None:
                continue
            path = Path(entry.path)
            try:
                is_dir = entry.is_dir(follow_symlinks=True)
            except OSError:
                is_dir = False
            if is_dir:
                subfolders.append(path)
            else:
                yield path
        stack.extend(reversed(subfolders))


def _consider(
    path: Path,
    root: str,
    found: dict[str, FileEntry],
    skipped: list[Skipped],
    is_supported: Callable[[Path], bool],
    max_file_bytes: int,
) -> None:
    try:
        info = path.stat()
    except FileNotFoundError:
        reason = "broken symbolic link" if path.is_symlink() else "file vanished during scan"
        skipped.append(Skipped(str(path), reason))
        return
    except OSError as exc:
        skipped.append(Skipped(str(path), f"cannot read file: {exc.strerror}"))
        return
    if not stat.S_ISREG(info.st_mode):
        skipped.append(Skipped(str(path), "not a regular file"))
        return
    if not is_supported(path):
        skipped.append(
            Skipped(str(path), f"unsupported file type ({path.suffix or 'no extension'})")
        )
        return
    if info.st_size > max_file_bytes:
        skipped.append(
            Skipped(
                str(path),
                f"larger than the size limit ({info.st_size:,} > {max_file_bytes:,} bytes)",
            )
        )
        return
    if not os.access(path, os.R_OK):
        skipped.append(Skipped(str(path), "permission denied"))
        return
    key = str(path)
    found.setdefault(key, FileEntry(key, info.st_size, info.st_mtime_ns, root))


def plan(
    found: Iterable[FileEntry],
    known: Mapping[str, KnownFile],
    *,
    scanned_roots: Iterable[str],
    skipped: list[Skipped] | None = None,
    excludes: Excludes = NO_EXCLUDES,
) -> ScanPlan:
    """Diff what is on disk against what the manifest knows.

    A file counts as changed only when its size or mtime moved *and* its content hash
    differs; a touched-but-identical file just gets its stat refreshed. A known file is
    removed when it lies under one of the roots scanned now and is gone from disk or
    excluded (a file that still exists but was skipped this time, e.g. now too large,
    is kept). A known file that cannot be reached - its followed folder is not there (an
    unplugged drive), or it cannot be looked at - is *unavailable*, never removed: a
    deleted file is told apart from a missing drive by its folder still being there.
    """
    result = ScanPlan(skipped=list(skipped or []))
    seen: set[str] = set()
    for entry in found:
        seen.add(entry.path)
        previous = known.get(entry.path)
        if previous is not None and (previous.size, previous.mtime_ns) == (
            entry.size,
            entry.mtime_ns,
        ):
            result.unchanged.append(entry)
            continue
        try:
            digest = file_sha256(entry.path)
        except OSError as exc:
            result.skipped.append(Skipped(entry.path, f"cannot read file: {exc.strerror or exc}"))
            continue
        if previous is None:
            result.added.append((entry, digest))
        elif previous.content_hash == digest:
            result.touched.append((entry, digest))
        else:
            result.changed.append((entry, digest))
    _not_found(result, known, seen, [os.path.normpath(r) for r in scanned_roots], excludes)
    return result


def _not_found(
    result: ScanPlan,
    known: Mapping[str, KnownFile],
    seen: set[str],
    roots: list[str],
    excludes: Excludes,
) -> None:
    """Sort the known files under ``roots`` that the walk did not find into removed (gone
    or excluded) and unavailable (out of reach now)."""
    holding = {root for root in roots if any(_is_under(path, [root]) for path in known)}
    absent = {root: why for root in holding if (why := unreachable_root(root, known))}
    result.reachable_roots = [r for r in roots if r not in absent]
    for path in known:
        if path in seen or not _is_under(path, roots):
            continue
        root = next(r for r in roots if _is_under(path, [r]))
        if root in absent:
            result.unavailable.append((path, absent[root]))
        elif excludes.match(path, root) is not None:
            result.removed.append(path)
        else:
            try:
                Path(path).stat()
            except FileNotFoundError:
                result.removed.append(path)
            except OSError as exc:  # there, but it cannot be looked at now
                result.unavailable.append((path, f"cannot read: {exc.strerror or exc}"))
    result.skipped = [s for s in result.skipped if s.path not in absent]  # said per file


def unreachable_root(root: str, known: Mapping[str, KnownFile]) -> str | None:
    """Why the files known under a followed ``root`` cannot be reached now, or None.

    A followed folder that is not there is a drive or share that is not mounted (deleting
    a followed folder is done with ``remove``); a followed file that is not there was
    deleted, unless its folder has gone too.
    """
    try:
        Path(root).stat()
    except FileNotFoundError:
        if root in known and Path(root).parent.is_dir():
            return None  # a deleted file
        return f"{root} is not there (a drive unplugged or a share not mounted?)"
    except OSError as exc:
        return f"cannot read {root}: {exc.strerror or exc}"
    return None


def _is_under(path: str, roots: list[str]) -> bool:
    return any(path == root or path.startswith(root.rstrip(os.sep) + os.sep) for root in roots)
