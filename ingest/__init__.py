"""Documents to chunks: discovery, per-format loaders, chunking and hashing.

This package knows nothing about storage, models or Qt (import-linter enforces it), so
the same code runs in the app, the CLI and the sandboxed parser processes.
"""
