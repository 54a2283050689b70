"""Try a model file with a runtime in a child process, so that a crash costs only the child.

ctransformers (unmaintained since 2023) calls ``abort()`` on metadata it does not expect,
which would take the whole app down with it. A probe loads the file in a throwaway Python
process, generates one token and reports back; the verdict is cached per runtime version
and file identity (path, size, mtime), so the second start-up costs nothing.

The child is ``python -m desk_assistant.backends.llm.probe_child RUNTIME PATH``.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from desk_assistant.atomic import write_json

CACHE_FILE = "llm_probe.json"
DEFAULT_TIMEOUT = 120.0
MARKER = "desk-assistant-probe:"  # starts the verdict line the child prints
_DISTRIBUTIONS = {"llama_cpp": "llama-cpp-python", "ctransformers": "ctransformers"}


@dataclass(frozen=True, slots=True)
class ProbeResult:
    """Whether ``runtime`` loaded the file and generated a token, and if not, why."""

    ok: bool
    runtime: str
    reason: str | None = None
    cached: bool = False


def _cache_key(runtime: str, path: Path) -> str:
    stat = path.stat()
    try:
        version = metadata.version(_DISTRIBUTIONS.get(runtime, runtime))
    except metadata.PackageNotFoundError:
        version = "missing"
    return f"{runtime}=={version}|{path}|{stat.st_size}|{stat.st_mtime_ns}"


def _read_cache(cache_dir: Path) -> dict[str, dict[str, object]]:
    try:
        data = json.loads((cache_dir / CACHE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}  # no cache yet, or a damaged one: probing again is always safe
    return data if isinstance(data, dict) else {}


def _write_cache(cache_dir: Path, key: str, result: ProbeResult) -> None:
    entries = _read_cache(cache_dir)
    entries[key] = {"ok": result.ok, "reason": result.reason}
    write_json(cache_dir / CACHE_FILE, entries)  # a concurrent probe never leaves half


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1][:300] if lines else ""


def _run_child(runtime: str, path: Path, timeout: float) -> tuple[ProbeResult, bool]:
    """The child's verdict, and whether it is worth caching (a timeout is not)."""
    package_root = str(Path(__file__).resolve().parents[3])
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [package_root, env.get("PYTHONPATH")]))
    command = [sys.executable, "-m", "desk_assistant.backends.llm.probe_child", runtime, str(path)]
    try:
        done = subprocess.run(  # our own interpreter and module, no shell
            command, capture_output=True, text=True, timeout=timeout, env=env, check=False
        )
    except subprocess.TimeoutExpired:
        reason = f"the runtime did not finish loading the file within {timeout:.0f} s"
        return ProbeResult(False, runtime, reason), False
    for line in reversed(done.stdout.splitlines()):
        if line.startswith(MARKER):
            verdict = json.loads(line.removeprefix(MARKER))
            return ProbeResult(bool(verdict["ok"]), runtime, verdict.get("reason")), True
    detail = _last_line(done.stderr)
    if done.returncode < 0:
        number = -done.returncode
        try:
            name = f", {signal.Signals(number).name}"
        except ValueError:
            name = ""
        reason = f"the runtime crashed while loading the file (signal {number}{name})"
    else:
        reason = f"the runtime failed while loading the file (exit code {done.returncode})"
    return ProbeResult(False, runtime, f"{reason}: {detail}" if detail else reason), True


def probe_runtime(
    runtime: str,
    path: str | Path,
    *,
    cache_dir: Path | None = None,
    timeout: float = DEFAULT_TIMEOUT,
) -> ProbeResult:
    """Load ``path`` with ``runtime`` in a child process; never raises for a bad file."""
    path = Path(path).resolve()
    if not path.is_file():
        return ProbeResult(False, runtime, f"model file not found: {path}")
    key = _cache_key(runtime, path)
    if cache_dir is not None:
        entry = _read_cache(cache_dir).get(key)
        if isinstance(entry, dict) and isinstance(entry.get("ok"), bool):
            reason = entry.get("reason")
            return ProbeResult(
                bool(entry["ok"]), runtime, reason if isinstance(reason, str) else None, True
            )
    result, cacheable = _run_child(runtime, path, timeout)
    if cache_dir is not None and cacheable:
        _write_cache(cache_dir, key, result)
    return result
