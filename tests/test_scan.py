"""Discovery skips what a user never meant to index, with reasons, and diffs correctly."""

from __future__ import annotations

import os
from pathlib import Path

from ingest.loaders import is_supported
from ingest.scan import Excludes, KnownFile, discover, plan


def _write(path: Path, text: str = "hello world") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def _discover(*paths: Path, max_bytes: int = 10_000) -> tuple[list[str], dict[str, str]]:
    found, skipped = discover(paths, is_supported=is_supported, max_file_bytes=max_bytes)
    return sorted(Path(f.path).name for f in found), {Path(s.path).name: s.reason for s in skipped}


def test_hidden_vcs_unsupported_and_oversize_are_skipped(tmp_path: Path) -> None:
    _write(tmp_path / "a.txt")
    _write(tmp_path / "sub" / "b.md")
    _write(tmp_path / ".hidden.txt")
    _write(tmp_path / ".git" / "config.txt")
    _write(tmp_path / "node_modules" / "x.txt")
    _write(tmp_path / "picture.xyz")
    _write(tmp_path / "big.txt", "x" * 20_000)
    names, skipped = _discover(tmp_path)
    assert names == ["a.txt", "b.md"]
    assert skipped["picture.xyz"] == "unsupported file type (.xyz)"
    assert skipped["big.txt"].startswith("larger than the size limit")
    assert ".hidden.txt" not in skipped  # hidden files inside folders are silently left out


def test_explicit_hidden_file_is_taken_and_missing_path_reported(tmp_path: Path) -> None:
    hidden = _write(tmp_path / ".notes.txt")
    names, skipped = _discover(hidden, tmp_path / "nope.txt")
    assert names == [".notes.txt"]
    assert skipped == {"nope.txt": "no such file or folder"}


def test_symlink_loop_and_broken_link(tmp_path: Path) -> None:
    _write(tmp_path / "docs" / "a.txt")
    (tmp_path / "docs" / "loop").symlink_to(tmp_path / "docs")
    (tmp_path / "docs" / "dangling.txt").symlink_to(tmp_path / "missing.txt")
    names, skipped = _discover(tmp_path / "docs")
    assert names == ["a.txt"]
    assert skipped["loop"] == "symbolic link loop"
    assert skipped["dangling.txt"] == "broken symbolic link"


def test_unreadable_file_is_reported(tmp_path: Path) -> None:
    secret = _write(tmp_path / "secret.txt")
    secret.chmod(0)
    try:
        if os.access(secret, os.R_OK):  # running as root: permissions do not apply
            return
        names, skipped = _discover(tmp_path)
        assert names == []
        assert skipped["secret.txt"] == "permission denied"
    finally:
        secret.chmod(0o644)


def test_odd_unicode_names(tmp_path: Path) -> None:
    _write(tmp_path / "résumé – 日本語 😀.txt")
    names, _ = _discover(tmp_path)
    assert names == ["résumé – 日本語 😀.txt"]


def test_plan_classifies_every_change(tmp_path: Path) -> None:
    same = _write(tmp_path / "same.txt", "same")
    touched = _write(tmp_path / "touched.txt", "touched")
    changed = _write(tmp_path / "changed.txt", "old")
    found, _ = discover([tmp_path], is_supported=is_supported, max_file_bytes=1000)
    known = {}
    from ingest.hashing import file_sha256

    for entry in found:
        known[entry.path] = KnownFile(entry.size, entry.mtime_ns, file_sha256(entry.path))
    known[str(tmp_path / "gone.txt")] = KnownFile(1, 1, "x")
    known["/elsewhere/kept.txt"] = KnownFile(1, 1, "y")  # not under a scanned root

    os.utime(touched, ns=(1, 1))  # new mtime, same bytes
    changed.write_text("new content", encoding="utf-8")
    _write(tmp_path / "new.txt", "new")
    found, skipped = discover([tmp_path], is_supported=is_supported, max_file_bytes=1000)
    result = plan(found, known, scanned_roots=[str(tmp_path)], skipped=skipped)

    assert [Path(e.path).name for e, _ in result.added] == ["new.txt"]
    assert [Path(e.path).name for e, _ in result.changed] == ["changed.txt"]
    assert [Path(e.path).name for e, _ in result.touched] == ["touched.txt"]
    assert [Path(e.path).name for e in result.unchanged] == [same.name]
    assert result.removed == [str(tmp_path / "gone.txt")]


def test_excludes_prune_folders_and_names(tmp_path: Path) -> None:
    _write(tmp_path / "keep.txt")
    _write(tmp_path / "notes.log.txt")
    _write(tmp_path / "drafts" / "wip.txt")
    _write(tmp_path / "private" / "secret.txt")
    excludes = Excludes(("*.log.txt", "drafts", f"{tmp_path}/private/*"))
    found, skipped = discover(
        [tmp_path], is_supported=is_supported, max_file_bytes=1000, excludes=excludes
    )
    assert [Path(f.path).name for f in found] == ["keep.txt"]
    assert skipped == []  # inside folders, exclusions are silent
    _, explicit = discover(
        [tmp_path / "notes.log.txt"],
        is_supported=is_supported,
        max_file_bytes=1000,
        excludes=excludes,
    )
    assert explicit[0].reason == "excluded by the pattern '*.log.txt'"


def test_newly_excluded_files_are_planned_for_removal(tmp_path: Path) -> None:
    kept = _write(tmp_path / "keep.txt")
    draft = _write(tmp_path / "drafts" / "wip.txt")
    known = {str(p): KnownFile(p.stat().st_size, p.stat().st_mtime_ns, "h") for p in (kept, draft)}
    excludes = Excludes(("drafts",))
    found, _ = discover(
        [tmp_path], is_supported=is_supported, max_file_bytes=1000, excludes=excludes
    )
    result = plan(found, known, scanned_roots=[str(tmp_path)], excludes=excludes)
    assert result.removed == [str(draft)]
    assert Excludes(("tmp*",)).match(str(draft), str(tmp_path)) is None  # root parts don't count
