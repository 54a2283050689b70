"""Hostile input through real processes: files built to hurt a parser, a model file whose
chat template never ends, questions too long or full of control characters, and file
names and passages that would drive the terminal."""

from __future__ import annotations

import json
import os
import socket
import zipfile
from pathlib import Path

import pytest
from faults import EVAL_DOCS, Crash, Ledger, cli, cli_json, consistent, copy_home, environment
from tiny_gguf import write_tiny_llama_gguf

pytestmark = [pytest.mark.slow, pytest.mark.model]

ACTIVE = ("\033", "\007", "\x9b", "\u202e")  # what must never reach a terminal raw


def _zip_bomb(path: Path) -> None:
    """A DOCX whose document part inflates to 2 GB of spaces."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        archive.writestr("[Content_Types].xml", '<?xml version="1.0"?><Types/>')
        with archive.open("word/document.xml", "w", force_zip64=True) as member:
            chunk = b" " * (1 << 20)
            for _ in range(2048):
                member.write(chunk)


def _billion_laughs(path: Path) -> None:
    entities = '<!ENTITY lol "lol">' + "".join(
        f'<!ENTITY lol{n} "{("&lol" + (str(n - 1) if n > 1 else "") + ";") * 10}">'
        for n in range(1, 10)
    )
    body = f'<?xml version="1.0"?><!DOCTYPE lolz [{entities}]><html><body>&lol9;</body></html>'
    path.write_text(body, "utf-8")


def _traversal_epub(path: Path) -> None:
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("mimetype", "application/epub+zip")
        archive.writestr("../../../../tmp/escaped.txt", "written outside")
        archive.writestr(
            "META-INF/container.xml",
            '<?xml version="1.0"?><container xmlns="urn:oasis:names:tc:opendocument:xmlns:'
            'container"><rootfiles><rootfile full-path="../../../etc/passwd" media-type='
            '"application/oebps-package+xml"/></rootfiles></container>',
        )


def hostile_folder(folder: Path) -> dict[str, str]:
    """Files that must each be refused (or read) with a reason, never crash or hang the
    run; name -> what it is."""
    folder.mkdir()
    made = {}
    _zip_bomb(folder / "bomb.docx")
    made["bomb.docx"] = "zip bomb"
    _billion_laughs(folder / "laughs.html")
    made["laughs.html"] = "billion laughs"
    _traversal_epub(folder / "traversal.epub")
    made["traversal.epub"] = "zip entries with ../ paths"
    os.mkfifo(folder / "pipe.txt")
    made["pipe.txt"] = "a FIFO nobody writes to"
    (folder / "loop").symlink_to(folder / "loop")
    made["loop"] = "a symlink to itself"
    (folder / "cycle").mkdir()
    (folder / "cycle" / "back").symlink_to(folder)
    made["cycle/back"] = "a folder symlink loop"
    with (folder / "sparse.txt").open("wb") as handle:
        handle.truncate(200 * 1024 * 1024)
    made["sparse.txt"] = "a 200 MB sparse file"
    (folder / "fake.pdf").write_bytes(b"%PDF-1.7\n" + os.urandom(4096))
    made["fake.pdf"] = "random bytes named .pdf"
    (folder / "control.md").write_text("# \033]0;X\007Title\n\n\033[2J Body \x9b31m", "utf-8")
    made["control.md"] = "control characters in text"
    (folder / "deep.json").write_text("[" * 20_000 + "]" * 20_000, "utf-8")
    made["deep.json"] = "20,000 nested brackets"
    (folder / "long-line.txt").write_text("a" * 5_000_000, "utf-8")
    made["long-line.txt"] = "one 5 MB line"
    with socket.socket(socket.AF_UNIX) as server:
        server.bind(str(folder / "socket.txt"))
    made["socket.txt"] = "a Unix socket"
    if EVAL_DOCS is not None and (EVAL_DOCS / "pdf_stress" / "bug1978317.pdf").exists():
        (folder / "slow.pdf").symlink_to(EVAL_DOCS / "pdf_stress" / "bug1978317.pdf")
        made["slow.pdf"] = "a PDF that hangs a naive parser"
    return made


def test_hostile_files_are_each_refused_or_read_with_a_reason(
    tmp_path: Path, ledger: Ledger
) -> None:
    made = hostile_folder(tmp_path / "hostile")
    home = tmp_path / "home"
    env = environment(DESK_ASSISTANT_PARSE_TIMEOUT="20", DESK_ASSISTANT_PARSE_MEMORY_MB="1024")
    with ledger.bad_input(len(made)):
        events = [
            json.loads(line)
            for line in cli(
                home, "ingest", str(tmp_path / "hostile"), "--json", env=env
            ).stdout.splitlines()
        ]
        outcomes = {
            Path(e["path"]).name: (e["outcome"], e.get("reason"))
            for e in events
            if e["event"] == "file"
        }
        for name, what in made.items():
            base = Path(name).name
            if base in ("back",):
                continue  # a loop is skipped silently inside a folder walk, by design
            assert base in outcomes, f"{what} ({name}) is not accounted for: {outcomes}"
            outcome, reason = outcomes[base]
            assert outcome in ("added", "failed", "skipped"), (name, outcome)
            if outcome != "added":
                assert reason, f"{what} was {outcome} without a reason"
        assert not Path("/tmp/escaped.txt").exists()
        consistent(home)


def test_a_chat_template_that_never_ends_costs_seconds(
    indexed_home: Path, tmp_path: Path, ledger: Ledger
) -> None:
    spin = "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}"
    model = write_tiny_llama_gguf(tmp_path / "spin.gguf", with_chat_template=spin)
    home = copy_home(indexed_home, tmp_path)
    with ledger.fault("a GGUF chat template with nested range(100000) loops"):
        described = cli(home, "models", "info", str(model), "--no-hash", timeout=300)
        assert "took longer than" in described.stdout + described.stderr
        answered = cli_json(  # the tiny model reads 512 tokens: a short answer fits
            home, "ask", "What is document 4 about?", "--model", str(model), "--max-tokens", "48"
        )
        assert "answer" in answered  # answered in the model family's built-in format


def test_questions_too_long_or_full_of_control_characters(
    indexed_home: Path, tmp_path: Path, ledger: Ledger
) -> None:
    home = copy_home(indexed_home, tmp_path)
    huge = "What is the harbour document about? " * 2900  # ~100 KB
    hostile = "\033]0;PWNED\007 What is \033[2Jdocument 4 \x9babout?\u202e"
    with ledger.bad_input(3):
        refused = cli(home, "ask", huge, codes=(1,))
        assert "The question is too long" in refused.stderr
        batch = "\n".join(
            [
                json.dumps({"id": "ok", "question": "What is document 4 about?"}),
                json.dumps({"id": "huge", "question": huge}),
                json.dumps({"id": "control", "question": hostile}),
                "this line is not JSON",
            ]
        )
        done = cli(home, "ask", "--batch", "-", stdin=batch, codes=(1,))
        lines = [json.loads(line) for line in done.stdout.splitlines()]
        assert [line["id"] for line in lines] == ["ok", "huge", "control", None]
        assert "error" in lines[1] and "error" in lines[3] and "answer" in lines[2]
        shown = cli(home, "ask", hostile)
        if any(ch in shown.stdout + shown.stderr for ch in ACTIVE):
            raise Crash("a control character of the question reached the terminal")


def test_names_and_passages_cannot_drive_the_terminal(tmp_path: Path, ledger: Ledger) -> None:
    folder = tmp_path / "names\033[2J"
    folder.mkdir()
    names = ["\033]0;TITLE\007.txt", "two\nlines.md", "csi\x9b2J.txt", "bidi\u202etxt.exe.md"]
    for number, name in enumerate(names):
        (folder / name).write_text(
            f"Passage {number} about the lighthouse \033[2J\033]0;X\007 keeper.", "utf-8"
        )
    home = tmp_path / "home"
    with ledger.bad_input(len(names)):
        outputs = [
            cli(home, "ingest", str(folder)),
            cli(home, "sources"),
            cli(home, "status"),
            cli(home, "search", "lighthouse keeper"),
            cli(home, "remove", str(folder / "gone\033[2J.txt"), codes=(1,)),
        ]
        for done in outputs:
            if any(ch in done.stdout + done.stderr for ch in ACTIVE):
                raise Crash(f"raw control characters reached the terminal: {done.args}")
        assert len(outputs[1].stdout.splitlines()) == len(names)  # one line per document
        listed = {Path(s["path"]).name for s in cli_json(home, "sources")}
        assert listed == set(names)  # --json keeps the names exactly
