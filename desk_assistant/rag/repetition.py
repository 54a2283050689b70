"""Stop a model that loops, and keep what it wrote before the loop.

Small models (the built-in SmolLM2-135M above all) can fall into a loop until their
token limit: the same sentence again and again, or, inside one sentence, the same few
words ("… and the results and the results and the results …"), or a sentence that never
ends. Every answer and every step of a summary streams through a :class:`LoopGuard`,
which spots the loop as it is written, so that the caller stops the model there (the
step's time stays bounded by the loop, not by the token limit) and keeps only the text
before it.
"""

from __future__ import annotations

import re
from collections.abc import Generator

from desk_assistant.rag.citations import MARKER, sentences

_SENTENCE_END = re.compile(r"[.!?]\s*$")
_WORD = re.compile(r"[^\W_]+", re.UNICODE)
MIN_REPEATS = 3  # a phrase written three times in a row is a loop ("bye bye" is not) ...
MIN_LOOP_WORDS = 6  # ... when the run is this long ("very very very" is emphasis)
MAX_PHRASE_WORDS = 20  # the longest looping phrase looked for
MAX_SENTENCE_WORDS = 80  # no summary or answer sentence runs longer: past it, it loops


def first_repeat(text: str) -> int | None:
    """Where the first complete sentence that repeats an earlier one starts, if any.

    An answer never needs the same sentence twice (markers, case and spacing aside).
    """
    seen: set[str] = set()
    offset = 0
    parts = list(sentences(text))
    if parts and not _SENTENCE_END.search(parts[-1]):
        parts.pop()  # still being written
    for sentence in parts:
        start, offset = offset, offset + len(sentence)
        key = " ".join(MARKER.sub(" ", sentence).lower().split())
        if len(key.split()) < 3:
            continue  # "Yes." twice is odd, but no loop
        if key in seen:
            return start
        seen.add(key)
    return None


def _words(text: str) -> list[re.Match[str]]:
    """The complete words of ``text``: markers left out, a word still being written too."""
    found = list(_WORD.finditer(MARKER.sub(lambda m: " " * len(m.group()), text)))
    if found and found[-1].end() == len(text):
        found.pop()
    return found


def repeated_run(text: str) -> int | None:
    """Where a phrase that the text's end repeats in a row starts (its first time), if
    the text ends with one of at least ``MIN_REPEATS`` times and ``MIN_LOOP_WORDS`` words.

    Only the end is looked at: the guard checks after every piece, so a loop is seen as
    soon as its last repeat is complete. Case and punctuation are ignored.
    """
    words = _words(text)
    keys = [w.group().lower() for w in words]
    for n in range(1, MAX_PHRASE_WORDS + 1):
        repeats = max(MIN_REPEATS, -(-MIN_LOOP_WORDS // n))
        span = n * repeats
        if span > len(keys):
            break
        tail = keys[-span:]
        if all(tail[i] == tail[i % n] for i in range(n, span)):
            # the run may have begun before the tail: go back while the period holds
            start = len(keys) - span
            while start > 0 and keys[start - 1] == keys[start - 1 + n]:
                start -= 1
            return words[start].start()
    return None


def overlong_sentence(text: str) -> int | None:
    """Where the sentence being written passes ``MAX_SENTENCE_WORDS`` words without
    ending (the start of its next word), if it does."""
    parts = list(sentences(text))
    if not parts or _SENTENCE_END.search(parts[-1]):
        return None
    words = list(_WORD.finditer(parts[-1]))
    if len(words) <= MAX_SENTENCE_WORDS:
        return None
    return len(text) - len(parts[-1]) + words[MAX_SENTENCE_WORDS].start()


def trim_loop(text: str, at: int) -> str:
    """``text`` without the loop that starts at ``at``: back to the last complete sentence
    before it, or, when the loop is in the first sentence, the words before the loop with
    an ellipsis (a summary or an answer should not end in the middle of a loop)."""
    before = text[:at]
    parts = list(sentences(before))
    if parts and not _SENTENCE_END.search(parts[-1]):
        parts.pop()  # the sentence the loop broke
    if parts:
        return "".join(parts).rstrip()
    kept = before.rstrip().rstrip(",;:-–—").rstrip()
    return f"{kept} …" if kept else ""


def _first_found(*offsets: int | None) -> int | None:
    found = [o for o in offsets if o is not None]
    return min(found) if found else None


class LoopGuard:
    """Watches a stream of text pieces for a loop; ``text`` is what to keep of it.

    ``feed`` every piece as it arrives; when it returns True the model loops: stop
    reading the stream (closing it stops the model) and use ``text``, which leaves the
    loop out. Until then ``text`` is everything fed.
    """

    def __init__(self) -> None:
        self._written = ""
        self.loop_at: int | None = None

    def feed(self, piece: str) -> bool:
        """Add ``piece``; True when the text now loops."""
        self._written += piece
        if self.loop_at is None:
            self.loop_at = _first_found(
                first_repeat(self._written),
                repeated_run(self._written),
                overlong_sentence(self._written),
            )
        return self.loop_at is not None

    @property
    def text(self) -> str:
        if self.loop_at is None:
            return self._written
        return trim_loop(self._written, self.loop_at)


def until_loop(stream: Generator[str, None, None], guard: LoopGuard) -> Generator[str, None, None]:
    """The pieces of a model's ``stream``, each fed to ``guard`` once the caller has it,
    up to the piece where the guard sees a loop; the stream is closed however the
    reading ends (which stops the model), so callers read it with ``closing()``."""
    try:
        for piece in stream:
            yield piece
            if guard.feed(piece):
                return
    finally:
        stream.close()
