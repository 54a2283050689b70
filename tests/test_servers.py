"""The app against real servers on loopback: a Chroma server (``chroma run``) for the
vectors and llama-cpp-python's OpenAI-compatible server for the answers.

Proven here: ingesting and asking through both, from the CLI, unchanged; two clients
sharing one collection (each finds and cites the other's documents, and neither's
``doctor --repair`` touches the other's vectors); a Chroma server killed mid-ingest
(retried while it comes back; otherwise the run stops with a message and the next sync
resumes); a model server killed mid-answer (a message, never a traceback); and Stop
ending a remote stream at once.
"""

from __future__ import annotations

import io
import json
import threading
from collections.abc import Generator, Iterator
from pathlib import Path
from unittest import mock

import pytest
from fakes import export_with_int8, summary
from pytestqt.qtbot import QtBot
from servers import MODEL_ALIAS, Server, chroma_server, free_port, model_server

from desk_assistant.api import (
    Answer,
    Assistant,
    DeskAssistantError,
    Searched,
    StoreError,
    StoreUnavailable,
    Summary,
    Token,
    load_settings,
)
from desk_assistant.backends.embeddings import HashingEmbedder
from desk_assistant.backends.llm.base import Generation
from desk_assistant.cli.main import main
from desk_assistant.parts import Parts, folder_embedder

pytestmark = [pytest.mark.slow]

LEASE = "The lease notice period is three months, given in writing to the landlord."
PENGUINS = "Emperor penguins breed during the Antarctic winter on the sea ice."
# Asked to write at length (and never refused), so an answer is still streaming when the
# test kills the server or stops reading.
LONG_ANSWERS = {"max_answer_tokens": 1500, "strict_grounding": False}


@pytest.fixture
def chroma(tmp_path: Path) -> Iterator[Server]:
    server = chroma_server(tmp_path / "chroma-data").start()
    yield server
    server.kill()


@pytest.fixture(scope="module")
def llm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = model_server(tmp_path_factory.mktemp("llm")).start()
    yield server
    server.kill()


def _docs(folder: Path, **texts: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in texts.items():
        (folder / f"{name}.txt").write_text(text, encoding="utf-8")
    return folder


def _client(home: Path, **settings: object) -> Assistant:
    return Assistant.open(load_settings(home, **settings), embedder=HashingEmbedder())


def cli(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    return main(list(argv), out=out), out.getvalue()


@pytest.mark.model
def test_cli_ingests_and_asks_through_both_servers(
    tmp_path: Path, chroma: Server, llm: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DESK_ASSISTANT_CHROMA_URL", chroma.url)
    monkeypatch.setenv("DESK_ASSISTANT_RUNTIME", "openai")
    monkeypatch.setenv("DESK_ASSISTANT_LLM_URL", f"{llm.url}/v1")
    docs = _docs(tmp_path / "docs", lease=LEASE, penguins=PENGUINS)
    home = tmp_path / "home"
    code, out = cli("--home", str(home), "ingest", str(docs), "--json")
    assert code == 0, out
    assert json.loads(out.splitlines()[-1])["added"] == 2
    assert not (home / "chroma" / "chroma.sqlite3").exists()  # the vectors are on the server

    code, out = cli("--home", str(home), "ask", "What is the lease notice period?", "--json")
    assert code == 0, out
    answer = json.loads(out)
    assert answer["model"] == MODEL_ALIAS
    assert answer["grounded"] is True and answer["answer"]
    assert answer["citations"][0]["path"] == str(docs / "lease.txt")
    assert answer["timings"]["completion_tokens"] > 0

    code, out = cli("--home", str(home), "status", "--json")
    status = json.loads(out)
    assert status["vector_store"] == chroma.url
    assert status["model"] == f"{llm.url}/v1"  # the model is the server's only one


@pytest.mark.model
def test_follow_ups_and_summaries_go_through_a_model_server(tmp_path: Path, llm: Server) -> None:
    """The follow-up rewrite and every summary step are requests to the server (the
    runtime protocol), and its answer's quote comes after it (not the built-in model)."""
    from desk_assistant.backends.llm.openai_runtime import OpenAIRuntime

    docs = _docs(tmp_path / "docs", lease=LEASE, penguins=PENGUINS)
    settings = {"runtime": "openai", "llm_url": f"{llm.url}/v1", "followup_rewrite": "model"}
    prompts: list[str] = []
    original = OpenAIRuntime._pieces

    def recording(self: OpenAIRuntime, request: Generation) -> Iterator[str]:
        prompts.append(request.prompt)
        return original(self, request)

    with (
        _client(tmp_path / "home", max_answer_tokens=40, **settings) as assistant,
        mock.patch.object(OpenAIRuntime, "_pieces", autospec=True, side_effect=recording),
    ):
        summary(assistant.ingest([docs]))
        chat = assistant.new_chat().id
        list(assistant.ask("Where do emperor penguins breed?", chat_id=chat))
        items = list(assistant.ask("When do they breed?", chat_id=chat))
        made = list(assistant.summarize(docs / "penguins.txt"))
    searched, answer, result = items[0], items[-1], made[-1]
    assert isinstance(searched, Searched) and isinstance(answer, Answer)
    assert any("Last question: When do they breed?" in p for p in prompts)  # the rewrite
    assert searched.query != "When do they breed?" and answer.query == searched.query
    assert searched.evidence[0].path == str(docs / "penguins.txt")  # found by the query
    assert answer.model == MODEL_ALIAS and not answer.evidence_first
    assert isinstance(result, Summary) and result.text and result.model == MODEL_ALIAS
    assert any("Summarize this text" in p for p in prompts)


def test_two_clients_share_one_collection(tmp_path: Path, chroma: Server) -> None:
    first_docs = _docs(tmp_path / "alice", lease=LEASE)
    second_docs = _docs(tmp_path / "bob", penguins=PENGUINS)
    with (
        _client(tmp_path / "alice-home", chroma_url=chroma.url) as alice,
        _client(tmp_path / "bob-home", chroma_url=chroma.url) as bob,
    ):
        assert summary(alice.ingest([first_docs]))["added"] == 1
        assert summary(bob.ingest([second_docs]))["added"] == 1

        # Each finds and can cite what the other indexed: text, path, terms from Chroma.
        found = bob.search("lease notice period landlord", k=1)[0]
        assert found.path == str(first_docs / "lease.txt")
        assert found.text == LEASE
        result = bob.retrieve("lease notice period landlord", k=1)
        assert result.coverage and result.coverage > 0.5  # the terms came along too
        assert alice.search("emperor penguins antarctic", k=1)[0].text == PENGUINS

        # Neither's repair deletes the other's vectors: both collections stay whole.
        for client in (alice, bob):
            report = client.doctor(repair=True)
            assert report.healthy, report.findings
            assert report.checked["other_clients_vectors"] == 1
        assert alice.search("emperor penguins antarctic", k=1)[0].text == PENGUINS
        assert bob.search("lease notice period landlord", k=1)[0].text == LEASE

        # Removing a file removes only that client's vectors.
        bob.remove(second_docs / "penguins.txt")
        assert [p.text for p in alice.search("emperor penguins antarctic", k=2)] == [LEASE]
        assert bob.doctor().healthy and alice.doctor().healthy


def test_a_different_embedding_model_is_refused_on_a_shared_collection(
    tmp_path: Path, chroma: Server
) -> None:
    with _client(tmp_path / "a", chroma_url=chroma.url) as first:
        summary(first.ingest([_docs(tmp_path / "d", lease=LEASE)]))
    other = Assistant.open(
        load_settings(tmp_path / "b", chroma_url=chroma.url),
        embedder=HashingEmbedder(64, "hashing-other@1"),
    )
    with other, pytest.raises(DeskAssistantError, match="embedding model"):
        other.search("lease")


def test_auto_joins_a_shared_collection_at_the_variant_it_was_indexed_with(
    tmp_path: Path, chroma: Server
) -> None:
    """A new data folder records no model, so "auto" alone would pick int8; the server's
    collection says fp32 (the id another client indexed it with): the new client takes
    that, and so can search it. A server that cannot be asked changes nothing."""
    export = export_with_int8(tmp_path / "export")  # model id "m@1", both variants
    first = Assistant.open(
        load_settings(tmp_path / "a", chroma_url=chroma.url), embedder=HashingEmbedder(8, "m@1")
    )
    with first:
        summary(first.ingest([_docs(tmp_path / "d", lease=LEASE)]))

    joining = load_settings(tmp_path / "b", chroma_url=chroma.url, embedding_model=export)
    assert folder_embedder(joining).model_id == "m@1"
    alone = load_settings(tmp_path / "c", embedding_model=export)
    assert folder_embedder(alone).model_id == "m@1+int8"  # no server: today's default
    parts = Parts(joining, embedder=HashingEmbedder(8, folder_embedder(joining).model_id))
    with Assistant(parts) as second:
        assert second.search("lease notice period", k=1)[0].text == LEASE  # not refused

    chroma.kill()
    with mock.patch("desk_assistant.remote.time.sleep") as waited:
        assert folder_embedder(joining).model_id == "m@1+int8"
    waited.assert_not_called()  # asked once: the retries are for when the server is needed
    down = Assistant.open(joining, embedder=HashingEmbedder(8, "m@1+int8"))
    with down, pytest.raises(StoreError, match="refused the connection"):
        down.search("lease")  # the error it always gave


def test_chroma_killed_mid_ingest_is_retried_then_resumed(tmp_path: Path, chroma: Server) -> None:
    docs = _docs(tmp_path / "docs", **{f"note{i:02}": f"{LEASE} Note {i}." for i in range(12)})
    with _client(tmp_path / "home", chroma_url=chroma.url, chroma_timeout=5) as client:
        # Killed and back within the retries: the run does not even notice.
        events = client.ingest([docs])
        next(e for e in events if e.kind == "file")
        chroma.kill()
        threading.Timer(0.3, chroma.start).start()
        assert summary(events)["added"] == 12
        assert client.doctor().healthy

        # Killed for good: the run stops with a message, what was not stored waits.
        _docs(tmp_path / "docs", **{f"more{i:02}": f"{PENGUINS} {i}." for i in range(8)})
        events = client.sync()
        next(e for e in events if e.kind == "file")
        chroma.kill()
        with pytest.raises(StoreUnavailable, match="refused the connection"):
            list(events)  # retried with backoff, then given up
        waiting = client.status()
        assert waiting.indexed < 20

        chroma.start()  # back: the next sync picks up exactly what is missing
        assert summary(client.sync())["added"] == 20 - waiting.indexed
        assert client.status().indexed == 20
        assert client.doctor().healthy  # no duplicates, no orphans


def test_unreachable_chroma_is_a_message_in_the_cli(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    server = chroma_server(tmp_path / "never-started")  # a free port nobody listens on
    with pytest.raises(StoreError, match=r"Chroma server at 127\.0\.0\.1:\d+ refused"):
        _client(tmp_path / "h", chroma_url=server.url).search("lease")
    monkeypatch.setenv("DESK_ASSISTANT_CHROMA_URL", server.url)
    assert cli("--home", str(tmp_path / "h"), "search", "lease")[0] == 1
    error = capsys.readouterr().err
    assert "refused the connection" in error and "Traceback" not in error


def _ask(client: Assistant) -> Generator[Searched | Token | Answer, None, None]:
    """A long answer asked for: what was searched for has come, the model comes next."""
    items = client.ask("Write a long letter to the landlord about the lease notice period.")
    assert isinstance(next(items), Searched)  # sent before the model is asked
    return items


def test_model_server_killed_mid_answer_says_so(tmp_path: Path) -> None:
    server = model_server(tmp_path).start()
    docs = _docs(tmp_path / "docs", lease=LEASE)
    settings = {"runtime": "openai", "llm_url": f"{server.url}/v1", **LONG_ANSWERS}
    try:
        with _client(tmp_path / "home", **settings) as client:
            summary(client.ingest([docs]))
            items = _ask(client)
            assert isinstance(next(items), Token)
            server.kill()
            with pytest.raises(DeskAssistantError, match=r"model server at 127\.0\.0\.1:\d+ "):
                list(items)
    finally:
        server.kill()


def test_stop_ends_a_remote_stream_at_once(tmp_path: Path, llm: Server) -> None:
    docs = _docs(tmp_path / "docs", lease=LEASE)
    settings = {"runtime": "openai", "llm_url": f"{llm.url}/v1", **LONG_ANSWERS}
    with _client(tmp_path / "home", **settings) as client:
        summary(client.ingest([docs]))
        items = _ask(client)
        assert isinstance(next(items), Token)
        items.close()  # closes the HTTP stream: the server stops generating for it
        # The server is free again: the next answer is served (llama_cpp.server answers one
        # request at a time, so a stream it still generated would be in its way).
        answer = [
            i for i in client.ask("What is the lease notice period?") if isinstance(i, Answer)
        ]
        assert answer[0].model == MODEL_ALIAS and answer[0].text


def test_wrong_model_name_and_refused_port_are_named(tmp_path: Path, llm: Server) -> None:
    from desk_assistant.api import check_server

    wrong = load_settings(tmp_path, runtime="openai", llm_url=f"{llm.url}/v1", llm_model="gpt-9")
    with pytest.raises(DeskAssistantError, match="has no model 'gpt-9'; it serves: smollm2"):
        check_server(wrong)
    refused = load_settings(
        tmp_path, runtime="openai", llm_url=f"http://127.0.0.1:{free_port()}/v1"
    )
    with pytest.raises(DeskAssistantError, match="refused the connection"):
        check_server(refused)
    info = check_server(load_settings(tmp_path, runtime="openai", llm_url=f"{llm.url}/v1"))
    assert info.model == MODEL_ALIAS and info.tokenizer == "llama-cpp-python"


def test_models_server_tests_and_uses_a_server(tmp_path: Path, llm: Server) -> None:
    home = str(tmp_path / "home")
    code, out = cli("--home", home, "models", "server", f"{llm.url}/v1", "--use", "--json")
    assert code == 0, out
    assert json.loads(out)["model"] == MODEL_ALIAS
    saved = load_settings(home)
    assert (saved.runtime, saved.llm_url) == ("openai", f"{llm.url}/v1")
    code, out = cli("--home", home, "models", "server")  # the saved server, tested again
    assert code == 0 and f"model {MODEL_ALIAS}" in out
    code, out = cli("--home", home, "models", "server", "--model", "nope")
    assert code == 1


@pytest.mark.gui
def test_model_server_dialog_tests_then_uses_a_server(
    qtbot: QtBot, tmp_path: Path, llm: Server
) -> None:
    from ui.model_server_dialog import ModelServerDialog
    from ui.models_dialog import ModelsDialog

    home = tmp_path / "home"
    models = ModelsDialog(load_settings(home))
    qtbot.addWidget(models)
    dialog = models.choose_server()
    dialog.url.setText(f"http://127.0.0.1:{free_port()}/v1")  # nobody listens there
    dialog.test_button.click()
    qtbot.waitUntil(lambda: "refused the connection" in dialog.report.text(), timeout=20_000)
    assert not dialog.use_button.isEnabled()

    dialog.url.setText(f"{llm.url}/v1")
    dialog.test_button.click()
    qtbot.waitUntil(dialog.use_button.isEnabled, timeout=20_000)
    assert f"model {MODEL_ALIAS}" in dialog.report.text()
    assert dialog.model.currentText() == MODEL_ALIAS
    with qtbot.waitSignal(models.model_chosen, timeout=5_000) as chosen:
        dialog.use_button.click()
    settings = chosen.args[0]
    assert (settings.runtime, settings.llm_url) == ("openai", f"{llm.url}/v1")
    assert load_settings(home).llm_model == MODEL_ALIAS
    assert "model server" in models.message.text()
    assert isinstance(dialog, ModelServerDialog)


@pytest.mark.gui
def test_settings_dialog_tests_the_model_server(qtbot: QtBot, tmp_path: Path, llm: Server) -> None:
    from ui.settings_dialog import SettingsDialog

    dialog = SettingsDialog(load_settings(tmp_path / "home"))
    qtbot.addWidget(dialog)
    assert "llm_api_key" not in dialog.editors  # credentials are not settings.json's
    dialog.editors["llm_url"].set_value(f"{llm.url}/v1")
    dialog.editors["llm_model"].set_value("gpt-9")
    dialog.test_server()
    qtbot.waitUntil(lambda: "no model 'gpt-9'" in dialog.server_result.text(), timeout=20_000)
    dialog.editors["llm_model"].set_value(None)
    dialog.test_server()
    qtbot.waitUntil(lambda: "Connected" in dialog.server_result.text(), timeout=20_000)


@pytest.mark.gui
def test_window_keeps_files_queued_while_chroma_is_away(
    qtbot: QtBot, tmp_path: Path, chroma: Server
) -> None:
    from ui_helpers import drop_files, open_window, wait_indexed

    from desk_assistant.backends.llm.fake import FakeRuntime

    docs = _docs(tmp_path / "docs", lease=LEASE, penguins=PENGUINS)
    chroma.kill()  # away before the files are dropped
    window = open_window(
        qtbot,
        tmp_path / "home",
        settings={"chroma_url": chroma.url, "chroma_timeout": 5},
        embedder=HashingEmbedder(),
        runtime=FakeRuntime(["An answer."]),
    )
    drop_files(window, [docs])
    qtbot.waitUntil(lambda: window.banners.banner("store") is not None, timeout=60_000)
    banner = window.banners.banner("store")
    assert banner is not None and "refused the connection" in banner.label.text()
    rows = window.library.model.rows()
    assert {r.status for r in rows} == {"queued"} and len(rows) == 2, rows

    chroma.start()
    banner.buttons["Try again"].click()
    wait_indexed(qtbot, window, 2)
    assert window.banners.banner("store") is None


def test_deleting_a_shared_collection_keeps_the_other_clients_vectors(
    tmp_path: Path, chroma: Server
) -> None:
    with (
        _client(tmp_path / "alice-home", chroma_url=chroma.url) as alice,
        _client(tmp_path / "bob-home", chroma_url=chroma.url) as bob,
    ):
        summary(alice.ingest([_docs(tmp_path / "alice", lease=LEASE)]))
        summary(bob.ingest([_docs(tmp_path / "bob", penguins=PENGUINS)]))
        assert summary(bob.reindex())["added"] == 1
        bob.delete_collection("default")
        assert [p.text for p in alice.search("emperor penguins", k=3)] == [LEASE]
        assert alice.doctor().healthy
