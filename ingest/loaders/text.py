"""Plain text in whatever encoding the user's editor saved it."""

from __future__ import annotations

import codecs
from pathlib import Path

import charset_normalizer

from ingest.loaders import LoadedText, LoaderError
from ingest.types import Section

# UTF-32 first: its little-endian BOM starts with the UTF-16 one.
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)

# Declared labels read the way browsers read them (WHATWG Encoding Standard): "latin-1"
# pages routinely contain curly quotes from windows-1252, and a page declaring UTF-16
# without a BOM is really ASCII-compatible.
_DECLARED_ALIASES = {
    **dict.fromkeys(
        ("iso-8859-1", "iso8859-1", "latin-1", "latin1", "us-ascii", "ascii"), "cp1252"
    ),
    **dict.fromkeys(("utf-16", "utf-16le", "utf-16be", "utf-32"), "utf-8"),
}

_SAMPLE = 4096


def _unicode_without_bom(data: bytes) -> str | None:
    """Recognise BOM-less UTF-16, whose ASCII characters put a NUL in every other byte."""
    sample = data[:_SAMPLE]
    half = max(len(sample) // 2, 1)
    even_nuls = sample[0::2].count(0) / half
    odd_nuls = sample[1::2].count(0) / half
    for encoding, nuls, other in (
        ("utf-16-le", odd_nuls, even_nuls),
        ("utf-16-be", even_nuls, odd_nuls),
    ):
        if nuls > 0.3 and other < 0.05:
            try:
                text = data.decode(encoding)
            except UnicodeDecodeError:
                return None
            # Arrays of small 16-bit integers have the same NUL pattern; text is printable.
            sample_text = text[:2000]
            controls = sum(not c.isprintable() and c not in "\t\n\r\f" for c in sample_text)
            return text if controls < 20 else None
    return None


def decode_text(data: bytes, declared: str | None = None) -> str:
    """Decode file bytes to text with ``\\n`` newlines, or refuse binary content.

    Order: a byte-order mark is certain; a charset the file declares (HTML meta) is trusted
    only if the bytes decode with it; then UTF-8, which rarely decodes non-UTF-8 text by
    accident; only then the statistical guess of charset_normalizer.
    """
    text: str | None = None
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            text = data.decode(encoding, errors="replace")
            break
    if text is None and declared:
        text = _try_decode(data, declared)
    if text is None and b"\x00" in data:
        text = _unicode_without_bom(data)
        if text is None:
            raise LoaderError("binary file, not text")
    if text is None:
        text = _try_decode(data, "utf-8")
    if text is None:
        text = _guess(data)
    return text.lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n")


def _guess(data: bytes) -> str:
    """Ask charset_normalizer, breaking its ties in favour of windows-1252.

    On short Western European text several code pages score the same (é and è are just two
    bytes), and charset_normalizer then picks alphabetically: cp1250 turns "crème" into
    "crčme". windows-1252 is by far the most common legacy encoding, so a tie goes to it.
    """
    matches = list(charset_normalizer.from_bytes(data))
    if not matches:
        raise LoaderError("binary file, not text")
    best = matches[0]
    for match in matches:
        if (match.chaos, match.coherence) != (best.chaos, best.coherence):
            break
        if "cp1252" in match.could_be_from_charset:
            return str(match)
    return str(best)


def _try_decode(data: bytes, encoding: str) -> str | None:
    name = encoding.strip().lower()
    name = _DECLARED_ALIASES.get(name, name)
    try:
        return data.decode(name)
    except (LookupError, UnicodeDecodeError):
        return None


def read_text(path: Path) -> str:
    """Read and decode a text file; whitespace-only files have nothing to index."""
    text = decode_text(path.read_bytes())
    if not text.strip():
        raise LoaderError("no text")
    return text


def load_text(path: Path) -> LoadedText:
    return LoadedText(format="text", sections=[Section(text=read_text(path))])
