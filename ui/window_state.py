"""What the window remembers that is not a setting: geometry, splitters, the open chat.

Kept in an INI file in the app home rather than the platform's registry, so each data
folder (and each test) has its own, and removing the folder forgets it all.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QByteArray, QSettings


class WindowState:
    def __init__(self, home: Path) -> None:
        self._store = QSettings(str(home / "window-state.ini"), QSettings.Format.IniFormat)

    def _bytes(self, key: str) -> QByteArray | None:
        value = self._store.value(key)
        return value if isinstance(value, QByteArray) and not value.isEmpty() else None

    def geometry(self) -> QByteArray | None:
        return self._bytes("window/geometry")

    def splitter(self, name: str) -> QByteArray | None:
        return self._bytes(f"splitters/{name}")

    def text(self, key: str) -> str | None:
        value = self._store.value(key)
        return value if isinstance(value, str) and value else None

    def number(self, key: str) -> int | None:
        value = self._store.value(key)
        try:
            return int(value) if value is not None else None
        except (TypeError, ValueError):
            return None

    def flag(self, key: str) -> bool:
        return self._store.value(key) in (True, "true", "1", 1)

    def put(self, key: str, value: QByteArray | str | int | bool | None) -> None:
        if value is None:
            self._store.remove(key)
        else:
            self._store.setValue(key, value)

    def sync(self) -> None:
        self._store.sync()
