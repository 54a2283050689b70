"""Server settings, credentials and the messages a failed request turns into.

Credentials never reach settings.json or a log; the environment wins over the keyring;
a server's failure is named (refused, TLS, 401, timeout), transient ones are retried
with backoff and permanent ones are not.
"""

from __future__ import annotations

import http.server
import json
import logging
import ssl
import subprocess
import sys
import threading
import time
import types
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from desk_assistant import credentials
from desk_assistant.backends.llm.chat_format import messages_format, parse_messages
from desk_assistant.errors import DeskAssistantError
from desk_assistant.remote import ServerError, describe, with_retries
from desk_assistant.settings import load_settings, update_settings

KEY = "sk-very-secret-0123"


def test_credentials_are_never_saved(app_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(DeskAssistantError, match="not a setting that can be saved"):
        update_settings(app_home, {"llm_api_key": KEY})
    monkeypatch.setenv("DESK_ASSISTANT_LLM_API_KEY", KEY)
    settings = update_settings(app_home, {"llm_url": "http://models.lan:8080/v1"})
    assert credentials.secret(settings, "llm_api_key") == KEY
    saved = (app_home / "settings.json").read_text(encoding="utf-8")
    assert KEY not in saved and KEY not in repr(settings) and KEY not in str(settings.model_dump())


def test_a_credential_in_settings_json_is_ignored_with_a_warning(app_home: Path) -> None:
    app_home.mkdir(parents=True)
    (app_home / "settings.json").write_text(json.dumps({"chroma_token": KEY}), encoding="utf-8")
    settings = load_settings(app_home)
    assert settings.chroma_token is None
    assert any(
        "credential" in w and "DESK_ASSISTANT_CHROMA_TOKEN" in w for w in settings.file_warnings
    )


class _MemoryKeyring(types.ModuleType):
    """The three functions of the ``keyring`` package's API, kept in a dict."""

    def __init__(self) -> None:
        super().__init__("keyring")
        self.store: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, user: str) -> str | None:
        return self.store.get((service, user))

    def set_password(self, service: str, user: str, value: str) -> None:
        self.store[(service, user)] = value

    def delete_password(self, service: str, user: str) -> None:
        del self.store[(service, user)]


def test_keyring_holds_one_key_per_server(app_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    keyring = _MemoryKeyring()
    monkeypatch.setitem(sys.modules, "keyring", keyring)
    first = load_settings(app_home, llm_url="http://a:8080/v1")
    second = load_settings(app_home, llm_url="http://b:8080/v1")
    credentials.store_secret("llm_api_key", first.llm_url, KEY)
    assert credentials.secret(first, "llm_api_key") == KEY
    assert credentials.secret(second, "llm_api_key") is None
    monkeypatch.setenv("DESK_ASSISTANT_LLM_API_KEY", "from-env")
    assert (
        credentials.secret(load_settings(app_home, llm_url="http://a:8080/v1"), "llm_api_key")
        == "from-env"
    )
    credentials.store_secret("llm_api_key", first.llm_url, None)
    assert keyring.store == {}


def test_openai_runtime_needs_a_server_address(app_home: Path) -> None:
    with pytest.raises(DeskAssistantError, match="needs llm_url"):
        load_settings(app_home, runtime="openai")
    with pytest.raises(DeskAssistantError, match="http://host:port"):
        load_settings(app_home, llm_url="models.lan:8080")


def test_messages_travel_as_json_and_anything_else_as_one_user_message() -> None:
    prompt = messages_format().render("Answer from the passages.", "Passages: ...", ())
    assert parse_messages(prompt) == [
        {"role": "system", "content": "Answer from the passages."},
        {"role": "user", "content": "Passages: ..."},
    ]
    assert parse_messages('[{"role": "user"}]') == [
        {"role": "user", "content": '[{"role": "user"}]'}
    ]


def _status(code: int, body: str) -> httpx.HTTPStatusError:
    request = httpx.Request("GET", "http://h/v1/models")
    response = httpx.Response(code, text=body, request=request)
    return httpx.HTTPStatusError("failed", request=request, response=response)


def test_failures_are_named() -> None:
    what = "The model server at h:8080"
    unauthorized = describe(_status(401, '{"detail": "Invalid API key"}'), what, 30, "llm_api_key")
    assert unauthorized is not None and not unauthorized.transient
    assert "refused the credentials (HTTP 401)" in str(unauthorized)
    assert "DESK_ASSISTANT_LLM_API_KEY" in str(unauthorized)
    missing = describe(_status(404, '{"error": {"message": "model x not found"}}'), what, 30)
    assert str(missing) == f"{what} answered HTTP 404: model x not found"
    busy = describe(_status(503, "overloaded"), what, 30)
    assert busy is not None and busy.transient
    slow = describe(httpx.ReadTimeout("timed out"), what, 30)
    assert str(slow) == f"{what} did not answer within 30 s"
    tls = describe(
        httpx.ConnectError("[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed"), what, 30
    )
    assert tls is not None and "ca_bundle" in str(tls) and not tls.transient
    assert describe(ValueError("a bug"), what, 30) is None  # not dressed up as the server's


def test_transient_failures_are_retried_with_backoff_and_others_not(
    caplog: pytest.LogCaptureFixture,
) -> None:
    calls: list[int] = []

    def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise httpx.ConnectError("refused")
        return "ok"

    def classify(exc: BaseException) -> ServerError | None:
        return describe(exc, "The server", 1)

    with caplog.at_level(logging.INFO):
        assert with_retries(flaky, classify, delays=(0.01, 0.01, 0.01)) == "ok"
    assert len(calls) == 3 and "trying again" in caplog.text

    calls.clear()

    def unauthorized() -> str:
        calls.append(1)
        raise _status(401, "")

    with pytest.raises(ServerError, match="refused the credentials"):
        with_retries(unauthorized, classify, delays=(0.01, 0.01))
    assert len(calls) == 1


# What the fake HTTPS server answers, by the end of the path: a model list for the model
# server runtime, and the identity, tenant, database and heartbeat chromadb asks for.
ANSWERS = {
    "/v1/models": {"object": "list", "data": [{"id": "big-model"}]},
    "/auth/identity": {
        "user_id": "",
        "tenant": "default_tenant",
        "databases": ["default_database"],
    },
    "/tenants/default_tenant": {"name": "default_tenant"},
    "/databases/default_database": {
        "id": "00000000-0000-0000-0000-000000000000",
        "name": "default_database",
        "tenant": "default_tenant",
    },
    "/heartbeat": {"nanosecond heartbeat": 1},
}


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[tuple[str, Path, list[dict[str, str]]]]:
    """An HTTPS server with a certificate of its own CA; records the headers it gets."""
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    seen: list[dict[str, str]] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append(dict(self.headers))
            path = self.path.split("?")[0]
            body = json.dumps(next(v for k, v in ANSWERS.items() if path.endswith(k))).encode()
            self.send_response(200 if self.headers.get("Authorization") == f"Bearer {KEY}" else 401)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self) -> None:
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"https://127.0.0.1:{server.server_address[1]}/v1", cert, seen
    server.shutdown()
    server.server_close()


def test_tls_with_a_custom_ca_and_the_api_key(
    app_home: Path,
    monkeypatch: pytest.MonkeyPatch,
    tls_server: tuple[str, Path, list[dict[str, str]]],
) -> None:
    from desk_assistant.backends.llm.openai_runtime import check_server

    url, ca, seen = tls_server
    with pytest.raises(DeskAssistantError, match=r"TLS connection failed.*ca_bundle"):
        check_server(load_settings(app_home, llm_url=url))
    with pytest.raises(DeskAssistantError, match="refused the credentials"):
        check_server(load_settings(app_home, llm_url=url, ca_bundle=ca))
    monkeypatch.setenv("DESK_ASSISTANT_LLM_API_KEY", KEY)
    info = check_server(load_settings(app_home, llm_url=url, ca_bundle=ca))
    assert info.model == "big-model" and info.tokenizer is None and info.context_length is None
    assert seen[-1]["Authorization"] == f"Bearer {KEY}"


def test_chroma_client_sends_the_token_over_tls_to_a_custom_ca(
    app_home: Path, tls_server: tuple[str, Path, list[dict[str, str]]]
) -> None:
    from desk_assistant.errors import StoreError
    from desk_assistant.store import ChromaStore

    url, ca, seen = tls_server
    base = url.removesuffix("/v1")
    with pytest.raises(StoreError, match="TLS connection failed"):
        ChromaStore(app_home, base, key_of=str)
    with pytest.raises(StoreError, match="DESK_ASSISTANT_CHROMA_TOKEN"):
        ChromaStore(app_home, base, ca_bundle=ca, token="wrong", key_of=str)
    seen.clear()
    ChromaStore(app_home, base, ca_bundle=ca, token=KEY, key_of=str)
    chroma_requests = [h for h in seen if "Chroma Python Client" in h.get("User-Agent", "")]
    assert chroma_requests, seen  # chromadb's own requests, not only our reachability check
    for headers in seen:
        assert headers["Authorization"] == f"Bearer {KEY}" and headers["X-Chroma-Token"] == KEY


def test_interrupt_wakes_a_stream_waiting_for_the_server(app_home: Path) -> None:
    """Stop from another thread ends a stream at once, even while the server says
    nothing for a long time (a large model still reading its prompt)."""
    from desk_assistant.backends.llm.base import GenerationInterrupted
    from desk_assistant.backends.llm.openai_runtime import OpenAIRuntime

    released = threading.Event()

    class Slow(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            body = json.dumps(ANSWERS["/v1/models"]).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            if not self.path.endswith("/chat/completions"):
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.end_headers()
            chunk = {"choices": [{"delta": {"content": "The"}}]}
            self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
            self.wfile.flush()
            released.wait(20)  # then silence, as a slow server between two words

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Slow)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    runtime = OpenAIRuntime.connect(load_settings(app_home, runtime="openai", llm_url=url))
    try:
        stream = runtime.stream(messages_format().render("", "Hello?"), max_tokens=50)
        assert next(stream) == "The"
        outcome: list[BaseException] = []

        def read_on() -> None:
            try:
                list(stream)
            except BaseException as exc:
                outcome.append(exc)

        reader = threading.Thread(target=read_on)
        reader.start()
        time.sleep(0.3)  # the reader is now blocked waiting for the server
        runtime.interrupt()
        reader.join(60)  # a hang guard; only the interrupt ends the silence with that error
        assert not reader.is_alive()
        assert isinstance(outcome[0], GenerationInterrupted)
    finally:
        released.set()
        runtime.close()
        server.shutdown()
        server.server_close()
