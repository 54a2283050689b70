"""The one app-home folder and everything under it.

Nothing is ever written inside the installed package: installers make it read-only.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

HOME_ENV = "DESK_ASSISTANT_HOME"


def absolute(path: str | Path) -> str:
    """The form in which paths of documents are stored and compared: absolute and
    normalised, with symlinks left as they are (a link is a document of its own)."""
    return os.path.normpath(Path(path).expanduser().absolute())


def default_home() -> Path:
    """``$DESK_ASSISTANT_HOME`` if set, else the folder the user chose in the app, else the
    platform's per-user data folder."""
    configured = os.environ.get(HOME_ENV)
    if configured:
        return Path(configured).expanduser()
    chosen = chosen_home()
    if chosen is not None:
        return chosen
    from platformdirs import user_data_path

    return user_data_path("desk-assistant", appauthor=False)


def location_file() -> Path:
    """Where the chosen data folder is remembered: in the per-user config folder, since
    it cannot live inside the data folder it points at."""
    from platformdirs import user_config_path

    return user_config_path("desk-assistant", appauthor=False) / "data-folder"


def chosen_home() -> Path | None:
    try:
        text = location_file().read_text(encoding="utf-8").strip()
    except OSError:
        return None
    return Path(text).expanduser() if text else None


def choose_home(folder: Path | None) -> None:
    """Use ``folder`` as the data folder from the next start on (``None``: the platform's
    default again). The data in the previous folder is left where it is."""
    path = location_file()
    if folder is None:
        path.unlink(missing_ok=True)
        return
    from desk_assistant.atomic import write_text

    write_text(path, str(folder.expanduser().resolve()))  # the old choice or the new one


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
    def writer_file(self) -> Path:
        return self.home / "writer-id"

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


def writer_id(paths: AppPaths) -> str:
    """The data folder's id as a writer to a vector store, made once and then kept.

    Clients sharing a Chroma server tell their vectors apart by it; it lives in its own
    file (not in the manifest), so it outlives a manifest that is rebuilt.
    """
    path = paths.writer_file
    try:
        found = path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        found = ""
    if len(found) == 12 and found.isalnum():
        return found
    import secrets
    import tempfile

    # Created whole and exclusively (a hard link fails when the name exists): when two
    # processes start at once, both end up with the first one's id.
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", dir=path.parent, delete=False) as handle:
        handle.write(secrets.token_hex(6))
    try:
        os.link(handle.name, path)
    except FileExistsError:
        pass
    finally:
        Path(handle.name).unlink()
    return path.read_text(encoding="ascii").strip()
