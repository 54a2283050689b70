"""Render an untrusted chat template in a child process, with a time and a memory limit.

Anyone can publish a GGUF, and its chat template is a Jinja program. Jinja's sandbox keeps
a template away from Python's internals, but not from running for ever or eating all
memory: two nested ``range(100000)`` loops spin for hours, and ``'x' * 10**10`` exhausts
memory already while the template is compiled (Jinja folds constant expressions). So
the template is compiled and rendered in a child process of its own: the parent never
runs a line of it. A render that takes longer than ``render_seconds`` kills the child and
fails, and so does every later one (the caller uses its built-in format instead); closing
the process, or quitting, never waits for a template.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import sys
import threading
import weakref
from collections.abc import Sequence
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any, NoReturn

from desk_assistant.errors import DeskAssistantError

log = logging.getLogger(__name__)

RENDER_SECONDS = 3.0  # real templates render in milliseconds
STARTUP_SECONDS = 60.0  # a cold start of Python and Jinja on a busy machine
MEMORY_MB = 512


class TemplateFailure(DeskAssistantError):
    """The template could not be compiled or rendered (an error, a time-out, a crash)."""


Messages = Sequence[dict[str, str]]


class TemplateProcess:
    """A child process that holds one compiled template and renders it on request."""

    def __init__(
        self,
        source: str,
        *,
        render_seconds: float = RENDER_SECONDS,
        startup_seconds: float = STARTUP_SECONDS,
        memory_mb: int = MEMORY_MB,
    ) -> None:
        self.render_seconds = render_seconds
        self._lock = threading.Lock()  # one request on the pipe at a time
        self._broken: str | None = None
        context = multiprocessing.get_context("spawn")  # shares nothing with Qt or torch
        self._conn, child = context.Pipe()
        self._process = context.Process(
            target=_serve, args=(child, source, memory_mb), daemon=True, name="chat-template"
        )
        self._process.start()
        child.close()
        # Ends the child when this object is dropped without close() (a test, an error).
        self._finalizer = weakref.finalize(self, _stop, self._process, self._conn)
        try:
            self._answer(startup_seconds, "compiling the template")
        except TemplateFailure:
            self.close()
            raise

    def render(self, messages: Messages, *, bos: str, eos: str) -> str:
        """The prompt the template writes for ``messages`` (with a generation prompt)."""
        with self._lock:
            if self._broken is not None:
                raise TemplateFailure(self._broken)
            try:
                self._conn.send((list(messages), bos, eos))
            except (OSError, ValueError) as exc:
                self._fail(f"the template renderer is gone ({exc})")
            return str(self._answer(self.render_seconds, "rendering the prompt"))

    def close(self) -> None:
        """End the child at once (safe from any thread, and twice)."""
        self._broken = self._broken or "the template renderer was closed"
        self._finalizer()

    def _answer(self, seconds: float, doing: str) -> Any:
        try:
            ready = self._conn.poll(seconds)
            reply = self._conn.recv() if ready else None
        except (EOFError, OSError):
            if self._broken is not None:  # closed meanwhile (the app quits)
                raise TemplateFailure(self._broken) from None
            self._fail(f"the template crashed the renderer while {doing}")
        if reply is None:
            self._fail(f"the template took longer than {seconds:g} s {doing}; it was stopped")
        status, value = reply
        if status != "ok":
            raise TemplateFailure(str(value))  # an error in the template: the child lives on
        return value

    def _fail(self, reason: str) -> NoReturn:
        """Stop the child for good: a template that hung or crashed once is not tried again."""
        log.warning("chat template: %s", reason)
        self.close()
        self._broken = reason
        raise TemplateFailure(reason)


def _stop(process: BaseProcess, conn: Connection) -> None:
    if process.is_alive():
        process.kill()
    process.join(5)
    with contextlib.suppress(OSError):
        conn.close()


# --- the child ---------------------------------------------------------------------------


def _limit_memory(memory_mb: int) -> None:
    if sys.platform == "win32":
        return  # no address-space limit there; the time limit still applies
    import resource

    limit = memory_mb * 1024 * 1024
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def _raise_exception(message: str) -> NoReturn:
    from jinja2 import TemplateError

    raise TemplateError(message)


def _sandbox() -> Any:
    from jinja2 import ext
    from jinja2.exceptions import SecurityError
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    class _StrictSandbox(ImmutableSandboxedEnvironment):
        """Refuses unsafe attribute access outright.

        The stock sandbox returns an Undefined that prints as "", so a probing template
        would render silently; failing makes it fall back, with a visible warning.
        """

        def unsafe_undefined(self, obj: Any, attribute: str) -> Any:
            raise SecurityError(
                f"access to attribute {attribute!r} of {type(obj).__name__!r} object is unsafe"
            )

    # Hugging Face's apply_chat_template settings, which templates are written against.
    env = _StrictSandbox(trim_blocks=True, lstrip_blocks=True, extensions=[ext.loopcontrols])
    env.globals["raise_exception"] = _raise_exception
    return env


def _serve(conn: Connection, source: str, memory_mb: int) -> None:
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl+C is the parent's to handle
    _limit_memory(memory_mb)
    try:
        template = _sandbox().from_string(source)
    except Exception as exc:  # the template's own error, reported as its reason
        conn.send(("error", f"{type(exc).__name__}: {exc}"))
        return
    conn.send(("ok", None))
    while True:
        try:
            messages, bos, eos = conn.recv()
        except EOFError:
            return
        try:
            text = template.render(
                messages=messages, add_generation_prompt=True, bos_token=bos, eos_token=eos
            )
        except Exception as exc:  # MemoryError included: the cap turns a bomb into this
            conn.send(("error", f"{type(exc).__name__}: {exc}"))
            continue
        conn.send(("ok", text))
