"""Facts about a model file, read from its header without touching the weights.

The model picker and runtime selection need the architecture, vocabulary type, chat
template and quantization of a file before anything is loaded: a multi-GB model takes
seconds to load, and ctransformers can abort the process on a file it does not understand.

``gguf.GGUFReader`` parses every metadata array into numpy objects up front, which takes
2.1 s on SmolLM2 (49k tokens plus 49k merges). This module walks the same header lazily
instead: scalars and strings are decoded, arrays are skipped by their byte size, and only
the two vocabulary entries we need (BOS, EOS) are decoded. The ``gguf`` package still
provides the format's constants, so new quantization types get their names from it.
"""

from __future__ import annotations

import math
import mmap
import struct
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from desk_assistant.errors import ModelLoadError


@dataclass(frozen=True, slots=True)
class ModelInfo:
    """Metadata read from a model file's header without loading its weights."""

    path: str
    file_format: str  # "gguf" or "ggml"
    architecture: str | None = None
    name: str | None = None
    context_length: int | None = None
    tokenizer_model: str | None = None  # "llama" (SentencePiece) or "gpt2" (BPE)
    chat_template: str | None = None
    bos_token: str | None = None
    eos_token: str | None = None
    eot_token: str | None = None  # end of turn, when it differs from EOS (e.g. Llama 3)
    add_bos_token: bool = False  # the tokenizer puts BOS before a prompt by itself
    tied_embeddings: bool = False  # no separate output.weight tensor
    quantization: str | None = None
    gguf_version: int | None = None
    license: str | None = None
    extra: dict[str, str] = field(default_factory=dict)


NOT_A_MODEL = "not a GGUF or GGML model file"

_GGUF_MAGIC = b"GGUF"
# Pre-GGUF formats store their magic as a little-endian uint32, hence the reversed bytes.
_GGML_MAGICS = {b"lmgg": "ggml", b"fmgg": "ggmf", b"tjgg": "ggjt"}

# GGUFValueType -> struct format of the scalar types (STRING = 8 and ARRAY = 9 are walked).
_SCALAR_FORMATS = {
    0: "<B",
    1: "<b",
    2: "<H",
    3: "<h",
    4: "<I",
    5: "<i",
    6: "<f",
    7: "<?",
    10: "<Q",
    11: "<q",
    12: "<d",
}
_STRING, _ARRAY = 8, 9
_SHAPE_KEYS = (
    "block_count",
    "embedding_length",
    "feed_forward_length",
    "attention.head_count",
    "attention.head_count_kv",
)


class _Truncated(Exception):
    """The header claims more bytes than the file has: damaged or not a model at all."""


class _Array:
    """Where an array value sits in the file, so that it is decoded only if needed."""

    __slots__ = ("count", "item_type", "offset")

    def __init__(self, item_type: int, count: int, offset: int) -> None:
        self.item_type = item_type
        self.count = count
        self.offset = offset


class _HeaderWalker:
    """Bounds-checked reads of the GGUF header; every length is checked against the file."""

    def __init__(self, buf: mmap.mmap, version: int) -> None:
        self.buf = buf
        self.size = len(buf)
        # GGUF v1 used 32-bit lengths and counts; v2 and v3 use 64-bit ones.
        self.len_format = "<I" if version == 1 else "<Q"
        self.len_size = struct.calcsize(self.len_format)
        self.pos = 8  # after magic and version

    def _take(self, n: int) -> int:
        start = self.pos
        if n < 0 or start + n > self.size:
            raise _Truncated
        self.pos = start + n
        return start

    def scalar(self, fmt: str) -> Any:
        return struct.unpack_from(fmt, self.buf, self._take(struct.calcsize(fmt)))[0]

    def length(self) -> int:
        return int(self.scalar(self.len_format))

    def string(self) -> str:
        n = self.length()
        start = self._take(n)
        return self.buf[start : start + n].decode("utf-8", errors="replace")

    def value(self, value_type: int) -> Any:
        """A scalar or string value, or an ``_Array`` that has been skipped over."""
        if value_type == _STRING:
            return self.string()
        if value_type == _ARRAY:
            item_type = int(self.scalar("<I"))
            count = self.length()
            array = _Array(item_type, count, self.pos)
            self._skip_items(item_type, count)
            return array
        fmt = _SCALAR_FORMATS.get(value_type)
        if fmt is None:
            raise _Truncated  # an unknown type means we lost track of the layout
        return self.scalar(fmt)

    def _skip_items(self, item_type: int, count: int) -> None:
        fmt = _SCALAR_FORMATS.get(item_type)
        if fmt is not None:
            self._take(count * struct.calcsize(fmt))
            return
        # Strings and nested arrays have per-item lengths; each item takes at least
        # len_size bytes, so a lying count ends in _Truncated, not in a long loop.
        if count * self.len_size > self.size - self.pos:
            raise _Truncated
        for _ in range(count):
            self.value(item_type)

    def string_items(self, array: _Array, wanted: set[int]) -> dict[int, str]:
        """Decode only the items of a string array whose index is in ``wanted``."""
        found: dict[int, str] = {}
        if array.item_type != _STRING or not wanted:
            return found
        self.pos = array.offset
        last = min(max(wanted), array.count - 1)
        for index in range(last + 1):
            if index in wanted:
                found[index] = self.string()
            else:
                self._take(self.length())
        return found


def _quant_sizes() -> dict[int, tuple[int, int]]:
    """Block size and bytes per block of each tensor type, to know where the data ends."""
    import gguf

    return {int(kind): sizes for kind, sizes in gguf.GGML_QUANT_SIZES.items()}


def _quantization_name(file_type: Any, tensor_elements: Counter[int]) -> str | None:
    """Name like Q4_K_M from ``general.file_type``, else the type holding most weights."""
    import gguf

    if isinstance(file_type, int):
        try:
            member = gguf.LlamaFileType(file_type)
        except ValueError:
            member = None  # retired or newer file types: fall through to the tensors
        if member is not None and member is not gguf.LlamaFileType.GUESSED:
            return member.name.removeprefix("MOSTLY_").removeprefix("ALL_")
    if not tensor_elements:
        return None
    dominant = tensor_elements.most_common(1)[0][0]
    try:
        return gguf.GGMLQuantizationType(dominant).name
    except ValueError:
        return f"type {dominant}"


def _read_gguf(path: Path, buf: mmap.mmap) -> ModelInfo:
    version = struct.unpack_from("<I", buf, 4)[0]
    if version not in (1, 2, 3):
        raise ModelLoadError(
            f"{path.name} is a GGUF file of version {version}, which this version of "
            "Desk Assistant cannot read"
        )
    walker = _HeaderWalker(buf, version)
    tensor_count = walker.length()
    kv_count = walker.length()

    fields: dict[str, Any] = {}
    for _ in range(kv_count):
        key = walker.string()
        fields[key] = walker.value(int(walker.scalar("<I")))

    tensor_names: set[str] = set()
    tensor_elements: Counter[int] = Counter()
    data_end = 0  # relative to the start of the tensor data
    quant_sizes = _quant_sizes()
    for _ in range(tensor_count):
        name = walker.string()
        n_dims = int(walker.scalar("<I"))
        dims = [walker.length() for _ in range(n_dims)]
        tensor_type = int(walker.scalar("<I"))
        offset = int(walker.scalar("<Q"))
        tensor_names.add(name)
        elements = math.prod(dims)
        tensor_elements[tensor_type] += elements
        block_size, type_size = quant_sizes.get(tensor_type, (1, 0))
        data_end = max(data_end, offset + elements * type_size // block_size)

    alignment = fields.get("general.alignment")
    alignment = alignment if isinstance(alignment, int) and alignment > 0 else 32
    data_start = -(-walker.pos // alignment) * alignment
    if data_start + data_end > walker.size:
        # The most common broken model file: an interrupted download. Runtimes notice
        # late or not at all (ctransformers generated from a half file here).
        raise ModelLoadError(
            f"{path.name} is incomplete: its weights need {data_start + data_end:,} bytes "
            f"but the file has {walker.size:,} (interrupted download?); download it again"
        )

    def text(key: str) -> str | None:
        value = fields.get(key)
        return value if isinstance(value, str) else None

    def integer(key: str) -> int | None:
        value = fields.get(key)
        return value if isinstance(value, int) and not isinstance(value, bool) else None

    architecture = text("general.architecture")
    tokenizer_model = text("tokenizer.ggml.model")
    special_ids = {
        role: token_id
        for role in ("bos", "eos", "eot")
        if (token_id := integer(f"tokenizer.ggml.{role}_token_id")) is not None
    }
    tokens = fields.get("tokenizer.ggml.tokens")
    special_text: dict[int, str] = {}
    if isinstance(tokens, _Array):
        special_text = walker.string_items(tokens, set(special_ids.values()))
    add_bos = fields.get("tokenizer.ggml.add_bos_token")
    if not isinstance(add_bos, bool):
        # llama.cpp's default when the key is absent: SentencePiece adds BOS, BPE does not.
        add_bos = tokenizer_model == "llama"

    extra = {
        key.removeprefix("general.").removeprefix("tokenizer.ggml."): str(fields[key])
        for key in (
            "general.basename",
            "general.finetune",
            "general.size_label",
            "general.file_type",
            "general.license.name",
            "general.license.link",
            "tokenizer.ggml.pre",
        )
        if isinstance(fields.get(key), (str, int))
    }
    # The shape facts a memory estimate needs (KV cache size), under their GGUF key names.
    for key in _SHAPE_KEYS:
        value = integer(f"{architecture}.{key}") if architecture else None
        if value is not None:
            extra[key] = str(value)
    extra["tensor_count"] = str(tensor_count)
    extra["parameter_count"] = str(tensor_elements.total())
    if isinstance(tokens, _Array):
        extra["vocab_size"] = str(tokens.count)

    return ModelInfo(
        path=str(path),
        file_format="gguf",
        architecture=architecture,
        name=text("general.name"),
        context_length=integer(f"{architecture}.context_length") if architecture else None,
        tokenizer_model=tokenizer_model,
        chat_template=text("tokenizer.chat_template"),
        bos_token=special_text.get(special_ids.get("bos", -1)),
        eos_token=special_text.get(special_ids.get("eos", -1)),
        eot_token=special_text.get(special_ids.get("eot", -1)),
        add_bos_token=add_bos,
        tied_embeddings="output.weight" not in tensor_names,
        quantization=_quantization_name(fields.get("general.file_type"), tensor_elements),
        gguf_version=version,
        license=text("general.license"),
        extra=extra,
    )


def _ggml_llama_shape(buf: mmap.mmap, flavour: str) -> dict[str, str]:
    """The LLaMA hyper-parameters at the head of a GGML file, when they look like LLaMA's.

    A GGML file names neither its architecture nor its tensors' purpose; the 2023 LLaMA
    files (the ones ctransformers and old llama.cpp read) start with seven int32s. Other
    architectures' files use other layouts, so implausible numbers mean "unknown", and the
    parameter count is LLaMA's formula (approximate for grouped-query 70B files).
    """
    start = 4 if flavour == "ggml" else 8  # the unversioned format has no version field
    if len(buf) < start + 28:
        return {}
    n_vocab, n_embd, n_mult, n_head, n_layer, n_rot, ftype = struct.unpack_from("<7i", buf, start)
    plausible = (
        0 < n_vocab <= 1_000_000
        and 0 < n_head <= n_embd <= 65_536
        and n_embd % n_head == 0
        and n_rot == n_embd // n_head
        and 0 < n_mult <= 65_536
        and 0 < n_layer <= 1_000
    )
    if not plausible:
        return {}
    n_ff = -(-(2 * (4 * n_embd) // 3) // n_mult) * n_mult
    parameters = 2 * n_vocab * n_embd + n_embd + n_layer * (4 * n_embd**2 + 3 * n_embd * n_ff)
    parameters += n_layer * 2 * n_embd  # the two norms of each block
    return {
        "vocab_size": str(n_vocab),
        "embedding_length": str(n_embd),
        "feed_forward_length": str(n_ff),
        "attention.head_count": str(n_head),
        "block_count": str(n_layer),
        "parameter_count": str(parameters),
        # Quantized files store the quantization version times 1000 on top of the type.
        "file_type": str(ftype % 1000),
    }


def _read_ggml(path: Path, flavour: str, buf: mmap.mmap) -> ModelInfo:
    """Pre-GGUF files carry little self-description: the format and, for LLaMA files,
    the shape and quantization."""
    extra = {"ggml_magic": flavour, **_ggml_llama_shape(buf, flavour)}
    file_type = int(extra["file_type"]) if "file_type" in extra else None
    return ModelInfo(
        path=str(path),
        file_format="ggml",
        # ctransformers loads GGML files as LLaMA models, whose tokenizer adds BOS.
        add_bos_token=True,
        quantization=_quantization_name(file_type, Counter()) if file_type is not None else None,
        extra=extra,
    )


def read_model_info(path: str | Path) -> ModelInfo:
    """Read a model file's metadata; raises ModelLoadError for anything that is not one."""
    path = Path(path)
    if not path.is_file():
        raise ModelLoadError(f"model file not found: {path}")
    try:
        with path.open("rb") as handle:
            if path.stat().st_size < 8:
                raise ModelLoadError(f"{path.name} is {NOT_A_MODEL}")
            with mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as buf:
                magic = buf[:4]
                if magic == _GGUF_MAGIC:
                    return _read_gguf(path, buf)
                if magic in _GGML_MAGICS:
                    return _read_ggml(path, _GGML_MAGICS[magic], buf)
                raise ModelLoadError(f"{path.name} is {NOT_A_MODEL}")
    except (_Truncated, struct.error) as exc:
        raise ModelLoadError(
            f"{path.name} looks like a GGUF model but its header is damaged (truncated "
            "download?); download the file again"
        ) from exc
    except OSError as exc:
        raise ModelLoadError(f"cannot read {path}: {exc.strerror or exc}") from exc
