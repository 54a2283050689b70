"""settings.json holds what the user set, says which schema wrote it, and reports what it
does not understand instead of ignoring it silently."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from desk_assistant.cli.main import main
from desk_assistant.errors import DeskAssistantError
from desk_assistant.settings import SCHEMA_VERSION, load_settings, update_settings


def _saved(home: Path) -> dict[str, object]:
    data: dict[str, object] = json.loads((home / "settings.json").read_text(encoding="utf-8"))
    return data


def test_only_what_the_user_set_is_written(
    app_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DESK_ASSISTANT_CONTEXT_LENGTH", "2048")
    model = tmp_path / "model.gguf"
    update_settings(app_home, {"temperature": 0.5, "model_path": model})
    settings = update_settings(app_home, {"top_k": 8})

    assert _saved(app_home) == {
        "schema_version": SCHEMA_VERSION,
        "model_path": str(model),
        "temperature": 0.5,
        "top_k": 8,
    }
    assert settings.context_length == 2048  # the environment applies but is not saved
    update_settings(app_home, {"temperature": 0.1, "model_path": None})  # the defaults again
    assert _saved(app_home) == {"schema_version": SCHEMA_VERSION, "top_k": 8}


def test_an_invalid_change_is_refused_and_nothing_is_written(app_home: Path) -> None:
    update_settings(app_home, {"top_k": 8})
    with pytest.raises(DeskAssistantError, match="top_k"):
        update_settings(app_home, {"top_k": 0})
    with pytest.raises(DeskAssistantError, match="chunk_overlap must be smaller"):
        update_settings(app_home, {"chunk_overlap": 500})
    with pytest.raises(DeskAssistantError, match="not a setting"):
        update_settings(app_home, {"home": "/elsewhere"})
    assert _saved(app_home) == {"schema_version": SCHEMA_VERSION, "top_k": 8}


def test_unknown_keys_are_reported_and_kept(app_home: Path) -> None:
    app_home.mkdir(parents=True)
    (app_home / "settings.json").write_text('{"top-k": 3, "temperature": 0.4}', "utf-8")

    settings = load_settings(app_home)
    assert settings.temperature == 0.4
    assert settings.file_warnings == (
        f"{app_home / 'settings.json'}: unknown setting 'top-k' is ignored",
    )
    update_settings(app_home, {"top_k": 3})
    assert _saved(app_home)["top-k"] == 3  # not ours to delete: the user fixes the typo


def test_a_file_from_a_newer_version_is_read_with_a_warning(app_home: Path) -> None:
    app_home.mkdir(parents=True)
    future = {"schema_version": SCHEMA_VERSION + 1, "top_k": 4, "answer_style": "terse"}
    (app_home / "settings.json").write_text(json.dumps(future), "utf-8")

    settings = load_settings(app_home)
    assert settings.top_k == 4
    assert "written by a newer Desk Assistant" in settings.file_warnings[0]
    assert "'answer_style'" in settings.file_warnings[1]
    update_settings(app_home, {"temperature": 0.3})
    assert _saved(app_home)["schema_version"] == SCHEMA_VERSION + 1  # never a downgrade


def test_the_cli_says_what_it_ignores(app_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    app_home.mkdir(parents=True)
    (app_home / "settings.json").write_text('{"top_kk": 3}', "utf-8")
    assert main(["status", "--json"], out=io.StringIO()) == 0
    err = capsys.readouterr().err
    assert err == (
        f"desk-assistant: warning: {app_home / 'settings.json'}: unknown setting 'top_kk' "
        "is ignored\n"
    )
