"""Embedding models: sentence-transformers or an ONNX export from a local folder, plus a
deterministic fake.

Vectors are L2-normalised so cosine similarity is a dot product and scores mean the same
thing across the store, abstention and citation matching.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from desk_assistant.errors import DeskAssistantError
from desk_assistant.offline import enforce_offline

# Tokens in one forward pass of an embedding model (rows x padded length). Activation
# memory grows with it (attention alone with rows x length^2) while throughput does not:
# on all-MiniLM-L6-v2 with 256-token chunks, passes of 16 rows ran 1.7-2.9x faster than
# passes of 64 on both engines alone (cache-sized work), as fast in ingestion (ONNX +25 %),
# whose peak fell 0.4-1.9 GB (ONNX Runtime's arena keeps its largest pass's buffers).
# ``embed_batch_size`` still sets how many texts one call takes; a call runs as several
# passes of this size.
TOKENS_PER_PASS = 4096


def rows_per_pass(max_tokens: int, batch_size: int) -> int:
    """How many texts of up to ``max_tokens`` tokens one forward pass may hold."""
    return max(1, min(batch_size, TOKENS_PER_PASS // max(1, max_tokens)))


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into unit vectors; ``model_id`` identifies the vector space."""

    @property
    def model_id(self) -> str: ...

    @property
    def dimension(self) -> int: ...

    @property
    def tokenizer_file(self) -> Path | None:
        """A HF ``tokenizer.json`` that counts tokens as this model does (for chunking)."""
        ...

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray: ...

    def embed_query(self, text: str) -> np.ndarray: ...


def model_id_for(folder: Path) -> str:
    """A stable id for a model folder: its name plus a hash of its configuration files.

    Two copies of the same model in different places get the same id; a different model
    (or a different version of it) gets a different one.
    """
    name = folder.name
    if name == "model" and folder.parent.name:
        name = folder.parent.name
    digest = hashlib.sha256()
    for part in ("config.json", "modules.json", "tokenizer_config.json"):
        file = folder / part
        if file.is_file():
            digest.update(file.read_bytes())
    return f"{name}@{digest.hexdigest()[:10]}"


class SentenceTransformerEmbedder:
    """sentence-transformers on the CPU, loaded from a local folder on first use."""

    def __init__(self, folder: Path, *, batch_size: int = 64) -> None:
        if not (folder / "config.json").is_file() and not (folder / "modules.json").is_file():
            raise DeskAssistantError(
                f"{folder} is not a sentence-transformers model folder "
                "(no config.json or modules.json)"
            )
        self.folder = folder
        self.batch_size = batch_size
        self._model_id = model_id_for(folder)
        self._model: Any = None

    @property
    def model_id(self) -> str:
        return self._model_id

    @property
    def tokenizer_file(self) -> Path | None:
        file = self.folder / "tokenizer.json"
        return file if file.is_file() else None

    def _load(self) -> Any:
        if self._model is None:
            enforce_offline()  # before the import: HF reads the flags once
            try:
                from sentence_transformers import SentenceTransformer
            except ImportError:  # the installers ship ONNX Runtime instead of torch
                raise DeskAssistantError(
                    f"{self.folder} is a sentence-transformers model, which this installation "
                    "cannot run (it has no PyTorch). Use an ONNX export of it instead: in a pip "
                    "install, python -m desk_assistant.backends.onnx_export FOLDER OUT_FOLDER, "
                    "then choose OUT_FOLDER as the embedding model."
                ) from None
            try:
                self._model = SentenceTransformer(
                    str(self.folder), device="cpu", local_files_only=True
                )
            except Exception as exc:  # torch/transformers raise a zoo of types here
                raise DeskAssistantError(
                    f"Cannot load the embedding model from {self.folder}: {exc}"
                ) from exc
        return self._model

    @property
    def dimension(self) -> int:
        model = self._load()
        # sentence-transformers 5 renamed the method; accept both spellings.
        getter = getattr(model, "get_embedding_dimension", None)
        return int(getter() if getter else model.get_sentence_embedding_dimension())

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        model = self._load()
        vectors = model.encode(
            list(texts),
            batch_size=rows_per_pass(int(model.max_seq_length or 512), self.batch_size),
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.asarray(vectors, dtype=np.float32)

    def embed_query(self, text: str) -> np.ndarray:
        return np.asarray(self.embed_documents([text])[0], dtype=np.float32)


_WORD = re.compile(r"\w+", re.UNICODE)


class HashingEmbedder:
    """A deterministic bag-of-words embedder for fast tests: similar words, similar vectors.

    It implements the same protocol as the real model, so tests of the pipeline, the
    store and retrieval run in milliseconds without torch.
    """

    def __init__(self, dimension: int = 256, model_id: str = "hashing-test@1") -> None:
        self._dimension = dimension
        self._model_id = model_id

    @property
    def model_id(self) -> str:
        return self._model_id

    @property
    def dimension(self) -> int:
        return self._dimension

    @property
    def tokenizer_file(self) -> Path | None:
        return None

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), self._dimension), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in _WORD.findall(text.lower()):
                bucket = int.from_bytes(hashlib.blake2b(word.encode(), digest_size=4).digest())
                out[row, bucket % self._dimension] += 1.0
            norm = float(np.linalg.norm(out[row]))
            if norm:
                out[row] /= norm
        return out

    def embed_query(self, text: str) -> np.ndarray:
        return np.asarray(self.embed_documents([text])[0], dtype=np.float32)
