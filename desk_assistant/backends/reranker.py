"""Optional cross-encoder re-ranking of retrieved passages, from a local model folder.

A cross-encoder reads query and passage together, so it judges relevance better than
comparing two independent embeddings, at the price of one model call per candidate:
it re-orders only the top of the fused list. Off unless ``reranker_model`` is set.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from desk_assistant.errors import DeskAssistantError
from desk_assistant.offline import enforce_offline


class CrossEncoderReranker:
    def __init__(self, folder: Path, *, batch_size: int = 32) -> None:
        if not (folder / "config.json").is_file():
            raise DeskAssistantError(
                f"{folder} is not a cross-encoder model folder (no config.json)"
            )
        self.folder = folder
        self.batch_size = batch_size
        self._model: Any = None

    def _load(self) -> Any:
        if self._model is None:
            enforce_offline()  # before the import: HF reads the flags once
            try:
                from sentence_transformers import CrossEncoder
            except ImportError:  # the installers ship no PyTorch
                raise DeskAssistantError(
                    "Re-ranking with a cross-encoder needs PyTorch, which this installation "
                    "does not have: clear the re-ranking model in the settings, or use a "
                    "source install of Desk Assistant for it."
                ) from None
            try:
                self._model = CrossEncoder(str(self.folder), device="cpu", local_files_only=True)
            except Exception as exc:  # transformers raises many unrelated types here
                raise DeskAssistantError(
                    f"Cannot load the re-ranking model from {self.folder}: {exc}"
                ) from exc
        return self._model

    def scores(self, query: str, texts: Sequence[str]) -> list[float]:
        """Relevance of each text to ``query`` (higher is more relevant)."""
        if not texts:
            return []
        raw = self._load().predict(
            [(query, text) for text in texts], batch_size=self.batch_size, show_progress_bar=False
        )
        return [float(value) for value in raw]
