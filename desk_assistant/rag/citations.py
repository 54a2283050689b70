"""Map an answer's claims to the passages they came from.

Small models often write no ``[n]`` markers, or invent numbers that match no passage.
So markers are checked after generation (invented ones are removed), and sentences
without a marker are attributed in code: to the passage that shares most of their
content words, when it shares enough to be a plausible source.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

MARKER = re.compile(r"\[(\d{1,3}(?:\s*[,;]\s*\d{1,3})*)\]")
_SPACED_MARKER = re.compile(r"(\s*)" + MARKER.pattern)
# A sentence ends at . ! ? followed by white space (not "report.pdf" or "3.5"), or at a
# line break. Lazy matching up to a terminator tiles the whole text, so nothing is lost.
_SENTENCE = re.compile(r".*?(?:[.!?]+(?=\s|$)|\n|$)", re.DOTALL)
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


def _with_marker(sentence: str, n: int) -> str:
    body = sentence.rstrip()
    trailing = sentence[len(body) :]
    stripped = body.rstrip(".!?")
    return f"{stripped} [{n}]{body[len(stripped) :]}{trailing}"


def attribute(answer: str, passages: Sequence[str]) -> Attribution:
    """Check the markers of ``answer`` against ``passages`` (numbered from 1) and fill gaps."""
    valid = range(1, len(passages) + 1)
    text, removed = _clean_markers(answer, valid)
    passage_words = [content_words(p) for p in passages]
    pieces: list[str] = []
    attributed = 0
    for match in _SENTENCE.finditer(text):
        sentence = match.group(0)
        if MARKER.search(sentence) or not sentence.strip():
            pieces.append(sentence)
            continue
        best = _best_source(content_words(sentence), passage_words)
        if best is None:
            pieces.append(sentence)
        else:
            pieces.append(_with_marker(sentence, best))
            attributed += 1
    rebuilt = "".join(pieces)
    cited: list[int] = []
    for match in MARKER.finditer(rebuilt):
        for number in re.split(r"\s*[,;]\s*", match.group(1)):
            if int(number) not in cited:
                cited.append(int(number))
    return Attribution(rebuilt, tuple(cited), removed, attributed)


def _best_source(sentence: set[str], passages: Sequence[set[str]]) -> int | None:
    if len(sentence) < MIN_SHARED_WORDS:
        return None
    best_n, best_shared = None, 0
    for n, words in enumerate(passages, start=1):
        shared = len(sentence & words)
        if shared > best_shared:
            best_n, best_shared = n, shared
    if best_n is None or best_shared < MIN_SHARED_WORDS:
        return None
    if best_shared / len(sentence) < MIN_OVERLAP:
        return None
    return best_n
