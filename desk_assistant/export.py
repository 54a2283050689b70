"""A chat, an answer or a summary as Markdown or HTML, with its sources.

An export stands on its own: the question, what was searched for, the evidence quote, the
answer with its unsupported sentences marked, and every source with its file path, page
and the quoted passage. Document text is untrusted, and an exported file is opened by
other programs: the HTML escapes everything and loads nothing (no script, no remote
image, no external style sheet), and the Markdown defuses image links and raw HTML, so a
passage cannot make a viewer fetch a URL. The window prints the HTML to PDF.
"""

from __future__ import annotations

import html
import re
import time
from collections.abc import Sequence
from pathlib import Path

from desk_assistant.records import Answer, ChatInfo, Citation, Quote, SentenceCheck, Summary

FLAG = "⚠"
_SOURCE_CHARS = 1200  # of a passage quoted under Sources
_STYLE = """
body { font-family: sans-serif; max-width: 48em; margin: 2em auto; line-height: 1.45;
       color: #1d1d1f; }
h1 { font-size: 1.4em; } h2 { font-size: 1.1em; margin-top: 1.6em; }
.question { background: #eef1f5; padding: .5em .8em; border-radius: 4px; }
.searched, .meta, .where { color: #666; font-size: .9em; }
blockquote { border-left: 3px solid #9aa5b1; margin: .6em 0; padding: .1em .9em;
             color: #333; }
.unsupported { text-decoration: underline dotted #c0392b; }
.flag { color: #c0392b; font-size: .9em; }
ol.sources li { margin-bottom: .7em; }
"""


# markdown ----------------------------------------------------------------------------


def _defused(text: str) -> str:
    """Untrusted text for Markdown: no image link, no raw HTML."""
    return text.replace("<", "&lt;").replace("![", "!\\[")


def _quoted(text: str) -> str:
    return "\n".join(f"> {line}" if line.strip() else ">" for line in _defused(text).splitlines())


def _location(path: str, page: int | None, heading: str | None = None) -> str:
    where = (
        f"page {page}" if page is not None else (heading.replace(" > ", " › ") if heading else "")
    )
    return f"{path}, {where}" if where else path


def _quote_markdown(quote: Quote) -> str:
    marker = f" [{quote.n}]" if quote.n else ""
    where = _location(Path(quote.path).name, quote.page, quote.heading)
    return f"{_quoted('“' + quote.text + '”' + marker)}\n>\n> — *from your documents: {where}*"


def _flags_markdown(sentences: Sequence[SentenceCheck]) -> list[str]:
    lines = []
    for check in sentences:
        if check.supported:
            continue
        line = f"- {FLAG} “{_defused(check.text)}” — *{check.reason}*"
        if check.evidence is not None:
            where = _location(Path(check.evidence.path).name, check.evidence.page)
            line += f"; closest: “{_defused(check.evidence.text)}” ({where})"
        lines.append(line)
    return lines


def _sources_markdown(citations: Sequence[Citation]) -> list[str]:
    lines = ["**Sources**", ""]
    for c in citations:
        lines.append(f"{c.n}. `{c.path}`" + (f", page {c.page}" if c.page is not None else ""))
        lines.append("")
        lines.append("   " + _quoted(_clip(c.text)).replace("\n", "\n   "))
        lines.append("")
    return lines


def _clip(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= _SOURCE_CHARS else flat[:_SOURCE_CHARS].rsplit(" ", 1)[0] + " …"


def answer_markdown(answer: Answer, *, heading: str = "##") -> str:
    """One answer with its question, evidence, flags and sources, as Markdown."""
    lines = [f"{heading} {_defused(' '.join(answer.question.split()))}", ""]
    if answer.searched_for != answer.question:
        lines += [f"*Searched for: {_defused(answer.searched_for)}*", ""]
    quotes = [_quote_markdown(q) for q in answer.evidence]
    if answer.evidence_first:
        lines += [*quotes, ""] if quotes else []
    lines += [_defused(answer.text) or "*(no answer)*", ""]
    if answer.stopped:
        lines += ["*Stopped.*", ""]
    if answer.sentences and not answer.supported:
        lines += [f"**{FLAG} This answer is not backed by the documents.**", ""]
    flags = _flags_markdown(answer.sentences)
    if flags:
        lines += [*flags, ""]
    if not answer.evidence_first and quotes:
        lines += [*quotes, ""]
    if answer.citations:
        lines += _sources_markdown(answer.citations)
    return "\n".join(lines).rstrip() + "\n"


def chat_markdown(chat: ChatInfo, answers: Sequence[Answer]) -> str:
    """A whole chat as Markdown: a title, then every exchange."""
    when = time.strftime("%Y-%m-%d %H:%M", time.localtime(chat.updated_at))
    head = (
        f"# {_defused(chat.title)}\n\n*Desk Assistant chat, collection {chat.collection}, {when}*\n"
    )
    return head + "".join("\n" + answer_markdown(a) for a in answers)


def summary_markdown(summary: Summary) -> str:
    """A document summary with the sections each sentence came from."""
    lines = [f"# Summary of {Path(summary.path).name}", "", f"*{summary.path}*", ""]
    lines += [_defused(summary.text), ""]
    if summary.stopped:
        lines += ["*Stopped before the end of the document.*", ""]
    lines += _sources_markdown(summary.sections)
    return "\n".join(lines).rstrip() + "\n"


# html --------------------------------------------------------------------------------


def _paragraphs(text: str) -> str:
    blocks = [b for b in re.split(r"\n\s*\n", text.strip()) if b.strip()]
    return "".join(f"<p>{b.replace(chr(10), '<br>')}</p>" for b in blocks)


def _marked(answer: Answer) -> str:
    """The answer's text, escaped, with its unsupported sentences underlined."""
    text = answer.text
    pieces: list[str] = []
    position = 0
    for check in answer.sentences:
        found = text.find(check.text, position)
        if found < 0:
            continue
        pieces.append(html.escape(text[position:found]))
        body = html.escape(check.text)
        if not check.supported:
            title = html.escape(check.reason, quote=True)
            body = f'<span class="unsupported" title="{title}">{body}</span>'
        pieces.append(body)
        position = found + len(check.text)
    pieces.append(html.escape(text[position:]))
    return _paragraphs("".join(pieces))


def _quote_html(quote: Quote) -> str:
    marker = f" [{quote.n}]" if quote.n else ""
    where = html.escape(_location(Path(quote.path).name, quote.page, quote.heading))
    return (
        f"<blockquote>“{html.escape(quote.text)}”{marker}"
        f'<div class="where">— from your documents: {where}</div></blockquote>'
    )


def _sources_html(citations: Sequence[Citation]) -> str:
    if not citations:
        return ""
    items = "".join(
        f'<li value="{c.n}"><code>{html.escape(c.path)}</code>'
        + (f", page {c.page}" if c.page is not None else "")
        + f"<blockquote>{html.escape(_clip(c.text))}</blockquote></li>"
        for c in citations
    )
    return f'<h3>Sources</h3><ol class="sources">{items}</ol>'


def answer_html_body(answer: Answer) -> str:
    parts = [f'<h2 class="question">{html.escape(answer.question)}</h2>']
    if answer.searched_for != answer.question:
        parts.append(f'<p class="searched">Searched for: {html.escape(answer.searched_for)}</p>')
    quotes = "".join(_quote_html(q) for q in answer.evidence)
    if answer.evidence_first:
        parts.append(quotes)
    parts.append(_marked(answer) if answer.text else "<p><i>(no answer)</i></p>")
    if answer.stopped:
        parts.append("<p><i>Stopped.</i></p>")
    if answer.sentences and not answer.supported:
        parts.append(
            f'<p class="flag"><b>{FLAG} This answer is not backed by the documents.</b></p>'
        )
    for check in answer.sentences:
        if not check.supported:
            closest = ""
            if check.evidence is not None:
                where = _location(Path(check.evidence.path).name, check.evidence.page)
                closest = f"; closest: “{html.escape(check.evidence.text)}” ({html.escape(where)})"
            parts.append(
                f'<p class="flag">{FLAG} “{html.escape(check.text)}” — '
                f"{html.escape(check.reason)}{closest}</p>"
            )
    if not answer.evidence_first:
        parts.append(quotes)
    parts.append(_sources_html(answer.citations))
    return "".join(parts)


def _page(title: str, body: str) -> str:
    return (
        "<!DOCTYPE html>\n<html><head><meta charset='utf-8'>"
        # No script, no remote anything, whatever a passage says.
        "<meta http-equiv='Content-Security-Policy' content=\"default-src 'none'; "
        "style-src 'unsafe-inline'\">"
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head>"
        f"<body>{body}</body></html>\n"
    )


def answer_html(answer: Answer) -> str:
    return _page(answer.question, answer_html_body(answer))


def chat_html(chat: ChatInfo, answers: Sequence[Answer]) -> str:
    when = time.strftime("%Y-%m-%d %H:%M", time.localtime(chat.updated_at))
    head = (
        f"<h1>{html.escape(chat.title)}</h1><p class='meta'>Desk Assistant chat, collection "
        f"{html.escape(chat.collection)}, {when}</p>"
    )
    return _page(chat.title, head + "".join(answer_html_body(a) for a in answers))


def summary_html(summary: Summary) -> str:
    name = Path(summary.path).name
    body = (
        f"<h1>Summary of {html.escape(name)}</h1><p class='meta'>{html.escape(summary.path)}</p>"
        + _paragraphs(html.escape(summary.text))
        + ("<p><i>Stopped before the end of the document.</i></p>" if summary.stopped else "")
        + _sources_html(summary.sections)
    )
    return _page(f"Summary of {name}", body)
