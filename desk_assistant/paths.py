"""The one app-home folder and everything under it.

Nothing is ever written inside the installed package: installers make it read-only.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

HOME_ENV = "DESK_ASSISTANT_HOME"


def default_home() -> Path:
    """``$DESK_ASSISTANT_HOME`` if set, else the platform's per-user data folder."""
    configured = os.environ.get(HOME_ENV)
    if configured:
        return Path(configured).expanduser()
    from platformdirs import user_data_path

    return user_data_path("desk-assistant", appauthor=False)


@dataclass(frozen=True, slots=True)
class AppPaths:
    home: Path

    @property
    def settings_file(self) -> Path:
        return self.home / "settings.json"

    @property
    def manifest(self) -> Path:
        return self.home / "manifest.sqlite3"

    @property
    def chroma(self) -> Path:
        return self.home / "chroma"

    @property
    def lexical(self) -> Path:
        return self.home / "lexical"

    @property
    def cache(self) -> Path:
        return self.home / "cache"

    @property
    def logs(self) -> Path:
        return self.home / "logs"

    def ensure(self) -> AppPaths:
        for folder in (self.home, self.chroma, self.lexical, self.cache, self.logs):
            folder.mkdir(parents=True, exist_ok=True)
        return self
