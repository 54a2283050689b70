"""Before Qt starts on X11: are the system libraries its xcb plugin needs installed?

Without them Qt prints "could not load the Qt platform plugin xcb" and aborts the
process, naming neither the library nor the package. PySide6's wheel brings Qt itself
but not the X11 client libraries: on Debian 12 a desktop usually has them, a minimal or
server install lacks some (here: ``libxcb-icccm4`` and ``libxcb-keysyms1``). So the app
asks the dynamic linker (``ldd``) first and, when something is missing, says which
libraries and which Debian/Ubuntu packages provide them.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from importlib.util import find_spec
from pathlib import Path

_NOT_FOUND = re.compile(r"^\s*(\S+)\s+=>\s+not found", re.MULTILINE)
# Debian names a library's package after its soname; these few are named otherwise.
_PACKAGE_EXCEPTIONS = {"libglib-2.0.so.0": "libglib2.0-0"}


def xcb_plugin() -> Path | None:
    spec = find_spec("PySide6")
    if spec is None or spec.origin is None:
        return None
    plugin = Path(spec.origin).parent / "Qt" / "plugins" / "platforms" / "libqxcb.so"
    return plugin if plugin.is_file() else None


def uses_xcb(environ: dict[str, str] | os._Environ[str] = os.environ) -> bool:
    """Whether Qt will pick its X11 (xcb) plugin: on Linux with a display, unless
    another platform is asked for (offscreen in tests, wayland)."""
    if not sys.platform.startswith("linux"):
        return False
    chosen = environ.get("QT_QPA_PLATFORM", "")
    if chosen:
        return chosen.split(":")[0].split(";")[0] == "xcb"
    return bool(environ.get("DISPLAY")) and environ.get("XDG_SESSION_TYPE") != "wayland"


def missing_libraries(ldd_output: str) -> list[str]:
    """The sonames ``ldd`` could not find, in order, once each."""
    return list(dict.fromkeys(_NOT_FOUND.findall(ldd_output)))


def debian_package(soname: str) -> str:
    """The Debian package of a library by its soname (Debian policy 8.1): the name in
    lower case, ``.so.`` dropped, a hyphen before the version when the name ends in a
    digit. ``libxcb-icccm.so.4`` -> ``libxcb-icccm4``."""
    if soname in _PACKAGE_EXCEPTIONS:
        return _PACKAGE_EXCEPTIONS[soname]
    name, _, version = soname.partition(".so.")
    name = name.lower()
    return f"{name}-{version}" if name[-1:].isdigit() else f"{name}{version}"


def check_xcb() -> str | None:
    """A message naming what is missing, or None when the plugin's libraries are all
    there (or the check does not apply or cannot be made)."""
    plugin = xcb_plugin()
    ldd = shutil.which("ldd")
    if not uses_xcb() or plugin is None or ldd is None:
        return None
    try:
        done = subprocess.run(
            [ldd, str(plugin)], capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    missing = missing_libraries(done.stdout)
    if not missing:
        return None
    packages = " ".join(dict.fromkeys(debian_package(m) for m in missing))
    return (
        "Desk Assistant cannot open its window: the X11 libraries Qt needs are not all "
        f"installed (missing: {', '.join(missing)}). On Debian or Ubuntu install them with\n"
        f"    sudo apt-get install {packages}\n"
        "then start Desk Assistant again."
    )
