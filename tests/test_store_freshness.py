"""A reader's view of the vector store follows what other lanes and processes write: no
stale search, no "Error finding id", no dead handle after a delete or a reindex."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

from fakes import assistant_and_parts, make_assistant, summary

TESTS = Path(__file__).resolve().parent


def _write(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(text, encoding="utf-8")
    return folder


def test_another_process_writing_is_seen_by_a_reader_already_open(
    tmp_path: Path, app_home: Path
) -> None:
    docs = _write(tmp_path / "docs", "birds.txt", "Penguins are flightless birds.")
    with assistant_and_parts(app_home) as (reader, parts):
        summary(reader.ingest([docs]))
        assert reader.search("penguins")[0].path.endswith("birds.txt")  # its view is loaded
        more = _write(tmp_path / "more", "bridge.txt", "The harbour bridge reopens in 2027.")
        code = textwrap.dedent(
            f"""
            import sys
            sys.path.insert(0, {str(TESTS)!r})
            from fakes import make_assistant, summary
            with make_assistant(__import__("pathlib").Path({str(app_home)!r})) as writer:
                print(summary(writer.ingest([{str(more)!r}]))["added"])
            """
        )
        done = subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "PYTHONPATH": str(TESTS.parent)},
        )
        assert done.stdout.strip() == "1"
        found = reader.search("When does the harbour bridge reopen?")  # no stale view
        assert found and found[0].path.endswith("bridge.txt")
        assert parts.store.ids("default") == parts.manifest.all_chunk_ids("default")


def test_a_lane_keeps_asking_after_another_deletes_and_remakes_the_collection(
    tmp_path: Path, app_home: Path
) -> None:
    docs = _write(tmp_path / "docs", "birds.txt", "Penguins are flightless birds.")
    with make_assistant(app_home) as asking, make_assistant(app_home) as indexing:
        summary(indexing.ingest([docs]))
        assert asking.search("penguins")  # the asking lane holds a handle now
        indexing.delete_collection("default")
        assert asking.search("penguins") == []  # gone, and said so without an error
        other = _write(tmp_path / "other", "lease.txt", "The notice period is three months.")
        summary(indexing.ingest([other]))  # a new collection under the same name
        found = asking.search("How long is the notice period?")
        assert found and found[0].path.endswith("lease.txt")
