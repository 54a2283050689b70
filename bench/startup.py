"""Start-up time of the ``desk-assistant`` CLI against bare-interpreter reference points.

What runs: each command below in a fresh process, ``N`` times, interleaved round-robin
(one untimed warm-up round first, so every command runs with a warm OS file cache):

* ``python -c pass`` (the interpreter alone: the floor),
* ``python -c "import llama_index.core"`` (one heavy import, for scale),
* ``desk-assistant --help``,
* ``desk-assistant --home EMPTY status`` (a home with no documents),
* ``desk-assistant --home POPULATED status`` (a home with a few ingested articles; built
  first with ``desk-assistant ingest``, or given with ``--populated DIR``).

Wall time is measured around ``subprocess`` with ``time.perf_counter``; peak RSS of each
child comes from ``os.wait4``. Separately, each CLI command is run once more in-process
by a probe that lists which heavy modules (torch, chromadb, llama_index, llama_cpp,
sentence_transformers, transformers, PySide6) are in ``sys.modules`` when it returns.

How to read it: "over python" = median minus the ``python -c pass`` median, i.e. what the
command itself costs. ``--help`` and ``status`` should import none of the heavy modules
and stay within a few hundred ms of the bare interpreter.

    python bench/startup.py            # N = 7
    python bench/startup.py --quick    # N = 5
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from _common import (
    base_parser,
    log,
    median,
    print_table,
    temp_dir,
    wikiqa_articles,
    write_results,
)

HEAVY = (
    "torch",
    "chromadb",
    "llama_index",
    "llama_cpp",
    "sentence_transformers",
    "transformers",
    "PySide6",
)
PROBE = """
import contextlib, io, json, sys
from desk_assistant.cli.main import main
with contextlib.redirect_stdout(io.StringIO()):
    try:
        main(sys.argv[1:], out=io.StringIO())
    except SystemExit:
        pass
print(json.dumps([m for m in {heavy!r} if m in sys.modules]))
"""


@dataclass(slots=True)
class Command:
    label: str
    argv: list[str]
    cli_args: list[str] | None = None  # for the sys.modules probe (CLI commands only)
    seconds: list[float] = field(default_factory=list)
    rss_mb: list[float] = field(default_factory=list)
    heavy: list[str] | None = None


def cli() -> str:
    return str(Path(sys.executable).with_name("desk-assistant"))


def run_once(argv: list[str]) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB) of one fresh process."""
    started = time.perf_counter()
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} exited with {process.returncode}")
    return seconds, usage.ru_maxrss / 1024


def heavy_modules(cli_args: list[str]) -> list[str]:
    code = PROBE.format(heavy=HEAVY)
    done = subprocess.run(
        [sys.executable, "-c", code, *cli_args], capture_output=True, text=True, check=True
    )
    listed: list[str] = json.loads(done.stdout.strip().splitlines()[-1])
    return listed


def populate(home: Path, articles: int) -> None:
    files = [str(p) for p in wikiqa_articles()[:articles]]
    log(f"startup.py: ingesting {len(files)} articles into {home} with the CLI ...")
    subprocess.run(
        [cli(), "--home", str(home), "ingest", *files, "--json"],
        check=True,
        stdout=subprocess.DEVNULL,
    )


def commands(empty: Path, populated: Path) -> list[Command]:
    python = sys.executable
    made = []
    for label, args in (
        ("desk-assistant --help", ["--help"]),
        ("desk-assistant status (empty home)", ["--home", str(empty), "status"]),
        ("desk-assistant status (populated home)", ["--home", str(populated), "status"]),
    ):
        made.append(Command(label, [cli(), *args], args))
    return [
        Command("python -c pass", [python, "-c", "pass"]),
        Command('python -c "import llama_index.core"', [python, "-c", "import llama_index.core"]),
        *made,
    ]


def measure(cmds: list[Command], rounds: int) -> None:
    for command in cmds:  # warm-up round, untimed
        run_once(command.argv)
    for number in range(rounds):
        for command in cmds:
            seconds, rss = run_once(command.argv)
            command.seconds.append(seconds)
            command.rss_mb.append(rss)
        log(f"  round {number + 1}/{rounds} done")
    for command in cmds:
        if command.cli_args is not None:
            command.heavy = heavy_modules(command.cli_args)


def rows(cmds: list[Command]) -> list[list[str]]:
    floor = median(cmds[0].seconds)
    table = []
    for command in cmds:
        middle = median(command.seconds)
        heavy = "-" if command.heavy is None else (", ".join(command.heavy) or "none")
        table.append(
            [
                command.label,
                f"{middle:.3f}",
                f"{min(command.seconds):.3f}",
                f"{middle - floor:+.3f}",
                f"{middle / floor:.1f}x",
                f"{median(command.rss_mb):.0f}",
                heavy,
            ]
        )
    return table


def main() -> None:
    parser = base_parser(__doc__)
    parser.add_argument("-n", type=int, help="timed runs per command (default 7, quick 5)")
    parser.add_argument("--populated", type=Path, help="an already populated app home")
    parser.add_argument("--articles", type=int, default=3, help="articles for the populated home")
    args = parser.parse_args()
    rounds = args.n or (5 if args.quick else 7)
    with temp_dir("startup-empty") as empty, temp_dir("startup-populated") as made:
        populated = args.populated or made
        if args.populated is None:
            populate(made, args.articles)
        cmds = commands(empty, populated)
        log(f"startup.py: {len(cmds)} commands x {rounds} runs ...")
        measure(cmds, rounds)
    headers = [
        "command",
        "median s",
        "min s",
        "over python",
        "x python",
        "peak RSS MB",
        "heavy modules loaded",
    ]
    print_table(f"CLI start-up, fresh processes, {rounds} runs each", headers, rows(cmds))
    data = {c.label: {"seconds": c.seconds, "rss_mb": c.rss_mb, "heavy": c.heavy} for c in cmds}
    log(f"results: {write_results('startup', data, args.out)}")


if __name__ == "__main__":
    main()
