"""The ``openai`` runtime: answers from an OpenAI-compatible model server.

llama.cpp's ``llama-server``, llama-cpp-python's server, vLLM, Ollama and LM Studio all
serve ``POST /v1/chat/completions`` with server-sent events; this runtime streams from
it with httpx, so a model too large for this machine (a 13B or 70B Llama 2) answers the
same questions with the same passages, citations, abstention and Stop button.

The server applies its model's chat template, so prompts travel as chat messages (see
:func:`~desk_assistant.backends.llm.chat_format.messages_format`). What the answer path
needs to budget a prompt comes from the server where it says: the context window from
llama.cpp's ``/props``, vLLM's ``max_model_len`` or llama.cpp's ``n_ctx_train`` in
``/v1/models`` (never above the ``context_length`` setting, which also covers servers
that do not say, such as Ollama, whose real window is smaller than the model's), and
token counts from a tokenize endpoint (llama.cpp and vLLM ``/tokenize``,
llama-cpp-python ``/extras/tokenize``), else a conservative estimate of one token per
three bytes.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import socket
import threading
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from desk_assistant.backends.llm.base import Generation, GenerationInterrupted, LLMRuntime
from desk_assistant.backends.llm.chat_format import ChatFormat, messages_format, parse_messages
from desk_assistant.backends.llm.gguf_info import ModelInfo
from desk_assistant.credentials import secret
from desk_assistant.remote import (
    RETRY_DELAYS,
    ServerError,
    describe,
    server_label,
    timeout,
    tls_context,
    with_retries,
)
from desk_assistant.settings import Settings

if TYPE_CHECKING:
    import httpx

log = logging.getLogger(__name__)

Tokenizer = Literal["llama.cpp", "vllm", "llama-cpp-python"]
BYTES_PER_TOKEN = 3  # estimate without a tokenizer: English runs ~4 bytes/token; err high
TEMPLATE_TOKENS = 8  # per message: role markers and separators the server's template adds
_CACHED_COUNTS = 2048  # token counts kept: packing counts the same passages again and again


@dataclass(frozen=True, slots=True)
class ServerInfo:
    """What a model server says about itself: enough to budget prompts and to tell the
    user what answers."""

    url: str
    model: str
    models: tuple[str, ...]
    context_length: int | None  # None: the server does not say
    tokenizer: Tokenizer | None  # None: token counts are estimated

    def describe(self) -> str:
        window = (
            f"context window {self.context_length} tokens"
            if self.context_length
            else "context window not reported (the context_length setting applies)"
        )
        counting = (
            f"tokens counted by the server ({self.tokenizer})"
            if self.tokenizer
            else "tokens estimated (the server offers no tokenizer)"
        )
        return f"Connected to {server_label(self.url)}: model {self.model}; {window}; {counting}."


class ServerConnection:
    """One model server: its address, credentials, TLS trust and timeouts; ``retries``
    off answers at once (a connection test), on rides out a restart."""

    def __init__(self, settings: Settings, *, retries: bool = True) -> None:
        import httpx

        if not settings.llm_url:
            raise ServerError("No model server is set: set llm_url", transient=False)
        self.url = settings.llm_url.rstrip("/")
        # The OpenAI paths live under /v1; the tokenize and props endpoints beside it.
        self.root = self.url.removesuffix("/v1")
        self.wait = settings.llm_timeout
        self.delays = RETRY_DELAYS if retries else ()
        self._active: httpx.Response | None = None
        self._interrupted = threading.Event()
        self.what = f"The model server at {server_label(self.url)}"
        key = secret(settings, "llm_api_key")
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        self.client = httpx.Client(
            headers=headers,
            timeout=timeout(self.wait),
            verify=tls_context(settings.ca_bundle),
            trust_env=False,  # a desktop's proxy variables must not route a LAN server
        )

    def close(self) -> None:
        self.client.close()

    def classify(self, exc: BaseException) -> ServerError | None:
        return describe(exc, self.what, self.wait, "llm_api_key")

    def request(
        self, method: str, url: str, body: dict[str, Any] | None = None, *, retry: bool = True
    ) -> Any:
        """The JSON answer of one request, retried while the failure may pass."""

        def call() -> Any:
            response = self.client.request(method, url, json=body)
            response.raise_for_status()
            try:
                return response.json()
            except ValueError:
                raise ServerError(
                    f"{self.what} answered {url} with something other than JSON: is it an "
                    "OpenAI-compatible server, and does llm_url end in /v1?",
                    transient=False,
                ) from None

        return with_retries(call, self.classify, delays=self.delays if retry else ())

    @contextmanager
    def events(self, body: dict[str, Any]) -> Iterator[Iterator[dict[str, Any]]]:
        """The data events of a streamed chat completion. Leaving the block closes the
        connection, which is how a server learns that the reader stopped."""

        def start() -> httpx.Response:
            request = self.client.build_request("POST", f"{self.url}/chat/completions", json=body)
            response = self.client.send(request, stream=True)
            if response.is_error:
                response.read()
                response.close()
                response.raise_for_status()
            return response

        self._interrupted.clear()
        response = with_retries(start, self.classify, delays=self.delays)
        self._active = response
        try:
            yield self._data(response)
        finally:
            self._active = None
            response.close()

    def interrupt(self) -> None:
        """Cut the connection of the stream in progress, from any thread: the reading
        thread wakes at once (a plain close would leave it blocked until the server's
        next words, minutes for a large model still reading its prompt), and the server
        sees the client go and stops generating."""
        self._interrupted.set()
        response = self._active
        stream = response.extensions.get("network_stream") if response is not None else None
        raw = stream.get_extra_info("socket") if stream is not None else None
        if isinstance(raw, socket.socket):
            with contextlib.suppress(OSError):
                raw.shutdown(socket.SHUT_RDWR)

    def _data(self, response: httpx.Response) -> Iterator[dict[str, Any]]:
        finished = False  # a choice said why it ended: what follows can only be [DONE]
        try:
            for line in response.iter_lines():
                if not line.startswith("data:"):
                    continue  # comments (": ping"), event names, blank separators
                data = line[5:].strip()
                if data == "[DONE]":
                    return
                event = json.loads(data)
                if isinstance(event, dict) and "error" in event:
                    raise ServerError(f"{self.what}: {_error_text(event)}", transient=False)
                if isinstance(event, dict):
                    choices = event.get("choices") or []
                    finished = finished or any(c.get("finish_reason") for c in choices)
                    yield event
        except ServerError:
            raise
        except Exception as exc:
            if self._interrupted.is_set():
                raise GenerationInterrupted("The answer was stopped") from exc
            error = self.classify(exc)
            if error is None:
                raise
            raise error from exc
        if self._interrupted.is_set():
            raise GenerationInterrupted("The answer was stopped")
        if not finished:
            raise ServerError(
                f"{self.what} closed the connection in the middle of the answer (it may have "
                "stopped)",
                transient=True,
            )


def _error_text(event: dict[str, Any]) -> str:
    error = event.get("error")
    if isinstance(error, dict):
        return str(error.get("message") or error)
    return str(error)


def _listed_models(listing: Any) -> list[dict[str, Any]]:
    data = listing.get("data") if isinstance(listing, dict) else None
    return [m for m in data or [] if isinstance(m, dict) and isinstance(m.get("id"), str)]


def _choose_model(wanted: str | None, listed: list[dict[str, Any]], what: str) -> str:
    ids: list[str] = [str(m["id"]) for m in listed]
    if wanted is None:
        if len(ids) == 1:
            return ids[0]
        if not ids:
            raise ServerError(f"{what} lists no model: set llm_model", transient=False)
        raise ServerError(
            f"{what} serves several models ({', '.join(ids)}): choose one with llm_model",
            transient=False,
        )
    # Ollama lists "llama2:latest" for "llama2".
    if ids and wanted not in ids and not any(i.startswith(f"{wanted}:") for i in ids):
        raise ServerError(
            f"{what} has no model '{wanted}'; it serves: {', '.join(ids)}", transient=False
        )
    return wanted


def _positive(value: Any) -> int | None:
    return int(value) if isinstance(value, (int, float)) and value > 0 else None


def _listed_context(entry: dict[str, Any]) -> int | None:
    meta = entry.get("meta")
    if not isinstance(meta, dict):
        meta = {}
    for value in (
        entry.get("max_model_len"),  # vLLM
        entry.get("context_length"),  # LM Studio and others
        meta.get("n_ctx_train"),  # llama.cpp's llama-server
    ):
        if found := _positive(value):
            return found
    return None


def _props_context(connection: ServerConnection) -> int | None:
    """llama-server's allocated window (``/props``): what it really accepts."""
    try:
        props = connection.request("GET", f"{connection.root}/props", retry=False)
    except ServerError:
        return None
    settings = props.get("default_generation_settings") if isinstance(props, dict) else None
    if isinstance(settings, dict):
        return _positive(settings.get("n_ctx"))
    return None


def _tokenize_request(
    kind: Tokenizer, connection: ServerConnection, model: str, text: str
) -> tuple[str, dict[str, Any]]:
    if kind == "llama.cpp":
        return f"{connection.root}/tokenize", {"content": text}
    if kind == "vllm":
        return f"{connection.root}/tokenize", {"model": model, "prompt": text}
    return f"{connection.root}/extras/tokenize", {"model": model, "input": text}


def _tokens(answer: Any) -> list[int] | None:
    tokens = answer.get("tokens") if isinstance(answer, dict) else None
    if isinstance(tokens, list) and all(isinstance(t, int) for t in tokens):
        return tokens
    return None


def _find_tokenizer(connection: ServerConnection, model: str) -> Tokenizer | None:
    """The first tokenize endpoint the server answers correctly, trying each once."""
    kinds: tuple[Tokenizer, ...] = ("llama.cpp", "vllm", "llama-cpp-python")
    for kind in kinds:
        url, body = _tokenize_request(kind, connection, model, "Hello world")
        try:
            if _tokens(connection.request("POST", url, body, retry=False)):
                return kind
        except ServerError as exc:
            if exc.status is None:  # not a "no such endpoint": the server is in trouble
                raise
    return None


def inspect_server(connection: ServerConnection, wanted: str | None) -> ServerInfo:
    """Ask the server what it serves, how long its context is, and how it counts tokens."""
    try:
        listing = connection.request("GET", f"{connection.url}/models")
    except ServerError as exc:
        if exc.status != 404:
            raise
        listing = None  # an old server without /v1/models: trust the setting
    listed = _listed_models(listing)
    model = _choose_model(wanted, listed, connection.what)
    entry = next((m for m in listed if m["id"] == model), {})
    context = _props_context(connection) or _listed_context(entry)
    return ServerInfo(
        url=connection.url,
        model=model,
        models=tuple(m["id"] for m in listed),
        context_length=context,
        tokenizer=_find_tokenizer(connection, model),
    )


def check_server(settings: Settings) -> ServerInfo:
    """Connect once, without retries, and say what the server offers; a ServerError says
    what is wrong (refused, TLS, 401, unknown model, timeout)."""
    connection = ServerConnection(settings, retries=False)
    try:
        return inspect_server(connection, settings.llm_model)
    finally:
        connection.close()


class OpenAIRuntime(LLMRuntime):
    """A model on an OpenAI-compatible server, streamed over HTTP."""

    name = "openai"

    def __init__(self, connection: ServerConnection, server: ServerInfo, context: int) -> None:
        self._connection = connection
        self.server = server
        self._context_length = context
        self._counts: OrderedDict[str, list[int]] = OrderedDict()
        self._seed = 0  # sent with every request: servers that honour it repeat answers

    @classmethod
    def connect(cls, settings: Settings) -> OpenAIRuntime:
        connection = ServerConnection(settings)
        try:
            server = inspect_server(connection, settings.llm_model)
        except BaseException:
            connection.close()
            raise
        reported = server.context_length
        context = min(settings.context_length, reported) if reported else settings.context_length
        log.info("%s", server.describe())
        return cls(connection, server, context)

    @property
    def context_length(self) -> int:
        return self._context_length

    @property
    def info(self) -> ModelInfo:
        return ModelInfo(
            path=self.server.model,
            file_format="server",
            name=self.server.model,
            context_length=self._context_length,
        )

    @property
    def display_name(self) -> str:
        return self.server.model

    def own_chat_format(self) -> ChatFormat:
        return messages_format()

    def tokenize(self, text: str) -> list[int]:
        """The server's token ids, or as many stand-in ids as the estimate counts."""
        cached = self._counts.get(text)
        if cached is not None:
            self._counts.move_to_end(text)
            return cached
        kind = self.server.tokenizer
        if kind is None:
            tokens = [0] * math.ceil(len(text.encode("utf-8")) / BYTES_PER_TOKEN)
        else:
            url, body = _tokenize_request(kind, self._connection, self.server.model, text)
            tokens = _tokens(self._connection.request("POST", url, body)) or []
        self._counts[text] = tokens
        if len(self._counts) > _CACHED_COUNTS:
            self._counts.popitem(last=False)
        return tokens

    def _prompt_tokens(self, prompt: str) -> list[int]:
        # The server renders the messages with its template: count their text, plus an
        # allowance per message (and for the assistant turn it opens) for the markers.
        messages = parse_messages(prompt)
        tokens = [t for m in messages for t in self.tokenize(m["content"])]
        return tokens + [0] * (TEMPLATE_TOKENS * (len(messages) + 1))

    def _pieces(self, request: Generation) -> Iterator[str]:
        body = {
            "model": self.server.model,
            "messages": parse_messages(request.prompt),
            "max_tokens": request.budget,
            "temperature": max(request.temperature, 0.0),
            "seed": self._seed,
            "stream": True,
        }
        with self._connection.events(body) as events:
            for event in events:
                for choice in event.get("choices") or []:
                    delta = choice.get("delta") or {}
                    text = delta.get("content")
                    if isinstance(text, str) and text:
                        yield text

    def interrupt(self) -> None:
        self._connection.interrupt()

    def close(self) -> None:
        self._connection.close()
