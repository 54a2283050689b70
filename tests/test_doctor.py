"""doctor finds every kind of inconsistency and --repair fixes it from the manifest."""

from __future__ import annotations

import io
import json
from pathlib import Path

from fakes import assistant_and_parts, make_assistant, summary

from desk_assistant.cli.main import main


def _docs(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in {
        "a.txt": "Penguins breed in the Antarctic winter.",
        "b.txt": "The lease notice period is three months.",
        "c.md": "# Rent\n\nThe rent is 900 euros.",
    }.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


def test_healthy_index_reports_nothing(tmp_path: Path, app_home: Path) -> None:
    with make_assistant(app_home) as assistant:
        summary(assistant.ingest([_docs(tmp_path / "d")]))
        report = assistant.doctor()
    assert report.healthy and report.findings == ()
    assert report.checked == {"chunks": 3, "vectors": 3, "lexical": 3}


def test_every_problem_is_found_then_repaired(tmp_path: Path, app_home: Path) -> None:
    with assistant_and_parts(app_home) as (assistant, parts):
        summary(assistant.ingest([_docs(tmp_path / "d")]))
        ids = sorted(parts.manifest.all_chunk_ids("default"))
        parts.store.delete("default", ids[:1])  # a lost vector
        stray = parts.embedder.embed_documents(["stray"])
        parts.store.upsert("default", ["stray-1"], stray, [{"content": "x"}])  # an orphan
        parts.manifest.remove_source("default", str(tmp_path / "d" / "b.txt"))  # no GC
        parts.manifest.begin_write("default", ["half-written-0"])  # a killed write
        index = parts.lexical("default")
        index.remove(ids[2:])  # an index that lost chunks (and claims to be current)

        report = assistant.doctor()
        problems = {f.check for f in report.findings}
        assert problems == {"journal", "vectors", "contents", "lexical"}
        assert not report.healthy

        repaired = assistant.doctor(repair=True)
        assert repaired.healthy
        after = assistant.doctor()
        assert after.findings == (), after.findings
        assert parts.store.ids("default") == parts.manifest.all_chunk_ids("default")
        assert assistant.search("penguins antarctic")[0].path.endswith("a.txt")


def test_cli_exit_code_follows_health(tmp_path: Path, app_home: Path) -> None:
    with assistant_and_parts(app_home) as (assistant, parts):
        summary(assistant.ingest([_docs(tmp_path / "d")]))
        parts.manifest.begin_write("default", ["x-0"])

    def doctor(*flags: str) -> tuple[int, dict[str, object]]:
        out = io.StringIO()
        code = main(["doctor", "--json", *flags], out=out)
        return code, json.loads(out.getvalue())

    code, report = doctor()
    assert code == 1
    assert report["findings"] == [
        {
            "check": "journal",
            "problem": "1 interrupted write(s) from a killed run",
            "repaired": False,
        }
    ]
    assert doctor("--repair")[0] == 0
    assert doctor() == (0, {**report, "healthy": True, "findings": []})
