"""The file dialog's filter: the files Desk Assistant reads, in groups a user knows."""

from __future__ import annotations

from desk_assistant.api import supported_suffixes

# Formats (the loaders' names) by the group a user looks for them under, in this order.
GROUPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Documents", ("pdf", "docx", "odt", "rtf", "epub", "text", "markdown", "html")),
    ("Spreadsheets and presentations", ("xlsx", "csv", "ods", "pptx", "odp", "odg")),
    ("E-mail", ("email",)),
    ("Images of text (read by OCR)", ("image",)),
    ("Source code and notebooks", ("code", "notebook")),
)


def _patterns(suffixes: list[str]) -> str:
    """``*.pdf *.PDF``: both cases, since file dialogs on Linux match case-sensitively."""
    return " ".join(f"*{s} *{s.upper()}" for s in suffixes)


def open_filter() -> str:
    """ "All supported files (...);;Documents (...);;...;;All files (*)"."""
    by_format = supported_suffixes()
    grouped = {name: [s for f in formats for s in by_format.get(f, ())] for name, formats in GROUPS}
    others = [s for f, found in by_format.items() for s in found if not _grouped(f)]
    if others:
        grouped["Other text formats"] = others
    every = [s for found in grouped.values() for s in found]
    entries = [f"All supported files ({_patterns(every)})"]
    entries += [f"{name} ({_patterns(found)})" for name, found in grouped.items() if found]
    return ";;".join([*entries, "All files (*)"])


def _grouped(fmt: str) -> bool:
    return any(fmt in formats for _, formats in GROUPS)
