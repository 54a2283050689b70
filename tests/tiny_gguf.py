"""A tiny Llama-2-format GGUF with random weights, written at test time.

Both runtimes need a real model file to be tested, and no Llama 2 model can be shipped or
downloaded; this one has the exact layout of a Llama-2-era GGUF (SentencePiece "llama"
vocabulary with byte fallback, separate ``output.weight``, F32 tensors) at a size that
generates in milliseconds and loads in ctransformers as well as in llama.cpp.

The benchmarks write their model-shaped files with this module too (``bench/model_speed.py``
a 1.1B shape through :func:`write_tiny_llama_gguf`, ``bench/_llama7b_gguf.py`` Llama 2
7B's through :func:`llama_base_vocabulary` and :func:`add_llama_header`), so that what
makes a file Llama-2-era is written in one place.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

# Words whose "▁"-prefixed pieces make the random output look like text and keep the
# tokenizer's merges interesting (the SentencePiece word-boundary marker is U+2581).
_WORD_TEXT = (
    "the of and to in is that it was for on are as with his they at be this from have or "
    "by one had not but what all were when we there can an your which their said if do "
    "will each about how up out them then she many some so these would other into has "
    "more her two like him see time could no make than first been its who now people my "
    "made over did down only way find use may water long little very after words called "
    "just where most know get through back much before go good new write our used me man "
    "too any day same right look think also around another came come work three word must "
    "because does part even place well such here take why things help put years different "
    "away again off went old number great tell men say small every found still between "
    "name should home big give air line set own under read last never us left end along "
    "while might next sound below saw something thought both few those always looked show "
    "large often together asked house don world going want school important until form "
    "food keep children feet land side without boy once animals life enough took sometimes "
    "four head above kind began almost live page got earth need far hand high year mother "
    "light parts country father let night following picture being study second eyes soon "
    "times story boys since white days ever paper hard near sentence better best across "
    "during today others however sure means knew its try told young miles sun ways thing "
    "whole hear example heard several change answer room sea against top turned learn point "
    "city play toward five using himself usually"
)
_WORDS = _WORD_TEXT.split()

_SPECIAL = ("<unk>", "<s>", "</s>")  # ids 0, 1, 2, as the header says
TOKEN_NORMAL, _TOKEN_UNKNOWN, _TOKEN_CONTROL, _TOKEN_BYTE = 1, 2, 3, 6  # gguf's token types


def llama_base_vocabulary() -> tuple[list[str], list[int]]:
    """Llama 2's first 259 tokens and their types: the special tokens, then the 256
    byte-fallback tokens ``<0x00>``..``<0xFF>`` that spell whatever no piece covers."""
    tokens = [*_SPECIAL, *(f"<0x{b:02X}>" for b in range(256))]
    types = [_TOKEN_UNKNOWN, _TOKEN_CONTROL, _TOKEN_CONTROL, *[_TOKEN_BYTE] * 256]
    return tokens, types


def add_llama_header(
    writer: Any,
    *,
    file_type: Any,
    context_length: int,
    embedding_length: int,
    block_count: int,
    feed_forward_length: int,
    head_count: int,
    head_count_kv: int,
    tokens: list[str],
    scores: list[float],
    types: list[int],
) -> None:
    """The keys a Llama-2-era file has and both runtimes read, on a ``gguf.GGUFWriter``:
    its shape and its SentencePiece vocabulary (``<unk>`` 0, ``<s>`` 1 added at the
    start of every prompt, ``</s>`` 2)."""
    writer.add_file_type(file_type)
    writer.add_context_length(context_length)
    writer.add_embedding_length(embedding_length)
    writer.add_block_count(block_count)
    writer.add_feed_forward_length(feed_forward_length)
    writer.add_head_count(head_count)
    writer.add_head_count_kv(head_count_kv)
    writer.add_rope_dimension_count(embedding_length // head_count)
    writer.add_layer_norm_rms_eps(1e-5)
    writer.add_tokenizer_model("llama")
    writer.add_token_list(tokens)
    writer.add_token_scores(scores)
    writer.add_token_types(types)
    writer.add_unk_token_id(0)
    writer.add_bos_token_id(1)
    writer.add_eos_token_id(2)
    writer.add_add_bos_token(True)


def _vocabulary(vocab_size: int) -> tuple[list[str], list[float], list[int]]:
    """Tokens, scores and types in SentencePiece order: specials, 256 bytes, pieces."""
    tokens, types = llama_base_vocabulary()
    letters = [chr(c) for c in range(ord("a"), ord("z") + 1)]
    pieces = ["▁", *letters, *(c.upper() for c in letters), *".,;:!?'\"-()0123456789"]
    pieces += [f"▁{c}" for c in letters]
    # SentencePiece builds a word only through pieces in the vocabulary, so every prefix
    # of "▁word" is a piece too; words are added whole until the vocabulary is full.
    room = vocab_size - len(tokens)
    if room < len(pieces):
        raise ValueError(f"vocab_size must be at least {len(tokens) + len(pieces)}")
    for word in _WORDS:
        prefixes = [p for p in (f"▁{word}"[:i] for i in range(3, len(word) + 2)) if p not in pieces]
        if len(pieces) + len(prefixes) > room:
            break
        pieces += prefixes
    # Filler pieces keep the vocabulary at exactly vocab_size; no merge can reach them.
    pieces += [f"<filler{i}>" for i in range(room - len(pieces))]
    scores = [0.0] * len(tokens)
    tokens += pieces
    types += [TOKEN_NORMAL] * len(pieces)
    # SentencePiece merges the pair with the highest score first: longer pieces win.
    scores += [float(len(p)) - 100.0 for p in pieces]
    return tokens, scores, types


def write_tiny_llama_gguf(
    path: Path,
    *,
    vocab_size: int = 1024,
    context_length: int = 512,
    embedding_length: int = 64,
    block_count: int = 2,
    head_count: int = 4,
    with_chat_template: str | None = None,
    seed: int = 1234,
    name: str | None = "tiny-llama-test",
    license: str | None = "apache-2.0",
    metadata: dict[str, str] | None = None,
    feed_forward_length: int | None = None,
    head_count_kv: int | None = None,
    quantized: bool = False,
) -> Path:
    """Write the model to ``path`` (about 1 MB with the defaults) and return ``path``.

    ``name`` and ``license`` fill ``general.name`` / ``general.license`` (None leaves the
    key out, as many 2023 files do); ``metadata`` adds more string keys, e.g.
    ``{"general.basename": "vicuna"}``. ``feed_forward_length`` and ``head_count_kv``
    give a real model's proportions, ``quantized`` stores the weight matrices in Q4_0
    (as the benchmark of model speed does with a 1B-parameter shape).
    """
    import gguf  # test helper: the package is a dependency of the engine anyway

    tokens, scores, types = _vocabulary(vocab_size)
    ff_length = feed_forward_length or 2 * embedding_length
    kv_heads = head_count_kv or head_count
    rng = np.random.default_rng(seed)

    def weight(*shape: int) -> npt.NDArray[np.float32]:
        # Scaled so activations neither vanish nor explode through the blocks.
        return rng.standard_normal(shape, dtype=np.float32) * np.float32(shape[-1] ** -0.5)

    def ones(n: int) -> npt.NDArray[np.float32]:
        return np.ones(n, dtype=np.float32)

    writer = gguf.GGUFWriter(path, "llama")
    if name is not None:
        writer.add_name(name)
    if license is not None:
        writer.add_license(license)
    for key, value in (metadata or {}).items():
        writer.add_string(key, value)
    add_llama_header(
        writer,
        file_type=gguf.LlamaFileType.MOSTLY_Q4_0 if quantized else gguf.LlamaFileType.ALL_F32,
        context_length=context_length,
        embedding_length=embedding_length,
        block_count=block_count,
        feed_forward_length=ff_length,
        head_count=head_count,
        head_count_kv=kv_heads,
        tokens=tokens,
        scores=scores,
        types=types,
    )
    if with_chat_template is not None:
        writer.add_chat_template(with_chat_template)

    def matrix(name: str, rows: int, columns: int) -> None:
        values = weight(rows, columns)
        if not quantized:
            writer.add_tensor(name, values)
            return
        q4 = gguf.GGMLQuantizationType.Q4_0
        writer.add_tensor(name, gguf.quants.quantize(values, q4), raw_dtype=q4)

    # numpy shapes are (rows, columns) = (outputs, inputs); GGUF stores them reversed.
    kv_width = embedding_length * kv_heads // head_count  # all of it when kv_heads == heads
    matrix("token_embd.weight", vocab_size, embedding_length)
    writer.add_tensor("output_norm.weight", ones(embedding_length))
    matrix("output.weight", vocab_size, embedding_length)
    for i in range(block_count):
        block = f"blk.{i}"
        writer.add_tensor(f"{block}.attn_norm.weight", ones(embedding_length))
        matrix(f"{block}.attn_q.weight", embedding_length, embedding_length)
        matrix(f"{block}.attn_k.weight", kv_width, embedding_length)
        matrix(f"{block}.attn_v.weight", kv_width, embedding_length)
        matrix(f"{block}.attn_output.weight", embedding_length, embedding_length)
        writer.add_tensor(f"{block}.ffn_norm.weight", ones(embedding_length))
        matrix(f"{block}.ffn_gate.weight", ff_length, embedding_length)
        matrix(f"{block}.ffn_up.weight", ff_length, embedding_length)
        matrix(f"{block}.ffn_down.weight", embedding_length, ff_length)

    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path
