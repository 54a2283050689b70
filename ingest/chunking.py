"""Sentence-aware chunking with overlap, counting tokens the way the embedder does.

llama-index's ``SentenceSplitter`` does the splitting (paragraphs, then sentences, then
words, packed up to ``chunk_size`` tokens with ``chunk_overlap``). Tokens are counted with
the embedding model's own ``tokenizer.json`` when given, so a chunk never silently
overflows the embedder's input window. Each chunk gets its exact character span in its
section, so the viewer can highlight it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from ingest.analysis import analyze
from ingest.progress import report
from ingest.types import Chunk, Section

_WORDISH = re.compile(r"\w+|[^\w\s]", re.UNICODE)
# No token stands for more characters than this. A tokenizer counts a 5 MB run of
# letters as one word (WordPiece: one [UNK]), which would make it one 5 MB chunk; counted
# as at least one token per this many characters, it is split like any long text.
MAX_CHARS_PER_TOKEN = 32


@dataclass(frozen=True, slots=True)
class ChunkingConfig:
    chunk_size: int = 256
    chunk_overlap: int = 32
    tokenizer_file: str | None = None  # a HF tokenizer.json; None: a word/punct count


def _token_counter(tokenizer_file: str | None) -> Callable[[str], list[Any]]:
    count = _tokens(tokenizer_file)

    def counted(text: str) -> list[Any]:
        tokens = count(text)
        floor = -(-len(text) // MAX_CHARS_PER_TOKEN)
        return tokens if len(tokens) >= floor else [*tokens, *([0] * (floor - len(tokens)))]

    return counted


def _tokens(tokenizer_file: str | None) -> Callable[[str], list[Any]]:
    if tokenizer_file is None:
        return _WORDISH.findall
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(tokenizer_file)
    tokenizer.no_truncation()
    tokenizer.no_padding()

    def encode(text: str) -> list[int]:
        ids: list[int] = tokenizer.encode(text, add_special_tokens=False).ids
        return ids

    return encode


class Chunker:
    """Splits sections into chunks; builds its splitter once (llama-index is slow to import)."""

    def __init__(self, config: ChunkingConfig) -> None:
        from llama_index.core.node_parser import SentenceSplitter

        self.config = config
        self._splitter = SentenceSplitter(
            chunk_size=config.chunk_size,
            chunk_overlap=config.chunk_overlap,
            tokenizer=_token_counter(config.tokenizer_file),
            paragraph_separator="\n\n",
        )

    def chunk(self, sections: Iterable[Section]) -> list[Chunk]:
        chunks: list[Chunk] = []
        listed = list(sections)
        for done, section in enumerate(listed):
            report("chunk", done, len(listed))  # splitting takes longer than reading
            if not section.text.strip():
                continue
            cursor = 0
            for piece in self._splitter.split_text(section.text):
                text = piece.strip()
                if not text:
                    continue
                start, end = _locate(section.text, text, cursor)
                # The next chunk overlaps this one, so it starts before this one's end.
                cursor = start + 1
                terms = " ".join(analyze(text))
                chunks.append(
                    Chunk(len(chunks), text, section.page, section.heading, start, end, terms)
                )
        return chunks


def _locate(haystack: str, needle: str, cursor: int) -> tuple[int, int]:
    """Character span of ``needle`` in ``haystack``, searching forward from ``cursor``.

    The splitter returns substrings of the section, but may normalise whitespace at
    joins; then the span is anchored on the first and last words instead.
    """
    found = haystack.find(needle, cursor)
    if found < 0:
        found = haystack.find(needle)
    if found >= 0:
        return found, found + len(needle)
    head = needle[:40]
    tail = needle[-40:]
    start = haystack.find(head, cursor)
    start = start if start >= 0 else cursor
    end = haystack.find(tail, start)
    end = end + len(tail) if end >= 0 else min(len(haystack), start + len(needle))
    return start, end
