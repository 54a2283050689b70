"""Re-ranking: off by default, reorders the fused list when a cross-encoder is configured."""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path

import pytest
from fakes import assistant_and_parts, make_assistant, summary

from desk_assistant.backends.defaults import default_embedding_dir


class PrefersBirds:
    """A scripted re-ranker: passages mentioning penguins first."""

    def scores(self, query: str, texts: Sequence[str]) -> list[float]:
        return [1.0 if "Penguins" in text else 0.0 for text in texts]


def _docs(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "lease.txt").write_text("The lease notice period is three months.", "utf-8")
    (folder / "birds.txt").write_text("Penguins have a notice period too, in jest.", "utf-8")
    return folder


def test_reranker_reorders_and_is_off_by_default(tmp_path: Path, app_home: Path) -> None:
    with assistant_and_parts(app_home) as (assistant, parts):
        summary(assistant.ingest([_docs(tmp_path / "d")]))
        assert parts.reranker is None
        plain = assistant.search("lease notice period", k=2)
        assert Path(plain[0].path).name == "lease.txt"
    with assistant_and_parts(app_home, reranker=PrefersBirds()) as (assistant, _parts):
        reranked = assistant.search("lease notice period", k=2)
        assert [Path(p.path).name for p in reranked] == ["birds.txt", "lease.txt"]
        assert reranked[0].score == 1.0  # the re-ranker's score replaces the fused one


def tiny_cross_encoder(folder: Path) -> Path:
    """A randomly initialised BERT cross-encoder with the MiniLM tokenizer (plumbing only)."""
    from transformers import BertConfig, BertForSequenceClassification

    config = BertConfig(
        vocab_size=30522,
        hidden_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=64,
        num_labels=1,
    )
    BertForSequenceClassification(config).save_pretrained(folder)
    for name in ("vocab.txt", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
        shutil.copy(default_embedding_dir() / name, folder / name)
    return folder


@pytest.mark.model
def test_a_real_cross_encoder_folder_loads_and_scores(tmp_path: Path, app_home: Path) -> None:
    model = tiny_cross_encoder(tmp_path / "ce")
    with make_assistant(app_home, reranker_model=str(model), rerank_depth=5) as assistant:
        summary(assistant.ingest([_docs(tmp_path / "d")]))
        passages = assistant.search("lease notice period", k=2)
        assert len(passages) == 2
        assert all(isinstance(p.score, float) for p in passages)
