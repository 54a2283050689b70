"""A model file described in labelled rows: what ``models info`` prints and the app's
model library shows."""

from __future__ import annotations

from desk_assistant.models.describe import ModelDescription
from desk_assistant.models.files import format_bytes
from desk_assistant.models.library import LibraryEntry
from desk_assistant.models.licence import licence_summary

PROMPT_FORMAT_SOURCES = {
    "template": "the file's chat template",
    "metadata": "from the metadata",
    "tokenizer": "from the tokenizer",
    "file name": "from the file name",
    "architecture": "default for its architecture",
    "default": "default",
    "override": "chosen by the user",
}


def description_rows(d: ModelDescription, entry: LibraryEntry | None) -> list[tuple[str, str]]:
    version = f" v{d.gguf_version}" if d.gguf_version else ""
    shape = ", ".join(
        part
        for part in (
            d.architecture or "unknown architecture",
            f"{d.parameters} parameters" if d.parameters else None,
            d.quantization,
        )
        if part
    )
    vocabulary = d.vocabulary or "unknown"
    if d.vocab_size:
        vocabulary += f", {d.vocab_size:,} tokens"
    template = "yes (used for prompts)" if d.chat_template else "none"
    source = PROMPT_FORMAT_SOURCES.get(d.prompt_family_source, d.prompt_family_source)
    prompt = f"{d.prompt_family} ({source}"
    if d.prompt_family_evidence and d.prompt_family_source != "override":
        prompt += f": {d.prompt_family_evidence}"
    prompt += ")"
    runtimes = "; ".join(
        f"{r.runtime}: {'yes' if r.can_load else 'no - ' + (r.reason or '')}" for r in d.runtimes
    )
    if d.sha256 and entry is not None and entry.sha256_source:
        sha = f"{d.sha256} ({entry.sha256_source})"
    else:
        sha = d.sha256 or "not computed"
    return [
        ("Name:", entry.name if entry else "(not in the library)"),
        ("Model:", d.name or d.basename or "not stated in the file"),
        ("File:", f"{d.path} ({format_bytes(d.size_bytes)})"),
        ("Format:", f"{d.file_format.upper()}{version}"),
        ("Architecture:", shape),
        ("Context length:", f"{d.context_length} tokens" if d.context_length else "unknown"),
        ("Vocabulary:", vocabulary),
        ("Chat template:", template),
        ("Prompt format:", prompt),
        ("Licence:", licence_summary(d)),
        ("SHA-256:", sha),
        ("Runtimes:", runtimes),
        *([("", d.warning)] if d.warning else []),
    ]
