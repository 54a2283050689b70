"""Keep every library offline.

The flags must be in the environment before transformers / huggingface_hub / chromadb
are imported, because they read them once at import time. The entry points (the CLI,
the desktop app) call :func:`enforce_offline` first thing, and the modules that wrap
those libraries call it again just before importing them, so the engine used as a
library is offline too; importing this module changes nothing.
"""

from __future__ import annotations

import os

OFFLINE_ENV = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_DATASETS_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "DO_NOT_TRACK": "1",
    "ANONYMIZED_TELEMETRY": "False",  # chromadb
    "TOKENIZERS_PARALLELISM": "false",  # quiet fork warnings from HF tokenizers
    "HF_HUB_DISABLE_PROGRESS_BARS": "1",
    "TRANSFORMERS_VERBOSITY": "error",  # no "Loading weights" bars in a terminal or log
}


def enforce_offline() -> None:
    """Set the offline flags for this process and every child it starts."""
    for key, value in OFFLINE_ENV.items():
        os.environ[key] = value
