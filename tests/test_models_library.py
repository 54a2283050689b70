"""The model library: add/list/remove/use, descriptions without loading, hashes computed
once, licence notices, GGML headers, and the ``desk-assistant models`` command."""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import shutil
import struct
from collections import namedtuple
from collections.abc import Callable
from pathlib import Path

import pytest
from tiny_gguf import write_tiny_llama_gguf

from desk_assistant.backends.defaults import default_llm_path
from desk_assistant.backends.llm.probe import ProbeResult
from desk_assistant.cli import main as cli_main
from desk_assistant.cli import models_cmd
from desk_assistant.errors import DeskAssistantError, ModelLoadError, NotFoundError
from desk_assistant.models import library as library_module
from desk_assistant.models.describe import describe, parameter_label
from desk_assistant.models.library import LicenceNotAccepted, ModelLibrary, model_name
from desk_assistant.models.licence import (
    LLAMA2_LICENSE_URL,
    LLAMA2_USE_POLICY_URL,
    acknowledge,
    licence_summary,
    needs_acknowledgement,
)
from desk_assistant.settings import SCHEMA_VERSION, load_settings, update_settings

BUILTIN = "smollm2-135m-instruct-q4_1"


def tiny_parameters(vocab: int = 1024, width: int = 64, blocks: int = 2) -> int:
    """The weights write_tiny_llama_gguf writes, counted by hand."""
    per_block = 2 * width + 4 * width * width + 3 * width * 2 * width
    return 2 * vocab * width + width + blocks * per_block


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """2023-style files as users have them: Llama 2 Chat, Vicuna, Mistral (Apache-2.0)."""
    folder = tmp_path_factory.mktemp("downloads")
    made = {
        "llama2": write_tiny_llama_gguf(
            folder / "llama-2-7b-chat.Q4_K_M.gguf", name="LLaMA v2", license=None
        ),
        "vicuna": write_tiny_llama_gguf(
            folder / "vicuna-7b-v1.5.Q4_K_M.gguf", name="LLaMA v2", license=None
        ),
        "mistral": write_tiny_llama_gguf(
            folder / "mistral-7b-instruct-v0.2.Q4_K_M.gguf",
            name="mistralai_mistral-7b-instruct-v0.2",
            license="apache-2.0",
        ),
    }
    notes = folder / "notes.gguf"
    notes.write_text("not a model")
    made["notes"] = notes
    return made


@pytest.fixture
def library() -> ModelLibrary:
    return ModelLibrary(load_settings())


def copy_of(path: Path, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    return Path(shutil.copy2(path, folder / path.name))


# --- names and listing ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("file_name", "name"),
    [
        ("llama-2-7b-chat.Q4_K_M.gguf", "llama-2-7b-chat-q4_k_m"),
        ("vicuna-7b-v1.5.Q4_K_M.gguf", "vicuna-7b-v1.5-q4_k_m"),
        ("llama-2-7b-chat.ggmlv3.q4_0.bin", "llama-2-7b-chat-ggmlv3-q4_0"),
        ("My Model (final).gguf", "my-model-final"),
        ("....gguf", "model"),
    ],
)
def test_model_names(file_name: str, name: str) -> None:
    assert model_name(file_name) == name


def test_builtin_is_always_listed_and_cannot_be_removed(library: ModelLibrary) -> None:
    (entry,) = library.list()

    assert (entry.name, entry.kind, entry.in_use) == (BUILTIN, "built-in", True)
    assert entry.path == default_llm_path()
    assert not entry.removable
    with pytest.raises(DeskAssistantError, match="built-in model cannot be removed"):
        library.remove(BUILTIN)


def test_files_in_the_models_folder_are_listed_without_being_added(
    library: ModelLibrary, files: dict[str, Path]
) -> None:
    copy_of(files["vicuna"], library.folder)
    (library.folder / "half.gguf.part").write_bytes(b"GGUF")  # a download in progress
    (library.folder / "readme.txt").write_text("hi")

    names = [(e.name, e.kind) for e in library.list()]

    assert names == [(BUILTIN, "built-in"), ("vicuna-7b-v1.5-q4_k_m", "models folder")]
    assert not (library.folder / "library.json").exists()  # listing writes nothing


def test_a_configured_model_outside_the_library_is_listed_as_in_use(
    files: dict[str, Path],
) -> None:
    settings = update_settings(load_settings().home, {"model_path": files["mistral"]})
    entries = ModelLibrary(settings).list()

    assert [(e.name, e.in_use) for e in entries] == [
        (BUILTIN, False),
        ("mistral-7b-instruct-v0.2-q4_k_m", True),
    ]


# --- adding ---------------------------------------------------------------------------------


def test_add_links_a_file_where_it_is(library: ModelLibrary, files: dict[str, Path]) -> None:
    result = library.add(files["llama2"])

    entry = result.entry
    assert not result.already_present
    assert (entry.name, entry.kind, entry.path) == (
        "llama-2-7b-chat-q4_k_m",
        "linked",
        files["llama2"],
    )
    assert entry.size_bytes == files["llama2"].stat().st_size
    record = json.loads((library.folder / "library.json").read_text())
    assert record["models"]["llama-2-7b-chat-q4_k_m"]["path"] == str(files["llama2"])
    # Adding the same file again changes nothing.
    again = library.add(files["llama2"])
    assert again.already_present and again.entry.name == entry.name
    assert len(library.list()) == 2


def test_add_gives_unique_names_and_accepts_chosen_ones(
    library: ModelLibrary, files: dict[str, Path], tmp_path: Path
) -> None:
    other = copy_of(files["llama2"], tmp_path / "other")
    library.add(files["llama2"])

    assert library.add(other).entry.name == "llama-2-7b-chat-q4_k_m-2"
    third = copy_of(files["llama2"], tmp_path / "third")
    assert library.add(third, name="my-llama").entry.name == "my-llama"
    with pytest.raises(DeskAssistantError, match="taken"):
        library.add(copy_of(files["llama2"], tmp_path / "fourth"), name="my-llama")
    with pytest.raises(DeskAssistantError, match="invalid model name"):
        library.add(copy_of(files["llama2"], tmp_path / "fifth"), name="My Llama!")


def test_add_refuses_files_that_are_not_models(
    library: ModelLibrary, files: dict[str, Path]
) -> None:
    with pytest.raises(ModelLoadError, match="not a GGUF or GGML model file"):
        library.add(files["notes"], copy=True)
    with pytest.raises(ModelLoadError, match="not found"):
        library.add(files["notes"].with_name("missing.gguf"))
    assert not library.folder.exists()


def test_add_copy_reports_progress_and_hashes_on_the_way(
    library: ModelLibrary, files: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[tuple[int, int | None]] = []
    entry = library.add(files["vicuna"], copy=True, progress=lambda *c: calls.append(c)).entry

    assert entry.kind == "models folder"
    assert entry.path == library.folder / files["vicuna"].name
    assert entry.path.read_bytes() == files["vicuna"].read_bytes()
    size = files["vicuna"].stat().st_size
    assert calls[-1] == (size, size)
    assert not list(library.folder.glob(".*copying"))
    # The copy was hashed while copying: info does not read the file again.
    monkeypatch.setattr("desk_assistant.models.files.file_sha256", lambda *a: pytest.fail("again"))
    expected = hashlib.sha256(files["vicuna"].read_bytes()).hexdigest()
    assert library.info(entry.name).sha256 == expected


def test_add_copy_refuses_when_the_disk_is_full(
    library: ModelLibrary, files: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda _: usage(100, 90, 10))

    with pytest.raises(DeskAssistantError, match=r"not enough free space.*link the file"):
        library.add(files["vicuna"], copy=True)
    assert [e.name for e in library.list()] == [BUILTIN]
    assert list(library.folder.iterdir()) == []


def test_add_verify_loads_the_file_in_child_processes(
    library: ModelLibrary, files: dict[str, Path]
) -> None:
    result = library.add(files["llama2"], verify=True)

    assert [(p.runtime, p.ok) for p in result.probes] == [
        ("llama_cpp", True),
        ("ctransformers", True),
    ]


def test_add_verify_refuses_a_file_no_runtime_can_load(
    library: ModelLibrary, files: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    def crashing(runtime: str, path: Path, **kwargs: object) -> ProbeResult:
        return ProbeResult(False, runtime, "the runtime crashed (signal 6, SIGABRT)")

    monkeypatch.setattr(library_module, "probe_runtime", crashing)

    with pytest.raises(ModelLoadError, match=r"no runtime can load.*SIGABRT"):
        library.add(files["llama2"], copy=True, verify=True)
    assert [e.name for e in library.list()] == [BUILTIN]
    assert not library.folder.exists()  # refused before copying


# --- removing -------------------------------------------------------------------------------


def test_remove_forgets_a_linked_file_but_never_deletes_it(
    library: ModelLibrary, files: dict[str, Path]
) -> None:
    name = library.add(files["llama2"]).entry.name

    with pytest.raises(DeskAssistantError, match="outside the models folder"):
        library.remove(name, delete_file=True)
    result = library.remove(name)

    assert not result.file_deleted
    assert files["llama2"].exists()
    assert [e.name for e in library.list()] == [BUILTIN]
    with pytest.raises(NotFoundError, match="no model named"):
        library.remove(name)


def test_remove_deletes_a_file_of_the_models_folder_only_when_asked(
    library: ModelLibrary, files: dict[str, Path]
) -> None:
    entry = library.add(files["vicuna"], copy=True).entry

    with pytest.raises(DeskAssistantError, match="--delete-file"):
        library.remove(entry.name)
    result = library.remove(entry.name, delete_file=True)

    assert result.file_deleted
    assert not entry.path.exists()
    assert files["vicuna"].exists()
    assert [e.name for e in library.list()] == [BUILTIN]


def test_removing_the_model_in_use_goes_back_to_the_builtin(
    library: ModelLibrary, files: dict[str, Path]
) -> None:
    name = library.add(files["mistral"]).entry.name
    library.use(name)

    result = library.remove(name)

    assert result.back_to_builtin
    assert load_settings().model_path is None
    assert library.list()[0].in_use


# --- using ----------------------------------------------------------------------------------


def test_use_saves_the_model_in_the_settings(library: ModelLibrary, files: dict[str, Path]) -> None:
    name = library.add(files["mistral"]).entry.name

    result = library.use(name)

    assert result.acknowledged is None  # Apache-2.0: no notice
    assert load_settings().model_path == files["mistral"]
    assert result.entry.in_use
    assert [e.name for e in library.list() if e.in_use] == [name]
    assert result.fit is not None and result.fit.verdict == "fits"
    library.use(BUILTIN)
    assert load_settings().model_path is None


def test_use_switches_a_runtime_that_cannot_load_the_model(library: ModelLibrary) -> None:
    update_settings(load_settings().home, {"runtime": "ctransformers"})

    result = library.use(BUILTIN)  # SmolLM2: a GPT-2 BPE vocabulary ctransformers cannot read

    assert result.runtime_changed_from == "ctransformers"
    assert load_settings().runtime == "auto"


def test_use_saves_neither_command_line_options_nor_the_environment(
    files: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DESK_ASSISTANT_TOP_K", "7")
    library = ModelLibrary(load_settings(collection="from-the-command-line"))
    library.use(library.add(files["mistral"]).entry.name)

    saved = json.loads(load_settings().paths.settings_file.read_text())
    assert saved == {"model_path": str(files["mistral"]), "schema_version": SCHEMA_VERSION}
    assert load_settings().top_k == 7  # the environment still applies, from outside the file


def test_models_use_and_remove_on_the_command_line_save_nothing_from_the_environment(
    files: dict[str, Path], app_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in {"TOP_K": "7", "TEMPERATURE": "0.9", "RUNTIME": "llama_cpp"}.items():
        monkeypatch.setenv(f"DESK_ASSISTANT_{name}", value)
    settings_file = app_home / "settings.json"

    def run(*argv: str) -> None:
        assert cli_main.main(["models", *argv, "--home", str(app_home)], out=io.StringIO()) == 0

    run("add", str(files["mistral"]))
    name = model_name(files["mistral"].name)
    run("use", name)
    saved = json.loads(settings_file.read_text())
    assert saved == {"model_path": str(files["mistral"]), "schema_version": SCHEMA_VERSION}
    run("remove", name)  # it was in use: back to the built-in model
    assert json.loads(settings_file.read_text()) == {"schema_version": SCHEMA_VERSION}
    run("use", BUILTIN)
    assert json.loads(settings_file.read_text()) == {"schema_version": SCHEMA_VERSION}
    assert load_settings(app_home).top_k == 7  # the environment still applies, from outside
    # The runtime the user saved stays, whatever the environment sets for this run.
    update_settings(app_home, {"runtime": "llama_cpp"})
    monkeypatch.setenv("DESK_ASSISTANT_RUNTIME", "ctransformers")  # cannot load SmolLM2
    run("use", BUILTIN)
    assert json.loads(settings_file.read_text())["runtime"] == "llama_cpp"


def test_use_of_a_llama_2_model_needs_the_licence_accepted_once(
    library: ModelLibrary, files: dict[str, Path], app_home: Path
) -> None:
    llama = library.add(files["llama2"]).entry.name
    vicuna = library.add(files["vicuna"]).entry.name  # its metadata says "LLaMA v2"

    notice = library.licence_notice(llama)
    assert notice is not None and notice.licence_id == "llama2"
    with pytest.raises(LicenceNotAccepted, match="Llama 2 Community License") as refused:
        library.use(llama)
    assert refused.value.notice == notice
    assert load_settings().model_path is None  # nothing changed

    result = library.use(llama, accept_licence=True)

    assert result.acknowledged == notice
    record = json.loads((app_home / "models" / "acknowledgements.json").read_text())
    assert record["llama2"]["model"] == llama
    # Shown once: another Llama 2 model needs no second acknowledgement.
    assert library.licence_notice(vicuna) is None
    assert library.use(vicuna).acknowledged is None


def test_use_of_a_vanished_file_says_so(
    library: ModelLibrary, files: dict[str, Path], tmp_path: Path
) -> None:
    moved = copy_of(files["mistral"], tmp_path / "usb-stick")
    name = library.add(moved).entry.name
    moved.unlink()

    assert not library.get(name).exists
    with pytest.raises(DeskAssistantError, match="is gone"):
        library.use(name)


# --- prompt format override -----------------------------------------------------------------


def test_prompt_format_override_is_stored_per_model(
    library: ModelLibrary, files: dict[str, Path]
) -> None:
    name = library.add(files["vicuna"]).entry.name
    assert library.info(name, with_sha256=False).prompt_family == "vicuna"

    library.set_prompt_format(name, "alpaca")

    assert library.get(name).prompt_format == "alpaca"
    assert library.prompt_format_for(files["vicuna"]) == "alpaca"
    described = library.info(name, with_sha256=False)
    assert (described.prompt_family, described.prompt_family_source) == ("alpaca", "override")
    library.set_prompt_format(name, None)
    assert library.prompt_format_for(files["vicuna"]) is None
    with pytest.raises(DeskAssistantError, match="unknown prompt format"):
        library.set_prompt_format(name, "gpt-5")
    # The built-in model can be overridden too, and stays the built-in model.
    library.set_prompt_format(BUILTIN, "chatml")
    assert library.list()[0].prompt_format == "chatml"
    assert library.list()[0].kind == "built-in"


# --- describing -----------------------------------------------------------------------------


def test_describe_a_llama_2_era_file(files: dict[str, Path], app_home: Path) -> None:
    path = files["llama2"]
    d = describe(path, app_home / "cache")

    assert d.file_format == "gguf" and d.gguf_version == 3
    assert d.architecture == "llama"
    assert d.parameter_count == tiny_parameters()
    assert d.parameters == "213K"
    assert d.quantization == "F32"
    assert d.context_length == 512
    assert (d.vocabulary, d.vocab_size) == ("SentencePiece (llama)", 1024)
    assert not d.chat_template
    assert (d.prompt_family, d.prompt_family_source) == ("llama-2", "file name")
    assert d.licence is None
    assert d.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert d.loadable_by == ("llama_cpp", "ctransformers")
    assert (d.block_count, d.embedding_length, d.head_count, d.head_count_kv) == (2, 64, 4, 4)
    assert json.loads(json.dumps(d.to_json()))["parameters"] == "213K"


def test_sha256_is_computed_once_per_file_version(
    files: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from desk_assistant.models import files as files_module

    path = copy_of(files["mistral"], tmp_path / "m")
    cache = tmp_path / "cache"
    real = files_module.file_sha256
    reads: list[Path] = []

    def counting(target: Path, progress: Callable[[int, int | None], None] | None = None) -> str:
        reads.append(target)
        return real(target, progress)

    monkeypatch.setattr(files_module, "file_sha256", counting)
    first = describe(path, cache).sha256
    assert describe(path, cache).sha256 == first
    assert describe(path, cache, with_sha256=False).sha256 == first
    assert len(reads) == 1
    with path.open("ab") as handle:  # the file changes: the hash is computed again
        handle.write(b"\0" * 32)
    assert describe(path, cache).sha256 != first
    assert len(reads) == 2


@pytest.mark.model
def test_describe_smollm2(app_home: Path) -> None:
    d = describe(default_llm_path(), app_home / "cache", with_sha256=False)

    assert d.parameters == "135M"
    assert d.quantization == "Q4_1"
    assert d.vocabulary == "BPE (gpt2)"
    assert d.chat_template and d.prompt_family == "chatml"
    assert d.prompt_family_source == "template"
    assert d.licence == "apache-2.0"
    assert d.sha256 is None  # not asked for, not remembered
    (llama_cpp, ctransformers) = d.runtimes
    assert llama_cpp.can_load
    assert not ctransformers.can_load and "GPT-2 BPE" in (ctransformers.reason or "")
    assert (d.block_count, d.head_count, d.head_count_kv) == (30, 9, 3)


def ggml_file(path: Path, *, ftype: int = 2) -> Path:
    """The header of a 2023 LLaMA-7B GGML (ggjt v3) file, without weights."""
    hparams = struct.pack("<7i", 32000, 4096, 256, 32, 32, 128, ftype)
    path.write_bytes(b"tjgg" + struct.pack("<I", 3) + hparams + bytes(64))
    return path


def test_describe_an_old_ggml_file(tmp_path: Path) -> None:
    d = describe(ggml_file(tmp_path / "llama-2-7b-chat.ggmlv3.q4_0.bin"), tmp_path / "cache")

    assert d.file_format == "ggml"
    assert d.parameter_count is not None and parameter_label(d.parameter_count) == "6.74B"
    assert d.quantization == "Q4_0"
    assert d.vocabulary == "SentencePiece (llama)"
    assert (d.prompt_family, d.prompt_family_source) == ("llama-2", "file name")
    (llama_cpp, ctransformers) = d.runtimes
    assert not llama_cpp.can_load and "GGML" in (llama_cpp.reason or "")
    assert ctransformers.can_load
    # Its shape is enough for a memory estimate.
    assert (d.block_count, d.embedding_length, d.head_count) == (32, 4096, 32)
    assert needs_acknowledgement(d) is not None


def test_ggml_header_with_implausible_numbers_is_not_trusted(tmp_path: Path) -> None:
    path = tmp_path / "other.bin"
    path.write_bytes(
        b"tjgg" + struct.pack("<I", 3) + struct.pack("<7i", 50257, 768, 1, 7, 12, 3, 1)
    )
    d = describe(path, tmp_path / "cache")
    assert d.parameter_count is None and d.quantization is None and d.vocabulary is None


# --- licences -------------------------------------------------------------------------------


def test_licence_notice_rules(files: dict[str, Path], tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    mistral = describe(files["mistral"], cache, with_sha256=False)
    assert needs_acknowledgement(mistral, home=tmp_path) is None
    assert licence_summary(mistral) == "apache-2.0"

    llama = describe(files["llama2"], cache, with_sha256=False)
    assert licence_summary(llama) == "not stated in the file"
    notice = needs_acknowledgement(llama, home=tmp_path)
    assert notice is not None
    assert LLAMA2_LICENSE_URL in notice.text and LLAMA2_USE_POLICY_URL in notice.text
    assert "700 million monthly active users" in notice.text

    # A file that says nothing, with the catalogue's word for it.
    plain = copy_of(files["mistral"], tmp_path / "x")
    renamed = plain.rename(plain.with_name("my-model.gguf"))
    anonymous = describe(write_tiny_llama_gguf(renamed, name=None, license=None), cache)
    assert needs_acknowledgement(anonymous, home=tmp_path) is None
    assert needs_acknowledgement(anonymous, home=tmp_path, hint="llama2") is not None

    acknowledge(notice, home=tmp_path)
    assert needs_acknowledgement(llama, home=tmp_path) is None


def test_licence_from_metadata_with_name_and_link(tmp_path: Path) -> None:
    path = write_tiny_llama_gguf(
        tmp_path / "model.gguf",
        license="other",
        metadata={
            "general.license.name": "llama2",
            "general.license.link": "https://ai.meta.com/llama/license/",
        },
    )
    d = describe(path, tmp_path / "cache", with_sha256=False)
    assert licence_summary(d) == "other / llama2 (https://ai.meta.com/llama/license/)"
    assert needs_acknowledgement(d, home=tmp_path) is not None


# --- the command line -----------------------------------------------------------------------


@pytest.fixture
def cli(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Callable[..., tuple[int, str, str]]:
    """``desk-assistant`` with the models command registered (until main.py does it)."""
    build = cli_main.build_parser

    def build_parser() -> argparse.ArgumentParser:
        parser = build()
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction) and "models" not in action.choices:
                models_cmd.register(action)
        return parser

    monkeypatch.setattr(cli_main, "build_parser", build_parser)
    monkeypatch.setitem(cli_main.COMMANDS, "models", models_cmd.run)

    def run(*argv: str) -> tuple[int, str, str]:
        out = io.StringIO()
        code = cli_main.main(list(argv), out=out)
        return code, out.getvalue(), capsys.readouterr().err

    return run


def test_cli_list_add_info_use_remove(
    cli: Callable[..., tuple[int, str, str]], files: dict[str, Path]
) -> None:
    code, out, _ = cli("models")
    assert code == 0 and out.startswith(f"* {BUILTIN}")

    code, out, _ = cli("models", "add", str(files["llama2"]))
    assert code == 0
    assert "Added llama-2-7b-chat-q4_k_m" in out

    code, out, _ = cli("models", "info", "llama-2-7b-chat-q4_k_m")
    assert code == 0
    assert "Prompt format:   llama-2 (from the file name: llama-2-7b-chat.Q4_K_M.gguf)" in out
    assert "Llama 2 Community License notice: shown on first use" in out
    assert "Memory:          fits" in out

    code, out, _ = cli("models", "info", "llama-2-7b-chat-q4_k_m", "--json")
    data = json.loads(out)
    assert data["name"] == "LLaMA v2"  # general.name
    assert data["library"]["name"] == "llama-2-7b-chat-q4_k_m"
    assert not data["library"]["in_use"]
    assert data["licence_notice_due"] and data["llama2_licence"]
    assert data["fit"]["verdict"] == "fits"
    assert data["sha256"] == hashlib.sha256(files["llama2"].read_bytes()).hexdigest()

    # No terminal, no --accept-licence: the notice is shown and nothing changes.
    code, out, err = cli("models", "use", "llama-2-7b-chat-q4_k_m")
    assert code == 1
    assert LLAMA2_USE_POLICY_URL in out
    assert "--accept-licence" in err
    assert load_settings().model_path is None

    code, out, _ = cli("models", "use", "llama-2-7b-chat-q4_k_m", "--accept-licence")
    assert code == 0
    assert "Recorded that you accepted the Llama 2 Community License" in out
    assert "Now answering with llama-2-7b-chat-q4_k_m" in out
    code, out, _ = cli("models", "use", "llama-2-7b-chat-q4_k_m")
    assert code == 0 and LLAMA2_USE_POLICY_URL not in out  # shown once

    code, out, _ = cli("models", "list", "--json")
    listed = {item["name"]: item for item in json.loads(out)}
    assert listed["llama-2-7b-chat-q4_k_m"]["in_use"]

    code, out, _ = cli("models", "remove", "llama-2-7b-chat-q4_k_m")
    assert code == 0 and "answers now come from the built-in model" in out


def test_cli_errors_and_usage(
    cli: Callable[..., tuple[int, str, str]], files: dict[str, Path]
) -> None:
    code, _, err = cli("models", "remove", BUILTIN)
    assert code == 1 and "built-in model cannot be removed" in err
    code, _, err = cli("models", "add", str(files["notes"]))
    assert code == 1 and "not a GGUF or GGML model file" in err
    code, _, err = cli("models", "info", "nothing-like-it")
    assert code == 1 and "no model named 'nothing-like-it'" in err
    code, _, err = cli("models", "download")
    assert code == 2 and "either a URL or --catalogue" in err
    code, _, err = cli("models", "download", "https://x/y.gguf", "--catalogue", "z")
    assert code == 2


def test_cli_format_catalogue_and_info_of_a_path(
    cli: Callable[..., tuple[int, str, str]], files: dict[str, Path]
) -> None:
    cli("models", "add", str(files["vicuna"]))
    code, out, _ = cli("models", "format", "vicuna-7b-v1.5-q4_k_m", "alpaca")
    assert code == 0 and "alpaca format" in out
    code, out, _ = cli("models", "info", "vicuna-7b-v1.5-q4_k_m", "--no-hash")
    assert "alpaca (chosen by the user)" in out
    code, out, _ = cli("models", "format", "vicuna-7b-v1.5-q4_k_m")
    assert out.startswith("vicuna-7b-v1.5-q4_k_m: alpaca (chosen by the user)")
    assert "  vicuna   Vicuna v1.1: system USER: ... ASSISTANT:" in out
    code, out, _ = cli("models", "format", "vicuna-7b-v1.5-q4_k_m", "auto")
    assert "detected from the file again" in out

    code, out, _ = cli("models", "catalogue", "--json")
    assert code == 0
    assert {"llama-2-7b-chat-q4_k_m", "vicuna-7b-v1.5-q4_k_m"} <= {
        item["name"] for item in json.loads(out)
    }
    code, out, _ = cli("models", "info", str(files["mistral"]), "--no-hash")
    assert code == 0
    assert "(not in the library)" in out
    assert "mistral (from the metadata" in out


def test_the_library_and_its_command_import_no_heavy_library() -> None:
    import subprocess
    import sys

    code = (
        "import sys, desk_assistant.models.library, desk_assistant.models.download, "
        "desk_assistant.models.fit, desk_assistant.cli.models_cmd;"
        "print([m for m in ('llama_cpp', 'ctransformers', 'torch', 'gguf', 'jinja2', 'PySide6')"
        " if m in sys.modules])"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parents[1],
    )
    assert done.stdout.strip() == "[]"


def test_a_template_that_cannot_be_used_is_said_in_the_description(tmp_path: Path) -> None:
    from desk_assistant.models.describe import describe
    from desk_assistant.models.summary import description_rows

    model = write_tiny_llama_gguf(tmp_path / "odd.gguf", with_chat_template="{{ unclosed")
    rows = description_rows(describe(model, tmp_path, with_sha256=False), None)
    assert rows[-1][0] == "" and "chat template cannot be used" in rows[-1][1]
