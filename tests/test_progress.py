"""Progress inside a long file: pages read in the parser process, chunks embedded in
batches, and an estimate of the time left that moves with them."""

from __future__ import annotations

import argparse
import io
import json
from pathlib import Path

import pytest
from fakes import make_assistant
from test_loaders import make_pdf

from desk_assistant.cli.main import _ingest_events
from desk_assistant.progress import RunProgress, format_duration
from desk_assistant.records import IngestEvent
from ingest.chunking import ChunkingConfig
from ingest.progress import FileProgress
from ingest.sandbox import ParseTask, SandboxedParser
from ingest.types import ParsedDocument

PAGES = 40


def long_pdf(path: Path, pages: int = PAGES) -> Path:
    text = " ".join(f"Sentence {n} of the page says something about topic {n}." for n in range(40))
    return make_pdf(path, [f"Page {number}. {text}" for number in range(1, pages + 1)])


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_workers_report_pages_then_chunking_then_the_result(tmp_path: Path) -> None:
    pdf = long_pdf(tmp_path / "long.pdf")
    parser = SandboxedParser(ChunkingConfig(), progress_every=0.0)
    try:
        updates = list(parser.parse_with_progress([ParseTask(str(pdf), "h")]))
    finally:
        parser.close()
    reports = [u for u in updates if isinstance(u, FileProgress)]
    pages = [r.done for r in reports if r.stage == "parse"]
    assert pages == list(range(1, PAGES + 1))  # every page, in order
    assert all(r.total == PAGES and r.path == str(pdf) for r in reports)
    assert [r.done for r in reports if r.stage == "chunk"] == list(range(PAGES))
    _task, result = updates[-1]  # type: ignore[misc]
    assert isinstance(result, ParsedDocument) and result.pages == PAGES
    # A file parsed quicker than the reporting interval costs no messages at all.
    quiet = SandboxedParser(ChunkingConfig(), progress_every=600.0)
    try:
        again = ParseTask(str(pdf), "h")
        assert not any(isinstance(u, FileProgress) for u in quiet.parse_with_progress([again]))
    finally:
        quiet.close()


def test_an_ingestion_reports_chunks_embedded_batch_by_batch(
    tmp_path: Path, app_home: Path
) -> None:
    (tmp_path / "docs").mkdir()
    pdf = long_pdf(tmp_path / "docs" / "long.pdf")
    with make_assistant(app_home, embed_batch_size=8, chunk_size=64, chunk_overlap=8) as assistant:
        events = list(assistant.ingest([tmp_path / "docs"]))
    scan = events[0]
    assert scan.kind == "scan" and scan.sizes == (pdf.stat().st_size,)
    embedded = [e for e in events if e.kind == "embed"]
    (file_event,) = [e for e in events if e.kind == "file"]
    chunks = file_event.chunks
    assert chunks > 16
    assert [e.done for e in embedded if e.done] == [*range(8, chunks, 8), chunks]
    assert {e.total for e in embedded} == {chunks} and embedded[0].done == 0
    assert events.index(embedded[-1]) < events.index(file_event)


def test_the_estimate_moves_with_pages_and_batches_and_counts_down() -> None:
    clock = Clock()
    run = RunProgress(clock=clock)
    assert run.describe() == "Looking for files…"
    run.add(IngestEvent("scan", total=2, queued=("/d/big.pdf", "/d/small.md"), sizes=(900, 100)))
    assert run.fraction() == 0.0 and run.eta() is None
    clock.now += 3
    run.add(IngestEvent("parse", path="/d/big.pdf", done=50, total=100))
    assert run.describe().startswith("Indexing 1 of 2 files · big.pdf: page 50 of 100")
    assert run.eta() is None  # reading alone says little about the embedding to come
    clock.now += 3
    run.add(IngestEvent("embed", path="/d/big.pdf", done=0, total=40))
    run.add(IngestEvent("embed", path="/d/big.pdf", done=20, total=40))
    fraction = run.fraction()
    assert fraction == pytest.approx(900 * (0.1 + 0.9 * 0.5) / 1000)
    expected = 6 * (1 - fraction) / fraction  # the rate so far, applied to the rest
    assert run.eta() == pytest.approx(expected)
    assert "big.pdf: embedding 20 of 40 chunks" in run.describe()
    assert f"about {format_duration(expected)} left" in run.describe()
    clock.now += 2
    assert run.eta() == pytest.approx(expected - 2)  # counts down between reports
    clock.now += expected  # later than the estimate allowed: the rate is lower
    assert run.eta() == pytest.approx((8 + expected) * (1 - fraction) / fraction)
    run.add(IngestEvent("file", path="/d/big.pdf", outcome="added", chunks=40, done=1, total=2))
    run.add(
        IngestEvent("file", path="/d/small.md", outcome="failed", reason="bad", done=2, total=2)
    )
    assert run.fraction() == 1.0 and run.eta() is None
    assert run.failed == [("/d/small.md", "bad")]
    assert run.describe() == "Indexing 2 of 2 files · 40 chunks indexed"
    assert format_duration(125) == "2 min 05 s"


def test_json_output_keeps_one_line_per_file() -> None:
    events = [
        IngestEvent("scan", total=1, queued=("/d/a.pdf",), sizes=(10,)),
        IngestEvent("parse", path="/d/a.pdf", done=1, total=2),
        IngestEvent("embed", path="/d/a.pdf", done=3, total=3),
        IngestEvent("file", path="/d/a.pdf", outcome="added", chunks=3, done=1, total=1),
        IngestEvent("summary", counts={"added": 1}),
    ]
    out = io.StringIO()
    assert _ingest_events(argparse.Namespace(json=True), out, iter(events)) == 0
    kinds = [json.loads(line)["event"] for line in out.getvalue().splitlines()]
    assert kinds == ["scan", "file", "summary"]  # progress inside a file is for the terminal
