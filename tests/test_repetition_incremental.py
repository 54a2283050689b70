"""The loop guard reads each piece against what came before instead of re-reading the
whole text, and decides exactly as when it re-read everything.

The reference below is the guard as it was up to e746876, verbatim: after every piece
it looked at the whole text written so far (quadratic in the answer's length). For many
texts - prose with markers, abbreviations and numbers, loops of 1 to 22 words at any
place, repeated sentences, sentences that never end, markers still being written - cut
into pieces of every size, the guard must stop at the same piece, at the same offset,
and keep the same text.
"""

from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from desk_assistant.rag.citations import MARKER, sentences
from desk_assistant.rag.repetition import (
    MAX_PHRASE_WORDS,
    MAX_SENTENCE_WORDS,
    MIN_LOOP_WORDS,
    MIN_REPEATS,
    LoopGuard,
    trim_loop,
)

# --- the reference: the whole-text checks of e746876 --------------------------------
_SENTENCE_END = re.compile(r"[.!?]\s*$")
_WORD = re.compile(r"[^\W_]+", re.UNICODE)


def first_repeat(text: str) -> int | None:
    seen: set[str] = set()
    offset = 0
    parts = list(sentences(text))
    if parts and not _SENTENCE_END.search(parts[-1]):
        parts.pop()
    for sentence in parts:
        start, offset = offset, offset + len(sentence)
        key = " ".join(MARKER.sub(" ", sentence).lower().split())
        if len(key.split()) < 3:
            continue
        if key in seen:
            return start
        seen.add(key)
    return None


def _words(text: str) -> list[re.Match[str]]:
    found = list(_WORD.finditer(MARKER.sub(lambda m: " " * len(m.group()), text)))
    if found and found[-1].end() == len(text):
        found.pop()
    return found


def repeated_run(text: str) -> int | None:
    words = _words(text)
    keys = [w.group().lower() for w in words]
    for n in range(1, MAX_PHRASE_WORDS + 1):
        repeats = max(MIN_REPEATS, -(-MIN_LOOP_WORDS // n))
        span = n * repeats
        if span > len(keys):
            break
        tail = keys[-span:]
        if all(tail[i] == tail[i % n] for i in range(n, span)):
            start = len(keys) - span
            while start > 0 and keys[start - 1] == keys[start - 1 + n]:
                start -= 1
            return words[start].start()
    return None


def overlong_sentence(text: str) -> int | None:
    parts = list(sentences(text))
    if not parts or _SENTENCE_END.search(parts[-1]):
        return None
    words = list(_WORD.finditer(parts[-1]))
    if len(words) <= MAX_SENTENCE_WORDS:
        return None
    return len(text) - len(parts[-1]) + words[MAX_SENTENCE_WORDS].start()


def reference_loop_at(text: str) -> int | None:
    offsets = (first_repeat(text), repeated_run(text), overlong_sentence(text))
    found = [o for o in offsets if o is not None]
    return min(found) if found else None


# --- the comparison ------------------------------------------------------------------


def assert_same_decisions(pieces: list[str]) -> None:
    """Feed ``pieces`` as until_loop() does (stop at the first True) and compare every
    decision with the reference's on the text written so far."""
    guard = LoopGuard()
    written = ""
    for piece in pieces:
        written += piece
        expected = reference_loop_at(written)
        assert guard.feed(piece) is (expected is not None), written
        assert guard.loop_at == expected, written
        if expected is not None:
            assert guard.text == trim_loop(written, expected)
            return
    assert guard.text == written


def cut(text: str, size: int) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)]


PROSE = (
    "The tenant pays the rent [1] on the first working day of each month. Dr. Jensen "
    "approved the lease on 3.5.2024, e.g. for the flat at Harbour St. 12 [2, 3]. Is the "
    "deposit (9,400 kr.) returned? Yes. It is returned within 30 days [1;2].\n"
    "Pets are allowed with the landlord's consent, i.e. in writing. The report.pdf file "
    "lists every repair since 2019 [4]! Heating costs are shared: 60 % by the tenant and "
    "40 % by the landlord. Yes. The U.S. office [1, 2] handles café_bar contracts too. "
)
LOOPING = [
    # what SmolLM2-135M wrote (shortened) when it looped
    "A compact set is closed. Every compact space is closed and the space and the space "
    "and the space and the space and the space and the space and the space and the ",
    "The summary is short. The summary covers the lease [1]. The summary is short. More",
    "Results: " + "the results and " * 12,
    "It is very very very good. " + "Zero zero zero zero zero zero zero. ",
    "A long one " + " ".join(f"w{i}" for i in range(MAX_SENTENCE_WORDS + 20)),
    "Cited [1, 2 and [1, 2 and [1, 2 and [1, 2 and [1, 2] and [1, 2] and done.",
    "Mr. A. B. C. D. E. F. G. H. I. J. K. L. M. N. O. P. Q. R. S. T. U. V. W. " * 5,
    "Line one two\nline one two\nline one two\nline one two\n",
    "x. " * 30 + "See [1]. See [1]. See [1] [2]. See [1] [2]. See it all. see IT all [3]. ",
]


@pytest.mark.parametrize("text", [PROSE * 3, *LOOPING, PROSE + LOOPING[0], PROSE + LOOPING[2]])
@pytest.mark.parametrize("size", [1, 2, 3, 5, 7, 16, 50, 10_000])
def test_fixed_size_pieces_give_the_same_decisions(text: str, size: int) -> None:
    assert_same_decisions(cut(text, size))


def test_word_pieces_give_the_same_decisions() -> None:
    for text in [PROSE * 3, *LOOPING]:
        assert_same_decisions(re.findall(r"\s*\S+|\s+$", text))


VOCABULARY = [
    *"the and of a results space open set lease rent tenant pays is closed".split(),
    *"The And Results SPACE Open café naïve x_y 42 3.5 9,400 report.pdf e.g. Dr. U.S.".split(),
]
JOINERS = [" ", " ", " ", ", ", "  ", "\n", " [1] ", " [2, 3] ", "[1", " [", "] ", "; "]
ENDS = [". ", ".", "! ", "? ", "... ", " [1]. ", ".\n", "\n", ": ", "", " [1, 2", ".[3] "]


@st.composite
def texts(draw: st.DrawFn) -> str:
    """Prose-like fragments: sentences, phrases repeated in a row (a loop when long
    enough), earlier sentences written again, sentences that run on."""
    fragments: list[str] = []
    sentence_list: list[str] = []
    for _ in range(draw(st.integers(1, 6))):
        kind = draw(st.sampled_from(["sentence", "sentence", "phrase", "again", "run-on"]))
        if kind == "phrase":
            phrase = draw(st.lists(st.sampled_from(VOCABULARY), min_size=1, max_size=22))
            joiner = draw(st.sampled_from(JOINERS))
            repeats = draw(st.integers(2, 8))
            fragment = joiner.join(" ".join(phrase) for _ in range(repeats)) + joiner
        elif kind == "again" and sentence_list:
            fragment = draw(st.sampled_from(sentence_list))
            fragment = draw(st.sampled_from([fragment, fragment.upper(), fragment + " [1] "]))
        elif kind == "run-on":  # around the bound, with nothing that ends a sentence
            words = draw(st.lists(st.sampled_from(VOCABULARY), min_size=75, max_size=95))
            fragment = draw(st.sampled_from([" ", ", ", " [1] "])).join(words)
        else:
            words = draw(st.lists(st.sampled_from(VOCABULARY), min_size=1, max_size=14))
            fragment = draw(st.sampled_from(JOINERS)).join(words) + draw(st.sampled_from(ENDS))
            sentence_list.append(fragment)
        fragments.append(fragment)
    return "".join(fragments)


@given(text=texts(), sizes=st.lists(st.integers(1, 40), min_size=1, max_size=30))
@settings(
    max_examples=200,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
def test_any_pieces_give_the_same_decisions(text: str, sizes: list[int]) -> None:
    pieces: list[str] = []
    at = 0
    while at < len(text):  # the drawn sizes, over and over, so pieces split loops anywhere
        size = sizes[len(pieces) % len(sizes)]
        pieces.append(text[at : at + size])
        at += size
    assert_same_decisions(pieces)


def test_a_marker_that_closes_as_a_word_ends_is_still_a_new_word_list() -> None:
    """'2]' takes "1" out of the words (the marker is complete) as "the" comes in: as
    many complete words as before, but other ones - and now six "the" in a row."""
    pieces = ["It is the the the the the [1, 2", "] the ", "end"]
    assert_same_decisions(pieces)
    guard = LoopGuard()
    assert [guard.feed(piece) for piece in pieces[:2]] == [False, True]
