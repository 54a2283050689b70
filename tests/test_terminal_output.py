"""What the CLI prints from file names and documents cannot drive the terminal, and its
JSON stays exact."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from fakes import make_assistant, summary

from desk_assistant.cli.main import main
from desk_assistant.cli.terminal import clean, one_line, safe_stream

HOSTILE = "\033]0;PWNED\007clear\033[2J\x9b31m\u202eexe.txt"


def test_every_character_a_terminal_acts_on_is_escaped() -> None:
    shown = clean(f"{HOSTILE}\nnext line\tand a tab\rback\udcff")
    assert shown == (
        "\\u001b]0;PWNED\\u0007clear\\u001b[2J\\u009b31m\\u202eexe.txt\nnext line\tand a tab"
        "\\u000dback\\udcff"
    )
    assert one_line("a\nb\tc") == "a\\u000ab\\u0009c"
    assert clean("Grüße, 東京, naïve — fine") == "Grüße, 東京, naïve — fine"


def test_json_through_the_safe_stream_is_exact() -> None:
    value = {"path": HOSTILE + "\n\udcff", "text": "line\u2028two \x85"}
    out = io.StringIO()
    safe_stream(out).write(json.dumps(value, ensure_ascii=False) + "\n")
    printed = out.getvalue()
    assert json.loads(printed) == value
    assert not any(ch in printed for ch in "\033\007\x9b\u202e\x85")


def run(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    return main(list(argv), out=out), out.getvalue()


def test_sources_status_and_errors_print_hostile_names_harmlessly(
    tmp_path: Path, app_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    docs = tmp_path / "docs\033[2J"
    docs.mkdir()
    (docs / f"{HOSTILE}").write_text("\033[2J The harbour opens at nine.", encoding="utf-8")
    (docs / "two\nlines.md").write_text("# Notes\n\nThe bridge is closed.", encoding="utf-8")
    with make_assistant(app_home) as assistant:
        assert summary(assistant.ingest([docs]))["added"] == 2

    code, listed = run("sources")
    assert code == 0
    lines = listed.splitlines()
    assert len(lines) == 2  # a newline in a name does not split its line
    assert "two\\u000alines.md" in listed
    assert "\\u001b]0;PWNED\\u0007" in listed and "\033" not in listed and "\x9b" not in listed

    code, listed = run("sources", "--json")
    assert {Path(s["path"]).name for s in json.loads(listed)} == {HOSTILE, "two\nlines.md"}
    assert "\033" not in listed

    code, status = run("status")
    assert code == 0 and "\033" not in status and "docs\\u001b[2J" in status

    capsys.readouterr()
    code, _ = run("remove", str(docs / "gone\033[2J.txt"))
    err = capsys.readouterr().err
    assert code == 1 and "\033" not in err and "gone\\u001b[2J.txt" in err
