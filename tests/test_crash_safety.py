"""Kill -9 an ingestion at several points; the next run completes and the index is whole.

A real ``desk-assistant ingest`` subprocess (real parsers, embedder and Chroma) is killed
with SIGKILL after a given number of finished files, and once while it is still starting.
After each kill the next run must recover: no duplicate chunks, no orphan vectors, every
file indexed exactly once, and ``doctor`` finds nothing to repair.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.model]

TOPICS = ("harbour", "lease", "penguin", "budget", "bridge", "recipe", "holiday", "laptop")


def make_corpus(folder: Path, files: int) -> None:
    folder.mkdir(parents=True)
    for number in range(files):
        topic = TOPICS[number % len(TOPICS)]
        body = " ".join(
            f"Document {number} sentence {line} is about the {topic} and item {number * line}."
            for line in range(40)
        )
        suffix = ".md" if number % 3 == 0 else ".txt"
        (folder / f"doc-{number:03d}{suffix}").write_text(f"# {topic}\n\n{body}\n", "utf-8")


def cli(home: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "desk_assistant", "--home", str(home), *args]


def ingest_until_killed(home: Path, corpus: Path, after_files: int | None, delay: float) -> None:
    process = subprocess.Popen(
        cli(home, "ingest", str(corpus), "--json"),
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        start_new_session=True,  # so the kill reaches its parser workers too
    )
    assert process.stdout is not None
    if after_files is None:
        time.sleep(delay)
    else:
        seen = 0
        for line in process.stdout:
            if json.loads(line).get("event") == "file":
                seen += 1
                if seen >= after_files:
                    break
    os.killpg(process.pid, signal.SIGKILL)
    process.wait(30)


def test_kill_at_any_point_then_resume(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    make_corpus(corpus, 36)
    home = tmp_path / "home"
    for after_files, delay in ((None, 2.0), (3, 0.0), (8, 0.0), (10, 0.0)):
        ingest_until_killed(home, corpus, after_files, delay)
    partial = json.loads(
        subprocess.run(
            cli(home, "sources", "--json"), capture_output=True, text=True, check=True
        ).stdout
    )
    assert 0 < len(partial) < 36  # the kills really interrupted the work

    finished = subprocess.run(
        cli(home, "ingest", str(corpus), "--json"), capture_output=True, text=True, check=True
    )
    summary = json.loads(finished.stdout.splitlines()[-1])
    assert summary["failed"] == 0
    assert summary["added"] + summary["unchanged"] == 36

    sources = json.loads(
        subprocess.run(
            cli(home, "sources", "--json"), capture_output=True, text=True, check=True
        ).stdout
    )
    assert len(sources) == 36 and all(s["status"] == "indexed" for s in sources)
    doctor = subprocess.run(
        cli(home, "doctor", "--json"), capture_output=True, text=True, check=False
    )
    report = json.loads(doctor.stdout)
    assert doctor.returncode == 0 and report["findings"] == [], report
    # one vector per chunk, one chunk set per file: no duplicates survived the kills
    assert (
        report["checked"]["vectors"]
        == report["checked"]["chunks"]
        == sum(s["chunks"] for s in sources)
    )
