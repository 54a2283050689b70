"""The model library: the built-in model, the models folder, and files the user linked.

What it holds lives in two places: every model file in ``<home>/models/`` is part of the
library by being there (a file dropped in by hand shows up), and ``library.json`` in
that folder records the rest - files linked where they are, chosen names, a manual prompt
format, the licence a catalogue entry declared, the hash of a download. The model in use
is ``settings.model_path``, so the CLI, the desktop app and ``--model`` agree on it.

No model is ever loaded here: adding reads the header only, and ``verify`` loads the
file in a child process (``probe_runtime``), which is what makes a crash in a runtime
cost a message instead of the app.
"""

from __future__ import annotations

import os
import re
import threading
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from desk_assistant.atomic import write_json
from desk_assistant.backends.defaults import default_llm_path
from desk_assistant.backends.llm.chat_format import PROMPT_FAMILIES
from desk_assistant.backends.llm.gguf_info import read_model_info
from desk_assistant.backends.llm.probe import ProbeResult, probe_runtime
from desk_assistant.errors import DeskAssistantError, ModelLoadError, NotFoundError
from desk_assistant.models import download as downloads
from desk_assistant.models.catalogue import catalogue_entry
from desk_assistant.models.describe import ModelDescription, describe, runtime_support
from desk_assistant.models.files import (
    copy_with_progress,
    read_json,
    remember_sha256,
)
from desk_assistant.models.fit import FitReport, fit_report
from desk_assistant.models.licence import (
    LicenceNotice,
    acknowledge,
    is_llama2,
    licence_summary,
    needs_acknowledgement,
)
from desk_assistant.settings import Settings, saved_settings, update_settings
from ingest.hashing import Progress

LIBRARY_FILE = "library.json"
MODEL_SUFFIXES = (".gguf", ".ggml", ".bin")
Kind = Literal["built-in", "models folder", "linked"]


class LicenceNotAccepted(DeskAssistantError):
    """The model's licence must be acknowledged before it is used; carries the notice."""

    def __init__(self, notice: LicenceNotice, model: str) -> None:
        super().__init__(
            f"{model} is under the {notice.title}: read the notice and accept it before "
            "using the model",
            command="desk-assistant models use NAME --accept-licence",
        )
        self.notice = notice


@dataclass(frozen=True, slots=True)
class LibraryEntry:
    name: str
    path: Path
    kind: Kind
    size_bytes: int | None  # None: the file is gone (a linked file moved or deleted)
    in_use: bool
    prompt_format: str | None = None  # the user's override of the detected format
    licence_hint: str | None = None  # what the catalogue said, for files that do not
    recorded_sha256: str | None = None  # from a download: verified or trusted on first use
    sha256_source: str | None = None

    @property
    def exists(self) -> bool:
        return self.size_bytes is not None

    @property
    def removable(self) -> bool:
        return self.kind != "built-in"

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "path": str(self.path),
            "kind": self.kind,
            "size_bytes": self.size_bytes,
            "exists": self.exists,
            "in_use": self.in_use,
            "prompt_format": self.prompt_format,
            "licence_hint": self.licence_hint,
            "recorded_sha256": self.recorded_sha256,
            "sha256_source": self.sha256_source,
        }


@dataclass(frozen=True, slots=True)
class AddResult:
    entry: LibraryEntry
    already_present: bool
    probes: tuple[ProbeResult, ...] = ()


@dataclass(frozen=True, slots=True)
class RemoveResult:
    entry: LibraryEntry
    file_deleted: bool
    back_to_builtin: bool  # the removed model was in use
    settings: Settings  # as they load now


@dataclass(frozen=True, slots=True)
class UseResult:
    entry: LibraryEntry
    settings: Settings
    runtime_changed_from: str | None  # the runtime setting could not load the file
    acknowledged: LicenceNotice | None
    fit: FitReport | None


@dataclass(frozen=True, slots=True)
class ModelReport:
    """Everything known about one model file without loading it: what ``models info``
    prints and the model library in the app shows."""

    description: ModelDescription
    entry: LibraryEntry | None  # None: a file that is not in the library
    fit: FitReport | None  # None: the RAM could not be read
    notice: LicenceNotice | None  # a licence notice still to be accepted before use

    @property
    def llama2_licence(self) -> bool:
        return is_llama2(self.description, self.entry.licence_hint if self.entry else None)

    @property
    def sha256_changed(self) -> bool:
        """The file no longer has the hash recorded when it was downloaded."""
        recorded = self.entry.recorded_sha256 if self.entry else None
        current = self.description.sha256
        return bool(recorded and current and recorded != current)

    def to_json(self) -> dict[str, Any]:
        return {
            **self.description.to_json(),
            "library": self.entry.to_json() if self.entry else None,
            "licence_summary": licence_summary(self.description),
            "llama2_licence": self.llama2_licence,
            "licence_notice_due": self.notice is not None,
            "sha256_changed": self.sha256_changed,
            "fit": self.fit.to_json() if self.fit else None,
        }


@dataclass(frozen=True, slots=True)
class DownloadOutcome:
    entry: LibraryEntry
    result: downloads.DownloadResult


def model_name(file_name: str) -> str:
    """A short name typed on the command line: "llama-2-7b-chat.Q4_K_M.gguf" gives
    "llama-2-7b-chat-q4_k_m", and "vicuna-7b-v1.5.Q4_K_M.gguf" "vicuna-7b-v1.5-q4_k_m"."""
    stem = file_name
    for suffix in MODEL_SUFFIXES:
        stem = stem.removesuffix(suffix)
    # Dots stay inside version numbers ("v1.5") and become dashes elsewhere (".Q4_K_M").
    slug = re.sub(r"(?<!\d)\.|\.(?!\d)", "-", stem.lower())
    slug = re.sub(r"[^a-z0-9_.]+", "-", slug).strip("-.")
    return slug or "model"


def _unique(name: str, taken: set[str]) -> str:
    candidate, number = name, 2
    while candidate in taken:
        candidate = f"{name}-{number}"
        number += 1
    return candidate


def _size(path: Path) -> int | None:
    try:
        return path.stat().st_size if path.is_file() else None
    except OSError:
        return None


def _same_file(a: Path, b: Path) -> bool:
    return os.path.normcase(a.resolve()) == os.path.normcase(b.resolve())


class ModelLibrary:
    """One app home's models; every method reads the current state from disk, so the CLI
    and the desktop app can both use the library without stepping on each other."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._home = settings.home
        self.folder = settings.home / "models"
        self._cache_dir = settings.paths.cache

    # records ---------------------------------------------------------------------------

    @property
    def _file(self) -> Path:
        return self.folder / LIBRARY_FILE

    def _records(self) -> dict[str, dict[str, Any]]:
        models = read_json(self._file).get("models", {})
        if not isinstance(models, dict):
            raise DeskAssistantError(f"{self._file} is damaged; fix or delete it")
        return {name: record for name, record in models.items() if isinstance(record, dict)}

    def _save(self, records: dict[str, dict[str, Any]]) -> None:
        write_json(self._file, {"version": 1, "models": records})

    def _builtin_path(self) -> Path | None:
        try:
            path = default_llm_path()
        except DeskAssistantError:
            return None  # the wheel is missing: the library still lists the user's files
        return path if path.is_file() else None

    def _in_folder(self, path: Path) -> bool:
        try:
            path.resolve().relative_to(self.folder.resolve())
        except ValueError:
            return False
        return True

    # listing ---------------------------------------------------------------------------

    def list(self) -> list[LibraryEntry]:
        """The built-in model first, then the recorded files, then unrecorded files of the
        models folder, then the configured model if it is none of these."""
        records = self._records()
        current = self._settings.model_path
        entries: list[LibraryEntry] = []
        builtin = self._builtin_path()
        builtin_name = None
        if builtin is not None:
            builtin_name = model_name(builtin.name)
            record = records.get(builtin_name, {})
            entries.append(
                self._entry(builtin_name, builtin, "built-in", record, in_use=current is None)
            )
        for name, record in sorted(records.items()):
            recorded_path = record.get("path")
            if name == builtin_name or not isinstance(recorded_path, str) or not recorded_path:
                continue  # the built-in model's record holds only its prompt format
            path = Path(recorded_path)
            kind: Kind = "models folder" if self._in_folder(path) else "linked"
            entries.append(self._entry(name, path, kind, record, in_use=False))
        known = [entry.path for entry in entries]
        taken = {entry.name for entry in entries}
        if self.folder.is_dir():
            for path in sorted(self.folder.iterdir()):
                if path.suffix.lower() not in MODEL_SUFFIXES or not path.is_file():
                    continue
                if any(_same_file(path, other) for other in known):
                    continue
                name = _unique(model_name(path.name), taken)
                taken.add(name)
                entries.append(self._entry(name, path, "models folder", {}, in_use=False))
        if current is not None and not any(_same_file(current, e.path) for e in entries):
            name = _unique(model_name(current.name), taken)
            entries.append(self._entry(name, current, "linked", {}, in_use=True))
        if current is not None:
            entries = [
                e if not _same_file(current, e.path) else replace(e, in_use=True) for e in entries
            ]
        return entries

    def _entry(
        self, name: str, path: Path, kind: Kind, record: dict[str, Any], *, in_use: bool
    ) -> LibraryEntry:
        def text(key: str) -> str | None:
            value = record.get(key)
            return value if isinstance(value, str) else None

        return LibraryEntry(
            name=name,
            path=path,
            kind=kind,
            size_bytes=_size(path),
            in_use=in_use,
            prompt_format=text("prompt_format"),
            licence_hint=text("licence"),
            recorded_sha256=text("sha256"),
            sha256_source=text("sha256_source"),
        )

    def get(self, name: str) -> LibraryEntry:
        for entry in self.list():
            if entry.name == name:
                return entry
        names = ", ".join(entry.name for entry in self.list()) or "none"
        raise NotFoundError(
            f"no model named {name!r} in the library (models: {names})",
            command="desk-assistant models list",
        )

    def find(self, name_or_path: str | Path) -> LibraryEntry | None:
        """The entry with this name, or for this file."""
        entries = self.list()
        for entry in entries:
            if entry.name == str(name_or_path):
                return entry
        path = Path(name_or_path).expanduser()
        if path.is_file():
            return next((e for e in entries if _same_file(path, e.path)), None)
        return None

    # changes ---------------------------------------------------------------------------

    def add(
        self,
        path: str | Path,
        *,
        copy: bool = False,
        name: str | None = None,
        progress: Progress | None = None,
        verify: bool = False,
    ) -> AddResult:
        """Record a model file where it is, or copy it into the models folder.

        Only the header is read here. With ``verify``, each runtime that the metadata
        allows loads the file in a child process first, and a file none of them can load
        is refused before anything is copied or recorded.
        """
        source = Path(path).expanduser().resolve()
        read_model_info(source)  # refuses anything that is not GGUF/GGML
        existing = self.find(source)
        if existing is not None:
            return AddResult(existing, already_present=True)
        probes = self._probe(source) if verify else ()
        if verify and not any(p.ok for p in probes):
            reasons = "; ".join(f"{p.runtime}: {p.reason}" for p in probes) or "none installed"
            raise ModelLoadError(f"no runtime can load {source.name}: {reasons}")
        taken = {entry.name for entry in self.list()}
        if name is not None:
            self._check_name(name, taken)
        chosen = name or _unique(model_name(source.name), taken)
        target = source
        if copy and not self._in_folder(source):
            self.folder.mkdir(parents=True, exist_ok=True)
            target = self.folder / source.name
            if target.exists():
                raise DeskAssistantError(
                    f"the models folder already has a file named {source.name}; rename "
                    "one of them, or add this one without --copy"
                )
            copy_with_progress(source, target, self._cache_dir, progress)
        records = self._records()
        records[chosen] = {"path": str(target), "added": _now()}
        self._save(records)
        return AddResult(self.get(chosen), already_present=False, probes=probes)

    @staticmethod
    def _check_name(name: str, taken: set[str]) -> None:
        if model_name(name) != name:
            raise DeskAssistantError(
                f"invalid model name {name!r}: use lower-case letters, digits, '-', '_' and '.'"
            )
        if name in taken:
            raise DeskAssistantError(f"the name {name!r} is taken; choose another")

    def _probe(self, path: Path) -> tuple[ProbeResult, ...]:
        """A child-process load by each runtime the metadata allows; the others' verdicts
        are the metadata's reasons, without starting a process."""
        return tuple(
            probe_runtime(support.runtime, path, cache_dir=self._cache_dir)
            if support.can_load
            else ProbeResult(False, support.runtime, support.reason)
            for support in runtime_support(read_model_info(path))
        )

    def verify(self, name: str) -> tuple[ProbeResult, ...]:
        """Load the model in a child process with each runtime that may read it."""
        return self._probe(self._existing(name).path)

    def remove(self, name: str, *, delete_file: bool = False) -> RemoveResult:
        """Forget a model; delete its file only when asked and only inside the models
        folder (a linked file is the user's, wherever it is)."""
        entry = self.get(name)
        if not entry.removable:
            raise DeskAssistantError("the built-in model cannot be removed")
        inside = self._in_folder(entry.path)
        if delete_file and not inside:
            raise DeskAssistantError(
                f"{entry.path} is outside the models folder, so it is not deleted; remove "
                "the model without --delete-file to forget it, and delete the file yourself"
            )
        if inside and not delete_file and entry.exists:
            raise DeskAssistantError(
                f"{entry.name} is stored in the models folder and would reappear; add "
                "--delete-file to delete it"
            )
        back_to_builtin = entry.in_use
        if back_to_builtin:
            self._settings = update_settings(self._home, {"model_path": None})
        records = self._records()
        records.pop(entry.name, None)
        self._save(records)
        if delete_file and entry.exists:
            entry.path.unlink()
        return RemoveResult(
            entry,
            file_deleted=delete_file and entry.exists,
            back_to_builtin=back_to_builtin,
            settings=self._settings,
        )

    def set_prompt_format(self, name: str, family: str | None) -> LibraryEntry:
        """Override (or with None, go back to detecting) the prompt format of a model."""
        if family is not None and family not in PROMPT_FAMILIES:
            raise DeskAssistantError(
                f"unknown prompt format {family!r}; choose one of: {', '.join(PROMPT_FAMILIES)}"
            )
        entry = self.get(name)
        records = self._records()
        record = records.setdefault(entry.name, {"path": str(entry.path), "added": _now()})
        if family is None:
            record.pop("prompt_format", None)
        else:
            record["prompt_format"] = family
        self._save(records)
        return self.get(entry.name)

    def prompt_format_for(self, path: str | Path) -> str | None:
        """The user's prompt-format override for the model file at ``path``, if any:
        what ``chat_format_for(info, override)`` needs when the model is loaded."""
        entry = self.find(Path(path))
        return entry.prompt_format if entry is not None else None

    # using -----------------------------------------------------------------------------

    def _existing(self, name: str) -> LibraryEntry:
        entry = self.get(name)
        if not entry.exists:
            raise DeskAssistantError(
                f"the file of {entry.name} is gone ({entry.path}); add it again or remove the model"
            )
        return entry

    def info(
        self,
        name_or_path: str | Path,
        *,
        with_sha256: bool = True,
        progress: Progress | None = None,
    ) -> ModelDescription:
        entry = self.find(name_or_path)
        if entry is None:
            path = Path(name_or_path).expanduser()
            if not path.is_file():
                self.get(str(name_or_path))  # raises with the list of names
            return describe(path, self._cache_dir, with_sha256=with_sha256, progress=progress)
        if not entry.exists:
            self._existing(entry.name)
        return describe(
            entry.path,
            self._cache_dir,
            with_sha256=with_sha256,
            progress=progress,
            prompt_override=entry.prompt_format,
        )

    def licence_notice(self, name: str) -> LicenceNotice | None:
        """The licence notice to show before ``name`` is used, if it is still due."""
        entry = self._existing(name)
        description = describe(entry.path, self._cache_dir, with_sha256=False)
        return needs_acknowledgement(description, home=self._home, hint=entry.licence_hint)

    def fit(self, name: str) -> FitReport | None:
        description = self.info(name, with_sha256=False)
        return fit_report(description, self._settings.context_length)

    def report(
        self,
        name_or_path: str | Path,
        *,
        with_sha256: bool = True,
        progress: Progress | None = None,
    ) -> ModelReport:
        """What the model is, whether it fits this machine at the configured context
        length, and whether a licence notice is still due; ``with_sha256`` reads the whole
        file once per file version to hash it."""
        entry = self.find(name_or_path)
        description = self.info(name_or_path, with_sha256=with_sha256, progress=progress)
        hint = entry.licence_hint if entry else None
        return ModelReport(
            description,
            entry,
            fit_report(description, self._settings.context_length),
            needs_acknowledgement(description, home=self._home, hint=hint),
        )

    def use(self, name: str, *, accept_licence: bool = False) -> UseResult:
        """Make ``name`` the model that answers; a Llama 2 licence notice that has not been
        acknowledged raises LicenceNotAccepted unless ``accept_licence`` records it now."""
        entry = self._existing(name)
        description = describe(entry.path, self._cache_dir, with_sha256=False)
        notice = needs_acknowledgement(description, home=self._home, hint=entry.licence_hint)
        if notice is not None:
            if not accept_licence:
                raise LicenceNotAccepted(notice, entry.name)
            acknowledge(notice, home=self._home, model=entry.name)
        changes: dict[str, Any] = {"model_path": None if entry.kind == "built-in" else entry.path}
        # The runtime the file chooses, as it is now: one from the environment or an option
        # is not the user's choice to correct (and is not written back).
        runtime = saved_settings(self._home).get("runtime", "auto")
        changed_from = None
        if runtime != "auto" and runtime not in description.loadable_by:
            changed_from = runtime
            changes["runtime"] = "auto"
        self._settings = update_settings(self._home, changes)
        return UseResult(
            self.get(entry.name),
            self._settings,
            changed_from,
            notice,
            fit_report(description, self._settings.context_length),
        )

    # downloading -----------------------------------------------------------------------

    def download(
        self,
        url: str | None = None,
        *,
        catalogue: str | None = None,
        expected_sha256: str | None = None,
        progress: Progress | None = None,
        cancel: threading.Event | None = None,
    ) -> DownloadOutcome:
        """Download a URL or a catalogue entry into the models folder and record it.

        Without an expected hash the computed one is recorded ("first download"), so a
        file that changes later is noticed by ``info``.
        """
        if (url is None) == (catalogue is None):
            raise DeskAssistantError("give either a URL or a catalogue name")
        licence = None
        name = None
        if catalogue is not None:
            item = catalogue_entry(catalogue)
            url, licence, name = item.url, item.licence, item.name
            expected_sha256 = expected_sha256 or item.expected_sha256
        assert url is not None
        result = downloads.download(
            url,
            self.folder,
            expected_sha256=expected_sha256,
            progress=progress,
            cancel=cancel,
        )
        remember_sha256(result.path, self._cache_dir, result.sha256)
        taken = {entry.name for entry in self.list() if not _same_file(entry.path, result.path)}
        chosen = _unique(name or model_name(result.path.name), taken)
        records = self._records()
        record: dict[str, Any] = {
            "path": str(result.path),
            "added": _now(),
            "url": url,
            "sha256": result.sha256,
            "sha256_source": "verified" if result.verified else "first download",
        }
        if licence:
            record["licence"] = licence
        records[chosen] = record
        self._save(records)
        return DownloadOutcome(self.get(chosen), result)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
