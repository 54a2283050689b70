"""Typed settings: defaults < ``settings.json`` in the app home < ``DESK_ASSISTANT_*`` env < CLI.

One model serves the CLI, the desktop app's settings dialog and the tests (which point
``DESK_ASSISTANT_HOME`` at a temporary folder).
"""

from __future__ import annotations

import json
import os
import tempfile
from contextvars import ContextVar
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    JsonConfigSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from desk_assistant.errors import DeskAssistantError
from desk_assistant.paths import AppPaths, default_home

RuntimeName = Literal["auto", "llama_cpp", "ctransformers"]

_settings_file: ContextVar[Path | None] = ContextVar("_settings_file", default=None)


class Settings(BaseSettings):
    """Everything a user can configure. Field descriptions double as help texts."""

    model_config = SettingsConfigDict(
        env_prefix="DESK_ASSISTANT_", extra="ignore", validate_assignment=True
    )

    home: Path = Field(default_factory=default_home, description="Data folder")
    collection: str = Field("default", min_length=1, max_length=64, description="Collection")

    # Answering
    model_path: Path | None = Field(None, description="GGUF model file (empty: built-in)")
    runtime: RuntimeName = Field("auto", description="LLM runtime")
    threads: int | None = Field(None, ge=1, le=256, description="CPU threads (empty: auto)")
    context_length: int = Field(4096, ge=512, le=131072, description="Context window (tokens)")
    max_answer_tokens: int = Field(384, ge=1, le=8192, description="Max answer tokens")
    temperature: float = Field(0.1, ge=0.0, le=2.0, description="Temperature")
    top_k: int = Field(5, ge=1, le=50, description="Passages per answer")
    context_budget: int = Field(
        1200, ge=128, le=65536, description="Token budget for passages in the prompt"
    )
    strict_grounding: bool = Field(True, description="Refuse to answer when no passage is relevant")
    min_relevance: float = Field(
        0.20,
        ge=-1.0,
        le=1.0,
        description="Abstain below this relevance (similarity x share of key terms found)",
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
        None, description="Sentence-transformers model folder (empty: built-in)"
    )
    embed_batch_size: int = Field(64, ge=1, le=4096, description="Embedding batch size")
    chunk_size: int = Field(256, ge=32, le=4096, description="Chunk size (tokens)")
    chunk_overlap: int = Field(32, ge=0, le=1024, description="Chunk overlap (tokens)")
    max_file_mb: float = Field(256.0, gt=0, description="Skip files larger than (MB)")
    parse_timeout: float = Field(60.0, gt=0, description="Per-file parse timeout (s)")
    parse_memory_mb: int = Field(2048, ge=256, description="Per-file parser memory cap (MB)")
    parse_workers: int = Field(1, ge=1, le=64, description="Parser processes")

    # Scale-out
    chroma_url: str | None = Field(None, description="Chroma server URL (empty: embedded)")

    @field_validator("collection")
    @classmethod
    def _collection_name(cls, value: str) -> str:
        if not all(ch.isalnum() or ch in "-_ ." for ch in value) or value.strip() != value:
            raise ValueError("use letters, digits, spaces, '-', '_' or '.'")
        return value

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
        json_file = _settings_file.get()
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if json_file is not None and json_file.is_file():
            sources.append(JsonConfigSettingsSource(settings_cls, json_file=json_file))
        return tuple(sources)

    @property
    def paths(self) -> AppPaths:
        return AppPaths(self.home)

    @property
    def max_file_bytes(self) -> int:
        return int(self.max_file_mb * 1024 * 1024)


def load_settings(home: Path | str | None = None, **overrides: Any) -> Settings:
    """Settings for ``home`` (default: env or platform folder), with CLI ``overrides`` on top."""
    resolved = Path(home).expanduser() if home is not None else default_home()
    token = _settings_file.set(AppPaths(resolved).settings_file)
    try:
        given = {key: value for key, value in overrides.items() if value is not None}
        return Settings(home=resolved, **given)
    except ValidationError as exc:
        raise DeskAssistantError(_describe(exc)) from None
    except json.JSONDecodeError as exc:
        raise DeskAssistantError(
            f"{AppPaths(resolved).settings_file} is not valid JSON (line {exc.lineno}): "
            "fix or delete it"
        ) from None
    finally:
        _settings_file.reset(token)


def save_settings(settings: Settings) -> Path:
    """Write the values that differ from the defaults, atomically (a crash never truncates)."""
    target = settings.paths.settings_file
    target.parent.mkdir(parents=True, exist_ok=True)
    values = settings.model_dump(mode="json", exclude={"home"}, exclude_defaults=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".settings-", suffix=".json")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(values, handle, indent=2, sort_keys=True)
        handle.flush()
        os.fsync(handle.fileno())
    Path(tmp).replace(target)
    return target


def _describe(exc: ValidationError) -> str:
    problems = []
    for error in exc.errors():
        field = ".".join(str(part) for part in error["loc"]) or "settings"
        problems.append(f"{field}: {error['msg']}")
    return "Invalid settings (settings.json, DESK_ASSISTANT_* or options): " + "; ".join(problems)
