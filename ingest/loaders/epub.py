"""EPUB e-books: chapters in reading order, each titled from the book's table of contents.

An EPUB is a zip of XHTML files; ``META-INF/container.xml`` names the package document,
whose spine gives the reading order, and the table of contents (the EPUB 3 navigation
document, or the EPUB 2 NCX) names the chapters as the reader sees them. Chapter text comes
from the HTML loader's extraction, so an e-book reads like a saved web page.
"""

from __future__ import annotations

import posixpath
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path
from urllib.parse import unquote

from bs4 import BeautifulSoup

from ingest.loaders import LoadedText, LoaderError
from ingest.loaders._common import library_errors, one_line, open_zip, read_member
from ingest.loaders.html import decode_html, html_sections
from ingest.types import Section

WHAT = "EPUB e-book"

_CONTAINER = "{urn:oasis:names:tc:opendocument:xmlns:container}"
_OPF = "{http://www.idpf.org/2007/opf}"
_NCX = "{http://www.daisy.org/z3986/2005/ncx/}"
_ENC = "{http://www.w3.org/2001/04/xmlenc#}"
_CHAPTER_TYPES = {"application/xhtml+xml", "text/html", "application/xml"}
# Fonts "encrypted" with these are only obfuscated (a publisher's licence requirement); any
# other algorithm on a chapter is DRM.
_FONT_OBFUSCATION = {"http://www.idpf.org/2008/embedding", "http://ns.adobe.com/pdf/enc#RC"}


def load_epub(path: Path) -> LoadedText:
    with open_zip(path, WHAT) as archive:
        with library_errors(f"not a valid {WHAT} (damaged package document)"):
            package = _package_path(archive)
            opf = ET.fromstring(read_member(archive, package, WHAT))
            manifest = _manifest(opf, posixpath.dirname(package))
            spine = _spine(opf, manifest)
        if not spine:
            raise LoaderError(f"not a valid {WHAT} (no chapters in its spine)")
        if _drm_protected(archive, spine):
            raise LoaderError("protected by DRM (encrypted e-book)")
        titles = _toc_titles(archive, opf, manifest)
        sections: list[Section] = []
        unreadable = 0
        for chapter in spine:
            try:
                markup = decode_html(read_member(archive, chapter, WHAT))
                sections.extend(html_sections(markup, titles.get(chapter)))
            except LoaderError:
                unreadable += 1
    if not sections:
        raise LoaderError(
            f"not a valid {WHAT} (no chapter could be read)" if unreadable else "no text"
        )
    warnings = (f"{unreadable} of {len(spine)} chapters could not be read",) if unreadable else ()
    return LoadedText(format="epub", sections=sections, warnings=warnings)


def _package_path(archive: zipfile.ZipFile) -> str:
    container = ET.fromstring(read_member(archive, "META-INF/container.xml", WHAT))
    for rootfile in container.iter(f"{_CONTAINER}rootfile"):
        full_path = rootfile.get("full-path")
        if full_path and rootfile.get("media-type", "").endswith("oebps-package+xml"):
            return full_path
    raise LoaderError(f"not a valid {WHAT} (container.xml names no package document)")


def _manifest(opf: ET.Element, base: str) -> dict[str, tuple[str, str, str]]:
    """Item id -> (path in the zip, media type, properties)."""
    items = {}
    for item in opf.iter(f"{_OPF}item"):
        item_id, href = item.get("id"), item.get("href")
        if item_id and href:
            items[item_id] = (
                _resolve(base, href),
                item.get("media-type", ""),
                item.get("properties", ""),
            )
    return items


def _spine(opf: ET.Element, manifest: dict[str, tuple[str, str, str]]) -> list[str]:
    chapters = []
    for itemref in opf.iter(f"{_OPF}itemref"):
        entry = manifest.get(itemref.get("idref", ""))
        if entry and entry[1] in _CHAPTER_TYPES and entry[0] not in chapters:
            chapters.append(entry[0])
    return chapters


def _resolve(base: str, href: str) -> str:
    """A reference relative to the file it appears in -> the member name in the zip."""
    target = unquote(href.partition("#")[0])
    return posixpath.normpath(posixpath.join(base, target)).lstrip("/")


def _drm_protected(archive: zipfile.ZipFile, chapters: list[str]) -> bool:
    if "META-INF/encryption.xml" not in archive.namelist():
        return False
    with library_errors(f"not a valid {WHAT} (damaged encryption.xml)"):
        encryption = ET.fromstring(read_member(archive, "META-INF/encryption.xml", WHAT))
    wanted = set(chapters)
    for data in encryption.iter(f"{_ENC}EncryptedData"):
        method = data.find(f"{_ENC}EncryptionMethod")
        reference = data.find(f".//{_ENC}CipherReference")
        if method is None or reference is None:
            continue
        algorithm = method.get("Algorithm", "")
        if algorithm not in _FONT_OBFUSCATION and _resolve("", reference.get("URI", "")) in wanted:
            return True
    return False


def _toc_titles(
    archive: zipfile.ZipFile, opf: ET.Element, manifest: dict[str, tuple[str, str, str]]
) -> dict[str, str]:
    """Chapter file -> its title in the table of contents (the first entry pointing at it).

    A broken table of contents costs the titles, not the book.
    """
    titles: dict[str, str] = {}
    nav = next((path for path, _, props in manifest.values() if "nav" in props.split()), None)
    spine = opf.find(f"{_OPF}spine")
    ncx_id = spine.get("toc") if spine is not None else None
    ncx = manifest.get(ncx_id or "", (None, "", ""))[0] or next(
        (path for path, media, _ in manifest.values() if media == "application/x-dtbncx+xml"),
        None,
    )
    try:
        if nav:
            _nav_titles(archive, nav, titles)
        if ncx and not titles:
            _ncx_titles(archive, ncx, titles)
    except (LoaderError, ET.ParseError):
        pass
    return titles


def _nav_titles(archive: zipfile.ZipFile, nav: str, titles: dict[str, str]) -> None:
    with library_errors(f"not a valid {WHAT} (damaged navigation document)"):
        soup = BeautifulSoup(decode_html(read_member(archive, nav, WHAT)), "html.parser")
        tocs = [n for n in soup.find_all("nav") if "toc" in str(n.get("epub:type", "")).split()]
        for link in (tocs[0] if tocs else soup).find_all("a", href=True):
            title = one_line(link.get_text(" "))
            if title:
                titles.setdefault(_resolve(posixpath.dirname(nav), str(link["href"])), title)


def _ncx_titles(archive: zipfile.ZipFile, ncx: str, titles: dict[str, str]) -> None:
    root = ET.fromstring(read_member(archive, ncx, WHAT))
    for point in root.iter(f"{_NCX}navPoint"):
        label = point.find(f"{_NCX}navLabel/{_NCX}text")
        content = point.find(f"{_NCX}content")
        if label is None or content is None:
            continue
        title = one_line(label.text or "")
        if title and content.get("src"):
            titles.setdefault(_resolve(posixpath.dirname(ncx), content.get("src", "")), title)
