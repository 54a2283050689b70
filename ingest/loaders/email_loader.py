"""E-mail: single messages (.eml) and mailboxes (.mbox), one section per message.

A message is cited as "Subject (From, Date)", which is how people remember mail. Its
section holds the headers a question may name (who, when, about what) and the body: the
plain-text part when the sender's program wrote one, else the HTML part reduced to its text.
Attachments that are text (notes, CSV exports, code) follow as sections of their own; binary
attachments (PDFs, images) are left to the user to save and add.

Mailboxes are split into messages by their "From " lines while reading the file, so a
mailbox of any size is held one message at a time.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from email import policy
from email.message import EmailMessage, MIMEPart
from email.parser import BytesParser
from email.utils import parsedate_to_datetime
from pathlib import Path

from ingest.loaders import EXTENSIONS, LoadedText, LoaderError
from ingest.loaders._common import HEADING_SEPARATOR, one_line
from ingest.loaders.html import html_sections
from ingest.loaders.text import decode_text
from ingest.types import Section

HEADERS = ("From", "To", "Cc", "Date", "Subject")
NO_SUBJECT = "(no subject)"
# Attachments worth reading as text, by the format their file name says.
_TEXT_FORMATS = {"text", "markdown", "code", "csv", "html"}
_MBOX_ESCAPED_FROM = re.compile(rb"^>+From ")
_PARSER = BytesParser(policy=policy.default)


def load_email(path: Path) -> LoadedText:
    with path.open("rb") as handle:
        mbox = handle.read(5) == b"From "
    sections: list[Section] = []
    broken: list[Exception] = []
    total = 0
    for raw in _mbox_messages(path) if mbox else [path.read_bytes()]:
        total += 1
        try:
            sections.extend(_message_sections(_PARSER.parsebytes(raw)))
        except MemoryError:
            raise
        except Exception as exc:  # one malformed message must not cost the rest of the mailbox
            broken.append(exc)
    if not sections:
        if broken and isinstance(broken[0], LoaderError) and total == 1:
            raise broken[0]
        raise LoaderError("not a readable e-mail message" if broken else "no text")
    warnings = (f"{len(broken)} of {total} messages could not be read",) if broken else ()
    return LoadedText(format="email", sections=sections, warnings=warnings)


def _mbox_messages(path: Path) -> Iterator[bytes]:
    """The messages of an mbox file, with ">From " quoting undone (mboxrd)."""
    lines: list[bytes] = []
    previous_blank = True
    with path.open("rb") as handle:
        for line in handle:
            if line.startswith(b"From ") and previous_blank:
                if lines:
                    yield b"".join(lines)
                lines = []
            else:
                lines.append(line[1:] if _MBOX_ESCAPED_FROM.match(line) else line)
            previous_blank = not line.strip()
    if lines:
        yield b"".join(lines)


def _message_sections(message: EmailMessage) -> list[Section]:
    heading = _heading(message)
    header_lines = [
        f"{name}: {one_line(str(message[name]))}" for name in HEADERS if message[name] is not None
    ]
    body = _body_text(message)
    text = "\n".join(header_lines) + (f"\n\n{body}" if body else "")
    if not text.strip():
        return []  # an envelope line with no message under it
    sections = [Section(text=text.strip(), heading=heading)]
    for number, part in enumerate(message.iter_attachments(), start=1):
        name = part.get_filename() or f"attachment {number}"
        text = _attachment_text(part, name)
        if text:
            sections.append(Section(text=text, heading=f"{heading}{HEADING_SEPARATOR}{name}"))
    return sections


def _heading(message: EmailMessage) -> str:
    subject = one_line(str(message["Subject"] or "")) or NO_SUBJECT
    details = [one_line(str(message["From"] or ""))]
    date = message["Date"]
    if date is not None:
        try:
            details.append(parsedate_to_datetime(str(date)).strftime("%Y-%m-%d %H:%M"))
        except (TypeError, ValueError):
            details.append(one_line(str(date)))
    details = [detail for detail in details if detail]
    return f"{subject} ({', '.join(details)})" if details else subject


def _body_text(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain", "html"))
    if part is None:
        return ""
    text = _part_text(part)
    if part.get_content_subtype() == "html":
        return "\n\n".join(section.text for section in html_sections(text))
    return text.strip()


def _attachment_text(part: MIMEPart, name: str) -> str:
    by_name = EXTENSIONS.get(Path(name).suffix.lower())
    if part.get_content_maintype() != "text" and by_name not in _TEXT_FORMATS:
        return ""
    try:
        text = _part_text(part)
    except LoaderError:
        return ""  # binary after all
    if part.get_content_subtype() == "html" or by_name == "html":
        return "\n\n".join(section.text for section in html_sections(text))
    return text.strip()


def _part_text(part: MIMEPart) -> str:
    """A text part decoded with its declared charset, or detected when that is wrong."""
    payload = part.get_payload(decode=True)
    data = payload if isinstance(payload, bytes) else str(part.get_payload()).encode()
    return decode_text(data, part.get_content_charset())
