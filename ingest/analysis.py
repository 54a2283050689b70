"""Text analysis for lexical search: lower-case words, English stop words out, stemmed.

The same analyzer runs in the parser workers (so indexing terms cost the embedder
nothing) and on queries. It matches bm25s's English setup (its stop-word list and the
Snowball stemmer from PyStemmer), the configuration measured as the BM25 baseline.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

_TOKEN = re.compile(r"(?u)\b\w\w+\b")  # bm25s's default token pattern


@lru_cache(maxsize=1)
def _analyzer() -> tuple[frozenset[str], Any]:
    # Loaded on first use: importing bm25s pulls in scipy, which `status` should not pay.
    import Stemmer
    from bm25s.stopwords import STOPWORDS_EN

    return frozenset(STOPWORDS_EN), Stemmer.Stemmer("english")


def analyze(text: str) -> list[str]:
    """Index terms of ``text`` in order (repeats kept: term frequency matters)."""
    stopwords, stemmer = _analyzer()
    words = [w for w in _TOKEN.findall(text.lower()) if w not in stopwords]
    terms: list[str] = stemmer.stemWords(words)
    return terms
