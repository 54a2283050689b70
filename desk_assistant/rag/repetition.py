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


def _repeat_key(sentence: str) -> str | None:
    """What a repeat of ``sentence`` looks like (markers, case and spacing aside); None
    for one too short to count ("Yes." twice is odd, but no loop)."""
    key = " ".join(MARKER.sub(" ", sentence).lower().split())
    return key if len(key.split()) >= 3 else None


class _SentenceWatch:
    """Complete sentences that repeat an earlier one, and a sentence that never ends.

    An answer never needs the same sentence twice, and no summary or answer sentence
    runs past ``MAX_SENTENCE_WORDS`` words. Every sentence before the one being written
    is final (more text cannot move its boundaries), so it is split and remembered once:
    each check splits only the text from the start of the sentence being written.
    """

    def __init__(self) -> None:
        self._start = 0  # where the sentence being written starts
        self._seen: set[str] = set()  # the keys of the sentences before it

    def loop_at(self, text: str) -> int | None:
        parts = list(sentences(text[self._start :]))
        if not parts:
            return None
        writing = parts[-1]
        ended = _SENTENCE_END.search(writing) is not None
        offset = self._start
        keys: list[str | None] = []
        for sentence in parts if ended else parts[:-1]:
            key = _repeat_key(sentence)
            if key is not None and (key in self._seen or key in keys):
                return offset
            keys.append(key)
            offset += len(sentence)
        if not ended:
            words = list(_WORD.finditer(writing))
            if len(words) > MAX_SENTENCE_WORDS:
                return len(text) - len(writing) + words[MAX_SENTENCE_WORDS].start()
        # all but the last sentence are final: remember them, split from the last next time
        self._seen.update(key for key in keys[: len(parts) - 1] if key is not None)
        self._start += sum(len(sentence) for sentence in parts[:-1])
        return None


# A citation marker, or the start of one still being written: the numbers of "[1, 2"
# are words until its "]" arrives, and then they are not.
_MARKER_SO_FAR = re.compile(r"\[[\d\s,;]*(?:\]|\Z)")
_UP_TO_LAST_SPACE = re.compile(r".*\s", re.DOTALL)


def _final_part(text: str) -> int:
    """How much of ``text`` holds only final words: up to its last white space outside a
    (possible) citation marker, where no word or marker can cross."""
    masked = _MARKER_SO_FAR.sub(lambda m: "[" * len(m.group()), text)
    found = _UP_TO_LAST_SPACE.match(masked)
    return found.end() if found else 0


def _run_start(keys: list[str]) -> int | None:
    """The index of the first word of a phrase that the end of ``keys`` repeats in a row
    at least ``MIN_REPEATS`` times and ``MIN_LOOP_WORDS`` words, if it does.

    Only the end is looked at: the guard checks after every new word, so a loop is seen
    as soon as its last repeat is complete.
    """
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
            return start
    return None


class _WordWatch:
    """A phrase repeated in a row ("… and the results and the results and the results").

    Words are compared with case and punctuation ignored, citation markers left out, and
    only once complete. The words before the last white space are final, so they are
    read once; each check reads only the text after them.
    """

    def __init__(self) -> None:
        self._final_end = 0  # where the text whose words may still change begins
        self._final = 0  # how many of the words below are final
        self._starts: list[int] = []  # the complete words: where each starts ...
        self._keys: list[str] = []  # ... and what it is

    def loop_at(self, text: str) -> int | None:
        rest = text[self._final_end :]
        blanked = MARKER.sub(lambda m: " " * len(m.group()), rest)
        found = list(_WORD.finditer(blanked))
        if found and found[-1].end() == len(rest):
            found.pop()  # still being written
        starts = [self._final_end + w.start() for w in found]
        keys = [w.group().lower() for w in found]
        unchanged = starts == self._starts[self._final :] and keys == self._keys[self._final :]
        del self._starts[self._final :], self._keys[self._final :]
        self._starts += starts
        self._keys += keys
        final_end = _final_part(rest)
        self._final += sum(1 for w in found if w.end() <= final_end)
        self._final_end += final_end
        if unchanged:
            return None  # the same complete words as at the last check, which found none
        start = _run_start(self._keys)
        return None if start is None else self._starts[start]


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
        self._sentences = _SentenceWatch()
        self._words = _WordWatch()

    def feed(self, piece: str) -> bool:
        """Add ``piece``; True when the text now loops.

        Each check reads only the text that can still change (the sentence and the word
        being written), so a long answer costs no more per piece than a short one.
        """
        self._written += piece
        if self.loop_at is None:
            self.loop_at = _first_found(
                self._sentences.loop_at(self._written), self._words.loop_at(self._written)
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
