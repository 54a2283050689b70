"""The engine's public values: frozen dataclasses, never library objects.

The CLI turns them into JSON and the desktop app into Qt models; neither needs to know
about Chroma, llama-index or llama.cpp.
"""

from __future__ import annotations

from collections.abc import Sequence
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
class Quote:
    """The sources' own words: a sentence (or two) of a cited passage, never a paraphrase.

    ``n`` is the citation it belongs to in the answer (``[n]``), 0 while not yet numbered.
    """

    text: str
    n: int
    path: str
    page: int | None
    heading: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"text": self.text, "n": self.n, "path": self.path, "page": self.page}


@dataclass(frozen=True, slots=True)
class SentenceCheck:
    """One sentence of an answer and whether the passages back it.

    ``evidence`` is the source sentence closest to it (what a click shows); ``score`` how
    close it is (0..1; 1 for a sentence too short to claim anything, which is not
    judged); ``missing`` the numbers, names or negation it has and that sentence lacks;
    ``reason`` says why it is flagged ("not found in the cited passages (12)").
    """

    text: str
    citations: tuple[int, ...]
    supported: bool
    evidence: Quote | None = None
    score: float = 0.0
    reason: str = ""
    missing: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "citations": list(self.citations),
            "supported": self.supported,
            "evidence": self.evidence.text if self.evidence else "",
            "evidence_source": (
                {"path": self.evidence.path, "page": self.evidence.page} if self.evidence else None
            ),
            "score": round(self.score, 3),
            "missing": list(self.missing),
            "reason": self.reason,
        }


@dataclass(frozen=True, slots=True)
class Searched:
    """What an answer is built on, streamed before its first token: the query searched
    for (the question made standalone in a chat) and the evidence quote.

    ``evidence_first`` says that the quote goes above the answer (the built-in small
    model's answers are weak; its quote is what to read first).
    """

    question: str
    query: str
    evidence: tuple[Quote, ...] = ()
    evidence_first: bool = False


@dataclass(frozen=True, slots=True)
class Answer:
    """The finished answer. ``grounded`` is False when the documents held nothing relevant.

    ``query`` is what was searched for (the question made standalone in a chat);
    ``sentences`` judges each sentence against the passages; ``evidence`` quotes the
    sources' best-answering sentence(s).
    """

    question: str
    text: str
    citations: tuple[Citation, ...]
    grounded: bool
    model: str
    timings: dict[str, float] = field(default_factory=dict)
    stopped: bool = False
    query: str = ""
    sentences: tuple[SentenceCheck, ...] = ()
    evidence: tuple[Quote, ...] = ()
    evidence_first: bool = False

    @property
    def supported(self) -> bool:
        """False when no sentence of the answer is backed by the passages."""
        return not self.sentences or any(s.supported for s in self.sentences)

    @property
    def searched_for(self) -> str:
        return self.query or self.question

    def to_json(self) -> dict[str, Any]:
        return {
            "answer": self.text,
            "citations": [c.to_json() for c in self.citations],
            "model": self.model,
            "grounded": self.grounded,
            "supported": self.supported,
            "query": self.searched_for,
            "sentences": [s.to_json() for s in self.sentences],
            "evidence": [q.to_json() for q in self.evidence],
            "timings": {k: round(v, 4) for k, v in self.timings.items()},
        }


@dataclass(frozen=True, slots=True)
class SummaryProgress:
    """Where a summary is: ``done`` of ``total`` steps (sections read, then the steps that
    combine their summaries, then the summary of the whole document), the seconds
    probably left, and what the step just done wrote - a section's summary with the
    section it covers, or a combined one. The ``Token``s that follow are the next step's
    text; the whole document's summary is the step after ``done == total - 1``."""

    done: int
    total: int
    seconds_left: float | None
    text: str = ""
    section: Citation | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "event": "progress",
            "done": self.done,
            "total": self.total,
            "seconds_left": None if self.seconds_left is None else round(self.seconds_left, 1),
            "text": self.text,
            "section": self.section.to_json() if self.section else None,
        }


@dataclass(frozen=True, slots=True)
class Summary:
    """A document's summary; each ``[n]`` in ``text`` cites ``sections[n - 1]`` (its
    pages and text). ``sentences`` are its sentences, each judged against the sections it
    cites; ``reduce`` says how the section summaries became it: "extract" (sentences of
    theirs, picked) or "model" (combined by the model). ``stopped`` when the caller
    stopped it before the end."""

    path: str
    text: str
    sections: tuple[Citation, ...]
    model: str
    timings: dict[str, float] = field(default_factory=dict)
    stopped: bool = False
    sentences: tuple[SentenceCheck, ...] = ()
    reduce: Literal["extract", "model"] = "model"

    def to_json(self) -> dict[str, Any]:
        return {
            "event": "summary",
            "path": self.path,
            "summary": self.text,
            "sections": [{**c.to_json(), "pages": c.heading} for c in self.sections],
            "model": self.model,
            "timings": {k: round(v, 4) for k, v in self.timings.items()},
            "sentences": [s.to_json() for s in self.sentences],
            "reduce": self.reduce,
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
    query: str = ""  # what was searched for the question this answers
    sentences: tuple[SentenceCheck, ...] = ()
    evidence: tuple[Quote, ...] = ()
    evidence_first: bool = False


def exchanges(messages: Sequence[Message]) -> list[Answer]:
    """A chat's answers with the questions they answer (a question still unanswered, or
    an answer without its question, is left out)."""
    found: list[Answer] = []
    asked: str | None = None
    for message in messages:
        if message.role == "user":
            asked = message.text
        elif asked is not None:
            found.append(
                Answer(
                    asked,
                    message.text,
                    message.citations,
                    grounded=message.grounded,
                    model=message.model or "",
                    stopped=message.stopped,
                    query=message.query,
                    sentences=message.sentences,
                    evidence=message.evidence,
                    evidence_first=message.evidence_first,
                )
            )
            asked = None
    return found


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
