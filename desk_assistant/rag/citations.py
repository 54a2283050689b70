"""Map an answer's claims to the passages they came from.

Small models often write no ``[n]`` markers, or invent numbers that match no passage.
So markers are checked after generation (invented ones are removed), and sentences
without a marker are attributed in code: to the passage that shares most of their
content words, when it shares enough to be a plausible source.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

MARKER = re.compile(r"\[(\d{1,3}(?:\s*[,;]\s*\d{1,3})*)\]")
_SPACED_MARKER = re.compile(r"(\s*)" + MARKER.pattern)
_LEADING_NUMBER = re.compile(r"\A\s*[\[(]?(\d{1,3})[\])]?[.:]?[ \t]*(?:\n|\Z)")
# A sentence ends at . ! ? followed by white space (not "report.pdf" or "3.5"), or at a
# line break. Lazy matching up to a terminator tiles the whole text, so nothing is lost.
_SENTENCE = re.compile(r".*?(?:[.!?]+(?=\s|$)|\n|$)", re.DOTALL)
# A full stop after a title, an initial or a common abbreviation ends no sentence: without
# this, "Ms. Clara Jensen" was cut after "Ms" and got a marker of its own.
_ABBREVIATION = re.compile(
    r"(?:^|[\s(])(?:Mr|Mrs|Ms|Dr|Prof|Sr|Jr|St|Mt|No|Nos|Fig|Figs|Vol|pp|vs|etc|approx|cf|"
    r"e\.g|i\.e|Inc|Ltd|Co|Corp|Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec|[A-Z])\.$"
)
_WORD = re.compile(r"[^\W_]{3,}", re.UNICODE)
_STOPWORDS = frozenset(
    (
        "the and for are but not you all any can had her was one our out has have been from "
        "this that with they their them then than there these those what when where which who "
        "whom why how its into also more most other some such only own same very will would "
        "should could about above after again against because before being below between both "
        "during each few further here just nor off once over under until while does did doing "
        "your yours his him she hers itself himself herself theirs ours were is passage "
        "passages document documents according"
    ).split()
)
MIN_SHARED_WORDS = 2
MIN_OVERLAP = 0.5
MAX_SOURCES_PER_SENTENCE = 3


@dataclass(frozen=True, slots=True)
class Attribution:
    text: str  # the answer with valid markers only, attributed markers added
    cited: tuple[int, ...]  # passage numbers in order of first citation
    removed_markers: int  # markers that pointed at no passage
    attributed: int  # sentences that got a marker from code


@lru_cache(maxsize=1)
def _stemmer() -> Any:
    import Stemmer

    return Stemmer.Stemmer("english")


def content_words(text: str) -> set[str]:
    words = [w for w in _WORD.findall(text.lower()) if w not in _STOPWORDS]
    return set(_stemmer().stemWords(words))


def _clean_markers(text: str, valid: range) -> tuple[str, int]:
    removed = 0

    def keep_valid(match: re.Match[str]) -> str:
        nonlocal removed
        numbers = [int(n) for n in re.split(r"\s*[,;]\s*", match.group(2))]
        good = [n for n in numbers if n in valid]
        removed += len(numbers) - len(good)
        return match.group(1) + "".join(f"[{n}]" for n in good) if good else ""

    return _SPACED_MARKER.sub(keep_valid, text), removed


def drop_leading_number(answer: str, passages: int) -> str:
    """``answer`` without a first line that is only a passage number.

    Given numbered passages, SmolLM2-135M sometimes answers "1" and nothing else (asked
    "How many days of paid holiday?" with the handbook as passage 1): the number of the
    passage, not an answer, and a stray "1" line in the chat. An answer that is only that
    is empty, which the caller reports as such.
    """
    match = _LEADING_NUMBER.match(answer)
    if match and 1 <= int(match.group(1)) <= passages:
        return answer[match.end() :].lstrip()
    return answer


def attribute(answer: str, passages: Sequence[str], lead: Sequence[int] = ()) -> Attribution:
    """Check the markers of ``answer`` against ``passages`` (numbered from 1), fill gaps,
    and renumber the cited passages 1, 2, ... in order of first citation.

    ``cited`` lists the original passage numbers in that order, so the citation shown
    as ``[i]`` is passage ``cited[i - 1]``. Passages in ``lead`` come first (the evidence
    quote's, when it is shown above the answer), cited or not.
    """
    valid = range(1, len(passages) + 1)
    text, removed = _clean_markers(answer, valid)
    passage_words = [_evidence(p) for p in passages]
    pieces: list[str] = []
    attributed = 0
    for sentence in sentences(text):
        if MARKER.search(sentence) or not sentence.strip():
            pieces.append(sentence)
            continue
        sources = _sources(_evidence(sentence), passage_words)
        if sources:
            attributed += 1
        pieces.append(_with_markers(sentence, sources) if sources else sentence)
    rebuilt = "".join(pieces)
    cited: list[int] = [n for n in dict.fromkeys(lead) if n in valid]
    for match in MARKER.finditer(rebuilt):
        for number in re.split(r"\s*[,;]\s*", match.group(1)):
            if int(number) not in cited:
                cited.append(int(number))
    renumber = {old: new for new, old in enumerate(cited, start=1)}

    def renumbered(match: re.Match[str]) -> str:
        numbers = [renumber[int(n)] for n in re.split(r"\s*[,;]\s*", match.group(1))]
        return "".join(f"[{n}]" for n in numbers)

    return Attribution(MARKER.sub(renumbered, rebuilt), tuple(cited), removed, attributed)


_NUMBER = re.compile(r"\d[\d,.]*\d|\d")
NUMBER_WEIGHT = 3  # a figure shared with a passage is strong evidence of where it came from


def sentences(text: str) -> Iterator[str]:
    """The sentences of ``text``, whitespace kept, so that joining them gives it back."""
    pending = ""
    for match in _SENTENCE.finditer(text):
        pending += match.group(0)
        if pending and not _ABBREVIATION.search(pending):
            yield pending
            pending = ""
    if pending:
        yield pending


def _evidence(text: str) -> dict[str, int]:
    """Content words (weight 1) and numbers (weight 3, separators ignored) of ``text``."""
    weights = dict.fromkeys(content_words(text), 1)
    for number in _NUMBER.findall(text):
        weights["#" + number.replace(",", "").rstrip(".")] = NUMBER_WEIGHT
    return weights


def _sources(sentence: dict[str, int], passages: Sequence[dict[str, int]]) -> list[int]:
    """The passages a sentence draws on: greedily, the one covering most of its evidence,
    then others that add at least two words' worth (a sentence can combine two
    passages: "the flat at Harbour Street [1] costs 9,400 kroner a month [2]")."""
    total = sum(sentence.values())
    if len(sentence) < MIN_SHARED_WORDS:
        return []
    uncovered = dict(sentence)
    chosen: list[int] = []
    while len(chosen) < MAX_SOURCES_PER_SENTENCE:
        gains = [
            (sum(w for word, w in uncovered.items() if word in words), n)
            for n, words in enumerate(passages, start=1)
            if n not in chosen
        ]
        gain, best = max(gains, default=(0, 0))
        if gain < MIN_SHARED_WORDS:
            break
        chosen.append(best)
        uncovered = {word: w for word, w in uncovered.items() if word not in passages[best - 1]}
    covered = total - sum(uncovered.values())
    return chosen if chosen and covered / total >= MIN_OVERLAP else []


def _with_markers(sentence: str, numbers: Sequence[int]) -> str:
    body = sentence.rstrip()
    trailing = sentence[len(body) :]
    stripped = body.rstrip(".!?")
    markers = "".join(f"[{n}]" for n in sorted(numbers))
    return f"{stripped} {markers}{body[len(stripped) :]}{trailing}"
