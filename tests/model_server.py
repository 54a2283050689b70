"""A model file served over HTTP on loopback, for download tests: honours ``Range:
bytes=N-`` (resume) unless told not to, and can answer with an error status."""

from __future__ import annotations

import http.server
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager

FILE = "tiny-llama-2-chat.Q4_K_M.gguf"


class ModelServer(http.server.ThreadingHTTPServer):
    """Serves ``content`` at any path, honouring ``Range: bytes=N-`` unless told not to;
    records the Range header of every request."""

    def __init__(self, content: bytes) -> None:
        super().__init__(("127.0.0.1", 0), RangeHandler)
        self.content = content
        self.honour_range = True
        self.ranges: list[str | None] = []
        self.status_override: int | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/models/{FILE}"


class RangeHandler(http.server.BaseHTTPRequestHandler):
    server: ModelServer

    def do_GET(self) -> None:
        data = self.server.content
        requested = self.headers.get("Range")
        self.server.ranges.append(requested)
        if self.server.status_override:
            self.send_error(self.server.status_override)
            return
        match = re.fullmatch(r"bytes=(\d+)-", requested or "")
        if match and self.server.honour_range:
            start = int(match.group(1))
            if start >= len(data):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(data)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
            body = data[start:]
        else:
            self.send_response(200)
            body = data
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass  # keep the test output clean


@contextmanager
def serving(content: bytes) -> Iterator[ModelServer]:
    httpd = ModelServer(content)
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield httpd
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()
