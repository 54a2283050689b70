"""What a sentence claims, in a form two sentences can be compared by.

A small model's wrong answers look right: they reuse the passages' words and change one
specific - a number, a date, a name, a "not". So a sentence is reduced to its content
words (stemmed, as the citations compare them) and, apart, its specifics: numbers
(written as digits or words: "twelve" is 12), names (capitalised words that do not open
the sentence, and month names) and whether it is negated. The support check and the
evidence quote compare these between the answer, the question and the source sentences.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from desk_assistant.rag.citations import MARKER, content_words

_UNITS = (
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
    "fifteen sixteen seventeen eighteen nineteen twenty"
).split()
_TENS = {"thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80}
_TENS |= {"ninety": 90}
_ORDINALS = (
    "zeroth first second third fourth fifth sixth seventh eighth ninth tenth eleventh twelfth "
    "thirteenth fourteenth fifteenth sixteenth seventeenth eighteenth nineteenth twentieth"
).split()
NUMBER_WORDS: dict[str, int] = {word: value for value, word in enumerate(_UNITS)}
NUMBER_WORDS |= {word: value for value, word in enumerate(_ORDINALS) if value >= 3}
NUMBER_WORDS |= _TENS | {"hundred": 100, "thousand": 1000, "million": 10**6, "billion": 10**9}
NUMBER_WORDS |= {"dozen": 12, "twice": 2}
del NUMBER_WORDS["zero"], NUMBER_WORDS["one"]  # "one of the", "no one": rarely a figure

MONTHS = frozenset(
    "january february march april may june july august september october november december".split()
)
# Words that deny: "lack" and "absent" too, because sources deny that way ("a lack
# of fear of humans" backs "penguins are not afraid of humans").
NEGATIONS = frozenset(
    "not no never none nobody nothing neither nor cannot without n't lack lacks lacking "
    "absence absent".split()
)
# Capitalised words that name nothing: sentence openers, pronouns, question words.
_NOT_NAMES = frozenset(
    "i a an the this that these those it its he she they we you his her their our my your "
    "in on at of for to by with from and or but if as is was were are be been yes no not "
    "what who whom whose which when where why how there here also however".split()
)
_TOKEN = re.compile(r"\d[\d,]*(?:\.\d+)?(?:st|nd|rd|th)?|[^\W\d_](?:[^\W_]|['’-][^\W\d_])*")


@dataclass(frozen=True, slots=True)
class Claims:
    """A sentence's content words (stemmed) and specifics."""

    words: frozenset[str]
    numbers: frozenset[str]
    names: frozenset[str]  # lower case
    negated: bool
    terms: frozenset[str] = frozenset()  # every word and figure, lower case, unstemmed

    @property
    def specifics(self) -> frozenset[str]:
        """Numbers and names, each as it is reported to the user ("12", "kentucky")."""
        return self.numbers | self.names

    @property
    def size(self) -> int:
        return len(self.words | self.specifics)


def _number(token: str) -> str | None:
    """The digits of a figure ("9,400" -> "9400", "16th" -> "16"), or of a number word."""
    if token[0].isdigit():
        digits = re.sub(r"(?:st|nd|rd|th)$", "", token).replace(",", "").rstrip(".")
        return digits.lstrip("0") or "0"
    value = NUMBER_WORDS.get(token.lower())
    return None if value is None else str(value)


def _is_name(token: str, opening: bool, next_token: str | None) -> bool:
    if not token[0].isupper() or token.lower() in _NOT_NAMES:
        return token.lower() in MONTHS
    if token.lower() in MONTHS:
        return True
    if not opening:
        return True
    # The first word of a sentence is capitalised anyway: a name only when another
    # capitalised word follows ("Abraham Lincoln was born", not "Rent is due").
    return next_token is not None and next_token[0].isupper()


@lru_cache(maxsize=4096)
def claims(text: str) -> Claims:
    """The claims of one sentence (citation markers ignored)."""
    plain = MARKER.sub(" ", text)
    tokens = _TOKEN.findall(plain)
    numbers: set[str] = set()
    names: set[str] = set()
    negated = False
    terms: set[str] = set()
    for index, token in enumerate(tokens):
        bare = re.sub(r"['’]s$", "", token)
        lowered = bare.lower()
        terms.add(lowered)
        if lowered in NEGATIONS or lowered.endswith("n't"):
            negated = True
        number = _number(bare)
        if number is not None:
            numbers.add(number)
            terms.add(number)
            continue
        following = tokens[index + 1] if index + 1 < len(tokens) else None
        if _is_name(bare, index == 0, following):
            names.add(lowered)
    return Claims(
        frozenset(content_words(plain)),
        frozenset(numbers),
        frozenset(names),
        negated,
        frozenset(terms),
    )
