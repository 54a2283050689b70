"""What every command shares: the common options, the exit codes, a usage error."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from desk_assistant.api import Assistant, SearchFilter, Settings

EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2


class UsageError(Exception):
    """Bad arguments discovered after parsing (e.g. an unreadable batch file)."""


def common(parser: argparse.ArgumentParser, *, top: bool) -> None:
    """Add --home, --collection, --chroma-url and --debug, accepted before and after the
    command (SUPPRESS keeps a sub-command's default from overwriting a value given
    before the command)."""
    default: Any = None if top else argparse.SUPPRESS
    parser.add_argument(
        "--home",
        metavar="DIR",
        default=default,
        help="data folder (default: $DESK_ASSISTANT_HOME or the user data dir)",
    )
    parser.add_argument(
        "--collection",
        metavar="NAME",
        default=default,
        help="collection to use (default: 'default')",
    )
    parser.add_argument(
        "--chroma-url",
        metavar="URL",
        default=default,
        help="use this Chroma server for the vectors (default: the chroma_url setting)",
    )
    parser.add_argument(
        "--debug",
        action="store_true",
        default=False if top else argparse.SUPPRESS,
        help="show tracebacks for errors",
    )


def settings_for(args: argparse.Namespace, **overrides: Any) -> Settings:
    """The settings of the data folder the options name, with ``overrides`` on top; what
    in its settings.json is ignored is said on stderr."""
    from desk_assistant.api import load_settings

    settings = load_settings(
        args.home, collection=args.collection, chroma_url=args.chroma_url, **overrides
    )
    for warning in settings.file_warnings:
        sys.stderr.write(f"desk-assistant: warning: {warning}\n")
    return settings


def open_assistant(args: argparse.Namespace, **overrides: Any) -> Assistant:
    from desk_assistant.api import Assistant

    return Assistant.open(settings_for(args, **overrides))


def filter_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--in",
        dest="within",
        action="append",
        default=[],
        metavar="PATH",
        help="only this file or folder (repeatable)",
    )
    parser.add_argument(
        "--type",
        dest="formats",
        action="append",
        default=[],
        metavar="FORMAT",
        help="only this format: pdf, docx, pptx, xlsx, markdown, html, text, ... (repeatable)",
    )


def where(args: argparse.Namespace) -> SearchFilter | None:
    from desk_assistant.api import SearchFilter

    folders = tuple(p for p in args.within if Path(p).expanduser().is_dir())
    files = tuple(p for p in args.within if p not in folders)
    found = SearchFilter(paths=files, folders=folders, formats=tuple(args.formats))
    return found or None


def read_batch(spec: str) -> list[dict[str, Any]]:
    try:
        lines = (
            sys.stdin.read().splitlines()
            if spec == "-"
            else Path(spec).read_text(encoding="utf-8").splitlines()
        )
    except OSError as exc:
        raise UsageError(f"cannot read batch file {spec}: {exc.strerror}") from None
    items = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError:
            raise UsageError(f"{spec}:{number}: not a JSON object") from None
        if not isinstance(item, dict) or not isinstance(item.get("question"), str):
            raise UsageError(f'{spec}:{number}: expected {{"id": ..., "question": "..."}}')
        items.append(item)
    return items


def question_argument(args: argparse.Namespace, name: str) -> str | None:
    """The positional question (or query), or None with --batch; a usage error when
    both or neither are given."""
    text: str | None = getattr(args, name)
    if args.batch and text:
        raise UsageError(f"give either a {name} or --batch, not both")
    if not args.batch and not (text and text.strip()):
        raise UsageError(f"a {name} is required (or --batch FILE)")
    return text
