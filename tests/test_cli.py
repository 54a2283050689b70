"""The CLI contract that scripts rely on: commands, JSON shapes, exit codes."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
from fakes import make_assistant, summary

from desk_assistant.api import Assistant
from desk_assistant.cli.main import main

HEAVY = (
    "torch",
    "sentence_transformers",
    "chromadb",
    "llama_index",
    "llama_cpp",
    "ctransformers",
    "transformers",
    "PySide6",
)


def run(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    code = main(list(argv), out=out)
    return code, out.getvalue()


def test_help_and_status_import_nothing_heavy(app_home: Path) -> None:
    probe = (
        "import sys, io\n"
        "from desk_assistant.cli.main import main\n"
        "main(['status', '--json'], out=io.StringIO())\n"
        f"print([m for m in {HEAVY!r} if m in sys.modules])\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]", result.stdout + result.stderr
    helped = subprocess.run(
        [sys.executable, "-m", "desk_assistant", "--help"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "ingest" in helped.stdout and "ask" in helped.stdout


def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["frobnicate"])
    assert exited.value.code == 2
    assert run("search")[0] == 2
    assert "a query is required" in capsys.readouterr().err


def test_failures_exit_1_with_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _ = run("remove", str(tmp_path / "never-added.txt"))
    err = capsys.readouterr().err
    assert code == 1
    assert err.count("\n") == 1 and "Traceback" not in err
    assert "is not in collection 'default'" in err


def test_invalid_settings_are_reported(app_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    app_home.mkdir(parents=True)
    (app_home / "settings.json").write_text('{"top_k": 0}')
    code, _ = run("status")
    assert code == 1
    assert "top_k" in capsys.readouterr().err


def test_home_flag_and_env_agree(tmp_path: Path, app_home: Path) -> None:
    code, out = run("--home", str(tmp_path / "elsewhere"), "status", "--json")
    assert code == 0
    assert json.loads(out)["home"] == str(tmp_path / "elsewhere")
    code, out = run("status", "--json")
    assert json.loads(out)["home"] == str(app_home)
    code, out = run("status", "--json", "--collection", "work")
    assert json.loads(out)["collection"] == "work"


def test_sources_on_an_empty_home(app_home: Path) -> None:
    assert run("sources", "--json") == (0, "[]\n")
    code, out = run("sources")
    assert code == 0 and "No documents" in out


def test_a_batch_answers_one_line_per_input_whatever_fails(
    tmp_path: Path,
    app_home: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "lease.md").write_text("The notice period of the lease is three months.", "utf-8")
    with make_assistant(app_home) as assistant:
        summary(assistant.ingest([docs]))
    monkeypatch.setattr(Assistant, "open", classmethod(lambda *_, **__: make_assistant(app_home)))
    batch = tmp_path / "q.jsonl"
    lines = [
        {"id": "first", "question": "How long is the notice period?"},
        {"id": "huge", "question": "What is the notice period? " * 4000},
        "not json",
        {"id": 7},
        {"id": "last", "question": "What is the notice period of the lease?"},
    ]
    batch.write_text("\n".join(x if isinstance(x, str) else json.dumps(x) for x in lines) + "\n")

    for command in ("ask", "search"):
        code, out = run(command, "--batch", str(batch))
        results = [json.loads(line) for line in out.splitlines()]
        assert code == 1  # some lines failed, and each says so in its own line
        assert [r["id"] for r in results] == ["first", "huge", None, None, "last"]
        assert [("error" in r) for r in results] == [False, command == "ask", True, True, False]
        assert "q.jsonl:3: not a JSON object" in results[2]["error"]
        assert "q.jsonl:4: expected" in results[3]["error"]
        if command == "ask":
            assert "The question is too long" in results[1]["error"]
            assert results[4]["citations"][0]["path"].endswith("lease.md")
        assert "lines failed" in capsys.readouterr().err
    assert run("search", "--batch", str(tmp_path / "missing.jsonl"))[0] == 2
