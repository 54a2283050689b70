"""Loops of a small model: spotted as they are written, left out of what is kept."""

from __future__ import annotations

import re

import pytest

from desk_assistant.rag.repetition import MAX_SENTENCE_WORDS, LoopGuard, trim_loop


def loop_at(text: str) -> int | None:
    """Where the guard, given all of ``text`` at once, sees a loop start."""
    guard = LoopGuard()
    guard.feed(text)
    return guard.loop_at


def streamed(text: str) -> LoopGuard:
    """A guard fed ``text`` word by word, as a model writes, until it sees a loop."""
    guard = LoopGuard()
    for word in re.findall(r"\S+\s*", text):
        if guard.feed(word):
            break
    return guard


def test_first_repeat_ignores_markers_case_and_unfinished_sentences() -> None:
    text = "Rent is due monthly [1]. Pets are allowed. rent is due  monthly [2]. More"
    assert loop_at(text) == text.index(" rent is due  monthly")  # the space goes too
    assert loop_at("Rent is due monthly. Pets are allowed. Rent is due mon") is None
    assert loop_at("Yes. Yes. It is three months.") is None  # too short to be a loop


@pytest.mark.parametrize(
    ("text", "start"),
    [
        ("It is compact and the and the and the ", "and the and"),
        ("A set, the open set, the open set, the open set [2], the open set ", "set, the open"),
        ("Zero zero zero zero zero zero ", "Zero"),
        ("It holds. " + "We show that X is open and " * 3, "We show"),  # a clause, not a sentence
    ],
)
def test_a_phrase_repeated_in_a_row_is_found_from_its_first_time(text: str, start: str) -> None:
    assert loop_at(text) == text.index(start)


@pytest.mark.parametrize(
    "text",
    [
        "It is very very very good. ",  # emphasis: a short run
        "Bye bye, see you. ",
        "The map f and the map g and the map h are open ",  # a pattern, not a loop
        "and the and the and th",  # the last repeat is still being written
    ],
)
def test_ordinary_repetition_is_no_loop(text: str) -> None:
    assert loop_at(text) is None
    assert not streamed(text).loop_at


def test_a_sentence_that_never_ends_is_cut_at_the_bound() -> None:
    words = [f"w{i}" for i in range(MAX_SENTENCE_WORDS + 5)]
    text = "Done. " + " ".join(words) + " "
    assert loop_at(text) == text.index(f"w{MAX_SENTENCE_WORDS} ")
    assert loop_at("Done. " + " ".join(words[:MAX_SENTENCE_WORDS]) + " ") is None
    assert loop_at(text.rstrip() + ". ") is None  # it ended


def test_the_loop_is_trimmed_back_to_the_last_whole_sentence() -> None:
    text = "It is compact. It is open and the and the and the "
    assert trim_loop(text, loop_at(text) or 0) == "It is compact."
    # in the first sentence: the words before the loop, marked as cut
    text = "It is compact and, the and the and the "
    assert trim_loop(text, text.index("and")) == "It is compact …"
    assert trim_loop("and the and the and the ", 0) == ""


def test_the_guard_stops_at_the_loop_and_keeps_what_came_before() -> None:
    text = "Spaces are sets. Every compact space is closed and the" + " space and the" * 50
    guard = streamed(text)
    assert guard.loop_at is not None
    assert guard.text == "Spaces are sets."
    assert guard.feed("more") is True  # it stays stopped
    never_ends = "A long one " + " ".join(["word"] + [f"w{i}" for i in range(200)])
    guard = streamed(never_ends)
    kept = guard.text
    assert kept.endswith(" …") and len(kept.split()) == MAX_SENTENCE_WORDS + 1
    plain = "Spaces are sets. They have open subsets. "
    assert streamed(plain).text == plain and streamed(plain).loop_at is None
