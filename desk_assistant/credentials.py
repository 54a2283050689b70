"""Credentials for the servers: from the environment, else from the OS keyring.

An API key or token must never land in ``settings.json`` (it is copied, synced and sent
along with bug reports) nor in a log. So :class:`~desk_assistant.settings.Settings` holds
them as ``SecretStr`` read from ``DESK_ASSISTANT_LLM_API_KEY`` /
``DESK_ASSISTANT_CHROMA_TOKEN`` only, and otherwise they are looked up in the system
keyring, under the service ``desk-assistant`` and a user name that names the setting and
the server (``llm_api_key http://host:8080/v1``), so each server keeps its own.

The ``keyring`` package is optional (``pip install keyring``): without it, or without a
keyring service on the desktop, only the environment is read.
"""

from __future__ import annotations

import importlib
import logging
from types import ModuleType
from typing import Literal

from desk_assistant.errors import DeskAssistantError
from desk_assistant.settings import Settings

log = logging.getLogger(__name__)

SERVICE = "desk-assistant"
SecretName = Literal["llm_api_key", "chroma_token"]
_URL_OF: dict[SecretName, str] = {"llm_api_key": "llm_url", "chroma_token": "chroma_url"}


def _keyring() -> ModuleType | None:
    try:
        return importlib.import_module("keyring")
    except ImportError:
        return None


def keyring_user(name: SecretName, url: str | None) -> str:
    """The keyring user name a credential of the server ``url`` is kept under."""
    return f"{name} {url or ''}".strip()


def keyring_available() -> bool:
    """Whether credentials can be kept in the system keyring here."""
    module = _keyring()
    if module is None:
        return False
    try:
        backend = module.get_keyring()
    except Exception:  # a broken keyring configuration is "no keyring"
        return False
    return float(getattr(backend, "priority", 1)) > 0  # the "fail" backend has priority 0


def secret(settings: Settings, name: SecretName) -> str | None:
    """The credential ``name`` for the server the settings name, or None when none is set."""
    value = getattr(settings, name)
    if value is not None and value.get_secret_value():
        return str(value.get_secret_value())
    module = _keyring()
    if module is None:
        return None
    url = getattr(settings, _URL_OF[name])
    try:
        found = module.get_password(SERVICE, keyring_user(name, url))
    except Exception as exc:  # no keyring service running: the environment is the way
        log.info("the system keyring cannot be read (%s)", type(exc).__name__)
        return None
    return str(found) if found else None


def store_secret(name: SecretName, url: str | None, value: str | None) -> None:
    """Keep (or with an empty ``value`` forget) a credential in the system keyring."""
    module = _keyring()
    if module is None:
        raise DeskAssistantError(
            "no system keyring here (pip install keyring); set the environment variable "
            f"DESK_ASSISTANT_{name.upper()} instead"
        )
    user = keyring_user(name, url)
    try:
        if value:
            module.set_password(SERVICE, user, value)
        elif module.get_password(SERVICE, user) is not None:
            module.delete_password(SERVICE, user)
    except Exception as exc:  # the keyring's own error types vary by backend
        raise DeskAssistantError(
            f"the system keyring refused to store the credential ({exc}); set the "
            f"environment variable DESK_ASSISTANT_{name.upper()} instead"
        ) from exc
