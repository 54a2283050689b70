"""What every command shares: the common options, the exit codes, a usage error."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from desk_assistant.cli.terminal import say

if TYPE_CHECKING:
    from desk_assistant.api import Assistant, SearchFilter, Settings

EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2


class UsageError(Exception):
    """Bad arguments discovered after parsing (e.g. an unreadable batch file)."""


def common(parser: argparse.ArgumentParser, *, top: bool) -> None:
    """Add --home, --collection, --chroma-url, --wait and --debug, accepted before and after
    the command (SUPPRESS keeps a sub-command's default from overwriting a value given
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
        "--wait",
        type=float,
        metavar="SECONDS",
        default=default,
        help="when another Desk Assistant is writing to the data folder, wait at most this "
        "long for it (default: as long as it takes; 0: not at all)",
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
        say(f"warning: {warning}")
    return settings


def open_assistant(args: argparse.Namespace, **overrides: Any) -> Assistant:
    """The data folder's Assistant for a command: it waits for another writer as long as
    ``--wait`` says, telling the user on stderr, and says what a recovery did."""
    from desk_assistant.api import Assistant

    assistant = Assistant.open(
        settings_for(args, **overrides),
        client="desk-assistant",
        writer_wait=args.wait,
        on_wait=say_waiting,
    )
    if assistant.recovered:
        say(assistant.recovered)
    return assistant


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


@dataclass(frozen=True, slots=True)
class BadLine:
    """A line of a batch file that holds no question: it gets an error line of its own."""

    number: int
    reason: str


def read_batch(spec: str) -> list[dict[str, Any] | BadLine]:
    try:
        lines = (
            sys.stdin.read().splitlines()
            if spec == "-"
            else Path(spec).read_text(encoding="utf-8").splitlines()
        )
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise UsageError(f"cannot read batch file {spec}: {reason}") from None
    items: list[dict[str, Any] | BadLine] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError:
            items.append(BadLine(number, "not a JSON object"))
            continue
        if not isinstance(item, dict) or not isinstance(item.get("question"), str):
            items.append(BadLine(number, 'expected {"id": ..., "question": "..."}'))
            continue
        items.append(item)
    return items


def answer_batch(
    args: argparse.Namespace,
    out: TextIO,
    batch: list[dict[str, Any] | BadLine],
    answer: Callable[[str], dict[str, Any]],
) -> int:
    """One JSON line per input line, in order, whatever happens to the others: the
    result, or ``{"id": ..., "error": ...}`` for a line that failed."""
    from desk_assistant.api import DeskAssistantError
    from desk_assistant.cli.render import print_json

    failed = 0
    for item in batch:
        if isinstance(item, BadLine):
            result: dict[str, Any] = {
                "id": None,
                "error": f"{args.batch}:{item.number}: {item.reason}",
            }
        else:
            try:
                result = {"id": item.get("id"), **answer(item["question"])}
            except Exception as exc:  # one failed question must not cost the others
                if args.debug:
                    raise
                message = (
                    str(exc)
                    if isinstance(exc, DeskAssistantError)
                    else f"unexpected error: {type(exc).__name__}: {exc}"
                )
                result = {"id": item.get("id"), "error": message}
        failed += "error" in result
        print_json(result, out)
    if failed:
        say(f'{failed} of {len(batch)} lines failed; each has an "error" in its output line')
    return EXIT_FAILURE if failed else EXIT_OK


def question_argument(args: argparse.Namespace, name: str) -> str | None:
    """The positional question (or query), or None with --batch; a usage error when
    both or neither are given."""
    text: str | None = getattr(args, name)
    if args.batch and text:
        raise UsageError(f"give either a {name} or --batch, not both")
    if not args.batch and not (text and text.strip()):
        raise UsageError(f"a {name} is required (or --batch FILE)")
    return text


def say_waiting(message: str | None) -> None:
    """Tell the user on stderr why this command takes longer: it waits for another writer
    (once), or the data folder needs a one-time upgrade."""
    if message is not None:
        waiting = message.startswith("Waiting")
        say(f"{message} (Ctrl+C to stop waiting)" if waiting else f"{message}…")
