"""A sentence-transformers model exported to ONNX, run with ONNX Runtime: no torch.

The installers ship this instead of sentence-transformers (torch alone would triple their
size). It computes what sentence-transformers computes for a Transformer + Pooling (+
Normalize) model: the same tokenizer with the same truncation, the transformer's last
hidden state, mean (or CLS) pooling over the attention mask, L2 normalisation. The
vectors agree with sentence-transformers' to cosine >= 0.999, so both engines share one
``model_id`` and a collection indexed by one is searched by the other.

An export folder (written by :mod:`desk_assistant.backends.onnx_export`) holds::

    embedder.json    what the export recorded: model id, pooling, maximum length, variants
    tokenizer.json   the model's own HF tokenizer
    model.onnx       the fp32 graph (further variants, e.g. int8, are listed in embedder.json)
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from desk_assistant.backends.embeddings import rows_per_pass
from desk_assistant.errors import DeskAssistantError

MANIFEST = "embedder.json"
FORMAT = "desk-assistant-onnx-embedder"
FORMAT_VERSION = 1
DEFAULT_VARIANT = "fp32"
INT8_VARIANT = "int8"  # dynamically quantized (onnx_export.add_int8)
AUTO_VARIANT = "auto"  # the setting's default: see choose_variant


def vector_space_id(weights_id: str, variant: str) -> str:
    """The id a collection records: the weights, plus the variant when it changes the
    vectors. fp32 ONNX reproduces sentence-transformers, so it keeps the plain id; a
    quantized variant moves the vectors and gets its own id (a clear reindex offer)."""
    return weights_id if variant == DEFAULT_VARIANT else f"{weights_id}+{variant}"


def choose_variant(info: ExportInfo, recorded: Callable[[], Collection[str]]) -> str:
    """What "auto" runs for this export in a data folder whose collections were indexed
    with the model ids ``recorded()`` returns (read only when it matters).

    int8 when the export offers it (SciFact nDCG@10 within 0.01 of fp32, ~1.5x the
    chunks/s), except where collections were indexed with this export's fp32 vectors and
    none with its int8 ones: that folder stays fp32, so an upgrade sends no collection to
    a reindex. A folder that holds both was switched to int8 by hand: int8.
    """
    if INT8_VARIANT not in info.variants:
        return DEFAULT_VARIANT
    ids = recorded()
    plain = vector_space_id(info.model_id, DEFAULT_VARIANT)
    if plain in ids and vector_space_id(info.model_id, INT8_VARIANT) not in ids:
        return DEFAULT_VARIANT
    return INT8_VARIANT


@dataclass(frozen=True, slots=True)
class ExportInfo:
    """The contents of ``embedder.json``."""

    model_id: str  # of the sentence-transformers folder it was exported from
    name: str
    dimension: int
    max_length: int
    pooling: str  # "mean" or "cls"
    normalize: bool
    inputs: tuple[str, ...]
    variants: dict[str, str]  # variant -> ONNX file name in the folder

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "model_id": self.model_id,
            "name": self.name,
            "dimension": self.dimension,
            "max_length": self.max_length,
            "pooling": self.pooling,
            "normalize": self.normalize,
            "inputs": list(self.inputs),
            "variants": dict(self.variants),
        }

    @classmethod
    def read(cls, folder: Path) -> ExportInfo:
        """The folder's export record; a :class:`DeskAssistantError` saying what is wrong."""
        try:
            data = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
            if data.get("format") != FORMAT or int(data["format_version"]) > FORMAT_VERSION:
                raise ValueError("not an export this version of Desk Assistant can read")
            info = cls(
                model_id=str(data["model_id"]),
                name=str(data["name"]),
                dimension=int(data["dimension"]),
                max_length=int(data["max_length"]),
                pooling=str(data["pooling"]),
                normalize=bool(data["normalize"]),
                inputs=tuple(str(i) for i in data["inputs"]),
                variants={str(k): str(v) for k, v in dict(data["variants"]).items()},
            )
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            raise DeskAssistantError(
                f"{folder} is not a usable ONNX embedding model ({MANIFEST}: {exc})"
            ) from exc
        if info.pooling not in ("mean", "cls") or info.dimension < 1 or info.max_length < 2:
            raise DeskAssistantError(f"{folder / MANIFEST} describes an unsupported model")
        # File names come from the folder itself: never let one point outside it.
        if any(Path(name).name != name for name in info.variants.values()):
            raise DeskAssistantError(f"{folder / MANIFEST} names a model file outside its folder")
        return info


def is_onnx_export(folder: Path) -> bool:
    return (folder / MANIFEST).is_file()


class OnnxEmbedder:
    """An exported model on ONNX Runtime (CPU), loaded on first use."""

    def __init__(
        self,
        folder: Path,
        *,
        batch_size: int = 64,
        variant: str = DEFAULT_VARIANT,
        threads: int | None = None,
    ) -> None:
        self.folder = folder
        self.threads = threads  # ONNX Runtime's intra-op threads (None: one per core)
        self.batch_size = max(1, batch_size)
        self.info = ExportInfo.read(folder)
        if variant not in self.info.variants:
            offered = ", ".join(sorted(self.info.variants)) or "none"
            raise DeskAssistantError(
                f"The embedding model in {folder} has no '{variant}' variant (it has: {offered})"
            )
        self.variant = variant
        self._model_file = folder / self.info.variants[variant]
        self._session: Any = None
        self._tokenizer: Any = None
        self._pad_id = 0

    @property
    def model_id(self) -> str:
        return vector_space_id(self.info.model_id, self.variant)

    @property
    def dimension(self) -> int:
        return self.info.dimension

    @property
    def tokenizer_file(self) -> Path | None:
        return self.folder / "tokenizer.json"

    def _load(self) -> tuple[Any, Any]:
        if self._session is None:
            import onnxruntime
            from tokenizers import Tokenizer

            try:
                tokenizer = Tokenizer.from_file(str(self.folder / "tokenizer.json"))
                options = onnxruntime.SessionOptions()
                options.log_severity_level = 3  # errors only: no warnings on a user's terminal
                options.intra_op_num_threads = self.threads or 0
                session = onnxruntime.InferenceSession(
                    str(self._model_file), options, providers=["CPUExecutionProvider"]
                )
            except Exception as exc:  # onnxruntime raises its own zoo of types
                raise DeskAssistantError(
                    f"Cannot load the embedding model from {self.folder}: {exc}"
                ) from exc
            # What sentence-transformers does: cut at max_seq_length, pad to the longest
            # text of the pass (the file may carry other settings from its training;
            # padding is done per pass in _embed_pass).
            tokenizer.enable_truncation(self.info.max_length)
            tokenizer.no_padding()
            self._pad_id = tokenizer.token_to_id("[PAD]") or 0
            self._tokenizer, self._session = tokenizer, session
        return self._tokenizer, self._session

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        if not texts:
            return out
        tokenizer, session = self._load()
        encodings = tokenizer.encode_batch(list(texts))
        # Longest first, as sentence-transformers does: a pass of similar lengths wastes
        # little on padding. Each pass holds as many texts as fit TOKENS_PER_PASS at its
        # longest text's length: short texts still go many at a time, long ones few.
        order = sorted(range(len(texts)), key=lambda i: -len(encodings[i].ids))
        start = 0
        while start < len(order):
            width = len(encodings[order[start]].ids)
            rows = order[start : start + rows_per_pass(width, self.batch_size)]
            out[rows] = self._embed_pass(session, [encodings[i] for i in rows], width)
            start += len(rows)
        return out

    def embed_query(self, text: str) -> np.ndarray:
        return np.asarray(self.embed_documents([text])[0], dtype=np.float32)

    def _embed_pass(self, session: Any, encodings: list[Any], width: int) -> np.ndarray:
        """One forward pass over ``encodings``, padded to ``width`` tokens."""
        feeds = {
            name: np.zeros((len(encodings), width), dtype=np.int64)
            for name in ("input_ids", "attention_mask", "token_type_ids")
        }
        feeds["input_ids"].fill(self._pad_id)
        for row, encoding in enumerate(encodings):
            length = len(encoding.ids)
            feeds["input_ids"][row, :length] = encoding.ids
            feeds["attention_mask"][row, :length] = encoding.attention_mask
            feeds["token_type_ids"][row, :length] = encoding.type_ids
        hidden = session.run(None, {name: feeds[name] for name in self.info.inputs})[0]
        return pool(np.asarray(hidden, dtype=np.float32), feeds["attention_mask"], self.info)


def pool(hidden: np.ndarray, mask: np.ndarray, info: ExportInfo) -> np.ndarray:
    """Token states -> one vector per text, as sentence-transformers' Pooling/Normalize."""
    if info.pooling == "cls":
        vectors = hidden[:, 0, :]
    else:
        weights = mask[:, :, None].astype(np.float32)
        vectors = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
    if info.normalize:
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        vectors = vectors / np.clip(norms, 1e-12, None)
    return vectors.astype(np.float32)
