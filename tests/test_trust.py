"""The support check and the evidence quote, on a scripted model and the hashing embedder."""

from __future__ import annotations

from pathlib import Path

import pytest
from fakes import final_answer, make_assistant, summary

from desk_assistant.backends.embeddings import HashingEmbedder
from desk_assistant.rag.claims import claims
from desk_assistant.rag.evidence import best_quote
from desk_assistant.rag.grounding import Sources, split_passage
from desk_assistant.rag.packing import PackedPassage
from desk_assistant.rag.support import check
from desk_assistant.records import Answer, Passage, Searched

NOTICE = (
    "4. Termination and notice period\n"
    "The tenant may terminate the tenancy with a notice period of three months, to the end "
    "of a calendar\nmonth. The landlord may terminate only on the grounds allowed by law and "
    "with a notice period of\nat least twelve months. Notice must be given in writing."
)
RENT = (
    "The monthly rent is 9,400 kroner, payable in advance on the first working day of each "
    "month. The tenant pays a deposit equal to three months' rent before moving in."
)


def packed(*texts: str) -> list[PackedPassage]:
    return [
        PackedPassage(n, Passage(f"c{n}", f"/d/{n}.pdf", n + 1, None, 0, len(t), t, 1.0, 0.6), t)
        for n, t in enumerate(texts, start=1)
    ]


def sources(*texts: str) -> Sources:
    return Sources(packed(*texts), HashingEmbedder())


def test_claims_find_numbers_in_digits_and_words_names_and_negations() -> None:
    said = claims("The tenant's notice period is 12 months, not twelve weeks [1].")
    assert said.numbers == {"12"} and said.negated
    assert {"tenant", "notic", "period"} <= said.words
    found = claims("Abraham Lincoln was born on 12 February 1809 in Kentucky.")
    assert {"abraham", "lincoln", "february", "kentucky"} <= found.names
    assert found.numbers == {"12", "1809"}
    assert claims("Rent is 9,400 kroner.").numbers == {"9400"}
    assert not claims("The rent is due on the first day.").names  # sentence openers


def test_pdf_lines_are_joined_into_sentences() -> None:
    found = split_passage(NOTICE)
    assert found[1].startswith("The tenant may terminate") and "calendar month." in found[1]
    assert found[2] == (
        "The landlord may terminate only on the grounds allowed by law and with a notice "
        "period of at least twelve months."
    )


def test_a_swapped_figure_is_flagged_with_what_is_missing() -> None:
    # The built-in model's answer to "notice period for the tenant": the landlord's figure.
    [wrong] = check(
        "The notice period for the tenant is 12 months [1].", sources(NOTICE), {1: 1}, 0.3
    )
    assert not wrong.supported
    assert "12" in wrong.missing
    assert wrong.reason.startswith("not found in the cited passages")
    assert wrong.evidence is not None and "tenant may terminate" in wrong.evidence.text


def test_a_faithful_sentence_is_supported_and_points_at_its_source_sentence() -> None:
    [right] = check(
        "The tenant can end the tenancy with three months' notice [1].",
        sources(NOTICE),
        {1: 1},
        0.3,
    )
    assert right.supported and right.cited == (1,)
    assert right.evidence is not None and "three months" in right.evidence.text


def test_numbers_and_names_absent_from_every_passage_are_flagged() -> None:
    checked = check(
        "The rent is 9,800 kroner [1]. The landlord is Ms. Jensen [1].",
        sources(RENT),
        {1: 1},
        0.0,
    )
    assert [c.supported for c in checked] == [False, False]
    assert checked[0].missing == ("9800",)
    assert "jensen" in checked[1].missing


def test_a_negation_the_source_does_not_have_is_flagged() -> None:
    [negated] = check("The tenant does not pay a deposit [1].", sources(RENT), {1: 1}, 0.0)
    assert not negated.supported and "not" in negated.missing


def test_a_negation_only_the_source_has_is_not_held_against_the_sentence() -> None:
    source = "Romania is a secular state, thus having no national religion."
    [right] = check("Romania is a secular state [1].", sources(source), {1: 1}, 0.0)
    assert right.supported and not right.missing


def test_a_negation_the_question_asked_with_is_not_held_against_the_answer() -> None:
    otters = (
        "As with other species of otter, they rely on a layer of air trapped in their fur, "
        "which they keep topped up by blowing into the fur from their mouths."
    )
    answer = "Without blubber, otters rely on a layer of air trapped in their fur [1]."
    question = "How do otters keep warm without blubber?"
    [asked] = check(answer, sources(otters), {1: 1}, 0.0, question)
    assert asked.supported and not asked.missing
    # Asked without the negation, the answer's "without" is its own claim, and unbacked.
    [plain] = check(answer, sources(otters), {1: 1}, 0.0, "How do otters keep warm?")
    assert not plain.supported and plain.missing == ("not",)


def test_a_source_denies_with_lack_and_names_in_another_form_of_the_word() -> None:
    penguins = "Penguins are popular for their lack of fear of humans."
    [denied] = check("Penguins are not afraid of humans [1].", sources(penguins), {1: 1}, 0.0)
    assert denied.supported and not denied.missing
    ghana = "Religions: Christian 63%, African beliefs 21%, Muslim 16%."
    [named] = check("Most people in Ghana follow Christianity [1].", sources(ghana), {1: 1}, 0.0)
    assert "christianity" not in named.missing
    [other] = check("Most people in Ghana follow Buddhism [1].", sources(ghana), {1: 1}, 0.0)
    assert "buddhism" in other.missing


def test_the_questions_own_names_need_only_be_somewhere_in_the_passages() -> None:
    zebras = (
        "Grevy's zebra is the largest of the zebras. It is an inhabitant of the semi-arid "
        "grasslands of Ethiopia and northern Kenya."
    )
    answer = (
        "The Grevy's Zebras inhabit the semi-arid grasslands of Ethiopia and northern Kenya [1]."
    )
    question = "What areas do the Grevy's zebras inhabit?"
    [right] = check(answer, sources(zebras), {1: 1}, 0.0, question)
    assert right.supported and right.evidence is not None
    assert right.evidence.text.startswith("It is an inhabitant")
    # Without the question the name is a specific its backing sentence does not hold.
    [unasked] = check(answer, sources(zebras), {1: 1}, 0.0)
    assert not unasked.supported and "grevy" in unasked.missing
    # A name the passages do not hold at all is still flagged, asked or not.
    [absent] = check("Grevy's zebras live in Chad [1].", sources(zebras), {1: 1}, 0.0, question)
    assert not absent.supported and "chad" in absent.missing


def test_a_made_up_sentence_scores_low_and_a_short_one_is_not_judged() -> None:
    made_up, short = check(
        "Penguins migrate across the frozen desert every spring. Yes.", sources(RENT), {}, 0.5
    )
    assert not made_up.supported and not made_up.missing and made_up.score < 0.5
    assert short.supported


def test_the_evidence_quote_is_the_sentence_that_answers() -> None:
    embedder = HashingEmbedder()
    found = sources(RENT, NOTICE)
    pick = best_quote(
        "What notice period applies when the tenant terminates?",
        embedder.embed_query("What notice period applies when the tenant terminates?"),
        found,
    )
    assert pick is not None
    assert pick.text.startswith("The tenant may terminate the tenancy with a notice period")
    how_much = best_quote(
        "How much is the rent?", embedder.embed_query("How much is the rent?"), found
    )
    assert how_much is not None and "9,400 kroner" in how_much.text


def test_the_quote_weighs_the_questions_rare_terms_and_keeps_a_close_neighbour() -> None:
    embedder = HashingEmbedder()
    text = (
        "The castle has a large garden with old trees and a pond in the garden. "
        "Queen Margrethe planted the oak trees of the castle garden. "
        "The oak trees of the garden are over two hundred years old."
    )
    found = sources(text)
    question = "Who planted the oak trees in the castle garden?"
    vector = embedder.embed_query(question)
    # "oak" is rare in the collection, "garden" and "castle" are everywhere.
    weights = {"oak": 5.0, "tree": 1.0, "castl": 0.2, "garden": 0.2, "plant": 1.0}
    pick = best_quote(question, vector, found, weights)
    assert pick is not None and "Queen Margrethe" in pick.text
    # Its neighbour also holds the rare term, scores nearly as well, and joins it.
    assert [s.position for s in pick.sentences] == [1, 2]


@pytest.fixture
def lease(tmp_path: Path) -> Path:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "lease.txt").write_text(NOTICE + "\n\n" + RENT + "\n", encoding="utf-8")
    return docs


def test_answers_carry_checks_and_a_cited_quote(lease: Path, app_home: Path) -> None:
    reply = "The notice period for the tenant is 12 months [1]."
    with make_assistant(app_home, replies=[reply]) as assistant:
        summary(assistant.ingest([lease]))
        items = list(assistant.ask("What is the notice period for the tenant?"))
    searched, answer = items[0], final_answer(items)
    assert isinstance(searched, Searched) and searched.evidence_first  # the built-in model
    assert searched.evidence[0].n == 1 and "three months" in searched.evidence[0].text
    assert isinstance(answer, Answer)
    assert not answer.supported and answer.grounded  # grounded keeps its meaning
    [sentence] = answer.sentences
    assert not sentence.supported and sentence.evidence is not None
    quote = answer.evidence[0]
    assert quote.n == 1 and answer.citations[0].path == quote.path
    data = answer.to_json()
    assert data["supported"] is False
    assert data["sentences"][0]["supported"] is False
    assert data["sentences"][0]["citations"] == [1]
    assert "tenant may terminate" in data["sentences"][0]["evidence"]
    assert data["evidence"][0]["text"] == quote.text and data["evidence"][0]["n"] == 1


def test_a_larger_models_quote_follows_its_answer(lease: Path, app_home: Path) -> None:
    reply = "The rent is 9,400 kroner a month [1]."
    with make_assistant(app_home, replies=[reply], model_path=str(app_home / "m.gguf")) as a:
        summary(a.ingest([lease]))
        answer = final_answer(a.ask("How much is the monthly rent?"))
    assert not answer.evidence_first and answer.supported
    # the quote's passage is cited, numbered after the answer's own citations
    assert answer.evidence[0].n in {c.n for c in answer.citations}


def test_a_model_servers_quote_follows_its_answer(tmp_path: Path) -> None:
    from desk_assistant.rag.answer import AnswerSettings
    from desk_assistant.settings import load_settings

    local = load_settings(tmp_path)
    served = load_settings(tmp_path, runtime="openai", llm_url="http://127.0.0.1:9/v1")
    assert AnswerSettings.of(local).evidence_first  # the built-in model
    assert not AnswerSettings.of(served).evidence_first  # no model file, yet not built-in
