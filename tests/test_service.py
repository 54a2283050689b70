"""The engine end to end on fakes: real Chroma, real manifest, real parsers, fake models."""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
from fakes import assistant_and_parts, final_answer, make_assistant, summary

from desk_assistant.backends.embeddings import HashingEmbedder
from desk_assistant.errors import (
    DeskAssistantError,
    DiskFull,
    EmbeddingModelMismatch,
    NotFoundError,
)
from desk_assistant.indexing import Indexer
from desk_assistant.parts import Parts
from desk_assistant.rag.answer import QuestionTooLong
from desk_assistant.records import Token


def _docs(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "lease.md").write_text(
        "# Lease\n\n## Notice\n\nThe notice period of the lease is three months.\n\n"
        "## Rent\n\nThe rent is 900 euros per month.\n",
        encoding="utf-8",
    )
    (folder / "birds.txt").write_text(
        "Penguins are flightless birds of the southern hemisphere.", encoding="utf-8"
    )
    return folder


def _consistent(parts: Parts, collection: str = "default") -> None:
    """Manifest and vector store hold exactly the same chunks: no duplicates, no orphans."""
    assert parts.store.ids(collection) == parts.manifest.all_chunk_ids(collection)


def test_ingest_search_and_rerun(tmp_path: Path, app_home: Path) -> None:
    docs = _docs(tmp_path / "docs")
    with assistant_and_parts(app_home) as (assistant, parts):
        events = list(assistant.ingest([docs]))
        assert {Path(p).name for p in events[0].queued} == {"lease.md", "birds.txt"}
        counts = summary(events)
        assert (counts["added"], counts["failed"]) == (2, 0)
        hits = assistant.search("notice period of the lease", k=2)
        assert Path(hits[0].path).name == "lease.md"
        assert "three months" in hits[0].text
        assert hits[0].heading == "Lease > Notice"
        _consistent(parts)
        again = summary(assistant.ingest([docs]))
        assert (again["added"], again["unchanged"]) == (0, 2)


def test_changed_file_is_replaced_not_duplicated(tmp_path: Path, app_home: Path) -> None:
    docs = _docs(tmp_path / "docs")
    long_text = " ".join(f"Paragraph {i} discusses item {i} at length." for i in range(400))
    (docs / "long.txt").write_text(long_text, encoding="utf-8")
    with assistant_and_parts(app_home, chunk_size=64, chunk_overlap=8) as (assistant, parts):
        summary(assistant.ingest([docs]))
        before = parts.store.count("default")
        assert before > 20  # many chunks per document
        (docs / "long.txt").write_text(long_text.replace("item", "thing"), encoding="utf-8")
        counts = summary(assistant.ingest([docs]))
        assert (counts["updated"], counts["unchanged"]) == (1, 2)
        assert parts.store.count("default") == before
        _consistent(parts)
        assert not [p for p in assistant.search("thing 7", k=3) if "item" in p.text]


def test_deleted_file_is_removed_and_remove_command(tmp_path: Path, app_home: Path) -> None:
    docs = _docs(tmp_path / "docs")
    with assistant_and_parts(app_home) as (assistant, parts):
        summary(assistant.ingest([docs]))
        (docs / "birds.txt").unlink()
        counts = summary(assistant.ingest([docs]))
        assert counts["removed"] == 1
        assert [Path(s.path).name for s in assistant.sources()] == ["lease.md"]
        assert assistant.remove(docs) == [str(docs / "lease.md")]
        assert assistant.sources() == []
        assert parts.store.count("default") == 0
        with pytest.raises(NotFoundError):
            assistant.remove(docs / "lease.md")


def test_failed_file_is_listed_with_reason(tmp_path: Path, app_home: Path) -> None:
    docs = _docs(tmp_path / "docs")
    (docs / "broken.pdf").write_bytes(b"%PDF-1.4\n garbage without xref")
    (docs / "empty.txt").write_text("")
    with assistant_and_parts(app_home) as (assistant, parts):
        events = list(assistant.ingest([docs]))
        failed = {Path(e.path or "").name: e.reason for e in events if e.outcome == "failed"}
        assert set(failed) == {"broken.pdf", "empty.txt"}
        assert failed["empty.txt"] == "empty file"
        statuses = {Path(s.path).name: (s.status, s.error) for s in assistant.sources()}
        assert statuses["broken.pdf"][0] == "failed" and statuses["broken.pdf"][1]
        _consistent(parts)


def test_collections_are_isolated(tmp_path: Path, app_home: Path) -> None:
    docs = _docs(tmp_path / "docs")
    with make_assistant(app_home) as assistant:
        summary(assistant.ingest([docs / "birds.txt"], collection="nature"))
        summary(assistant.ingest([docs / "lease.md"], collection="work"))
        assert [Path(p.path).name for p in assistant.search("lease", "work")] == ["lease.md"] * 2
        assert {Path(p.path).name for p in assistant.search("lease", "nature")} == {"birds.txt"}
        assert [c.name for c in assistant.collections()] == ["nature", "work"]


def test_a_different_embedding_model_is_refused(tmp_path: Path, app_home: Path) -> None:
    docs = _docs(tmp_path / "docs")
    with make_assistant(app_home) as assistant:
        summary(assistant.ingest([docs]))
    other = HashingEmbedder(model_id="other-model@2")
    with make_assistant(app_home, embedder=other) as assistant:
        with pytest.raises(EmbeddingModelMismatch, match="re-index the collection") as raised:
            assistant.search("lease")
        # The CLI adds the command; the window offers the action instead.
        assert raised.value.for_terminal().endswith(
            "re-index the collection with it: desk-assistant --collection 'default' reindex"
        )
        assert raised.value.action == "reindex"
        with pytest.raises(EmbeddingModelMismatch):
            list(assistant.ingest([docs]))
        counts = summary(assistant.reindex())
        assert counts["added"] == 2
        assert assistant.search("notice period")[0].path.endswith("lease.md")


def test_interrupted_write_is_undone_on_next_run(tmp_path: Path, app_home: Path) -> None:
    docs = _docs(tmp_path / "docs")
    with assistant_and_parts(app_home) as (assistant, parts):
        summary(assistant.ingest([docs]))
        # Simulate a kill between the vector-store write and the manifest commit.
        parts.manifest.begin_write("default", ["orphan-1"])
        vector = parts.embedder.embed_documents(["orphan"])
        parts.store.upsert("default", ["orphan-1"], vector, [{"content": "x"}])
    with assistant_and_parts(app_home) as (assistant, parts):
        assert Indexer(parts).recover() == 1
        assert "orphan-1" not in parts.store.ids("default")
        assert parts.manifest.pending() == []
        _consistent(parts)
        assert summary(assistant.ingest([docs]))["unchanged"] == 2


class CountingEmbedder(HashingEmbedder):
    def __init__(self) -> None:
        super().__init__()
        self.embedded = 0

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        self.embedded += len(texts)
        return super().embed_documents(texts)


def test_renamed_and_duplicate_files_are_not_embedded_again(tmp_path: Path, app_home: Path) -> None:
    docs = _docs(tmp_path / "docs")
    embedder = CountingEmbedder()
    with assistant_and_parts(app_home, embedder=embedder) as (assistant, parts):
        summary(assistant.ingest([docs]))
        first = embedder.embedded
        chunks = parts.store.count("default")
        (docs / "birds.txt").rename(docs / "sub-birds.txt")
        (docs / "lease-copy.md").write_bytes((docs / "lease.md").read_bytes())
        counts = summary(assistant.ingest([docs]))
        assert (counts["added"], counts["removed"], counts["unchanged"]) == (2, 1, 1)
        assert embedder.embedded == first  # nothing re-embedded
        assert parts.store.count("default") == chunks  # the copy is stored once
        paths = {Path(s.path).name for s in assistant.sources()}
        assert paths == {"lease.md", "lease-copy.md", "sub-birds.txt"}
        assert assistant.search("penguins flightless")[0].path.endswith("sub-birds.txt")
        _consistent(parts)


def test_a_changed_file_never_shows_both_versions(tmp_path: Path, app_home: Path) -> None:
    docs = _docs(tmp_path / "docs")
    with assistant_and_parts(app_home) as (assistant, parts):
        summary(assistant.ingest([docs]))
        (docs / "birds.txt").write_text("Albatrosses glide over the ocean.", encoding="utf-8")
        events = assistant.ingest([docs])
        for event in events:
            if event.outcome == "updated":
                # mid-run, right after the switch: only the new version is visible
                texts = [p.text for p in assistant.search("penguins albatrosses", k=10)]
                assert any("Albatrosses" in t for t in texts)
                assert not any("Penguins" in t for t in texts)
        _consistent(parts)


def test_ask_streams_and_cites_the_right_passage(tmp_path: Path, app_home: Path) -> None:
    docs = _docs(tmp_path / "docs")
    reply = "The notice period of the lease is three months."
    with assistant_and_parts(app_home, replies=[reply]) as (assistant, parts):
        summary(assistant.ingest([docs]))
        items = list(assistant.ask("What is the notice period of the lease?"))
        tokens = "".join(i.text for i in items if isinstance(i, Token))
        answer = final_answer(items)
        assert tokens.strip() == reply
        assert answer.grounded
        assert answer.text.endswith("[1].")
        assert answer.citations[0].path.endswith("lease.md")
        assert "three months" in answer.citations[0].text
        prompt = parts.runtime.prompts[0]  # type: ignore[attr-defined]
        assert "[1] (lease.md, Lease > Notice)" in prompt


def test_ask_abstains_without_calling_the_model(tmp_path: Path, app_home: Path) -> None:
    docs = _docs(tmp_path / "docs")
    with assistant_and_parts(app_home, min_relevance=0.5) as (assistant, parts):
        summary(assistant.ingest([docs]))
        answer = final_answer(assistant.ask("Who won the 2010 World Cup?"))
        assert not answer.grounded
        assert answer.citations == ()
        assert "do not contain" in answer.text
        assert parts.runtime.prompts == []  # type: ignore[attr-defined]


def test_a_question_about_something_the_documents_never_mention_loses_relevance(
    tmp_path: Path, app_home: Path
) -> None:
    docs = _docs(tmp_path / "docs")
    with make_assistant(app_home) as assistant:
        summary(assistant.ingest([docs]))
        covered = assistant.retrieve("What is the notice period of the lease?", k=3)
        absent = assistant.retrieve("What is the notice period of the Lincoln mortgage?", k=3)
    assert covered.coverage == pytest.approx(1.0)
    assert absent.coverage is not None and absent.coverage < 0.6  # "lincoln", "mortgag"
    assert absent.relevance < covered.relevance
    assert absent.relevance == pytest.approx((absent.best_similarity or 0) * absent.coverage)


def test_empty_collection_abstains(app_home: Path) -> None:
    with make_assistant(app_home) as assistant:
        answer = final_answer(assistant.ask("anything?"))
        assert not answer.grounded


def test_status_is_cheap_and_truthful(tmp_path: Path, app_home: Path) -> None:
    docs = _docs(tmp_path / "docs")
    with make_assistant(app_home) as assistant:
        summary(assistant.ingest([docs]))
        status = assistant.status()
    assert status.sources == 2 and status.indexed == 2
    assert status.embedding_model == "hashing-test@1"
    assert status.home == str(app_home)
    assert Path(status.vector_store).is_dir()
    assert list(status.to_json()) == [  # the order `status --json` prints them in
        "home",
        "collection",
        "collections",
        "followed",
        "excludes",
        "sources",
        "indexed",
        "failed",
        "unavailable",
        "chunks",
        "embedding_model",
        "model",
        "runtime",
        "vector_store",
        "pending_changes",
    ]
    assert status.to_json()["followed"] == [str(docs)]


def test_collections_can_be_created_renamed_and_deleted(tmp_path: Path, app_home: Path) -> None:
    docs = _docs(tmp_path / "docs")
    with assistant_and_parts(app_home) as (assistant, parts):
        assert assistant.create_collection("Empty one").sources == 0
        summary(assistant.ingest([docs], collection="work"))
        assistant.rename_collection("work", "office")
        assert [c.name for c in assistant.collections()] == ["Empty one", "office"]
        assert assistant.search("notice period", "office")[0].path.endswith("lease.md")
        assert assistant.followed("office") == [str(docs)]
        _consistent(parts, "office")
        with pytest.raises(DeskAssistantError):
            assistant.rename_collection("office", "Empty one")
        assistant.delete_collection("office")
        assert [c.name for c in assistant.collections()] == ["Empty one"]
        assert docs.joinpath("lease.md").exists()  # the user's files are never touched


def test_the_chosen_data_folder_is_used_unless_the_environment_says_otherwise(
    tmp_path: Path, app_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from desk_assistant.paths import choose_home, default_home
    from desk_assistant.settings import load_settings

    chosen = tmp_path / "chosen"
    choose_home(chosen)
    assert default_home() == app_home  # DESK_ASSISTANT_HOME wins
    monkeypatch.delenv("DESK_ASSISTANT_HOME")
    assert load_settings().home == chosen
    choose_home(None)
    assert default_home() != chosen and default_home().name == "desk-assistant"


NAMES = ["Recipes & notes", 'Q3/Q4: "drafts"', "l'été", "中文"]


def test_collections_take_any_printable_name(tmp_path: Path, app_home: Path) -> None:
    docs = _docs(tmp_path / "docs")
    with assistant_and_parts(app_home) as (assistant, parts):
        for name in NAMES:
            assistant.create_collection(name)
            summary(assistant.ingest([docs], name))
            assert assistant.search("notice period", name)[0].path.endswith("lease.md")
            _consistent(parts, name)
        assert sorted(c.name for c in assistant.collections()) == sorted(NAMES)
        chat = assistant.new_chat("Recipes & notes")
        final_answer(
            assistant.ask("What is the notice period?", "Recipes & notes", chat_id=chat.id)
        )
        assistant.rename_collection("Recipes & notes", "Kitchen / 厨房")
        # Only the name changed: the vectors are found, and the chat went along.
        assert assistant.search("notice period", "Kitchen / 厨房")[0].path.endswith("lease.md")
        _consistent(parts, "Kitchen / 厨房")
        assert [c.collection for c in assistant.chats()] == ["Kitchen / 厨房"]
        assistant.create_collection("Recipes & notes")  # the old name is free again
        assert assistant.search("notice period", "Recipes & notes") == []
        for bad, reason in (("", "needs a name"), ("a\nb", "line breaks"), ("中文", "already")):
            with pytest.raises(DeskAssistantError, match=reason):
                assistant.create_collection(bad)
        assistant.delete_collection("Kitchen / 厨房")
        assert "Kitchen / 厨房" not in {c.name for c in assistant.collections()}


def test_the_cli_takes_the_collection_by_its_display_name(
    tmp_path: Path, app_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import io
    import json

    from desk_assistant.cli.main import main

    name = 'Recipes & notes: "é" 中'
    with make_assistant(app_home) as assistant:
        assistant.create_collection(name)
        summary(assistant.ingest([_docs(tmp_path / "docs")], name))
    out = io.StringIO()
    assert main(["--collection", name, "sources", "--json"], out=out) == 0
    assert {Path(s["path"]).name for s in json.loads(out.getvalue())} == {"lease.md", "birds.txt"}
    assert main(["--collection", "two\nlines", "status"], out=io.StringIO()) == 1
    assert "line breaks" in capsys.readouterr().err


def test_a_question_too_long_for_the_model_says_so_before_anything_else(
    tmp_path: Path, app_home: Path
) -> None:
    docs = _docs(tmp_path / "docs")
    with assistant_and_parts(app_home) as (assistant, parts):
        summary(assistant.ingest([docs]))
        question = "How long is the notice period? " * 3500  # ~100 KB, 21,000 tokens
        with pytest.raises(QuestionTooLong, match=r"too long: it is 21,00\d tokens") as refused:
            final_answer(assistant.ask(question))
        assert "2,048 tokens at a time" in str(refused.value)
        assert "Shorten the question to at most about 1,5" in str(refused.value)
        assert parts.runtime.prompts == []  # type: ignore[attr-defined]
        # A question that fits is answered as before.
        assert final_answer(assistant.ask("How long is the notice period?")).grounded


def test_what_a_loader_could_not_read_is_kept_and_shown(
    tmp_path: Path, app_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fpdf import FPDF

    from desk_assistant.cli.render import print_sources

    monkeypatch.setenv("DESK_ASSISTANT_TESSERACT", "off")  # the blank pages stay unread
    pdf = FPDF()
    pdf.set_font("helvetica", size=12)
    pdf.add_page()
    pdf.cell(text="The harbour bridge reopens in 2027.")
    for _ in range(3):
        pdf.add_page()  # a scanned page would look like this: no text layer
    docs = tmp_path / "docs"
    docs.mkdir()
    pdf.output(str(docs / "report.pdf"))
    warning = "3 of 4 pages have no text layer (OCR not available)"
    with assistant_and_parts(app_home) as (assistant, _parts):
        events = list(assistant.ingest([docs]))
        added = next(e for e in events if e.outcome == "added")
        assert added.warnings == (warning,) and added.to_json()["warnings"] == [warning]
        [source] = assistant.sources()
        assert source.status == "indexed" and source.warnings == (warning,)
        assert source.to_json()["warnings"] == [warning]
        listing = io.StringIO()
        print_sources([source], listing)
        assert listing.getvalue().endswith(f"[1 chunks, 4 pages; {warning}]\n")
        # A copy of the file shares the content, and its warnings.
        (docs / "copy.pdf").write_bytes((docs / "report.pdf").read_bytes())
        list(assistant.sync())
        assert [s.warnings for s in assistant.sources()] == [(warning,), (warning,)]


def test_a_full_disk_names_the_folder_and_loses_nothing(
    tmp_path: Path, app_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    docs = _docs(tmp_path / "docs")
    with assistant_and_parts(app_home) as (assistant, parts):
        summary(assistant.ingest([docs / "lease.md"]))
        before = parts.store.ids("default")
        real_upsert = parts.store.upsert

        def full(*_args: object, **_kwargs: object) -> None:  # what Chroma's core raises
            raise RuntimeError("error returned from database: (code: 13) database or disk is full")

        monkeypatch.setattr(parts.store, "upsert", full)
        with pytest.raises(DiskFull) as stopped:
            summary(assistant.ingest([docs]))
        message = str(stopped.value)
        assert f"The disk that holds {app_home} is full" in message
        assert "Nothing was lost" in message and "RuntimeError" not in message
        assert parts.store.ids("default") == before  # nothing half-written
        monkeypatch.setattr(parts.store, "upsert", real_upsert)  # space freed
        assert summary(assistant.ingest([docs]))["added"] == 1
        _consistent(parts)
        assert len(assistant.sources()) == 2
