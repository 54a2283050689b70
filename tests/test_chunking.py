"""Chunking keeps sentences whole, overlaps neighbours and records exact spans."""

from __future__ import annotations

from itertools import pairwise

from desk_assistant.backends.defaults import default_embedding_dir
from ingest.chunking import Chunker, ChunkingConfig
from ingest.types import Section

SENTENCES = [f"Sentence number {i} talks about topic {i % 7} in some detail." for i in range(120)]


def test_spans_point_at_the_chunk_text() -> None:
    text = " ".join(SENTENCES)
    chunks = Chunker(ChunkingConfig(chunk_size=64, chunk_overlap=16)).chunk([Section(text, page=4)])
    assert len(chunks) > 5
    for chunk in chunks:
        assert text[chunk.start : chunk.end] == chunk.text
        assert chunk.page == 4
    assert [c.index for c in chunks] == list(range(len(chunks)))


def test_neighbours_overlap_and_cover_the_text() -> None:
    text = " ".join(SENTENCES)
    chunks = Chunker(ChunkingConfig(chunk_size=64, chunk_overlap=16)).chunk([Section(text)])
    for before, after in pairwise(chunks):
        assert after.start < before.end, "consecutive chunks should overlap"
    assert chunks[0].start == 0
    assert chunks[-1].end == len(text)


def test_token_counts_follow_the_embedders_tokenizer() -> None:
    from tokenizers import Tokenizer

    tokenizer_file = default_embedding_dir() / "tokenizer.json"
    tokenizer = Tokenizer.from_file(str(tokenizer_file))
    tokenizer.no_truncation()
    tokenizer.no_padding()  # tokenizer.json pads to 128 for training
    config = ChunkingConfig(chunk_size=100, chunk_overlap=10, tokenizer_file=str(tokenizer_file))
    chunks = Chunker(config).chunk([Section(" ".join(SENTENCES))])
    sizes = [len(tokenizer.encode(c.text, add_special_tokens=False).ids) for c in chunks]
    assert max(sizes) <= 100
    assert min(sizes[:-1]) > 50  # packed, not one sentence per chunk


def test_sections_keep_their_location_and_empty_ones_vanish() -> None:
    sections = [
        Section("Intro text.", heading="Intro"),
        Section("   \n "),
        Section("Second page text.", page=2),
    ]
    chunks = Chunker(ChunkingConfig()).chunk(sections)
    assert [(c.text, c.heading, c.page) for c in chunks] == [
        ("Intro text.", "Intro", None),
        ("Second page text.", None, 2),
    ]


def test_a_word_of_millions_of_letters_is_cut_into_chunks_of_bounded_length() -> None:
    from ingest.chunking import MAX_CHARS_PER_TOKEN, Chunker, ChunkingConfig

    chunker = Chunker(ChunkingConfig(chunk_size=64, chunk_overlap=8))
    chunks = chunker.chunk([Section("a" * 1_000_000)])
    assert len(chunks) > 100
    assert max(len(c.text) for c in chunks) <= 64 * MAX_CHARS_PER_TOKEN
    assert "".join(c.text for c in chunks).count("a") >= 1_000_000  # nothing dropped
