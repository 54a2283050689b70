"""A few well-known chat GGUF files a user may choose to download (never automatically).

Sizes are the model cards' figures (decimal GB), used for the free-space check and for
display only; the download itself trusts the server's Content-Length. Sizes, file names
and shapes of the entries added in 2026-12 (Qwen2.5, Llama 3.2, Phi-3.5, SmolLM2) are
from memory of their model cards: no network here to check them.

SHA-256: none of these hashes could be checked while writing this list (no network
here), so every ``expected_sha256`` is None rather than a number copied on trust. A
download without an expected hash is verified "on first use": its SHA-256 is computed,
shown and recorded in the library, so that a later change of the file is noticed. Fill
in a hash only after checking it against the file's page on huggingface.co.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from desk_assistant.errors import NotFoundError

_HF = "https://huggingface.co"


@dataclass(frozen=True, slots=True)
class Shape:
    """What the model's header will say about its size: enough to estimate its memory
    (the KV cache grows with layers x width x context) and its speed before downloading."""

    parameters: int
    block_count: int
    embedding_length: int
    head_count: int
    head_count_kv: int
    context_length: int  # trained for


@dataclass(frozen=True, slots=True)
class CatalogueEntry:
    name: str
    title: str
    repo: str
    file_name: str
    size_bytes: int  # approximate, from the model card
    licence: str
    prompt_family: str  # "template": the file carries its own chat template
    shape: Shape
    expected_sha256: str | None = None

    @property
    def url(self) -> str:
        return f"{_HF}/{self.repo}/resolve/main/{self.file_name}"

    @property
    def licence_name(self) -> str:
        return LICENCE_NAMES.get(self.licence, self.licence)

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "url": self.url}


LICENCE_NAMES = {
    "llama2": "Llama 2 Community License",
    "llama3.2": "Llama 3.2 Community License",
    "apache-2.0": "Apache 2.0",
    "mit": "MIT",
}
# Shapes from the models' configurations (Llama 2 7B/13B, Mistral 7B with grouped-query
# attention, Llama 3.2 3B, Qwen2.5 7B/1.5B, Phi-3.5-mini, SmolLM2 1.7B).
_LLAMA2_7B = Shape(6_740_000_000, 32, 4096, 32, 32, 4096)
_LLAMA2_13B = Shape(13_020_000_000, 40, 5120, 40, 40, 4096)
_MISTRAL_7B = Shape(7_240_000_000, 32, 4096, 32, 8, 32768)

# Llama 2 chat first (the brief's target), then current open chat models, larger first.
CATALOGUE: tuple[CatalogueEntry, ...] = (
    CatalogueEntry(
        "llama-2-7b-chat-q4_k_m",
        "Llama 2 7B Chat, Q4_K_M (recommended for 8 GB RAM)",
        "TheBloke/Llama-2-7B-Chat-GGUF",
        "llama-2-7b-chat.Q4_K_M.gguf",
        4_081_004_224,
        "llama2",
        "llama-2",
        _LLAMA2_7B,
    ),
    CatalogueEntry(
        "llama-2-7b-chat-q5_k_m",
        "Llama 2 7B Chat, Q5_K_M (a little better, a little larger)",
        "TheBloke/Llama-2-7B-Chat-GGUF",
        "llama-2-7b-chat.Q5_K_M.gguf",
        4_780_000_000,
        "llama2",
        "llama-2",
        _LLAMA2_7B,
    ),
    CatalogueEntry(
        "llama-2-13b-chat-q4_k_m",
        "Llama 2 13B Chat, Q4_K_M (needs 16 GB RAM)",
        "TheBloke/Llama-2-13B-chat-GGUF",
        "llama-2-13b-chat.Q4_K_M.gguf",
        7_870_000_000,
        "llama2",
        "llama-2",
        _LLAMA2_13B,
    ),
    CatalogueEntry(
        "mistral-7b-instruct-v0.2-q4_k_m",
        "Mistral 7B Instruct v0.2, Q4_K_M",
        "TheBloke/Mistral-7B-Instruct-v0.2-GGUF",
        "mistral-7b-instruct-v0.2.Q4_K_M.gguf",
        4_370_000_000,
        "apache-2.0",
        "mistral",
        _MISTRAL_7B,
    ),
    CatalogueEntry(
        "vicuna-7b-v1.5-q4_k_m",
        "Vicuna 7B v1.5 (Llama 2 fine-tune), Q4_K_M",
        "TheBloke/vicuna-7B-v1.5-GGUF",
        "vicuna-7b-v1.5.Q4_K_M.gguf",
        4_080_000_000,
        "llama2",
        "vicuna",
        _LLAMA2_7B,
    ),
    CatalogueEntry(
        "qwen2.5-7b-instruct-q4_k_m",
        "Qwen2.5 7B Instruct, Q4_K_M (many languages)",
        "bartowski/Qwen2.5-7B-Instruct-GGUF",
        "Qwen2.5-7B-Instruct-Q4_K_M.gguf",
        4_680_000_000,
        "apache-2.0",
        "template",
        Shape(7_620_000_000, 28, 3584, 28, 4, 32768),
    ),
    CatalogueEntry(
        "llama-3.2-3b-instruct-q4_k_m",
        "Llama 3.2 3B Instruct, Q4_K_M (small and quick)",
        "bartowski/Llama-3.2-3B-Instruct-GGUF",
        "Llama-3.2-3B-Instruct-Q4_K_M.gguf",
        2_020_000_000,
        "llama3.2",
        "template",
        Shape(3_210_000_000, 28, 3072, 24, 8, 131072),
    ),
    CatalogueEntry(
        "phi-3.5-mini-instruct-q4_k_m",
        "Phi-3.5 mini Instruct, Q4_K_M (small, long context)",
        "bartowski/Phi-3.5-mini-instruct-GGUF",
        "Phi-3.5-mini-instruct-Q4_K_M.gguf",
        2_390_000_000,
        "mit",
        "template",
        Shape(3_820_000_000, 32, 3072, 32, 32, 131072),
    ),
    CatalogueEntry(
        "smollm2-1.7b-instruct-q4_k_m",
        "SmolLM2 1.7B Instruct, Q4_K_M (the built-in model's larger sibling)",
        "HuggingFaceTB/SmolLM2-1.7B-Instruct-GGUF",
        "smollm2-1.7b-instruct-q4_k_m.gguf",
        1_060_000_000,
        "apache-2.0",
        "template",
        Shape(1_710_000_000, 24, 2048, 32, 32, 8192),
    ),
    CatalogueEntry(
        "qwen2.5-1.5b-instruct-q4_k_m",
        "Qwen2.5 1.5B Instruct, Q4_K_M (the quickest)",
        "bartowski/Qwen2.5-1.5B-Instruct-GGUF",
        "Qwen2.5-1.5B-Instruct-Q4_K_M.gguf",
        986_000_000,
        "apache-2.0",
        "template",
        Shape(1_540_000_000, 28, 1536, 12, 2, 32768),
    ),
)


def catalogue_entry(name: str) -> CatalogueEntry:
    for entry in CATALOGUE:
        if entry.name == name:
            return entry
    names = ", ".join(entry.name for entry in CATALOGUE)
    raise NotFoundError(f"no catalogue entry named {name!r}; choose one of: {names}")
