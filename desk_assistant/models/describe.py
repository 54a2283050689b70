"""What a model file is, told without loading it: the facts behind the model picker.

Everything comes from the header (``read_model_info``) and the file system, so describing
a 4 GB model takes milliseconds; only the SHA-256 reads the whole file, once per file
version (``files.model_sha256``), and only when asked for.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from desk_assistant.backends.llm.chat_format import chat_format_for
from desk_assistant.backends.llm.gguf_info import ModelInfo, read_model_info
from desk_assistant.backends.llm.loader import FILE_RUNTIMES, runtime_installed
from desk_assistant.models.files import cached_sha256, model_sha256
from ingest.hashing import Progress

_VOCABULARIES = {
    "llama": "SentencePiece (llama)",
    "gpt2": "BPE (gpt2)",
    "bert": "WordPiece (bert)",
    "rwkv": "RWKV",
}


@dataclass(frozen=True, slots=True)
class RuntimeSupport:
    """Whether a runtime can load the file, judged from its metadata (a probe in a child
    process is the final word: ``ModelLibrary.verify``)."""

    runtime: str
    can_load: bool
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class ModelDescription:
    path: str
    file_name: str
    size_bytes: int
    file_format: str
    gguf_version: int | None
    architecture: str | None
    name: str | None
    parameter_count: int | None
    quantization: str | None
    context_length: int | None
    vocabulary: str | None
    vocab_size: int | None
    chat_template: bool
    prompt_family: str
    prompt_family_source: str
    prompt_family_evidence: str | None
    licence: str | None
    licence_name: str | None
    licence_link: str | None
    sha256: str | None
    runtimes: tuple[RuntimeSupport, ...]
    # Shape facts for the memory estimate (fit.py); None when the header lacks them.
    block_count: int | None = None
    embedding_length: int | None = None
    head_count: int | None = None
    head_count_kv: int | None = None
    basename: str | None = None
    warning: str | None = None

    @property
    def parameters(self) -> str | None:
        """The size label people use: "135M", "6.7B"."""
        return parameter_label(self.parameter_count)

    @property
    def loadable_by(self) -> tuple[str, ...]:
        return tuple(r.runtime for r in self.runtimes if r.can_load)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["parameters"] = self.parameters
        return data


def parameter_label(count: int | None) -> str | None:
    if not count:
        return None
    for unit, scale in (("T", 1e12), ("B", 1e9), ("M", 1e6), ("K", 1e3)):
        if count >= scale:
            value = count / scale
            return f"{value:.0f}{unit}" if value >= 100 else f"{value:.3g}{unit}"
    return str(count)


def runtime_support(info: ModelInfo) -> tuple[RuntimeSupport, ...]:
    """Each runtime's verdict from the metadata alone, in the order "auto" tries them."""
    verdicts = []
    for name, runtime in FILE_RUNTIMES.items():
        installed = runtime_installed(name)
        reason = runtime.refusal(info) if installed else "the runtime is not installed"
        verdicts.append(RuntimeSupport(name, reason is None, reason))
    return tuple(verdicts)


def _vocabulary(info: ModelInfo) -> str | None:
    if info.tokenizer_model:
        return _VOCABULARIES.get(info.tokenizer_model, info.tokenizer_model)
    # The LLaMA GGML files whose shape could be read use LLaMA's SentencePiece vocabulary.
    return _VOCABULARIES["llama"] if "vocab_size" in info.extra else None


def _number(info: ModelInfo, key: str) -> int | None:
    value = info.extra.get(key)
    return int(value) if value is not None and value.isdigit() else None


def describe(
    path: str | Path,
    cache_dir: Path,
    *,
    with_sha256: bool = True,
    progress: Progress | None = None,
    prompt_override: str | None = None,
) -> ModelDescription:
    """Describe ``path``; raises ModelLoadError for a file that is not a GGUF/GGML model.

    ``with_sha256=False`` still reports a remembered hash but never reads the weights
    (listings); ``prompt_override`` is the family the user chose for this model.
    """
    path = Path(path)
    info = read_model_info(path)
    if with_sha256:
        sha256: str | None = model_sha256(path, cache_dir, progress)
    else:
        sha256 = cached_sha256(path, cache_dir)
    chat = chat_format_for(info, prompt_override)
    chat.close()  # only its description is needed here
    head_count = _number(info, "attention.head_count")
    return ModelDescription(
        path=str(path),
        file_name=path.name,
        size_bytes=path.stat().st_size,
        file_format=info.file_format,
        gguf_version=info.gguf_version,
        architecture=info.architecture,
        name=info.name,
        parameter_count=_number(info, "parameter_count"),
        quantization=info.quantization,
        context_length=info.context_length,
        vocabulary=_vocabulary(info),
        vocab_size=_number(info, "vocab_size"),
        chat_template=info.chat_template is not None,
        prompt_family=chat.family,
        prompt_family_source=chat.source,
        prompt_family_evidence=chat.evidence,
        licence=info.license,
        licence_name=info.extra.get("license.name"),
        licence_link=info.extra.get("license.link"),
        sha256=sha256,
        runtimes=runtime_support(info),
        block_count=_number(info, "block_count"),
        embedding_length=_number(info, "embedding_length"),
        head_count=head_count,
        head_count_kv=_number(info, "attention.head_count_kv") or head_count,
        basename=info.extra.get("basename"),
        warning=chat.warning,
    )
