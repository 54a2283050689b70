"""Model licences: what the metadata says, and the Llama 2 notice a user must see once.

Llama 2 and its fine-tunes (Vicuna v1.5, CodeLlama, most 2023 chat GGUFs) come under
Meta's Llama 2 Community License, whose terms and Acceptable Use Policy bind the user,
not the app. The app shows a short summary with the official addresses on first use and
records the acknowledgement per licence, so the notice appears once, not on every switch.
The text is a module constant rather than a file under assets/: assets/ is not installed
with the package, and a notice that goes missing in a wheel would silently never show.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from desk_assistant.atomic import write_json
from desk_assistant.models.describe import ModelDescription
from desk_assistant.models.files import read_json
from desk_assistant.paths import default_home

ACKNOWLEDGEMENTS_FILE = "acknowledgements.json"
LLAMA2_LICENSE_URL = "https://ai.meta.com/llama/license/"
LLAMA2_USE_POLICY_URL = "https://ai.meta.com/llama/use-policy/"

LLAMA2_NOTICE = f"""\
Llama 2 Community License - notice

This model is Llama 2 or is derived from it. It is licensed to you by Meta under the
Llama 2 Community License Agreement, not by Desk Assistant. In short (the agreement
itself is what counts):

- You may use, copy, modify and share the model free of charge.
- If your products or services had more than 700 million monthly active users on
  18 July 2023, you need a separate licence from Meta.
- If you share the model, include a copy of the agreement and keep the notice
  "Llama 2 is licensed under the LLAMA 2 Community License, Copyright (c) Meta
  Platforms, Inc. All Rights Reserved."
- You may not use the model or its output to improve any other large language model
  (other than Llama 2 or its derivatives).
- Your use must follow applicable law and Meta's Acceptable Use Policy, which forbids
  among other things violent, illegal, harassing, discriminatory, deceptive or
  dangerous uses, and impersonating people or passing off output as human-written.
- The model comes without any warranty; Meta is not liable for its output.

Full licence:           {LLAMA2_LICENSE_URL}
Acceptable Use Policy:  {LLAMA2_USE_POLICY_URL}
(Desk Assistant never opens these addresses by itself.)
"""

# "llama-2", "llama2", "Llama 2", "LLaMA v2", "llama_v2"; CodeLlama is under the same licence.
_LLAMA2 = re.compile(r"llama[-_ ]?v?2(?!\d)|codellama|code[-_ ]llama|llama 2 community")


@dataclass(frozen=True, slots=True)
class LicenceNotice:
    """A licence the user has to acknowledge before first use."""

    licence_id: str
    title: str
    text: str
    urls: tuple[str, ...]


def licence_summary(description: ModelDescription) -> str:
    """One line about the licence, from the metadata ("unknown" is an honest answer:
    most 2023 GGUF files carry no licence key)."""
    parts = [p for p in (description.licence, description.licence_name) if p]
    text = " / ".join(dict.fromkeys(parts)) if parts else "not stated in the file"
    if description.licence_link:
        text += f" ({description.licence_link})"
    return text


def is_llama2(description: ModelDescription, hint: str | None = None) -> bool:
    """Llama-architecture (or GGML) files whose names or licence mention Llama 2;
    ``hint`` is what the library knows besides the file (e.g. a catalogue licence)."""
    if description.architecture != "llama" and description.file_format != "ggml":
        return False
    evidence = (
        description.name,
        description.basename,
        description.licence,
        description.licence_name,
        description.licence_link,
        description.file_name,
        hint,
    )
    return any(value and _LLAMA2.search(value.lower()) for value in evidence)


def _acknowledgements_path(home: Path | None) -> Path:
    return (home or default_home()) / "models" / ACKNOWLEDGEMENTS_FILE


def needs_acknowledgement(
    description: ModelDescription, *, home: Path | None = None, hint: str | None = None
) -> LicenceNotice | None:
    """The notice to show before this model is first used, or None (shown already, or
    no licence that needs one)."""
    if not is_llama2(description, hint):
        return None
    notice = LicenceNotice(
        "llama2",
        "Llama 2 Community License",
        LLAMA2_NOTICE,
        (LLAMA2_LICENSE_URL, LLAMA2_USE_POLICY_URL),
    )
    if notice.licence_id in read_json(_acknowledgements_path(home)):
        return None
    return notice


def acknowledge(notice: LicenceNotice, *, home: Path | None = None, model: str = "") -> None:
    """Record that the user read and accepted ``notice`` (once per licence)."""
    path = _acknowledgements_path(home)
    records = read_json(path)
    records[notice.licence_id] = {
        "title": notice.title,
        "accepted_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "model": model,
    }
    write_json(path, records)
