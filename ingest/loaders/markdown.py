"""Markdown, split at ATX headings so each passage cites the heading it sits under.

A line scanner rather than a Markdown parser: sections keep the text exactly as written,
so chunk offsets highlight the original file, and a fenced ``# comment`` in a shell
snippet must not start a section.
"""

from __future__ import annotations

import re
from pathlib import Path

from ingest.loaders import LoadedText
from ingest.loaders._common import SectionBuilder
from ingest.loaders.text import read_text

_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_ATX = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")


def load_markdown(path: Path) -> LoadedText:
    builder = SectionBuilder()
    fence: str | None = None
    for line in read_text(path).split("\n"):
        opener = _FENCE.match(line)
        if fence is None and opener:
            fence = opener.group(1)
        elif fence is not None and opener and opener.group(1).startswith(fence):
            fence = None
        elif fence is None and (heading := _ATX.match(line)):
            title = (heading.group(2) or "").strip()
            builder.heading(len(heading.group(1)), title, line)
            continue
        builder.add(line)
    return LoadedText(format="markdown", sections=builder.finish())
