"""What every command shares: the common options, the exit codes, a usage error."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from desk_assistant.cli.terminal import say

if TYPE_CHECKING:
    from desk_assistant.api import Settings

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


def say_waiting(message: str | None) -> None:
    """Tell the user on stderr why this command takes longer: it waits for another writer
    (once), or the data folder needs a one-time upgrade."""
    if message is not None:
        waiting = message.startswith("Waiting")
        say(f"{message} (Ctrl+C to stop waiting)" if waiting else f"{message}…")
