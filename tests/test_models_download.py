"""Downloads from a local HTTP server: progress, cancel and resume with Range, hashes."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from model_server import FILE, ModelServer, serving
from tiny_gguf import write_tiny_llama_gguf

from desk_assistant.errors import DeskAssistantError
from desk_assistant.models import download as downloads
from desk_assistant.models.catalogue import CATALOGUE, catalogue_entry
from desk_assistant.models.download import DownloadCancelled, download, file_name_from_url
from desk_assistant.models.library import ModelLibrary
from desk_assistant.settings import load_settings


@pytest.fixture(scope="module")
def model_bytes(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    # name/license: a Llama 2 chat file as TheBloke published them (no licence key).
    path = tmp_path_factory.mktemp("src") / FILE
    return write_tiny_llama_gguf(path, name="LLaMA v2", license=None).read_bytes()


@pytest.fixture
def server(model_bytes: bytes) -> Iterator[ModelServer]:
    with serving(model_bytes) as httpd:
        yield httpd


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_download_with_progress_and_a_verified_hash(
    server: ModelServer, model_bytes: bytes, tmp_path: Path
) -> None:
    calls: list[tuple[int, int | None]] = []

    result = download(
        server.url,
        tmp_path,
        expected_sha256=sha(model_bytes).upper(),  # hex case does not matter
        progress=lambda done, total: calls.append((done, total)),
    )

    assert result.path == tmp_path / FILE
    assert result.path.read_bytes() == model_bytes
    assert (result.sha256, result.verified, result.resumed_from) == (sha(model_bytes), True, 0)
    assert calls[0] == (0, len(model_bytes))
    assert calls[-1] == (len(model_bytes), len(model_bytes))
    assert [done for done, _ in calls] == sorted(done for done, _ in calls)
    assert not (tmp_path / f"{FILE}.part").exists()


def test_cancel_keeps_the_part_and_the_next_download_resumes(
    server: ModelServer, model_bytes: bytes, tmp_path: Path
) -> None:
    cancel = threading.Event()
    cut = downloads.CHUNK  # cancel after the first chunk

    def progress(done: int, total: int | None) -> None:
        if done >= cut:
            cancel.set()

    with pytest.raises(DownloadCancelled, match="resumes"):
        download(server.url, tmp_path, progress=progress, cancel=cancel)
    part = tmp_path / f"{FILE}.part"
    assert part.stat().st_size == cut
    assert part.read_bytes() == model_bytes[:cut]
    assert not (tmp_path / FILE).exists()

    result = download(server.url, tmp_path, expected_sha256=sha(model_bytes))

    assert server.ranges == [None, f"bytes={cut}-"]
    assert result.resumed_from == cut
    assert result.verified
    assert result.path.read_bytes() == model_bytes


def test_a_complete_part_is_finished_without_sending_bytes_again(
    server: ModelServer, model_bytes: bytes, tmp_path: Path
) -> None:
    (tmp_path / f"{FILE}.part").write_bytes(model_bytes)

    result = download(server.url, tmp_path, expected_sha256=sha(model_bytes))

    assert server.ranges == [f"bytes={len(model_bytes)}-"]  # answered 416: nothing left
    assert result.resumed_from == len(model_bytes)
    assert result.path.read_bytes() == model_bytes


def test_server_without_range_support_restarts_from_zero(
    server: ModelServer, model_bytes: bytes, tmp_path: Path
) -> None:
    (tmp_path / f"{FILE}.part").write_bytes(model_bytes[:1000])
    server.honour_range = False

    result = download(server.url, tmp_path, expected_sha256=sha(model_bytes))

    assert result.resumed_from == 0
    assert result.path.read_bytes() == model_bytes


def test_corrupted_download_is_rejected_and_deleted(
    server: ModelServer, model_bytes: bytes, tmp_path: Path
) -> None:
    corrupted = bytearray(model_bytes)
    corrupted[len(corrupted) // 2] ^= 0xFF
    server.content = bytes(corrupted)

    with pytest.raises(DeskAssistantError, match="corrupt") as failure:
        download(server.url, tmp_path, expected_sha256=sha(model_bytes))

    assert sha(bytes(corrupted)) in str(failure.value)
    assert list(tmp_path.iterdir()) == []  # neither the file nor a part is left


def test_resume_onto_a_different_file_is_caught_by_the_hash(
    server: ModelServer, model_bytes: bytes, tmp_path: Path
) -> None:
    # The kept part came from another version of the file: the hash must say so.
    (tmp_path / f"{FILE}.part").write_bytes(b"X" * 5000)

    with pytest.raises(DeskAssistantError, match="corrupt"):
        download(server.url, tmp_path, expected_sha256=sha(model_bytes))
    assert not (tmp_path / f"{FILE}.part").exists()


def test_without_an_expected_hash_the_computed_one_is_returned(
    server: ModelServer, model_bytes: bytes, tmp_path: Path
) -> None:
    result = download(server.url, tmp_path)
    assert (result.sha256, result.verified) == (sha(model_bytes), False)


def test_something_that_is_not_a_model_is_deleted(server: ModelServer, tmp_path: Path) -> None:
    server.content = b"<html>Please log in</html>"

    with pytest.raises(DeskAssistantError, match="did not send a usable model file"):
        download(server.url, tmp_path)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(("status", "message"), [(404, "HTTP 404"), (401, "login")])
def test_http_errors_are_explained(
    server: ModelServer, tmp_path: Path, status: int, message: str
) -> None:
    server.status_override = status
    with pytest.raises(DeskAssistantError, match=message):
        download(server.url, tmp_path)


def test_unreachable_server_and_bad_urls(tmp_path: Path) -> None:
    with pytest.raises(DeskAssistantError, match=r"cannot reach 127\.0\.0\.1"):
        download("http://127.0.0.1:9/x.gguf", tmp_path, timeout=2)  # port 9: discard
    with pytest.raises(DeskAssistantError, match="not a web address"):
        download("file:///etc/passwd", tmp_path)
    with pytest.raises(DeskAssistantError, match="file name"):
        file_name_from_url("https://example.org/")
    assert file_name_from_url("https://h/a/b%20c.gguf?download=true") == "b c.gguf"


def test_an_existing_file_is_not_overwritten(server: ModelServer, tmp_path: Path) -> None:
    (tmp_path / FILE).write_bytes(b"mine")
    with pytest.raises(DeskAssistantError, match="already exists"):
        download(server.url, tmp_path)
    assert (tmp_path / FILE).read_bytes() == b"mine"
    assert server.ranges == []


def test_full_disk_is_refused_before_writing(
    server: ModelServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import shutil
    from collections import namedtuple

    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda _: usage(10, 10, 0))
    with pytest.raises(DeskAssistantError, match="not enough free space"):
        download(server.url, tmp_path)


# --- through the library: recorded, trusted on first use --------------------------------


def test_library_download_records_the_hash_and_the_licence(
    server: ModelServer, model_bytes: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    library = ModelLibrary(load_settings())
    outcome = library.download(server.url)

    entry = outcome.entry
    assert entry.kind == "models folder"
    assert entry.path == library.folder / FILE
    assert (entry.recorded_sha256, entry.sha256_source) == (sha(model_bytes), "first download")
    # The hash was computed while downloading: describing the file does not read it again.
    monkeypatch.setattr(
        "desk_assistant.models.files.file_sha256", lambda *a: pytest.fail("hashed twice")
    )
    assert library.info(entry.name).sha256 == sha(model_bytes)


def test_a_file_changed_after_its_download_is_noticed(
    server: ModelServer, model_bytes: bytes
) -> None:
    library = ModelLibrary(load_settings())
    entry = library.download(server.url).entry
    with entry.path.open("r+b") as handle:  # bit rot, or someone replaced the file
        handle.seek(len(model_bytes) - 1)
        handle.write(b"\x01")

    assert library.info(entry.name).sha256 != entry.recorded_sha256
    assert library.get(entry.name).recorded_sha256 == sha(model_bytes)


def test_library_download_of_a_catalogue_entry(
    server: ModelServer, model_bytes: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    item = catalogue_entry("llama-2-7b-chat-q4_k_m")
    monkeypatch.setattr(type(item), "url", property(lambda self: server.url))
    library = ModelLibrary(load_settings())

    outcome = library.download(catalogue=item.name, expected_sha256=sha(model_bytes))

    assert outcome.entry.name == item.name
    assert outcome.entry.licence_hint == "llama2"
    assert outcome.entry.sha256_source == "verified"
    assert library.licence_notice(item.name) is not None  # Llama 2: notice before first use


def test_catalogue_is_well_formed() -> None:
    names = [item.name for item in CATALOGUE]
    assert len(names) == len(set(names))
    for item in CATALOGUE:
        assert item.url.startswith("https://huggingface.co/")
        assert item.url.endswith(item.file_name)
        # No hash could be checked while writing the catalogue: none is made up.
        assert item.expected_sha256 is None
        assert item.to_json()["url"] == item.url
    with pytest.raises(DeskAssistantError, match="llama-2-7b-chat-q4_k_m"):
        catalogue_entry("gpt-4")
