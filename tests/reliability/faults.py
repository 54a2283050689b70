"""The fault suite's tools: real ``desk-assistant`` processes, and a ledger of what was
done to them that prints one line at the end of the run (see conftest.py).

Every test records what it inflicts in the session's :class:`Ledger`: a *fault* (a kill,
a second writer, a full disk, a damaged store, an unplugged folder, a hostile model file)
is counted as survived only if every check after it passed; every *bad input* (a hostile
file, a fuzzed document, a hostile question or name) is counted as it is tried. Checks
raise :class:`Crash` (a process died by a signal, printed a traceback or a Rust panic,
or exited with an unexpected code), :class:`Hang` (it outlived its time limit) or
:class:`DataLost` (something stored before the fault is gone), and the ledger counts
them.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
TESTS = ROOT / "tests"
_EVAL = ROOT.parent / "shared" / "eval" / "docs"
EVAL_DOCS: Path | None = _EVAL if _EVAL.is_dir() else None  # seeds and hostile PDFs
DEFAULT_TIMEOUT = 600.0  # a command that takes longer than this on a busy 2-core machine hangs


class Crash(AssertionError):
    """A process died, printed a traceback or a panic, or failed where it must not."""


class Hang(AssertionError):
    """A process or an operation outlived its time limit."""


class DataLost(AssertionError):
    """Something that was stored before a fault is not there after it."""


@dataclass
class Ledger:
    faults: int = 0
    survived: int = 0
    bad_inputs: int = 0
    crashes: int = 0
    hangs: int = 0
    lost: int = 0
    notes: list[str] = field(default_factory=list)

    @contextmanager
    def fault(self, what: str) -> Iterator[None]:
        """One fault inflicted; survived when the block (its checks) completes."""
        self.faults += 1
        try:
            yield
        except BaseException as exc:
            self.count(exc)
            exc.add_note(f"fault: {what}")
            raise
        self.survived += 1

    @contextmanager
    def faults_checked_together(self, count: int, what: str) -> Iterator[None]:
        """``count`` faults (kills in a row) whose survival one check at the end proves."""
        self.faults += count
        try:
            yield
        except BaseException as exc:
            self.count(exc)
            exc.add_note(f"faults: {what}")
            raise
        self.survived += count

    @contextmanager
    def bad_input(self, count: int = 1) -> Iterator[None]:
        """``count`` bad inputs tried; a crash, hang or loss among them is counted."""
        self.bad_inputs += count
        try:
            yield
        except BaseException as exc:
            self.count(exc)
            raise

    def count(self, exc: BaseException) -> None:
        if isinstance(exc, Hang):
            self.hangs += 1
        elif isinstance(exc, DataLost):
            self.lost += 1
        elif isinstance(exc, Crash):
            self.crashes += 1

    def summary(self) -> str:
        return (
            f"faults survived: {self.survived}/{self.faults}, "
            f"bad inputs: {self.bad_inputs} tried, {self.crashes} crashes, "
            f"{self.hangs} hangs, {self.lost} data lost"
        )


LEDGER = Ledger()


# real processes ---------------------------------------------------------------------------


def environment(**extra: str) -> dict[str, str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(TESTS)])}
    env.pop("DESK_ASSISTANT_HOME", None)  # every command says --home
    env.update(extra)
    return env


def command(home: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "desk_assistant", "--home", str(home), *args]


def check_output(done: subprocess.CompletedProcess[str], codes: Sequence[int]) -> None:
    """A finished command: an expected exit code, no traceback, no panic, nothing raw that
    a terminal would act on."""
    said = done.stdout + done.stderr
    if done.returncode < 0:
        raise Crash(f"killed by signal {-done.returncode}: {done.stderr[-2000:]}")
    if "Traceback (most recent call last)" in said or "panicked at" in said:
        raise Crash(f"a traceback or a panic reached the user:\n{said[-3000:]}")
    if done.returncode not in codes:
        raise Crash(f"exit code {done.returncode} (expected {list(codes)}):\n{said[-3000:]}")


def cli(
    home: Path,
    *args: str,
    codes: Sequence[int] = (0,),
    timeout: float = DEFAULT_TIMEOUT,
    stdin: str | None = None,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run ``desk-assistant --home HOME ARGS`` to its end and check how it ended."""
    try:
        done = subprocess.run(
            command(home, *args),
            capture_output=True,
            text=True,
            timeout=timeout,
            input=stdin,
            env=env or environment(),
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise Hang(f"desk-assistant {' '.join(args)} ran past {timeout:.0f} s") from exc
    check_output(done, codes)
    return done


def cli_json(home: Path, *args: str, **options: Any) -> Any:
    return json.loads(cli(home, *args, "--json", **options).stdout)


def start(
    home: Path, *args: str, env: dict[str, str] | None = None, stderr: Path | None = None
) -> subprocess.Popen[str]:
    """A command started in a session of its own, so that a kill reaches its workers;
    its errors go to the file ``stderr`` when given (to be read while it runs)."""
    with ExitStack() as files:
        errors = files.enter_context(stderr.open("w")) if stderr else subprocess.PIPE
        return subprocess.Popen(
            command(home, *args),
            stdout=subprocess.PIPE,
            stderr=errors,
            text=True,
            env=env or environment(),
            start_new_session=True,
        )


def kill(process: subprocess.Popen[str]) -> str:
    """SIGKILL the command and everything it started; returns the whole lines it wrote."""
    with suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    out, _err = process.communicate(timeout=60)
    return out[: out.rfind("\n") + 1] if out else ""


def consistent(home: Path) -> dict[str, Any]:
    """``doctor`` of the default collection must find nothing; returns its report."""
    done = cli(home, "doctor", "--json", codes=(0, 1))
    report: dict[str, Any] = json.loads(done.stdout)
    if not report["healthy"] or report["findings"]:
        raise DataLost(f"the index is not consistent after the fault: {report}")
    return report


# documents ---------------------------------------------------------------------------------

TOPICS = ("harbour", "lease", "penguin", "budget", "bridge", "recipe", "holiday", "laptop")


def make_corpus(folder: Path, files: int, *, start: int = 0) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    made = []
    for number in range(start, start + files):
        topic = TOPICS[number % len(TOPICS)]
        body = " ".join(
            f"Document {number} sentence {line} is about the {topic} and item {number * line}."
            for line in range(30)
        )
        path = folder / f"doc-{number:03d}{'.md' if number % 3 == 0 else '.txt'}"
        path.write_text(f"# {topic} {number}\n\n{body}\n", "utf-8")
        made.append(path)
    return made


def copy_home(home: Path, into: Path) -> Path:
    """A copy of an indexed data folder (its followed folder stays where it is)."""
    import shutil

    target = into / "home"
    shutil.copytree(home, target)
    return target


def snapshot(home: Path) -> dict[str, Any]:
    """What must survive any fault: documents with their chunks, followed folders,
    exclusions."""
    status = cli_json(home, "status")
    sources = {s["path"]: (s["status"], s["chunks"]) for s in cli_json(home, "sources")}
    return {
        "sources": sources,
        "followed": status["followed"],
        "excludes": status["excludes"],
        "chunks": status["chunks"],
    }


def same_as(home: Path, before: dict[str, Any]) -> None:
    after = snapshot(home)
    if after != before:
        raise DataLost(f"before the fault: {before}\nafter it: {after}")
