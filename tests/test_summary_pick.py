"""The extractive summary: which sentences of the section summaries stand for the whole."""

from __future__ import annotations

import numpy as np

from desk_assistant.rag.support import Check
from desk_assistant.summary_pick import Candidate, candidates, cite, pick


def judged(text: str, supported: bool = True) -> Check:
    return Check(text, (), supported, None, 0.9 if supported else 0.2, ())


def unit(*rows: list[float]) -> np.ndarray:
    vectors = np.array(rows, dtype=np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def words(text: str) -> int:
    return len(text.split())


def test_made_up_cut_off_and_empty_sentences_are_not_candidates() -> None:
    found = candidates(
        [
            (1, [judged("Lincoln was born in Kentucky in 1809."), judged("Yes, it is so.")]),
            (2, [judged("He became the first astronaut.", False), judged("Lincoln moved to")]),
            (2, [judged("He was elected to the House of the U.S.")]),  # cut at "U.S."
            (2, [judged("was well defended, and to conduct a war effort.")]),  # after it
            (3, [judged("Lincoln won the election of 1860 for president.")]),
        ]
    )
    assert [(c.section, c.position) for c in found] == [(1, 0), (3, 0)]


def test_when_no_sentence_is_backed_the_whole_ones_are_kept_flagged() -> None:
    found = candidates([(1, [judged("The moon is made of green cheese today.", False)])])
    assert len(found) == 1 and not found[0].check.supported


def test_the_pick_prefers_what_other_sections_share_skips_repeats_and_keeps_order() -> None:
    texts = [
        "Lincoln led the Union through the Civil War.",  # 1: the document's theme
        "Lincoln led the Union through the whole Civil War.",  # 2: says 1 again
        "Lincoln's cabinet met about the Civil War.",  # 3: on theme
        "A recipe for apple pie follows here.",  # 4: off theme
    ]
    found = [Candidate(n, 0, judged(t)) for n, t in enumerate(texts, 1)]
    vectors = unit([1, 0.1, 0], [1, 0.1, 0], [0.6, 0.8, 0], [0, 0.1, 1])
    assert [c.section for c in pick(found, vectors, budget=100, count=words)] == [1, 3, 4]
    # a tighter budget keeps the sentences most central to the document
    assert [c.section for c in pick(found, vectors, budget=23, count=words)] == [1, 3]
    assert pick([], np.zeros((0, 3)), budget=100, count=words) == []


def test_the_marker_goes_before_the_final_punctuation() -> None:
    assert cite("It rained.", 2) == "It rained [2]."
    assert cite('He said "no."', 1) == 'He said "no [1]."'
    assert cite("No end", 3) == "No end [3]"
