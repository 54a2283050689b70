"""The layout keeps the promises docs/architecture.md makes: one front door to the
engine, registries that name every implementation, a facade that offers intents."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import get_args

import desk_assistant
from desk_assistant import api
from desk_assistant.backends.registry import RUNTIMES
from desk_assistant.service import Assistant
from desk_assistant.settings import RuntimeName

ROOT = Path(__file__).resolve().parents[1]


def test_every_engine_module_but_the_api_is_closed_to_the_window_and_the_cli() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    [contract] = [
        c
        for c in config["tool"]["importlinter"]["contracts"]
        if c.get("source_modules") == ["ui", "desk_assistant.cli"]
    ]
    package = Path(desk_assistant.__file__).parent
    modules = {
        f"desk_assistant.{path.stem}"
        for path in package.iterdir()
        if path.suffix == ".py" or (path / "__init__.py").is_file()
    }
    open_to_them = {"desk_assistant.api", "desk_assistant.cli"}
    entry_points = {"desk_assistant.__init__", "desk_assistant.__main__"}
    assert set(contract["forbidden_modules"]) == modules - open_to_them - entry_points | {"ingest"}


def test_every_name_the_api_promises_is_there() -> None:
    for name in api.__all__:
        assert getattr(api, name) is not None, name


def test_the_runtime_setting_names_exactly_the_registered_runtimes() -> None:
    assert set(get_args(RuntimeName)) == set(RUNTIMES)


def test_the_facade_offers_intents_and_hands_out_no_part() -> None:
    public = {name for name in dir(Assistant) if not name.startswith("_")}
    assert public == {
        # ingestion
        "ingest", "sync", "reindex", "remove", "followed", "excludes", "exclude",
        # questions
        "retrieve", "search", "ask", "interrupt", "summarize", "warm_up",
        # chats
        "new_chat", "chats", "chat", "messages", "rename_chat", "delete_chat",
        "restore_chat", "purge_chats",
        # collections and the data folder
        "collections", "create_collection", "rename_collection", "delete_collection",
        "sources", "status", "doctor",
        # life cycle
        "open", "settings", "close", "abort",
    }  # fmt: skip
