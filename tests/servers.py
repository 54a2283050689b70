"""Real servers on loopback for the tests: a Chroma server (``chroma run``, shipped with
chromadb) and an OpenAI-compatible model server (llama-cpp-python's ``llama_cpp.server``
with the embedded SmolLM2). Each runs in its own process group on a free port, so a test
can kill it mid-request and start it again on the same port and data."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path

from desk_assistant.backends.defaults import default_llm_path

MODEL_ALIAS = "smollm2"
_START_TIMEOUT = 120.0  # seconds; a loaded CI machine starts a server slowly


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Server:
    """A server process that answers ``ready_path`` once it is up."""

    def __init__(self, command: Sequence[str], port: int, ready_path: str, log: Path) -> None:
        self.command = list(command)
        self.port = port
        self.ready_path = ready_path
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Server:
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                self.command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        deadline = time.monotonic() + _START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.command[0]} exited: {self.log.read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(self.url + self.ready_path, timeout=2):
                    return self
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(0.2)
        self.kill()
        raise RuntimeError(f"{self.command[0]} did not start: {self.log.read_text()[-2000:]}")

    def kill(self) -> None:
        """SIGKILL, as a crash or a pulled cable would end it."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)
        self.process = None


def chroma_server(data: Path, port: int | None = None) -> Server:
    chroma = Path(sys.executable).parent / "chroma"
    port = port or free_port()
    command = [str(chroma), "run", "--path", str(data), "--port", str(port)]
    return Server(command, port, "/api/v2/heartbeat", data.parent / f"chroma-{port}.log")


def model_server(log_folder: Path, port: int | None = None) -> Server:
    port = port or free_port()
    command = [
        sys.executable,
        "-m",
        "llama_cpp.server",
        "--model",
        str(default_llm_path()),
        "--model_alias",
        MODEL_ALIAS,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--n_ctx",
        "2048",
        "--n_threads",
        "1",
        "--seed",
        "0",
    ]
    return Server(command, port, "/v1/models", log_folder / f"model-server-{port}.log")
