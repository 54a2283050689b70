"""Explicit, resumable, verified downloads of model files.

The app is offline by default: this module runs only when the user asks for a download
(a pasted URL or a catalogue entry), never on its own. A model is gigabytes over home
connections, so a download survives interruptions: bytes go to ``NAME.part`` and a later
call asks the server for the rest with an HTTP Range request. The SHA-256 is computed
while streaming (plus one read of the kept part after a resume) and checked at the end;
a file that does not match is deleted, never installed.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import re
import threading
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from urllib.parse import unquote, urlsplit

from desk_assistant import __version__
from desk_assistant.backends.llm.gguf_info import read_model_info
from desk_assistant.errors import DeskAssistantError, ModelLoadError
from desk_assistant.models.files import check_free_space, format_bytes
from ingest.hashing import Progress, hash_file

CHUNK = 256 * 1024
USER_AGENT = f"desk-assistant/{__version__}"
_CONTENT_RANGE = re.compile(r"bytes\s+(\d+)-(\d+)/(\d+|\*)")
_UNSATISFIABLE = re.compile(r"bytes\s+\*/(\d+)")
ADD_COMMAND = "desk-assistant models add PATH"  # how the CLI brings in a file fetched by hand


class DownloadCancelled(DeskAssistantError):
    """The user stopped the download; the part stays for a later resume."""


@dataclass(frozen=True, slots=True)
class DownloadResult:
    path: Path
    size_bytes: int
    sha256: str
    verified: bool  # matched an expected hash; False: computed now, trust on first use
    resumed_from: int  # bytes kept from an earlier, interrupted download


def file_name_from_url(url: str) -> str:
    name = PurePosixPath(unquote(urlsplit(url).path)).name
    if not name or name.startswith(".") or "\\" in name:
        raise DeskAssistantError(
            f"cannot tell the file name from {url}; give a URL that ends with the model file"
        )
    return name


def _check_url(url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise DeskAssistantError(f"not a web address: {url!r} (expected https://...)")


def _http_error(exc: urllib.error.HTTPError, url: str) -> DeskAssistantError:
    message = f"download failed: {urlsplit(url).hostname} answered HTTP {exc.code} {exc.reason}"
    if exc.code in (401, 403):
        return DeskAssistantError(
            f"{message}; the file may need a login on the website: download it in a browser, "
            "then add the file to the model library",
            command=ADD_COMMAND,
            action="add-model-file",
        )
    if exc.code == 404:
        message += "; check the address"
    return DeskAssistantError(message)


class _Restart(Exception):
    """The server cannot continue the kept part: start again from byte 0."""


def _open(
    url: str, offset: int, timeout: float
) -> tuple[http.client.HTTPResponse | None, int, int | None]:
    """The response (None: nothing left to send), the byte it starts at, and the full
    size when the server says."""
    headers = {"User-Agent": USER_AGENT}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    request = urllib.request.Request(url, headers=headers)
    try:
        response: http.client.HTTPResponse = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as exc:
        exc.close()
        if exc.code == 416 and offset:
            match = _UNSATISFIABLE.match(exc.headers.get("Content-Range") or "")
            if match and int(match.group(1)) == offset:
                return None, offset, offset  # the kept part is already the whole file
            raise _Restart from exc
        raise _http_error(exc, url) from exc
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise DeskAssistantError(
            f"cannot reach {urlsplit(url).hostname}: {reason}; check the connection, or "
            "download the file by other means, then add the file to the model library",
            command=ADD_COMMAND,
            action="add-model-file",
        ) from exc
    if response.status == 206:
        match = _CONTENT_RANGE.match(response.headers.get("Content-Range") or "")
        if not match or int(match.group(1)) != offset:
            response.close()
            raise _Restart
        total = None if match.group(3) == "*" else int(match.group(3))
        return response, offset, total
    # 200: the server ignored the Range header and sends the whole file.
    length = response.headers.get("Content-Length")
    return response, 0, int(length) if length and length.isdigit() else None


def _stream(
    response: http.client.HTTPResponse,
    part: Path,
    digest: hashlib._Hash,
    done: int,
    total: int | None,
    progress: Progress | None,
    cancel: threading.Event | None,
) -> int:
    """Append the response to ``part``; returns the part's size. Whatever was written
    stays on disk when this stops early, for a resume."""
    with response, part.open("ab" if done else "wb") as handle:
        try:
            while True:
                if cancel is not None and cancel.is_set():
                    raise DownloadCancelled(
                        f"download cancelled after {format_bytes(done)}; the same download "
                        "resumes from there"
                    )
                block = response.read(CHUNK)
                if not block:
                    return done
                handle.write(block)
                digest.update(block)
                done += len(block)
                if progress is not None:
                    progress(done, total)
        except (OSError, http.client.HTTPException) as exc:
            raise DeskAssistantError(
                f"download interrupted after {format_bytes(done)} ({exc}); run it again to resume"
            ) from exc
        finally:
            handle.flush()
            os.fsync(handle.fileno())


def _fetch(
    url: str,
    part: Path,
    *,
    progress: Progress | None,
    cancel: threading.Event | None,
    timeout: float,
) -> tuple[str, int, int]:
    """Bring ``part`` to the full file; returns (sha256, size, bytes kept from before)."""
    offset = part.stat().st_size if part.exists() else 0
    try:
        response, kept, total = _open(url, offset, timeout)
    except _Restart:
        part.unlink(missing_ok=True)
        response, kept, total = _open(url, 0, timeout)
    digest = hash_file(part) if kept else hashlib.sha256()
    if progress is not None:
        progress(kept, total)
    done = kept
    if response is not None:
        if total is not None:
            check_free_space(part.parent, total - kept, part.name.removesuffix(".part"))
        done = _stream(response, part, digest, kept, total, progress, cancel)
    if total is not None and done != total:
        raise DeskAssistantError(
            f"download ended early ({format_bytes(done)} of {format_bytes(total)}); run it "
            "again to resume"
        )
    return digest.hexdigest(), done, kept


def download(
    url: str,
    dest_dir: Path,
    *,
    expected_sha256: str | None = None,
    progress: Progress | None = None,
    cancel: threading.Event | None = None,
    file_name: str | None = None,
    timeout: float = 30.0,
) -> DownloadResult:
    """Download ``url`` into ``dest_dir`` (resuming a kept ``.part``) and verify it.

    Raises DownloadCancelled when ``cancel`` is set (the part is kept), and a
    DeskAssistantError for a hash mismatch (the part is deleted), a file that is not a
    model, a full disk, or a network failure (the part is kept for a resume).
    """
    _check_url(url)
    name = file_name or file_name_from_url(url)
    expected = expected_sha256.lower() if expected_sha256 else None
    dest_dir.mkdir(parents=True, exist_ok=True)
    final = dest_dir / name
    if final.exists():
        raise DeskAssistantError(
            f"{final} already exists; remove it from the model library (deleting its file) "
            "to download it again",
            command="desk-assistant models remove NAME --delete-file",
        )
    part = dest_dir / f"{name}.part"
    sha256, size, kept = _fetch(url, part, progress=progress, cancel=cancel, timeout=timeout)
    if expected is not None and sha256 != expected:
        part.unlink(missing_ok=True)
        raise DeskAssistantError(
            f"the download of {name} is corrupt: its SHA-256 is {sha256} but {expected} was "
            "expected; the file was deleted - download it again"
        )
    try:
        read_model_info(part)
    except ModelLoadError as exc:
        part.unlink(missing_ok=True)
        raise DeskAssistantError(
            f"{url} did not send a usable model file ({exc}); the file was deleted"
        ) from exc
    part.replace(final)
    return DownloadResult(final, size, sha256, expected is not None, kept)
