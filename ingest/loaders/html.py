"""Saved web pages: the article text, split at headings, without the site's chrome.

Menus, sidebars and footers repeat on every page of a site; indexed, they would make every
saved page match questions about "Contents" or "Privacy policy".
"""

from __future__ import annotations

import re
from pathlib import Path

from bs4 import BeautifulSoup
from bs4.element import NavigableString, PreformattedString, Tag

from ingest.loaders import LoadedText, LoaderError
from ingest.loaders._common import SectionBuilder, library_errors
from ingest.loaders.text import decode_text
from ingest.types import Section

_DECLARED_CHARSET = re.compile(
    rb"""<meta[^>]+charset\s*=\s*["']?\s*([\w.:-]+)|<\?xml[^>]+encoding\s*=\s*["']([\w.:-]+)""",
    re.IGNORECASE,
)

# header, footer and form are dropped too, unless they hold content (see _is_boilerplate).
_DROP_TAGS = (
    "script",
    "style",
    "noscript",
    "template",
    "svg",
    "nav",
    "aside",
    "head",
    "iframe",
    "object",
    "button",
    "select",
)
_BOILERPLATE_IDS = {
    "mw-navigation",
    "mw-panel",
    "mw-head",
    "mw-page-base",
    "mw-head-base",
    "footer",
    "catlinks",
    "jump-to-nav",
    "toc",
    "siteSub",
    "contentSub",
    "column-one",
    "p-cactions",
    "p-personal",
    "p-logo",
    "p-navigation",
    "p-search",
    "p-tb",
    "p-lang",
    "siteNotice",
}
_BOILERPLATE_CLASSES = {
    "printfooter",
    "mw-editsection",
    "editsection",
    "navbox",
    "toc",
    "catlinks",
    "portlet",
    "mw-jump-link",
    "noprint",
    "sr-only",
    "visually-hidden",
    "cookie-banner",
    "breadcrumb",
}
# In priority order: the most reliable marker of "the article" first. MediaWiki's #content
# holds the page title; #bodyContent and #mw-content-text lack it.
_CONTENT_ROOTS = ("main", "article", "[role=main]", "#content", "#bodyContent", "#mw-content-text")
# Sectioning elements whose own header/footer belong to the content (an article's title).
_SECTIONING = ("article", "main", "section")

_BLOCKS = {
    "address",
    "article",
    "blockquote",
    "body",
    "caption",
    "dd",
    "details",
    "div",
    "dl",
    "dt",
    "fieldset",
    "figcaption",
    "figure",
    "hr",
    "html",
    "li",
    "main",
    "ol",
    "p",
    "section",
    "summary",
    "table",
    "tbody",
    "tfoot",
    "thead",
    "ul",
}
_HEADING_LEVELS = {f"h{level}": level for level in range(1, 7)}


def load_html(path: Path) -> LoadedText:
    sections = html_sections(decode_html(path.read_bytes()))
    if not sections:
        raise LoaderError("no text")
    return LoadedText(format="html", sections=sections)


def decode_html(data: bytes) -> str:
    """Decode a saved page, trusting the charset its ``<meta>`` or XML declaration names."""
    declared = _DECLARED_CHARSET.search(data[:4096])
    charset = (declared.group(1) or declared.group(2)).decode() if declared else None
    return decode_text(data, charset)


def html_sections(markup: str, title: str | None = None) -> list[Section]:
    """The article text of a page, one section per heading.

    Also serves markup found inside other files (e-book chapters, HTML e-mail). ``title``
    is the document's name when the caller knows it better than ``<title>`` does (an
    e-book's table of contents): it heads the sections unless the text opens with it.
    """
    with library_errors("not a readable web page"):
        soup = BeautifulSoup(markup, "html.parser")
        page_title = _inline_text(soup.title) if soup.title else ""
        _strip_boilerplate(soup)
        root = _content_root(soup)
        builder = SectionBuilder()
        if title:
            first = root.find(list(_HEADING_LEVELS))
            opening = _inline_text(first).casefold() if isinstance(first, Tag) else ""
            if not opening or (title.casefold() not in opening and opening not in title.casefold()):
                builder.heading(0, title)
        elif page_title and root.find("h1") is None:
            builder.heading(0, page_title)
        _Walker(builder).block(root)
        return builder.finish()


def _strip_boilerplate(soup: BeautifulSoup) -> None:
    page_chars = len(soup.get_text())
    for tag in soup.find_all(True):
        if not tag.decomposed and _is_boilerplate(tag, page_chars):
            tag.decompose()


def _is_boilerplate(tag: Tag, page_chars: int) -> bool:
    if tag.name in ("header", "footer"):
        return tag.find_parent(_SECTIONING) is None
    if tag.name == "form":
        # ASP.NET WebForms pages wrap the whole page in one <form>.
        return len(tag.get_text()) < page_chars / 2
    if tag.name in _DROP_TAGS:
        return True
    if tag.get("role") == "navigation" or tag.get("id") in _BOILERPLATE_IDS:
        return True
    if tag.has_attr("hidden") or "display:none" in str(tag.get("style", "")).replace(" ", ""):
        return True
    return not _BOILERPLATE_CLASSES.isdisjoint(tag.get_attribute_list("class"))


def _content_root(soup: BeautifulSoup) -> Tag:
    """The element holding the article; a selector matching several elements is no guide."""
    for selector in _CONTENT_ROOTS:
        found = soup.select(selector)
        if len(found) == 1 and found[0].get_text(strip=True):
            root: Tag = found[0]
            return root
    return soup.body or soup


def _inline_text(tag: Tag) -> str:
    return " ".join(tag.get_text(" ").split())


class _Walker:
    """Renders the tree as lines: blocks break lines, inline text flows and is collapsed."""

    def __init__(self, builder: SectionBuilder) -> None:
        self._builder = builder
        self._inline: list[str] = []

    def block(self, tag: Tag) -> None:
        self._break()
        self._children(tag)
        self._break()

    def _children(self, tag: Tag) -> None:
        for child in tag.children:
            if isinstance(child, Tag):
                self._element(child)
            elif isinstance(child, NavigableString) and not isinstance(
                child, PreformattedString
            ):  # comments, CDATA, doctype and processing instructions are not text
                self._inline.append(str(child))

    def _element(self, tag: Tag) -> None:
        name = tag.name
        if name in _HEADING_LEVELS:
            self._break()
            heading = _inline_text(tag)
            self._builder.heading(_HEADING_LEVELS[name], heading, heading)
        elif name == "br":
            self._break()
        elif name == "tr":
            self._break()
            cells = [_inline_text(cell) for cell in tag.find_all(("td", "th"), recursive=False)]
            if any(cells):
                self._builder.add(" | ".join(cells))
        elif name == "pre":
            self._break()
            self._builder.add(tag.get_text().strip("\n"))
        elif name in _BLOCKS:
            self.block(tag)
        else:
            self._children(tag)

    def _break(self) -> None:
        line = " ".join("".join(self._inline).split())
        self._inline.clear()
        if line:
            self._builder.add(line)
