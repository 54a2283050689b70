"""Loader registry: which parser reads which file, chosen by extension and sniffed content.

Loader modules import their parsing library (pypdfium2, python-docx, ...) at the top, so
the registry names them by module path and imports one only when a file needs it: the
app and CLI start without paying for parsers they may never use.
"""

from __future__ import annotations

import importlib
import re
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ingest.types import Section


class LoaderError(Exception):
    """A file that cannot be read; the message is the reason shown to the user."""


@dataclass(frozen=True, slots=True)
class LoadedText:
    """Everything a loader extracted from one file."""

    format: str
    sections: list[Section]
    pages: int | None = None
    warnings: tuple[str, ...] = ()


Loader = Callable[[Path], LoadedText]

# format name -> "module:function"
_LOADERS: dict[str, str] = {
    "text": "ingest.loaders.text:load_text",
    "markdown": "ingest.loaders.markdown:load_markdown",
    "pdf": "ingest.loaders.pdf:load_pdf",
    "docx": "ingest.loaders.docx:load_docx",
    "html": "ingest.loaders.html:load_html",
    "pptx": "ingest.loaders.pptx:load_pptx",
    "xlsx": "ingest.loaders.spreadsheet:load_xlsx",
    "csv": "ingest.loaders.spreadsheet:load_csv",
    "odt": "ingest.loaders.odf:load_odf",
    "ods": "ingest.loaders.odf:load_odf",
    "odp": "ingest.loaders.odf:load_odf",
    "odg": "ingest.loaders.odf:load_odf",
    "epub": "ingest.loaders.epub:load_epub",
    "rtf": "ingest.loaders.rtf:load_rtf",
    "email": "ingest.loaders.email_loader:load_email",
    "code": "ingest.loaders.code:load_code",
    "notebook": "ingest.loaders.code:load_notebook",
    "image": "ingest.loaders.image:load_image",
}

# Source code and configuration: suffix -> what it is, in the words a user would use (the
# heading of the file's section). Here rather than in the code loader so that deciding
# whether a file is supported imports no loader.
CODE_LANGUAGES: dict[str, str] = {
    ".py": "Python",
    ".pyw": "Python",
    ".pyi": "Python stub",
    ".js": "JavaScript",
    ".mjs": "JavaScript",
    ".cjs": "JavaScript",
    ".jsx": "JavaScript (JSX)",
    ".ts": "TypeScript",
    ".tsx": "TypeScript (TSX)",
    ".vue": "Vue component",
    ".svelte": "Svelte component",
    ".java": "Java",
    ".kt": "Kotlin",
    ".kts": "Kotlin script",
    ".scala": "Scala",
    ".groovy": "Groovy",
    ".gradle": "Gradle build script",
    ".c": "C",
    ".h": "C/C++ header",
    ".cpp": "C++",
    ".cc": "C++",
    ".cxx": "C++",
    ".hpp": "C++ header",
    ".hh": "C++ header",
    ".cs": "C#",
    ".go": "Go",
    ".rs": "Rust",
    ".swift": "Swift",
    ".m": "Objective-C or MATLAB",
    ".dart": "Dart",
    ".rb": "Ruby",
    ".php": "PHP",
    ".pl": "Perl",
    ".pm": "Perl module",
    ".lua": "Lua",
    ".r": "R",
    ".jl": "Julia",
    ".hs": "Haskell",
    ".ml": "OCaml",
    ".ex": "Elixir",
    ".exs": "Elixir script",
    ".erl": "Erlang",
    ".clj": "Clojure",
    ".sh": "Shell script",
    ".bash": "Bash script",
    ".zsh": "Zsh script",
    ".fish": "Fish script",
    ".ps1": "PowerShell script",
    ".bat": "Windows batch file",
    ".cmd": "Windows batch file",
    ".sql": "SQL",
    ".graphql": "GraphQL",
    ".proto": "Protocol Buffers",
    ".tf": "Terraform",
    ".cmake": "CMake",
    ".css": "CSS",
    ".scss": "SCSS",
    ".sass": "Sass",
    ".less": "Less",
    ".tex": "LaTeX",
    ".bib": "BibTeX",
    ".json": "JSON",
    ".jsonc": "JSON",
    ".yaml": "YAML",
    ".yml": "YAML",
    ".toml": "TOML",
    ".ini": "INI configuration",
    ".cfg": "Configuration",
    ".conf": "Configuration",
    ".properties": "Java properties",
    ".xml": "XML",
    ".xsd": "XML Schema",
    ".xsl": "XSLT",
}

EXTENSIONS: dict[str, str] = {
    ".txt": "text",
    ".text": "text",
    ".log": "text",
    ".rst": "text",
    ".md": "markdown",
    ".markdown": "markdown",
    ".pdf": "pdf",
    ".docx": "docx",
    ".html": "html",
    ".htm": "html",
    ".xhtml": "html",
    ".pptx": "pptx",
    ".pptm": "pptx",
    ".xlsx": "xlsx",
    ".xlsm": "xlsx",
    ".csv": "csv",
    ".tsv": "csv",
    ".odt": "odt",
    ".ott": "odt",
    ".ods": "ods",
    ".ots": "ods",
    ".odp": "odp",
    ".otp": "odp",
    ".odg": "odg",
    ".epub": "epub",
    ".rtf": "rtf",
    ".eml": "email",
    ".mbox": "email",
    ".ipynb": "notebook",
    **dict.fromkeys(CODE_LANGUAGES, "code"),
    **dict.fromkeys((".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".gif", ".webp"), "image"),
}


def is_supported(path: Path) -> bool:
    return path.suffix.lower() in EXTENSIONS


# Only markup may come before <html>: a text file that merely mentions "<html" near the top
# (notes, logs) must stay text.
_HTML_START = re.compile(
    rb"(?:\xef\xbb\xbf)?(?:\s|<\?xml[^>]*>|<!--.*?-->|<!doctype[^>]*>)*<(?:!doctype\s+)?html",
    re.IGNORECASE | re.DOTALL,
)


# A PDF may have junk before its header (pdf.js keeps such files as tests), but the header
# starts a line: source code that merely mentions b"%PDF-" is not a PDF.
_PDF_START = re.compile(rb"(?:^|[\r\n])%PDF-")
_IMAGE_MAGIC = (
    b"\x89PNG\r\n\x1a\n",
    b"\xff\xd8\xff",
    b"GIF87a",
    b"GIF89a",
    b"II*\x00",
    b"MM\x00*",
)
# BITMAPINFOHEADER sizes: "BM" alone starts too many words to mean a bitmap.
_BMP_HEADER_SIZES = {12, 40, 52, 56, 64, 108, 124}
_OOXML_PARTS = (("word/", "docx"), ("ppt/", "pptx"), ("xl/", "xlsx"))
_ZIP_MIMETYPES = {
    "application/epub+zip": "epub",
    "application/vnd.oasis.opendocument.text": "odt",
    "application/vnd.oasis.opendocument.spreadsheet": "ods",
    "application/vnd.oasis.opendocument.presentation": "odp",
    "application/vnd.oasis.opendocument.graphics": "odg",
}
# The first local file header: 30 bytes, then the member's name, then (stored) its data.
_STORED_MIMETYPE = re.compile(rb"PK\x03\x04.{26}mimetype([\x20-\x7e]{1,80})", re.DOTALL)
_LOCAL_NAMES = re.compile(rb"PK\x03\x04.{26}([\x20-\x7e]{1,100})", re.DOTALL)
_MAIL_HEADER = re.compile(rb"([A-Za-z][A-Za-z0-9-]*):(?:[ \t]|$)")
_MAIL_HEADERS = {
    b"from",
    b"to",
    b"cc",
    b"date",
    b"subject",
    b"message-id",
    b"received",
    b"return-path",
    b"delivered-to",
    b"mime-version",
    b"reply-to",
    b"in-reply-to",
    b"references",
}
# Formats that are text which may legitimately open like a web page or a mail header
# (an HTML snippet in Markdown, "From:" in a YAML file): their extension is believed.
_TEXT_FORMATS = {"markdown", "code", "notebook", "csv", "email", "html"}


def sniff(path: Path) -> str | None:
    """Guess the format from the first bytes, so a mislabelled file still parses right."""
    with path.open("rb") as handle:
        head = handle.read(2048)
    if head.startswith(b"%PDF") or _PDF_START.search(head[:1024]):
        return "pdf"
    if head.startswith(b"PK\x03\x04"):
        return _sniff_zip(path, head)
    return next((fmt for fmt, looks_like in _HEAD_SNIFFERS if looks_like(head)), None)


def _is_rtf(head: bytes) -> bool:
    return head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"{\\rtf")


def _is_html(head: bytes) -> bool:
    return _HTML_START.match(head) is not None


def _is_image(head: bytes) -> bool:
    if head.startswith(_IMAGE_MAGIC):
        return True
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return True
    return head[:2] == b"BM" and int.from_bytes(head[14:18], "little") in _BMP_HEADER_SIZES


def _sniff_zip(path: Path, head: bytes) -> str | None:
    """Office, OpenDocument and EPUB files are all zips; their members tell them apart.

    ODF and EPUB store a ``mimetype`` member first and uncompressed; Office packages keep
    each application's parts in its own folder. A zip too damaged to list is judged by the
    member names in its first bytes.
    """
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
            mimetype = ""
            if "mimetype" in names and archive.getinfo("mimetype").file_size < 200:
                mimetype = archive.read("mimetype").decode("ascii", "replace").strip()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError):
        stored = _STORED_MIMETYPE.match(head)
        mimetype = stored.group(1).decode("ascii") if stored else ""
        names = [name.decode("latin-1") for name in _LOCAL_NAMES.findall(head)]
    for prefix, fmt in _ZIP_MIMETYPES.items():
        if mimetype.startswith(prefix):  # "...opendocument.text-template" is a text too
            return fmt
    for folder, fmt in _OOXML_PARTS:
        if any(name.startswith(folder) for name in names):
            return fmt
    return None


def _is_mail(head: bytes) -> bool:
    """An e-mail starts with a block of "Name: value" header lines, some of them mail's."""
    lines = head.split(b"\n")[:-1]  # the last line may be cut short
    if lines and lines[0].startswith(b"From "):
        lines = lines[1:]  # the envelope line of a mailbox
    names: set[bytes] = set()
    for raw in lines:
        line = raw.rstrip(b"\r")
        if not line:
            break
        if line[:1] in (b" ", b"\t") and names:
            continue  # a folded header's continuation
        match = _MAIL_HEADER.match(line)
        if match is None:
            return False
        names.add(match.group(1).lower())
    return len(names & _MAIL_HEADERS) >= 3


_HEAD_SNIFFERS: tuple[tuple[str, Callable[[bytes], bool]], ...] = (
    ("rtf", _is_rtf),
    ("image", _is_image),
    ("html", _is_html),
    ("email", _is_mail),
)


def format_for(path: Path) -> str:
    """The format to parse ``path`` as: the sniffed content wins over the extension."""
    by_extension = EXTENSIONS.get(path.suffix.lower(), "text")
    sniffed = sniff(path)
    if sniffed is None or sniffed == by_extension:
        return by_extension
    if sniffed in ("html", "email") and by_extension in _TEXT_FORMATS:
        return by_extension
    return sniffed


def get_loader(fmt: str) -> Loader:
    module_name, _, function = _LOADERS[fmt].partition(":")
    loader: Loader = getattr(importlib.import_module(module_name), function)
    return loader


def load(path: Path) -> LoadedText:
    """Parse one file into sections, raising ``LoaderError`` with a readable reason."""
    if path.stat().st_size == 0:
        raise LoaderError("empty file")
    fmt = format_for(path)
    return get_loader(fmt)(path)
