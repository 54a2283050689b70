"""Sentence selection: the packer sends the sentences near the question, with their
neighbours, one label per section, and skips passages far less relevant than the best."""

from __future__ import annotations

from desk_assistant.rag.packing import format_passage, pack
from desk_assistant.rag.selection import (
    SelectionPolicy,
    SentenceScorer,
    adaptive,
    sentence_spans,
)
from desk_assistant.records import Passage
from ingest.analysis import analyze


def passage(
    text: str,
    similarity: float | None = 0.6,
    path: str = "/d/lease.pdf",
    page: int | None = 1,
    start: int = 0,
) -> Passage:
    return Passage(
        f"id-{start}-{text[:8]}", path, page, None, start, start + len(text), text, 0.03, similarity
    )


def words(text: str) -> int:
    return len(text.split())


def weights(question: str) -> dict[str, float]:
    return dict.fromkeys(analyze(question), 1.0)


LEASE = (
    "The building was built in 1962. It has four floors. The roof was renewed in 2004. "
    "The tenant pays a deposit of 1,800 euros. It is returned within 30 days. "
    "Pets are allowed with consent. The garden is shared. Bicycles go in the cellar."
)


def test_sentences_split_at_ends_and_line_breaks() -> None:
    text = "Dr. Smith came. He left at 5.\nItem one\n\nItem two"
    pieces = [text[a:b] for a, b in sentence_spans(text)]
    assert pieces[-2:] == ["Item one", "Item two"]
    assert "He left at 5." in pieces


def test_the_matching_sentence_and_its_neighbours_are_sent_and_the_rest_left_out() -> None:
    # Room for the best sentence and its neighbours, not for the whole passage.
    packed = pack([passage(LEASE)], 30, words, weights=weights("How large is the deposit?"))
    assert len(packed) == 1
    text = packed[0].text
    assert "deposit of 1,800 euros" in text
    assert "The roof was renewed in 2004." in text  # the sentence before
    assert "returned within 30 days" in text  # the sentence after
    assert "built in 1962" not in text and "Bicycles" not in text
    assert text.startswith("…") and text.endswith("…")


def test_without_weights_passages_are_sent_whole() -> None:
    packed = pack([passage(LEASE)], 500, words)
    assert packed[0].text == LEASE


def test_selection_stays_within_the_budget() -> None:
    many = [passage(LEASE, start=i * 1000, page=i + 1) for i in range(6)]
    question = weights("deposit roof garden pets tenant")
    for budget in (40, 80, 160):
        packed = pack(many, budget, words, weights=question)
        assert packed
        sent = [format_passage(p.n, p.passage, p.text.replace("…", "")) for p in packed]
        assert sum(words(text) + 2 for text in sent) <= budget


def test_passages_of_one_section_share_one_label() -> None:
    first = passage("The deposit is 1,800 euros. Nothing else.", start=0)
    second = passage("The deposit is paid in cash. Or by transfer.", start=500)
    packed = pack([second, first], 500, words, weights=weights("deposit"))
    assert len(packed) == 1
    assert packed[0].text.index("1,800") < packed[0].text.index("cash")  # document order


def test_adaptive_k_drops_passages_far_below_the_best() -> None:
    strong, weak, unknown = passage("a", 0.8), passage("b", 0.5), passage("c", None)
    kept = adaptive([strong, weak, unknown], SelectionPolicy(min_passage_share=0.8))
    assert kept == [strong, unknown]
    assert adaptive([weak], SelectionPolicy(min_passage_share=0.8)) == [weak]


def test_duplicate_passages_are_sent_once() -> None:
    same = [passage(LEASE, path="/a.pdf"), passage(LEASE, path="/b.pdf")]
    assert len(pack(same, 500, words, weights=weights("deposit"))) == 1


def test_adaptive_k_reads_the_first_ranked_passages_whatever_their_similarity() -> None:
    # Hybrid ranking can put first a passage that quotes the question word for word but
    # whose dense similarity is low: it is read, a weak one further down is not.
    quoted, strong, weak = passage("a", 0.2), passage("b", 0.8), passage("c", 0.3)
    policy = SelectionPolicy(min_passage_share=0.5, always_read=1)
    assert adaptive([quoted, strong, weak], policy) == [quoted, strong]


def test_neighbours_before_and_after_are_set_by_the_policy() -> None:
    question = weights("How large is the deposit?")
    after_only = SelectionPolicy(before=0, after=1)
    text = pack([passage(LEASE)], 22, words, weights=question, policy=after_only)[0].text
    assert "deposit of 1,800 euros" in text and "returned within 30 days" in text
    assert "roof" not in text


def test_a_term_every_candidate_sentence_holds_counts_for_nothing() -> None:
    among = ["Monroe was born in Virginia.", "Monroe studied law.", "Monroe toured in 1817."]
    scorer = SentenceScorer(weights("Monroe 1817"), among)
    assert scorer("Monroe studied law.") == 0.0
    assert scorer("Monroe toured in 1817.") == 1.0
    assert SentenceScorer(weights("Monroe 1817"))("Monroe studied law.") == 0.5  # no candidates


def test_the_sentence_with_the_telling_term_beats_the_first_passage_on_the_subject_alone() -> None:
    # Every sentence names the document's subject; only "1817" tells them apart, and
    # the sentence holding it is in the second passage.
    first = passage("Monroe was born in Virginia. Monroe studied law. Monroe married.", page=1)
    second = passage("Monroe made two long tours in 1817. Monroe then rested.", page=2)
    packed = pack([first, second], 20, words, weights=weights("Monroe 1817"))
    sent = " ".join(p.text for p in packed)
    assert "two long tours in 1817" in sent
    assert "born in Virginia" not in sent
