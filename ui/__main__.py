"""``python -m ui`` opens the desktop app."""

from ui.app import main

if __name__ == "__main__":
    raise SystemExit(main())
