"""What the engine offers: the one module the desktop app and the CLI import from.

``ui`` and ``desk_assistant.cli`` may import this module and nothing else of the engine
(an import-linter contract in pyproject.toml says so), so everything behind it - the
parts container, the store, the manifest, the lexical index, the pipeline, the answer
path, the backends - can change without the window or the command line noticing.

- :class:`Assistant`: one data folder's intents: ingest, sync, remove, reindex, search,
  ask, summarize, chats, collections, status, doctor, ``warm_up()``; frozen records
  come back.
- :mod:`export`: a chat, an answer or a summary as Markdown or HTML, with its sources.
- Settings: :func:`load_settings`, :func:`update_settings` (writes only what the user
  set), the data-folder choice (:func:`choose_home`), the file watcher
  (:func:`changes`, :func:`watch`).
- :class:`ModelLibrary`: describe, add, remove, use and download model files;
  :func:`check_model` for the settings dialog; :func:`version_text` for ``--version``
  (versions, llama.cpp build, the built-in models' SHA-256).
- Progress of an ingestion as the window and the CLI show it (:class:`RunProgress`).
- The records and errors that cross this boundary, and the two plug-in protocols
  (:class:`Embedder`, :class:`LLMRuntime`) through which fakes and a shared embedding
  model (:func:`folder_embedder`: its variant chosen for the data folder) come in.

Importing it stays cheap: nothing heavy loads before an intent needs it, and the model
library's names load when first used (``desk-assistant status`` never needs them).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from desk_assistant import __version__, export
from desk_assistant.credentials import keyring_available, store_secret
from desk_assistant.errors import (
    DamagedStore,
    DeskAssistantError,
    DiskFull,
    EmbeddingModelMismatch,
    ModelLoadError,
    NotFoundError,
    StoreError,
    StoreUnavailable,
)
from desk_assistant.offline import enforce_offline
from desk_assistant.parts import folder_embedder
from desk_assistant.paths import HOME_ENV, choose_home, chosen_home
from desk_assistant.progress import FILE_STEPS, RunProgress, format_duration
from desk_assistant.records import (
    Answer,
    ChatInfo,
    Citation,
    CollectionInfo,
    Finding,
    HealthReport,
    IngestEvent,
    Message,
    Passage,
    Quote,
    Searched,
    SearchFilter,
    SentenceCheck,
    SourceInfo,
    Status,
    Summary,
    SummaryProgress,
    Token,
    exchanges,
)
from desk_assistant.service import Assistant, check_pdf, read_sections, supported_suffixes
from desk_assistant.settings import (
    COLLECTION_NAME_LENGTH,
    RuntimeName,
    Settings,
    collection_name,
    load_settings,
    update_settings,
)
from desk_assistant.watch import changes, followed_reader, watch
from desk_assistant.writer_lock import WriterBusy

if TYPE_CHECKING:
    # Only a type: its module loads numpy, which `status` and `--help` never need.
    from desk_assistant.backends.embeddings import Embedder as Embedder  # noqa: PLC0414
    from desk_assistant.backends.llm.base import LLMRuntime
    from desk_assistant.backends.llm.chat_format import PROMPT_FORMATS
    from desk_assistant.backends.llm.openai_runtime import ServerInfo, check_server
    from desk_assistant.models.catalogue import CATALOGUE
    from desk_assistant.models.check import ModelCheck, check_model
    from desk_assistant.models.describe import ModelDescription
    from desk_assistant.models.files import format_bytes
    from desk_assistant.models.fit import FitReport
    from desk_assistant.models.library import (
        LibraryEntry,
        ModelLibrary,
        ModelReport,
        RemoveResult,
        UseResult,
    )
    from desk_assistant.models.licence import LicenceNotice
    from desk_assistant.models.recommend import Choice, Machine, choices, measure_this_machine
    from desk_assistant.models.summary import PROMPT_FORMAT_SOURCES, description_rows
    from desk_assistant.provenance import version_text

# Loaded on first use (PEP 562): the model library and the backends' plug-in points.
_ON_FIRST_USE = {
    "desk_assistant.backends.llm.base": ("LLMRuntime",),
    "desk_assistant.backends.llm.chat_format": ("PROMPT_FORMATS",),
    "desk_assistant.backends.llm.openai_runtime": ("ServerInfo", "check_server"),
    "desk_assistant.models.catalogue": ("CATALOGUE",),
    "desk_assistant.models.check": ("ModelCheck", "check_model"),
    "desk_assistant.models.describe": ("ModelDescription",),
    "desk_assistant.models.files": ("format_bytes",),
    "desk_assistant.models.fit": ("FitReport",),
    "desk_assistant.models.library": (
        "LibraryEntry",
        "ModelLibrary",
        "ModelReport",
        "RemoveResult",
        "UseResult",
    ),
    "desk_assistant.models.licence": ("LicenceNotice",),
    "desk_assistant.models.recommend": ("Choice", "Machine", "choices", "measure_this_machine"),
    "desk_assistant.models.summary": ("PROMPT_FORMAT_SOURCES", "description_rows"),
    "desk_assistant.provenance": ("version_text",),
}
_MODULE_OF = {name: module for module, names in _ON_FIRST_USE.items() for name in names}


def __getattr__(name: str) -> Any:
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # the next lookup is an ordinary one
    return value


__all__ = [
    "CATALOGUE",
    "COLLECTION_NAME_LENGTH",
    "FILE_STEPS",
    "HOME_ENV",
    "PROMPT_FORMATS",
    "PROMPT_FORMAT_SOURCES",
    "Answer",
    "Assistant",
    "ChatInfo",
    "Choice",
    "Citation",
    "CollectionInfo",
    "DamagedStore",
    "DeskAssistantError",
    "DiskFull",
    "EmbeddingModelMismatch",
    "Finding",
    "FitReport",
    "HealthReport",
    "IngestEvent",
    "LLMRuntime",
    "LibraryEntry",
    "LicenceNotice",
    "Machine",
    "Message",
    "ModelCheck",
    "ModelDescription",
    "ModelLibrary",
    "ModelLoadError",
    "ModelReport",
    "NotFoundError",
    "Passage",
    "Quote",
    "RemoveResult",
    "RunProgress",
    "RuntimeName",
    "SearchFilter",
    "Searched",
    "SentenceCheck",
    "ServerInfo",
    "Settings",
    "SourceInfo",
    "Status",
    "StoreError",
    "StoreUnavailable",
    "Summary",
    "SummaryProgress",
    "Token",
    "UseResult",
    "WriterBusy",
    "__version__",
    "changes",
    "check_model",
    "check_pdf",
    "check_server",
    "choices",
    "choose_home",
    "chosen_home",
    "collection_name",
    "description_rows",
    "enforce_offline",
    "exchanges",
    "export",
    "folder_embedder",
    "followed_reader",
    "format_bytes",
    "format_duration",
    "keyring_available",
    "load_settings",
    "measure_this_machine",
    "read_sections",
    "store_secret",
    "supported_suffixes",
    "update_settings",
    "version_text",
    "watch",
]
