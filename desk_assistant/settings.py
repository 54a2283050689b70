"""Typed settings: defaults < ``settings.json`` in the app home < ``DESK_ASSISTANT_*`` env < CLI.

One model serves the CLI, the desktop app's settings dialog and the tests (which point
``DESK_ASSISTANT_HOME`` at a temporary folder). ``settings.json`` holds only what the
user set (:func:`update_settings` writes it; the environment and command-line options
never end up in it) and the ``schema_version`` it was written with; keys this version
does not know are kept in the file and reported (:attr:`Settings.file_warnings`).
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlparse

from pydantic import (
    Field,
    PrivateAttr,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    InitSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from desk_assistant.atomic import write_json
from desk_assistant.errors import DeskAssistantError
from desk_assistant.paths import AppPaths, default_home

# The names ``runtime`` may take: "auto" and each key of backends.registry.RUNTIMES.
RuntimeName = Literal["auto", "llama_cpp", "ctransformers", "openai"]

# Credentials come from the environment or the OS keyring (desk_assistant.secrets), never
# from settings.json: update_settings refuses them and a copy found in the file is ignored.
SECRET_FIELDS = frozenset({"llm_api_key", "chroma_token"})

SCHEMA_VERSION = 1  # of settings.json; 0 is a file from before the version was written
SCHEMA_KEY = "schema_version"


@dataclass(frozen=True, slots=True)
class _Sources:
    """What a Settings being built reads besides its arguments (see load_settings)."""

    saved: dict[str, Any] = field(default_factory=dict)
    environment: bool = True


_sources: ContextVar[_Sources | None] = ContextVar("_sources", default=None)
COLLECTION_NAME_LENGTH = 100


def collection_name(name: str) -> str:
    """``name`` as a collection may be called: any printable text (``Recipes & notes``,
    ``Q3/Q4: "drafts"``, ``中文``), without surrounding spaces; ValueError with a reason
    otherwise. Stores and folders use the collection's internal id, never its name."""
    name = name.strip()
    if not name:
        raise ValueError("a collection needs a name")
    if len(name) > COLLECTION_NAME_LENGTH:
        raise ValueError(f"a collection name can be at most {COLLECTION_NAME_LENGTH} characters")
    if not all(ch.isprintable() or unicodedata.category(ch) == "Zs" for ch in name):
        raise ValueError("a collection name cannot contain line breaks, tabs or control characters")
    return name


class Settings(BaseSettings):
    """Everything a user can configure. Field descriptions double as help texts."""

    model_config = SettingsConfigDict(
        env_prefix="DESK_ASSISTANT_", extra="ignore", validate_assignment=True
    )
    _file_warnings: tuple[str, ...] = PrivateAttr(default=())

    home: Path = Field(default_factory=default_home, description="Data folder")
    collection: str = Field("default", description="Collection")

    # Answering
    model_path: Path | None = Field(None, description="GGUF model file (empty: built-in)")
    runtime: RuntimeName = Field("auto", description="LLM runtime")
    threads: int | None = Field(None, ge=1, le=256, description="CPU threads (empty: auto)")
    context_length: int = Field(4096, ge=512, le=131072, description="Context window (tokens)")
    max_answer_tokens: int = Field(384, ge=1, le=8192, description="Max answer tokens")
    temperature: float = Field(0.1, ge=0.0, le=2.0, description="Temperature")
    top_k: int = Field(5, ge=1, le=50, description="Passages per answer")
    prompt_batch: int = Field(
        512, ge=8, le=4096, description="Prompt tokens the model reads per step (local models)"
    )
    gpu_layers: int = Field(
        0, ge=0, le=1000, description="Model layers offloaded to a GPU (a GPU build of the runtime)"
    )
    # 540 with sentence selection keeps the answer recall of 1,200 tokens of whole
    # passages within ~2 points at half the prompt (bench/packing.py).
    context_budget: int = Field(
        540, ge=128, le=65536, description="Token budget for passages in the prompt"
    )
    sentence_selection: bool = Field(
        True, description="Send only the sentences of the passages near the question"
    )
    preload_models: bool = Field(
        True, description="The window loads the models when it opens (off: with the first question)"
    )
    strict_grounding: bool = Field(True, description="Refuse to answer when no passage is relevant")
    min_relevance: float = Field(
        0.20,
        ge=-1.0,
        le=1.0,
        description="Abstain below this relevance (similarity x share of key terms found)",
    )
    min_support: float = Field(
        0.55,
        ge=0.0,
        le=1.0,
        description="Flag an answer sentence whose closeness to the passages is below this",
    )
    followup_rewrite: Literal["rule", "model"] = Field(
        "rule", description="How a follow-up question is made standalone for the search"
    )
    chat_history_tokens: int = Field(
        400, ge=0, le=32768, description="Earlier turns of a chat given to the model (tokens)"
    )
    summary_section_tokens: int = Field(
        1500,
        ge=128,
        le=131072,
        description="Most document text summarized in one step (tokens; the context caps it)",
    )
    summary_reduce: Literal["auto", "extract", "model"] = Field(
        "auto",
        description=(
            "How section summaries become the document's: picked sentences (extract), "
            "combined by the model (model), or extract with the built-in model (auto)"
        ),
    )

    fusion: Literal["convex", "rrf"] = Field(
        "convex", description="How dense and BM25 results are combined"
    )
    dense_weight: float = Field(
        0.5, ge=0.0, le=1.0, description="Weight of dense similarity in convex fusion"
    )
    reranker_model: Path | None = Field(
        None, description="Cross-encoder folder for re-ranking (empty: off)"
    )
    rerank_depth: int = Field(30, ge=2, le=500, description="Passages re-ranked per question")

    # Indexing
    embedding_model: Path | None = Field(
        None, description="Embedding model folder, sentence-transformers or ONNX (empty: built-in)"
    )
    # "auto": int8 where it costs no reindex (SciFact nDCG@10 within 0.01 of fp32, ~1.5x
    # the chunks/s); resolved per data folder in desk_assistant.parts.folder_embedder.
    embedding_variant: Literal["auto", "fp32", "int8"] = Field(
        "auto",
        description="Variant of an ONNX embedding model: int8 embeds ~1.4x faster; a collection "
        "indexed with one variant is re-indexed to search with the other; auto: int8 unless "
        "the data folder's collections were indexed with fp32",
    )
    embed_batch_size: int = Field(64, ge=1, le=4096, description="Embedding batch size")
    chunk_size: int = Field(256, ge=32, le=4096, description="Chunk size (tokens)")
    chunk_overlap: int = Field(32, ge=0, le=1024, description="Chunk overlap (tokens)")
    max_file_mb: float = Field(256.0, gt=0, description="Skip files larger than (MB)")
    parse_timeout: float = Field(60.0, gt=0, description="Per-file parse timeout (s)")
    parse_memory_mb: int = Field(2048, ge=256, description="Per-file parser memory cap (MB)")
    parse_workers: int = Field(1, ge=1, le=64, description="Parser processes")

    # Scale-out: a Chroma server for the vectors, an OpenAI-compatible server for answers
    chroma_url: str | None = Field(None, description="Chroma server URL (empty: embedded)")
    chroma_token: SecretStr | None = Field(
        None, description="Chroma server token (environment or keyring only)"
    )
    chroma_timeout: float = Field(
        30.0, gt=0, le=3600, description="Longest wait for the Chroma server (s)"
    )
    llm_url: str | None = Field(
        None, description="Model server URL, e.g. http://host:8080/v1 (empty: none)"
    )
    llm_model: str | None = Field(
        None, description="Model name on the model server (empty: the server's only model)"
    )
    llm_api_key: SecretStr | None = Field(
        None, description="Model server API key (environment or keyring only)"
    )
    llm_timeout: float = Field(
        120.0, gt=0, le=3600, description="Longest wait for the model server's next words (s)"
    )
    ca_bundle: Path | None = Field(
        None, description="CA certificates (PEM) trusted for HTTPS servers (empty: the system's)"
    )

    @field_validator("collection")
    @classmethod
    def _collection_name(cls, value: str) -> str:
        return collection_name(value)

    @field_validator("chroma_url", "llm_url")
    @classmethod
    def _server_url(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        value = value.strip()
        parsed = urlparse(value)
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            raise ValueError("use an address like http://host:port or https://host:port")
        return value

    @model_validator(mode="after")
    def _server_runtime_has_url(self) -> Settings:
        if self.runtime == "openai" and not self.llm_url:
            raise ValueError("the openai runtime needs llm_url, the model server's address")
        return self

    @model_validator(mode="after")
    def _overlap_below_size(self) -> Settings:
        if self.chunk_overlap >= self.chunk_size:
            raise ValueError("chunk_overlap must be smaller than chunk_size")
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        given = _sources.get() or _Sources()
        environment = [env_settings] if given.environment else []
        saved = InitSettingsSource(settings_cls, init_kwargs=given.saved)
        return (init_settings, *environment, saved)

    @property
    def paths(self) -> AppPaths:
        return AppPaths(self.home)

    @property
    def file_warnings(self) -> tuple[str, ...]:
        """What in ``settings.json`` was not understood and is therefore ignored."""
        return self._file_warnings

    @property
    def max_file_bytes(self) -> int:
        return int(self.max_file_mb * 1024 * 1024)


@dataclass(frozen=True, slots=True)
class _SavedFile:
    values: dict[str, Any]  # the settings this version knows
    unknown: dict[str, Any]  # everything else, kept as it is when the file is rewritten
    version: int
    warnings: tuple[str, ...]


def _read_saved(paths: AppPaths) -> _SavedFile:
    path = paths.settings_file
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return _SavedFile({}, {}, SCHEMA_VERSION, ())
    except OSError as exc:
        raise DeskAssistantError(f"cannot read {path} ({exc}): fix or delete it") from None
    except json.JSONDecodeError as exc:
        raise DeskAssistantError(
            f"{path} is not valid JSON (line {exc.lineno}): fix or delete it"
        ) from None
    if not isinstance(data, dict):
        raise DeskAssistantError(f"{path} is not a JSON object: fix or delete it")
    version = data.pop(SCHEMA_KEY, 0)
    known = {name for name in Settings.model_fields if name != "home"} - SECRET_FIELDS
    values = {k: v for k, v in data.items() if k in known}
    unknown = {k: v for k, v in data.items() if k not in known}
    warnings = [
        f"{path}: '{key}' is a credential and is ignored here: set it in the environment "
        f"(DESK_ASSISTANT_{key.upper()}) or the system keyring"
        if key in SECRET_FIELDS
        else f"{path}: unknown setting '{key}' is ignored"
        for key in unknown
    ]
    if not isinstance(version, int) or version > SCHEMA_VERSION:
        warnings.insert(
            0,
            f"{path} was written by a newer Desk Assistant (schema {version}); "
            "what this version does not know is ignored",
        )
    return _SavedFile(values, unknown, version if isinstance(version, int) else 0, tuple(warnings))


def _build(home: Path, saved: dict[str, Any], *, environment: bool, **given: Any) -> Settings:
    token = _sources.set(_Sources(saved, environment))
    try:
        return Settings(home=home, **given)
    except ValidationError as exc:
        raise DeskAssistantError(_describe(exc)) from None
    finally:
        _sources.reset(token)


def load_settings(home: Path | str | None = None, **overrides: Any) -> Settings:
    """Settings for ``home`` (default: env or platform folder), with CLI ``overrides`` on top."""
    resolved = Path(home).expanduser() if home is not None else default_home()
    saved = _read_saved(AppPaths(resolved))
    given = {key: value for key, value in overrides.items() if value is not None}
    settings = _build(resolved, saved.values, environment=True, **given)
    settings._file_warnings = saved.warnings  # the entry points show them, once
    return settings


def saved_settings(home: Path) -> dict[str, Any]:
    """What ``settings.json`` itself sets (no defaults, no environment, no options): what
    a change the user makes must be weighed against before it is written back."""
    return dict(_read_saved(AppPaths(home)).values)


def update_settings(home: Path, changes: Mapping[str, Any]) -> Settings:
    """Record in ``settings.json`` what the user set: each of ``changes`` is written, or
    removed from the file when it is the default again. The rest of the file is kept as
    it is, so values from the environment or the command line never end up in it.
    Returns the settings as they now load."""
    paths = AppPaths(home)
    saved = _read_saved(paths)
    values = dict(saved.values)
    for name, value in changes.items():
        if name not in Settings.model_fields or name == "home" or name in SECRET_FIELDS:
            raise DeskAssistantError(f"'{name}' is not a setting that can be saved")
        values[name] = value
    # Checked on their own (defaults < file), then written in their JSON form.
    checked = _build(home, {}, environment=False, **values)
    written = checked.model_dump(mode="json", include=set(values), exclude_defaults=True)
    version = max(saved.version, SCHEMA_VERSION)
    write_json(paths.settings_file, {**saved.unknown, **written, SCHEMA_KEY: version})
    return load_settings(home)


def _describe(exc: ValidationError) -> str:
    problems = []
    for error in exc.errors():
        field_name = ".".join(str(part) for part in error["loc"]) or "settings"
        problems.append(f"{field_name}: {error['msg']}")
    return "Invalid settings (settings.json, DESK_ASSISTANT_* or options): " + "; ".join(problems)
