"""Finding a cited passage again in its document's text (no Qt here).

A citation carries the passage text and offsets into its section, but the viewer shows
text extracted again (by QtPdf for a PDF, by the loader for the rest), whose whitespace
and line breaks differ. So passages are found by their words, not by their bytes.
"""

from __future__ import annotations

import re

_WORD = re.compile(r"\S+")
_PHRASE_CHARS = 80  # QPdfSearchModel matches within what it extracted; keep phrases short
_ANCHOR_WORDS = 8
_OPENING_CHARS = 24  # a first line shorter than this (a heading) is too common to search


def collapse(text: str) -> str:
    return " ".join(text.split())


def snippet(text: str, limit: int = 180) -> str:
    """One line of a passage for a sources list, cut at a word."""
    flat = collapse(text)
    if len(flat) <= limit:
        return flat
    return flat[:limit].rsplit(" ", 1)[0] + "…"


def _words_pattern(words: list[str]) -> re.Pattern[str]:
    return re.compile(r"\s+".join(re.escape(w) for w in words), re.IGNORECASE)


def find_passage(text: str, passage: str) -> tuple[int, int] | None:
    """Where ``passage`` is in ``text`` as (start, end), whatever the whitespace.

    A passage whose middle was re-flowed differently is still found by its first and last
    words; ``None`` when neither end can be found.
    """
    words = _WORD.findall(passage)
    if not words:
        return None
    exact = text.find(passage)
    if exact >= 0:
        return exact, exact + len(passage)
    whole = _words_pattern(words).search(text)
    if whole:
        return whole.start(), whole.end()
    head = _words_pattern(words[:_ANCHOR_WORDS]).search(text)
    if head is None:
        return None
    tail = _words_pattern(words[-_ANCHOR_WORDS:]).search(text, head.end())
    return head.start(), tail.end() if tail else head.end()


def _terms(text: str) -> set[str]:
    return {w for w in re.findall(r"\w+", text.lower()) if len(w) >= 4 or w.isdigit()}


def pdf_search_phrases(passage: str, hint: str = "") -> list[str]:
    """Phrases of the passage to look for with QtPdf's search, best first.

    Lines of the extracted passage are lines on the page, so a phrase taken from one line
    does not straddle a line break that the search would not match. The line sharing the
    most words with ``hint`` (the answer) comes first: it is what the answer used; then
    the passage's first substantial line, where it starts; then longer lines, being rarer.
    """
    lines = [ln for ln in passage.splitlines() if ln.strip()]
    wanted = _terms(hint)
    ranked = sorted(lines, key=lambda ln: len(_terms(ln) & wanted), reverse=True)
    best = ranked[:1] if ranked and wanted & _terms(ranked[0]) else []
    opening = [ln for ln in lines if len(ln.strip()) >= _OPENING_CHARS][:1]
    phrases: list[str] = []
    for line in best + opening + sorted(lines, key=lambda ln: len(ln.strip()), reverse=True):
        flat = collapse(line)
        if len(flat) > _PHRASE_CHARS:
            flat = flat[:_PHRASE_CHARS].rsplit(" ", 1)[0]
        if len(flat) >= 12 and flat not in phrases:
            phrases.append(flat)
    first_words = " ".join(_WORD.findall(passage)[:5])
    if first_words and first_words not in phrases:
        phrases.append(first_words)
    return phrases
