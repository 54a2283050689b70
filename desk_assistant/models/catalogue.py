"""A few well-known chat GGUF files a user may choose to download (never automatically).

Sizes are the model cards' figures (decimal GB), used for the free-space check and for
display only; the download itself trusts the server's Content-Length.

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
class CatalogueEntry:
    name: str
    title: str
    repo: str
    file_name: str
    size_bytes: int  # approximate, from the model card
    licence: str
    prompt_family: str
    expected_sha256: str | None = None

    @property
    def url(self) -> str:
        return f"{_HF}/{self.repo}/resolve/main/{self.file_name}"

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "url": self.url}


CATALOGUE: tuple[CatalogueEntry, ...] = (
    CatalogueEntry(
        "llama-2-7b-chat-q4_k_m",
        "Llama 2 7B Chat, Q4_K_M (recommended for 8 GB RAM)",
        "TheBloke/Llama-2-7B-Chat-GGUF",
        "llama-2-7b-chat.Q4_K_M.gguf",
        4_081_004_224,
        "llama2",
        "llama-2",
    ),
    CatalogueEntry(
        "llama-2-7b-chat-q5_k_m",
        "Llama 2 7B Chat, Q5_K_M (a little better, a little larger)",
        "TheBloke/Llama-2-7B-Chat-GGUF",
        "llama-2-7b-chat.Q5_K_M.gguf",
        4_780_000_000,
        "llama2",
        "llama-2",
    ),
    CatalogueEntry(
        "llama-2-13b-chat-q4_k_m",
        "Llama 2 13B Chat, Q4_K_M (needs 16 GB RAM)",
        "TheBloke/Llama-2-13B-chat-GGUF",
        "llama-2-13b-chat.Q4_K_M.gguf",
        7_870_000_000,
        "llama2",
        "llama-2",
    ),
    CatalogueEntry(
        "mistral-7b-instruct-v0.2-q4_k_m",
        "Mistral 7B Instruct v0.2, Q4_K_M",
        "TheBloke/Mistral-7B-Instruct-v0.2-GGUF",
        "mistral-7b-instruct-v0.2.Q4_K_M.gguf",
        4_370_000_000,
        "apache-2.0",
        "mistral",
    ),
    CatalogueEntry(
        "vicuna-7b-v1.5-q4_k_m",
        "Vicuna 7B v1.5 (Llama 2 fine-tune), Q4_K_M",
        "TheBloke/vicuna-7B-v1.5-GGUF",
        "vicuna-7b-v1.5.Q4_K_M.gguf",
        4_080_000_000,
        "llama2",
        "vicuna",
    ),
)


def catalogue_entry(name: str) -> CatalogueEntry:
    for entry in CATALOGUE:
        if entry.name == name:
            return entry
    names = ", ".join(entry.name for entry in CATALOGUE)
    raise NotFoundError(f"no catalogue entry named {name!r}; choose one of: {names}")
