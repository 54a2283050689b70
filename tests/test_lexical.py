"""The incremental BM25 index scores exactly like a fresh bm25s index, at every step."""

from __future__ import annotations

import random
from pathlib import Path

import bm25s
import numpy as np
import pytest

from desk_assistant.lexical import LexicalIndex
from ingest.analysis import analyze

WORDS = (
    "penguin lease rent notice bridge harbor river council budget tree park library "
    "holiday laptop kroner euro month year winter summer deposit water heating"
).split()


def corpus(n: int, seed: int = 0) -> dict[str, str]:
    rng = random.Random(seed)
    return {f"c{i}": " ".join(rng.choices(WORDS, k=rng.randint(3, 30))) for i in range(n)}


def reference(docs: dict[str, str], query: str, k: int) -> list[tuple[str, float]]:
    ids = list(docs)
    retriever = bm25s.BM25()  # the raw library, lucene variant, k1=1.5, b=0.75
    retriever.index([analyze(docs[i]) for i in ids], show_progress=False)
    terms = [t for t in analyze(query) if t in retriever.vocab_dict]
    rows, scores = retriever.retrieve([terms], k=k, show_progress=False)
    return [(ids[r], float(s)) for r, s in zip(rows[0], scores[0], strict=True) if s > 0]


def ours(index: LexicalIndex, query: str, k: int) -> list[tuple[str, float]]:
    return [(hit.chunk_id, hit.score) for hit in index.search(query, k)]


def assert_same(got: list[tuple[str, float]], want: list[tuple[str, float]]) -> None:
    """Same score at every rank, and the same score for every chunk both return (chunks
    with tied scores may swap places at the cut-off, so ids are compared by score)."""
    assert [s for _, s in got] == pytest.approx([s for _, s in want], rel=1e-4)
    ours_by_id, theirs_by_id = dict(got), dict(want)
    shared = ours_by_id.keys() & theirs_by_id.keys()
    assert len(shared) >= len(want) // 2
    for chunk_id in shared:
        assert ours_by_id[chunk_id] == pytest.approx(theirs_by_id[chunk_id], rel=1e-4)


def fill(tmp_path: Path, docs: dict[str, str]) -> LexicalIndex:
    index = LexicalIndex(tmp_path / "lex")
    index.rebuild(((cid, " ".join(analyze(t)), t) for cid, t in docs.items()), generation=1)
    return index


@pytest.mark.parametrize("query", ["penguin lease", "harbor bridge budget", "winter winter water"])
def test_scores_equal_bm25s(tmp_path: Path, query: str) -> None:
    docs = corpus(300)
    assert_same(ours(fill(tmp_path, docs), query, 10), reference(docs, query, 10))


def test_incremental_changes_equal_a_rebuild(tmp_path: Path) -> None:
    docs = corpus(200)
    index = fill(tmp_path, dict(list(docs.items())[:100]))
    rest = list(docs.items())[100:]
    for start in range(0, len(rest), 10):  # many small segments, merges on the way
        index.add([(cid, " ".join(analyze(t))) for cid, t in rest[start : start + 10]])
    gone = [f"c{i}" for i in range(0, 200, 3)]
    index.remove(gone)
    replaced = {"c1": "penguin penguin harbor", "c2": "lease notice"}
    index.add([(cid, " ".join(analyze(t))) for cid, t in replaced.items()])
    expected = {cid: t for cid, t in docs.items() if cid not in gone} | replaced
    for query in ("penguin harbor", "lease notice deposit", "tree park library"):
        assert_same(ours(index, query, 15), reference(expected, query, 15))
    assert len(index) == len(expected)


def test_save_and_load_round_trip(tmp_path: Path) -> None:
    docs = corpus(50)
    index = fill(tmp_path, docs)
    index.remove(["c3"])
    index.save()
    loaded = LexicalIndex(tmp_path / "lex")
    assert loaded.load() and loaded.generation == 1
    assert ours(loaded, "penguin rent", 10) == ours(index, "penguin rent", 10)
    assert "c3" not in {c for c, _ in ours(loaded, docs["c3"], 50)}


def test_unreadable_save_is_reported_not_raised(tmp_path: Path) -> None:
    index = LexicalIndex(tmp_path / "lex")
    assert not index.load()
    (tmp_path / "lex").mkdir()
    (tmp_path / "lex" / "index.json").write_text("{broken")
    assert not index.load()


def test_filters_and_unknown_terms(tmp_path: Path) -> None:
    index = fill(tmp_path, {"a": "penguin lease", "b": "penguin bridge", "c": "tree"})
    assert [h.chunk_id for h in index.search("penguin", 5, allowed={"b", "c"})] == ["b"]
    assert index.search("zebra unicorn", 5) == []
    assert index.search("the of and", 5) == []  # stop words only


def test_scores_are_finite_with_one_document(tmp_path: Path) -> None:
    index = fill(tmp_path, {"a": "penguin"})
    [hit] = index.search("penguin", 3)
    assert np.isfinite(hit.score) and hit.score > 0


def test_term_weights_are_idf_and_absent_terms_weigh_most(tmp_path: Path) -> None:
    index = LexicalIndex(tmp_path / "lex")
    index.add([("a", " ".join(analyze("rent is due monthly"))), ("b", " ".join(analyze("rent")))])
    weights = index.term_weights(analyze("monthly rent for Lincoln"))
    assert weights["lincoln"] > weights["month"] > weights["rent"] > 0
