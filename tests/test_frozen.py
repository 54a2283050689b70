"""What the installers' frozen executable relies on, checked without building it: the
bundled models are found beside the code, --version reads the build's record, the
executable re-enters itself only for the app's own helper modules. (The build itself is
tested end to end by packaging/test-linux.sh.)"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from pathlib import Path

import pytest

from desk_assistant import __version__, frozen, provenance
from desk_assistant.backends import defaults
from desk_assistant.cli.main import main as cli_main


@pytest.fixture
def bundle(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fake frozen build: ``sys.frozen`` set and a bundle folder with both models."""
    folder = tmp_path / "bundle"
    (folder / defaults.BUNDLED_EMBEDDING).mkdir(parents=True)
    (folder / defaults.BUNDLED_EMBEDDING / "model.onnx").write_bytes(b"onnx weights")
    (folder / defaults.BUNDLED_LLM).write_bytes(b"GGUF weights")
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "_MEIPASS", str(folder), raising=False)
    return folder


def test_a_frozen_build_uses_the_models_in_its_bundle(bundle: Path) -> None:
    assert defaults.default_llm_path() == bundle / defaults.BUNDLED_LLM
    assert defaults.default_embedding_dir() == bundle / defaults.BUNDLED_EMBEDDING


def test_a_pip_install_uses_the_models_of_their_wheels() -> None:
    assert defaults.default_llm_path().parent.name == defaults.DEFAULT_LLM_PACKAGE
    assert defaults.default_embedding_dir().parent.name == defaults.DEFAULT_EMBEDDING_PACKAGE


def _version(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    with pytest.raises(SystemExit) as done:
        cli_main([*args, "--version"])
    assert done.value.code == 0
    return capsys.readouterr().out


def test_version_of_a_frozen_build_prints_what_the_build_recorded(
    bundle: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    info = provenance.record_build(bundle / "models", bundle / "build-info.json", "abc1234")
    text = _version(capsys)
    assert text.startswith(f"desk-assistant {__version__} (installer build, ")
    assert "commit abc1234" in text
    assert f"llama.cpp: {info['runtimes']['llama.cpp']}" in text
    for name, content in ((defaults.DEFAULT_LLM_FILE, b"GGUF weights"), ("onnx", b"onnx weights")):
        digest = hashlib.sha256(content).hexdigest()
        line = next(line for line in text.splitlines() if digest in line)
        assert name in line


def test_version_of_a_pip_install_hashes_its_models_once(
    app_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = _version(capsys, "--home", str(app_home))
    assert text.startswith(f"desk-assistant {__version__} (pip install)")
    assert "llama.cpp: llama-cpp-python " in text and "ggml " in text
    gguf = defaults.default_llm_path()
    digest = hashlib.sha256(gguf.read_bytes()).hexdigest()
    assert f"{digest}  {gguf.name}" in text
    cache = json.loads((app_home / "cache" / "model_sha256.json").read_text(encoding="utf-8"))
    assert digest in cache.values()
    assert _version(capsys, "--home", str(app_home)) == text  # from the cache the second time


# runpy warns that the probe module is already imported: in this test process, not in
# the fresh child the frozen app starts.
@pytest.mark.filterwarnings("ignore:'desk_assistant.backends.llm.probe_child' found in sys.modules")
def test_the_executable_runs_only_the_apps_own_helper_modules(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert frozen.main(["-m", "os"]) == 2
    assert "only the app's own helper processes" in capsys.readouterr().err
    # The probe child, entered the way the frozen app enters it: its own usage check.
    assert frozen.main(["-m", "desk_assistant.backends.llm.probe_child"]) == 2
    assert "usage: python -m desk_assistant.backends.llm.probe_child" in capsys.readouterr().err


def test_programs_the_app_starts_get_the_users_library_path(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setenv("LD_LIBRARY_PATH", "/opt/desk-assistant/_internal")
    monkeypatch.setenv("LD_LIBRARY_PATH_ORIG", "/home/me/lib")
    frozen.restore_library_path()
    assert os.environ["LD_LIBRARY_PATH"] == "/home/me/lib"
    assert "LD_LIBRARY_PATH_ORIG" not in os.environ
    monkeypatch.setenv("LD_LIBRARY_PATH", "/opt/desk-assistant/_internal")
    frozen.restore_library_path()  # the user had none: the bundle's is not passed on
    assert "LD_LIBRARY_PATH" not in os.environ
