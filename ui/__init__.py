"""The PySide6 desktop app. The only package that imports Qt."""

from ui.compat import keep_none_alive

keep_none_alive()
