"""The ONNX embedder the installers ship: same vectors as sentence-transformers, same id.

The export runs once per test session (torch + onnx, ~20 s); the rest compares the two
engines on real text and checks that a collection indexed by one is searched by the other.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
from fakes import export_with_int8, make_assistant, summary, write_export_record

from desk_assistant.backends.defaults import default_embedding_dir
from desk_assistant.backends.embeddings import (
    TOKENS_PER_PASS,
    Embedder,
    SentenceTransformerEmbedder,
    model_id_for,
    rows_per_pass,
)
from desk_assistant.backends.onnx_embedder import MANIFEST, ExportInfo, OnnxEmbedder, choose_variant
from desk_assistant.backends.registry import make_embedder
from desk_assistant.errors import DeskAssistantError, EmbeddingModelMismatch
from desk_assistant.manifest import Manifest
from desk_assistant.parts import Parts, folder_embedder
from desk_assistant.service import Assistant
from desk_assistant.settings import load_settings
from ingest.loaders import load

SAMPLES = Path(__file__).resolve().parents[1] / "assets" / "samples"


def open_embedder(folder: Path) -> Embedder:
    """The embedder the app builds for ``embedding_model = folder``."""
    return make_embedder(load_settings(embedding_model=folder))


@pytest.fixture(scope="session")
def onnx_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from desk_assistant.backends.onnx_export import export

    out = tmp_path_factory.mktemp("onnx") / "minilm"
    export(default_embedding_dir(), out)
    return out


@pytest.fixture(scope="session")
def st_embedder() -> SentenceTransformerEmbedder:
    return SentenceTransformerEmbedder(default_embedding_dir())


def _real_texts(eval_docs: Path | None) -> list[str]:
    texts = [s.text for f in sorted(SAMPLES.iterdir()) for s in load(f).sections]
    if eval_docs is not None:
        pdfs = sorted(eval_docs.glob("pdf_samples/**/*.pdf"))[:40]
        for pdf in pdfs:
            try:
                sections = load(pdf).sections
            except Exception:  # the corpus holds hostile files on purpose
                continue
            texts.extend(s.text[:2000] for s in sections[:2] if s.text.strip())
    # Beyond the 256-token window (both engines must cut at the same place), non-Latin
    # scripts, a single character.
    return [*texts, "lease " * 700, "Mietvertrag über 漢字 und émoji 🎉", "x"]


@pytest.mark.slow
@pytest.mark.model
def test_onnx_vectors_match_sentence_transformers_on_real_text(
    onnx_folder: Path, st_embedder: SentenceTransformerEmbedder
) -> None:
    eval_docs = Path(__file__).resolve().parents[2] / "shared" / "eval" / "docs"
    texts = _real_texts(eval_docs if eval_docs.is_dir() else None)
    assert len(texts) > 20
    onnx = OnnxEmbedder(onnx_folder, batch_size=16)
    expected = st_embedder.embed_documents(texts)
    got = onnx.embed_documents(texts)
    assert got.shape == expected.shape == (len(texts), 384)
    assert np.allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)
    cosine = np.sum(got * expected, axis=1)
    assert float(cosine.min()) >= 0.999, texts[int(cosine.argmin())][:80]
    query = "How much is the monthly rent?"
    assert float(onnx.embed_query(query) @ st_embedder.embed_query(query)) >= 0.999


def test_long_texts_go_a_few_per_pass_and_short_ones_many() -> None:
    assert rows_per_pass(256, 64) == TOKENS_PER_PASS // 256
    assert rows_per_pass(8, 64) == 64  # never more than the caller's batch
    assert rows_per_pass(TOKENS_PER_PASS * 2, 64) == 1


@pytest.mark.slow
@pytest.mark.model
def test_a_call_split_into_passes_gives_each_text_its_own_vector(onnx_folder: Path) -> None:
    # Long and short texts interleaved: several passes of different widths, and rows that
    # must land back in the caller's order.
    texts = [("lease clause " * 200) if i % 3 == 0 else f"note {i} about rent" for i in range(40)]
    texts[7] = "Mietvertrag über 漢字"
    embedder = OnnxEmbedder(onnx_folder, batch_size=64)
    together = embedder.embed_documents(texts)
    alone = np.stack([embedder.embed_query(text) for text in texts])
    assert np.sum(together * alone, axis=1).min() >= 0.9999
    assert embedder.embed_documents([]).shape == (0, 384)


@pytest.mark.slow
@pytest.mark.model
def test_collection_indexed_with_sentence_transformers_is_searched_with_onnx(
    app_home: Path, onnx_folder: Path, st_embedder: SentenceTransformerEmbedder
) -> None:
    with make_assistant(app_home, embedder=st_embedder) as pip_install:
        assert summary(pip_install.ingest([SAMPLES]))["added"] == 4
        before = pip_install.search("How much notice must the tenant give?", k=3)
    # The installers' app opens the folder with its default ("auto") variant: the folder's
    # collection holds fp32 vectors, so it runs fp32 ONNX and nothing is re-indexed.
    parts = Parts(load_settings(embedding_model=onnx_folder))
    onnx = parts.embedder
    assert isinstance(onnx, OnnxEmbedder) and onnx.variant == "fp32"
    assert onnx.model_id == st_embedder.model_id == model_id_for(default_embedding_dir())
    with Assistant(parts) as frozen_app:
        after = frozen_app.search("How much notice must the tenant give?", k=3)
        assert frozen_app.status().embedding_model == onnx.model_id
    assert [p.chunk_id for p in after] == [p.chunk_id for p in before]
    assert Path(after[0].path).name == "tenancy-agreement.pdf"
    assert [p.similarity for p in after] == pytest.approx([p.similarity for p in before], abs=2e-3)


@pytest.mark.slow
@pytest.mark.model
def test_a_quantized_variant_is_another_vector_space(
    app_home: Path, onnx_folder: Path, st_embedder: SentenceTransformerEmbedder
) -> None:
    int8 = make_embedder(load_settings(embedding_model=onnx_folder, embedding_variant="int8"))
    assert isinstance(int8, OnnxEmbedder) and int8.variant == "int8"
    assert int8.model_id == f"{st_embedder.model_id}+int8"
    with pytest.raises(DeskAssistantError, match="no 'int4' variant"):
        OnnxEmbedder(onnx_folder, variant="int4")
    with make_assistant(app_home, embedder=OnnxEmbedder(onnx_folder)) as assistant:
        assert summary(assistant.ingest([SAMPLES / "project-notes.md"]))["added"] == 1
    with (
        make_assistant(app_home, embedder=int8) as assistant,
        pytest.raises(EmbeddingModelMismatch, match="re-index the collection") as raised,
    ):
        assistant.search("deadline")
    assert raised.value.command == "desk-assistant --collection 'default' reindex"


@pytest.mark.slow
@pytest.mark.model
def test_the_int8_variant_stays_close_to_fp32_on_real_text(onnx_folder: Path) -> None:
    texts = _real_texts(None)
    fp32 = OnnxEmbedder(onnx_folder).embed_documents(texts)
    int8 = OnnxEmbedder(onnx_folder, variant="int8").embed_documents(texts)
    cosine = np.sum(fp32 * int8, axis=1)
    assert float(cosine.min()) >= 0.97, texts[int(cosine.argmin())][:80]
    assert float(np.median(cosine)) >= 0.985
    assert (onnx_folder / "model.int8.onnx").stat().st_size < (
        onnx_folder / "model.onnx"
    ).stat().st_size / 3


def test_int8_without_an_onnx_export_says_what_to_do() -> None:
    settings = load_settings(embedding_model=default_embedding_dir(), embedding_variant="int8")
    with pytest.raises(DeskAssistantError, match="onnx_export"):
        make_embedder(settings)


def _indexed_with(home: Path, **collections: str) -> None:
    """A data folder whose collections were indexed with the given model ids."""
    manifest = Manifest(load_settings(home).paths.ensure().manifest)
    try:
        for name, model_id in collections.items():
            manifest.ensure_collection(name, model_id, 8)
    finally:
        manifest.close()


@pytest.mark.parametrize(
    ("variants", "recorded", "expected"),
    [
        (("fp32", "int8"), set(), "int8"),  # a new data folder
        (("fp32", "int8"), {"m@1"}, "fp32"),  # indexed before the upgrade
        (("fp32", "int8"), {"m@1+int8"}, "int8"),
        (("fp32", "int8"), {"m@1", "m@1+int8"}, "int8"),  # switched to int8 by hand
        (("fp32", "int8"), {"other-model"}, "int8"),  # another model is re-indexed anyway
        (("fp32",), {"m@1+int8"}, "fp32"),  # an export without int8
    ],
)
def test_auto_picks_int8_unless_the_folder_was_indexed_with_fp32(
    tmp_path: Path, variants: tuple[str, ...], recorded: set[str], expected: str
) -> None:
    folder = write_export_record(tmp_path / "export", variants={v: f"{v}.onnx" for v in variants})
    assert choose_variant(ExportInfo.read(folder), lambda: recorded) == expected


def test_auto_in_a_new_data_folder_indexes_with_int8(app_home: Path, tmp_path: Path) -> None:
    export = export_with_int8(tmp_path / "export")
    with Assistant.open(load_settings(embedding_model=export)) as assistant:
        assert assistant.create_collection("notes").embedding_model == "m@1+int8"
    # From then on it is an int8 folder, for whichever process opens it next.
    with Assistant.open(load_settings(embedding_model=export)) as cli:
        assert cli.create_collection("more").embedding_model == "m@1+int8"


def test_auto_keeps_a_folder_indexed_with_fp32_at_fp32(app_home: Path, tmp_path: Path) -> None:
    export = export_with_int8(tmp_path / "export")
    _indexed_with(app_home, notes="m@1")
    parts = Parts(load_settings(embedding_model=export))
    assert parts.embedder.model_id == "m@1"
    parts.check_embedding_model("notes", create=False)  # no reindex asked for
    with Assistant(parts) as assistant:
        assert assistant.create_collection("more").embedding_model == "m@1"
    # The record outlives a lost manifest (which is rebuilt from it): still fp32.
    for leftover in app_home.glob("manifest.sqlite3*"):
        leftover.unlink()
    assert folder_embedder(load_settings(embedding_model=export)).model_id == "m@1"


def test_explicit_variants_keep_their_meaning(app_home: Path, tmp_path: Path) -> None:
    export = export_with_int8(tmp_path / "export")
    assert (
        folder_embedder(load_settings(embedding_model=export, embedding_variant="fp32")).model_id
        == "m@1"
    )
    _indexed_with(app_home, notes="m@1")
    int8 = folder_embedder(load_settings(embedding_model=export, embedding_variant="int8"))
    assert int8.model_id == "m@1+int8"
    with pytest.raises(EmbeddingModelMismatch):
        Parts(
            load_settings(embedding_model=export, embedding_variant="int8")
        ).check_embedding_model("notes", create=False)


def test_the_window_builds_its_shared_embedder_for_its_data_folder(
    app_home: Path, tmp_path: Path
) -> None:
    from ui.lanes import AssistantSet

    export = export_with_int8(tmp_path / "export")
    _indexed_with(app_home, notes="m@1")
    assistants = AssistantSet(load_settings(embedding_model=export))
    created = assistants.assistant("indexing").create_collection("more")
    assistants.close("indexing")
    assert created.embedding_model == "m@1"
    # Choosing a variant in the settings dialog replaces the shared model.
    int8 = assistants.successor(load_settings(embedding_model=export, embedding_variant="int8"))
    created = int8.assistant("indexing").create_collection("other")
    int8.close("indexing")
    assert created.embedding_model == "m@1+int8"


def test_auto_with_a_sentence_transformers_folder_is_fp32(app_home: Path) -> None:
    _indexed_with(app_home, notes="something+int8")
    embedder = folder_embedder(load_settings(embedding_model=default_embedding_dir()))
    assert isinstance(embedder, SentenceTransformerEmbedder)
    assert embedder.model_id == model_id_for(default_embedding_dir())


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"format": "something-else"}, "not an export"),
        ({"format_version": 99}, "not an export"),
        ({"dimension": "many"}, "not a usable"),
        ({"pooling": "max"}, "unsupported"),
        ({"variants": {"fp32": "../../etc/model.onnx"}}, "outside its folder"),
    ],
)
def test_a_broken_export_record_is_refused_with_a_reason(
    tmp_path: Path, values: dict[str, object], message: str
) -> None:
    folder = write_export_record(tmp_path / "export", **values)
    with pytest.raises(DeskAssistantError, match=message):
        open_embedder(folder)


def test_unreadable_export_record_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "export"
    folder.mkdir()
    (folder / MANIFEST).write_text("{not json", encoding="utf-8")
    with pytest.raises(DeskAssistantError, match="not a usable ONNX embedding model"):
        open_embedder(folder)


def test_a_damaged_model_file_is_an_error_on_first_use(tmp_path: Path) -> None:
    folder = write_export_record(tmp_path / "export")
    shutil.copy(default_embedding_dir() / "tokenizer.json", folder / "tokenizer.json")
    (folder / "model.onnx").write_bytes(b"\x08\x07garbage")
    embedder = open_embedder(folder)
    assert embedder.dimension == 8  # from the record: no model load for that
    with pytest.raises(DeskAssistantError, match="Cannot load the embedding model"):
        embedder.embed_query("hello")


def test_a_sentence_transformers_folder_without_torch_says_what_to_do(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "sentence_transformers", None)  # as in the installers
    embedder = open_embedder(default_embedding_dir())
    assert isinstance(embedder, SentenceTransformerEmbedder)
    with pytest.raises(DeskAssistantError, match="onnx_export"):
        embedder.embed_query("hello")


def test_a_cross_encoder_without_torch_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from desk_assistant.backends.reranker import CrossEncoderReranker

    monkeypatch.setitem(sys.modules, "sentence_transformers", None)  # as in the installers
    (tmp_path / "config.json").write_text("{}", encoding="utf-8")
    with pytest.raises(DeskAssistantError, match="needs PyTorch"):
        CrossEncoderReranker(tmp_path).scores("question", ["passage"])
