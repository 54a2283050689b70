"""What talking to a server over HTTP needs, for the Chroma server and the model server
alike: TLS trust, a timeout on every request, retries with backoff for what may pass,
and errors that say what is wrong in words a user can act on (refused, TLS, 401,
timeout) instead of a library's exception.

``httpx`` is imported here only when a server is used (chromadb depends on it, so it is
always installed).
"""

from __future__ import annotations

import json
import logging
import ssl
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar
from urllib.parse import urlparse

from desk_assistant.errors import DeskAssistantError

if TYPE_CHECKING:
    import httpx

log = logging.getLogger(__name__)

T = TypeVar("T")

CONNECT_TIMEOUT = 10.0  # seconds to open a connection: a server that is up accepts at once
RETRY_DELAYS = (0.5, 1.5, 4.0)  # seconds before each new attempt after a transient error
_TRANSIENT_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})


class ServerError(DeskAssistantError):
    """A server could not be reached, or refused or failed a request.

    ``transient`` says that the same request may succeed later (the server is down,
    restarting, overloaded or slow); ``status`` is the HTTP status when there was one.
    """

    def __init__(self, message: str, *, transient: bool, status: int | None = None) -> None:
        super().__init__(message)
        self.transient = transient
        self.status = status


def tls_context(ca_bundle: Path | None) -> ssl.SSLContext:
    """The certificates a server's must chain to: the given PEM bundle (a company's own
    CA), else certifi's (what httpx trusts by default)."""
    if ca_bundle is not None:
        path = Path(ca_bundle).expanduser()
        try:
            return ssl.create_default_context(cafile=str(path))
        except (OSError, ssl.SSLError) as exc:
            raise ServerError(
                f"The CA bundle {path} cannot be read ({exc}): point ca_bundle at a PEM file",
                transient=False,
            ) from exc
    import certifi

    return ssl.create_default_context(cafile=certifi.where())


def timeout(read: float) -> httpx.Timeout:
    """Connecting fails fast; reading waits ``read`` seconds between two pieces."""
    import httpx

    return httpx.Timeout(read, connect=min(CONNECT_TIMEOUT, read))


def server_label(url: str) -> str:
    """``host:port`` of a server address, how messages name it."""
    parsed = urlparse(url)
    port = f":{parsed.port}" if parsed.port else ""
    return f"{parsed.hostname}{port}"


def _message_of(body: str) -> str:
    """The message inside a JSON error body (OpenAI's ``{"error": {"message"}}``,
    FastAPI's ``{"detail"}``, Chroma's ``{"message"}``), else the body itself."""
    try:
        data = json.loads(body)
    except ValueError:
        return body
    if isinstance(data, dict):
        error = data.get("error")
        if isinstance(error, dict) and error.get("message"):
            return str(error["message"])
        for key in ("message", "detail", "error"):
            if data.get(key):
                return str(data[key])
    return body


def refused_credentials(what: str, status: int, credential: str | None) -> ServerError:
    """The error for HTTP 401/403: the server wants another key (or one at all)."""
    hint = (
        f"; set DESK_ASSISTANT_{credential.upper()} or keep it in the system keyring"
        if credential
        else ""
    )
    return ServerError(
        f"{what} refused the credentials (HTTP {status}){hint}", transient=False, status=status
    )


def _status_error(what: str, status: int, detail: str, credential: str | None) -> ServerError:
    if status in (401, 403):
        return refused_credentials(what, status, credential)
    transient = status in _TRANSIENT_STATUS
    detail = " ".join(_message_of(detail).split())[:300]
    suffix = f": {detail}" if detail else ""
    return ServerError(f"{what} answered HTTP {status}{suffix}", transient=transient, status=status)


def _connect_error(text: str, what: str) -> ServerError:
    lowered = text.lower()
    if "certificate" in lowered or "ssl" in lowered or "tls" in lowered:
        return ServerError(
            f"{what}: the TLS connection failed ({text}); if the server uses a certificate "
            "of your own CA, set ca_bundle to that CA's PEM file",
            transient=False,
        )
    if "name or service not known" in lowered or "nodename nor servname" in lowered:
        return ServerError(f"{what}: its host name cannot be resolved", transient=False)
    return ServerError(
        f"{what} refused the connection: is it running and listening on that port?",
        transient=True,
    )


def describe(
    exc: BaseException, what: str, wait: float, credential: str | None = None
) -> ServerError | None:
    """The :class:`ServerError` for a failed request to ``what`` ("The model server at
    host:8080"), or None when ``exc`` is no HTTP or connection failure (a bug is not
    dressed up as a server's fault); ``credential`` names the setting that authenticates
    with the server."""
    import httpx

    if isinstance(exc, httpx.HTTPStatusError):
        try:
            body = exc.response.text
        except httpx.ResponseNotRead:  # a streamed answer whose body was not read
            body = ""
        return _status_error(what, exc.response.status_code, body, credential)
    if isinstance(exc, httpx.TimeoutException):
        connecting = isinstance(exc, httpx.ConnectTimeout)
        return ServerError(
            f"{what} did not accept a connection within {CONNECT_TIMEOUT:g} s"
            if connecting
            else f"{what} did not answer within {wait:g} s",
            transient=True,
        )
    if isinstance(exc, httpx.ConnectError):
        return _connect_error(str(exc), what)
    if isinstance(exc, httpx.HTTPError):
        closed = isinstance(exc, (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError))
        return ServerError(
            f"{what} closed the connection in the middle of a request (it may have stopped)"
            if closed
            else f"{what}: {exc or type(exc).__name__}",
            transient=True,
        )
    return None


def with_retries(
    call: Callable[[], T],
    classify: Callable[[BaseException], ServerError | None],
    *,
    delays: tuple[float, ...] = RETRY_DELAYS,
) -> T:
    """``call()``, tried again after each delay while it fails with a transient error; the
    last failure is raised as the :class:`ServerError` that ``classify`` makes of it
    (what it does not recognise propagates as it is)."""
    for attempt in range(len(delays) + 1):
        try:
            return call()
        except ServerError as exc:
            error = exc
        except DeskAssistantError:
            raise
        except Exception as exc:  # the libraries raise many types: classify says which
            classified = classify(exc)
            if classified is None:
                raise
            classified.__cause__ = exc  # --debug shows the library's own error too
            error = classified
        if not error.transient or attempt == len(delays):
            raise error
        log.info("%s; trying again in %.1f s", error, delays[attempt])
        time.sleep(delays[attempt])
    raise AssertionError("unreachable")
