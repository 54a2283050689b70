"""Test-wide guards: no network, a private app home, Qt offscreen."""

from __future__ import annotations

import ipaddress
import os
import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from desk_assistant.offline import enforce_offline

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# The offline flags must be set before any test imports transformers or chromadb.
enforce_offline()

_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex


def _is_local(address: Any) -> bool:
    if isinstance(address, (str, bytes)):  # AF_UNIX paths
        return True
    host = address[0]
    if host in ("localhost", ""):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class NetworkBlocked(RuntimeError):
    pass


def _guarded_connect(self: socket.socket, address: Any) -> Any:
    if not _is_local(address):
        raise NetworkBlocked(f"test tried to reach the network: {address!r}")
    return _real_connect(self, address)


def _guarded_connect_ex(self: socket.socket, address: Any) -> Any:
    if not _is_local(address):
        raise NetworkBlocked(f"test tried to reach the network: {address!r}")
    return _real_connect_ex(self, address)


def _guarded_getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
    name = host.decode() if isinstance(host, bytes) else host
    if name not in (None, "localhost", "127.0.0.1", "::1", "") and not _is_local((name,)):
        raise NetworkBlocked(f"test tried to resolve {name!r}")
    return _real_getaddrinfo(host, *args, **kwargs)


_real_getaddrinfo = socket.getaddrinfo


@pytest.fixture(autouse=True, scope="session")
def _block_network() -> Iterator[None]:
    """Outbound sockets fail for the whole run: offline is proven, not promised."""
    socket.socket.connect = _guarded_connect  # type: ignore[method-assign]
    socket.socket.connect_ex = _guarded_connect_ex  # type: ignore[method-assign]
    socket.getaddrinfo = _guarded_getaddrinfo
    yield
    socket.socket.connect = _real_connect  # type: ignore[method-assign]
    socket.socket.connect_ex = _real_connect_ex  # type: ignore[method-assign]
    socket.getaddrinfo = _real_getaddrinfo


@pytest.fixture(autouse=True)
def app_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own app home; nothing touches the user's real data."""
    home = tmp_path / "home"
    monkeypatch.setenv("DESK_ASSISTANT_HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))  # a chosen data folder
    return home


@pytest.fixture(autouse=True)
def _no_modal_dialogs(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Offscreen, a message box waits forever for a click that never comes: in window
    tests it fails the test instead, naming the message. Tests that expect a dialog
    patch it themselves."""
    if "qtbot" not in request.fixturenames:
        return
    from PySide6.QtWidgets import QMessageBox

    def unexpected(kind: str) -> Callable[..., object]:
        def show(_parent: object, title: str, text: str, *_args: object, **_kw: object) -> object:
            raise AssertionError(f"unexpected {kind} dialog '{title}': {text}")

        return show

    for kind in ("critical", "warning", "information", "question"):
        monkeypatch.setattr(QMessageBox, kind, unexpected(kind))


EVAL = Path(__file__).resolve().parents[1].parent / "shared" / "eval"


@pytest.fixture(scope="session")
def eval_dir() -> Path:
    if not EVAL.is_dir():
        pytest.skip(f"evaluation data not found at {EVAL}")
    return EVAL
