"""The installers' one executable: no arguments open the window, arguments run the CLI.

A frozen executable is also what every child process of the app runs, since there is no
``python`` beside it: ``multiprocessing`` spawns the parser workers by re-running it
(``freeze_support`` turns such a start into the worker), and the model probe re-enters it
as ``desk-assistant -m desk_assistant.backends.llm.probe_child ...``, as it would run
``python -m`` in a pip install. Only the modules listed here can be started that way.
"""

from __future__ import annotations

import multiprocessing
import os
import runpy
import sys

# Modules the app starts as child processes of its own executable.
CHILD_MODULES = frozenset({"desk_assistant.backends.llm.probe_child"})

# PyInstaller's bootloader points the loader's search path at the bundle and keeps the
# user's value under the same name + "_ORIG" (see its "run-time information" docs; on
# macOS and Windows it sets neither).
_LIBRARY_PATHS = ("LD_LIBRARY_PATH", "LIBPATH")


def restore_library_path() -> None:
    """Give programs the app starts (tesseract, the file manager) the user's library
    path, not the bundle's: its copies of libz or libstdc++ are not theirs. The app's own
    children re-enter the bootloader, which sets the bundle's path again."""
    for name in _LIBRARY_PATHS:
        original = os.environ.pop(f"{name}_ORIG", None)
        if original is not None:
            os.environ[name] = original
        elif name in os.environ and getattr(sys, "frozen", False):
            del os.environ[name]


def run_child_module(argv: list[str]) -> int:
    """``-m MODULE ARGS...``: run one of :data:`CHILD_MODULES` as ``__main__``."""
    if len(argv) < 2 or argv[1] not in CHILD_MODULES:
        sys.stderr.write("desk-assistant: -m runs only the app's own helper processes\n")
        return 2
    sys.argv = [argv[1], *argv[2:]]
    try:
        runpy.run_module(argv[1], run_name="__main__", alter_sys=True)
    except SystemExit as done:
        code = done.code
        return code if isinstance(code, int) else (0 if code is None else 1)
    return 0


def release_own_console() -> None:
    """On Windows the executable is a console program (the CLI prints), so a start from
    the Start menu opens a console window beside the app's: close it when nobody but us
    uses it (started from a terminal, the terminal keeps it)."""
    if sys.platform == "win32":
        import ctypes

        kernel32 = ctypes.windll.kernel32
        attached = (ctypes.c_uint32 * 2)()
        if kernel32.GetConsoleProcessList(attached, 2) == 1:
            kernel32.FreeConsole()


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    restore_library_path()
    multiprocessing.freeze_support()  # a spawned parser worker runs here and never returns
    if args[:1] == ["-m"]:
        return run_child_module(args)
    if not args:
        release_own_console()
    from desk_assistant.cli.main import main as cli_main

    return cli_main(args)
