"""The frozen executable's main script (PyInstaller runs it as ``__main__``)."""

from desk_assistant.frozen import main

if __name__ == "__main__":
    raise SystemExit(main())
