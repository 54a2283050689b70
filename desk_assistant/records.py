"""The engine's public values: frozen dataclasses, never library objects.

The CLI turns them into JSON and the desktop app into Qt models; neither needs to know
about Chroma, llama-index or llama.cpp.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal


@dataclass(frozen=True, slots=True)
class Passage:
    """A retrieved chunk: where it is, what it says and how relevant it scored.

    ``score`` is the fused rank score used for ordering; ``similarity`` is the cosine
    similarity of the dense match (``None`` when only the lexical index found it), which
    is what abstention is decided on.
    """

    chunk_id: str
    path: str
    page: int | None
    heading: str | None
    start: int
    end: int
    text: str
    score: float
    similarity: float | None = None


@dataclass(frozen=True, slots=True)
class SearchFilter:
    """Restrict a search or question to some files, folders or formats (any that match).

    Formats are loader names: pdf, docx, pptx, xlsx, csv, odt, epub, html, markdown, text,
    email, code, image, ...
    """

    paths: tuple[str, ...] = ()
    folders: tuple[str, ...] = ()
    formats: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.paths or self.folders or self.formats)


@dataclass(frozen=True, slots=True)
class Citation:
    """A numbered source of an answer: ``[n]`` in the text maps to this."""

    n: int
    path: str
    page: int | None
    text: str
    score: float
    heading: str | None = None
    start: int = 0
    end: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "n": self.n,
            "path": self.path,
            "page": self.page,
            "text": self.text,
            "score": round(self.score, 4),
        }


@dataclass(frozen=True, slots=True)
class Token:
    """A piece of streamed answer text."""

    text: str


@dataclass(frozen=True, slots=True)
class Answer:
    """The finished answer. ``grounded`` is False when the documents held nothing relevant."""

    question: str
    text: str
    citations: tuple[Citation, ...]
    grounded: bool
    model: str
    timings: dict[str, float] = field(default_factory=dict)
    stopped: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "answer": self.text,
            "citations": [c.to_json() for c in self.citations],
            "model": self.model,
            "grounded": self.grounded,
            "timings": {k: round(v, 4) for k, v in self.timings.items()},
        }


FileOutcome = Literal[
    "added", "updated", "unchanged", "removed", "failed", "skipped", "unavailable"
]


IngestKind = Literal["waiting", "scan", "parse", "ocr", "chunk", "embed", "file", "summary"]


@dataclass(frozen=True, slots=True)
class IngestEvent:
    """One step of an ingestion run, streamed to the CLI and the UI.

    ``kind`` is "waiting" (another writer has the data folder: ``reason`` says who; sent
    now and then until it is free), "scan" (discovery done: ``total`` files to process,
    ``queued`` with their ``sizes``), "file" (one file finished with ``outcome``; ``done``
    of ``total`` files), or "summary" (the run's counts, always last). In between, a long
    file says how far it is: "parse" and "ocr" (``done`` of ``total`` pages of ``path``
    read from the text layer / by OCR), "chunk" (``done`` of ``total`` sections split into
    chunks) and "embed" (``done`` of ``total`` chunks of ``path`` embedded).
    """

    kind: IngestKind
    path: str | None = None
    queued: tuple[str, ...] = ()  # scan: the files this run will read or re-point
    sizes: tuple[int, ...] = ()  # scan: their sizes in bytes
    outcome: FileOutcome | None = None
    reason: str | None = None
    chunks: int = 0
    pages: int | None = None
    done: int = 0
    total: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()  # indexed, but parts of the file could not be read

    def to_json(self) -> dict[str, Any]:
        if self.kind == "summary":
            return {"event": "summary", **self.counts}
        if self.kind == "scan":
            return {"event": "scan", "total": self.total, **self.counts}
        if self.kind == "waiting":
            return {"event": "waiting", "reason": self.reason}
        hidden = ("counts", "queued", "sizes", "warnings")
        data = {k: v for k, v in asdict(self).items() if v is not None and k not in hidden}
        data["event"] = data.pop("kind")
        if self.warnings:
            data["warnings"] = list(self.warnings)
        return data


@dataclass(frozen=True, slots=True)
class SourceInfo:
    """A document of a collection as the library lists it."""

    path: str
    collection: str
    status: str
    error: str | None
    format: str | None
    pages: int | None
    chunks: int
    size: int
    indexed_at: float | None
    warnings: tuple[str, ...] = ()  # what the loader could not read ("40 of 100 pages ...")

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["warnings"] = list(self.warnings)
        return data


@dataclass(frozen=True, slots=True)
class CollectionInfo:
    name: str
    embedding_model: str | None
    sources: int
    chunks: int

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class ChatInfo:
    id: int
    title: str
    collection: str
    created_at: float
    updated_at: float
    messages: int

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class Message:
    """One turn of a chat: a question, or an answer with its citations."""

    id: int
    chat_id: int
    role: Literal["user", "assistant"]
    text: str
    citations: tuple[Citation, ...] = ()
    grounded: bool = True
    stopped: bool = False
    model: str | None = None
    created_at: float = 0.0


@dataclass(frozen=True, slots=True)
class Status:
    """What a data folder holds for one collection, and which models it uses."""

    home: str
    collection: str
    collections: tuple[str, ...]
    followed: tuple[str, ...]
    excludes: tuple[str, ...]
    sources: int
    indexed: int
    failed: int
    unavailable: int  # on a drive or share that is not there now: kept, still citable
    chunks: int
    embedding_model: str | None
    model: str
    runtime: str
    vector_store: str
    pending_changes: int

    def to_json(self) -> dict[str, Any]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}


@dataclass(frozen=True, slots=True)
class Finding:
    """One inconsistency ``doctor`` found between the manifest and a derived index."""

    check: str
    problem: str
    repaired: bool = False

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class HealthReport:
    """What ``doctor`` checked in a collection (how many of each), and what it found."""

    collection: str
    checked: dict[str, int]
    findings: tuple[Finding, ...]

    @property
    def healthy(self) -> bool:
        return all(f.repaired for f in self.findings)

    def to_json(self) -> dict[str, Any]:
        return {
            "collection": self.collection,
            "healthy": self.healthy,
            "checked": self.checked,
            "findings": [f.to_json() for f in self.findings],
        }
