"""A hang, a crash or a memory bomb costs one file, never the run."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import pytest

from ingest.chunking import ChunkingConfig
from ingest.sandbox import ParseFailure, ParseTask, SandboxedParser
from ingest.types import ParsedDocument


def _tasks(folder: Path, names: list[str]) -> list[ParseTask]:
    tasks = []
    for name in names:
        path = folder / name
        path.write_text(f"The file {name} has some text in it.", encoding="utf-8")
        tasks.append(ParseTask(str(path), "hash-" + name))
    return tasks


def test_parses_real_files(tmp_path: Path) -> None:
    parser = SandboxedParser(ChunkingConfig(), workers=2)
    results = dict(parser.parse(_tasks(tmp_path, ["a.txt", "b.md"])))
    by_name = {Path(t.path).name: r for t, r in results.items()}
    assert isinstance(by_name["a.txt"], ParsedDocument)
    assert by_name["a.txt"].content_hash == "hash-a.txt"
    assert by_name["a.txt"].chunks[0].text == "The file a.txt has some text in it."
    assert by_name["b.md"].format == "markdown"  # type: ignore[union-attr]


def test_hang_crash_and_bomb_each_cost_one_file(tmp_path: Path) -> None:
    parser = SandboxedParser(
        ChunkingConfig(),
        timeout=3,
        memory_mb=1024,
        parse="sandbox_parsers:misbehave",
    )
    names = ["ok1.txt", "hang.txt", "ok2.txt", "crash.txt", "bomb.txt", "ok3.txt"]
    results = {Path(t.path).name: r for t, r in parser.parse(_tasks(tmp_path, names))}
    assert set(results) == set(names)
    for name in ("ok1.txt", "ok2.txt", "ok3.txt"):
        assert isinstance(results[name], ParsedDocument), results[name]
    hang, crash, bomb = results["hang.txt"], results["crash.txt"], results["bomb.txt"]
    assert isinstance(hang, ParseFailure) and "longer than 3 s" in hang.reason
    assert isinstance(crash, ParseFailure)
    assert "crashed" in crash.reason and "SIGABRT" in crash.reason
    assert isinstance(bomb, ParseFailure) and "memory" in bomb.reason


def test_closing_the_iterator_stops_the_workers(tmp_path: Path) -> None:
    parser = SandboxedParser(ChunkingConfig(), parse="sandbox_parsers:misbehave", timeout=600)
    before = set(multiprocessing.active_children())
    results = parser.parse(_tasks(tmp_path, ["ok.txt", "hang.txt", "later.txt"]))
    first_task, _ = next(results)
    results.close()
    # The worker stuck in hang.txt (600 s allowed) was killed, not left to run on.
    assert set(multiprocessing.active_children()) <= before
    assert Path(first_task.path).name == "ok.txt"


def test_a_document_is_read_again_in_an_isolated_process(tmp_path: Path) -> None:
    from ingest.loaders import LoaderError
    from ingest.sandbox import load_isolated

    note = tmp_path / "note.md"
    note.write_text("# Title\n\nSome text.", encoding="utf-8")
    loaded = load_isolated(str(note))
    assert [s.heading for s in loaded.sections] == ["Title"]
    broken = tmp_path / "broken.pdf"
    broken.write_bytes(b"%PDF-1.4 nothing else")
    with pytest.raises(LoaderError, match="not a valid PDF"):
        load_isolated(str(broken))


def test_aborting_stops_a_parse_without_blaming_the_file(tmp_path: Path) -> None:
    import threading

    from ingest.sandbox import ParserStopped

    parser = SandboxedParser(ChunkingConfig(), parse="sandbox_parsers:misbehave", timeout=600)
    results = parser.parse(_tasks(tmp_path, ["hang.txt", "later.txt"]))
    threading.Timer(3.0, parser.abort).start()  # the app quits while the file hangs
    with pytest.raises(ParserStopped):
        next(results)
    with pytest.raises(ParserStopped):  # and it stays stopped: no worker is started again
        list(parser.parse(_tasks(tmp_path, ["ok.txt"])))
