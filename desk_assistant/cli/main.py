"""``desk-assistant`` entry point.

Only argparse and the standard library load before a command runs, so ``--help`` is
instant; each command imports what it needs. Exit codes: 0 success, 2 usage error,
1 any other failure with a one-line message on stderr (a traceback only with --debug).
"""

from __future__ import annotations

import argparse
import importlib
import multiprocessing
import sys
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, TextIO

from desk_assistant.cli import conversation, models_cmd
from desk_assistant.cli.options import (
    EXIT_FAILURE,
    EXIT_OK,
    EXIT_USAGE,
    UsageError,
    answer_batch,
    common,
    filter_options,
    open_assistant,
    question_argument,
    read_batch,
    where,
)
from desk_assistant.cli.terminal import native_stderr_held, one_line, safe_stream, say

if TYPE_CHECKING:
    from argparse import _SubParsersAction


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="desk-assistant",
        description="Ask questions about your own files, entirely offline. "
        "Run without a command to open the desktop app.",
    )
    common(parser, top=True)
    parser.add_argument(
        "--version",
        action=_VersionAction,
        help="show the version, the llama.cpp build and the bundled models' SHA-256, then exit",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    _indexing_commands(commands)
    conversation.register(commands)
    _search_command(commands)
    _library_commands(commands)
    models_cmd.register(commands)
    return parser


def _indexing_commands(commands: _SubParsersAction[argparse.ArgumentParser]) -> None:
    ingest = commands.add_parser("ingest", help="add or update files and folders")
    common(ingest, top=False)
    ingest.add_argument("paths", nargs="+", metavar="PATH")
    ingest.add_argument("--json", action="store_true", help="one JSON object per event")

    sync = commands.add_parser("sync", help="re-scan the followed files and folders")
    common(sync, top=False)
    sync.add_argument("--json", action="store_true", help="one JSON object per event")

    watch = commands.add_parser("watch", help="sync, then keep syncing as files change")
    common(watch, top=False)
    watch.add_argument("--json", action="store_true", help="one JSON object per event")
    watch.add_argument(
        "--debounce",
        type=float,
        default=2.0,
        metavar="SECONDS",
        help="wait for changes to settle (default 2 s)",
    )

    exclude = commands.add_parser(
        "exclude", help="never index files matching glob patterns (no pattern: list them)"
    )
    common(exclude, top=False)
    exclude.add_argument(
        "patterns",
        nargs="*",
        metavar="PATTERN",
        help="e.g. '*.log', 'drafts', '/home/me/Documents/private/*'",
    )
    exclude.add_argument("--remove", action="store_true", help="stop excluding the patterns")
    exclude.add_argument("--json", action="store_true")


def _search_command(commands: _SubParsersAction[argparse.ArgumentParser]) -> None:
    search = commands.add_parser("search", help="show the passages that match a query")
    common(search, top=False)
    search.add_argument("query", nargs="?")
    search.add_argument("-k", type=int, default=5, metavar="N", help="passages (default 5)")
    search.add_argument("--json", action="store_true", help="print a JSON array")
    search.add_argument("--batch", metavar="FILE", help="JSON lines {id, question}; '-' = stdin")
    filter_options(search)


def _library_commands(commands: _SubParsersAction[argparse.ArgumentParser]) -> None:
    sources = commands.add_parser("sources", help="list the documents of the collection")
    common(sources, top=False)
    sources.add_argument("--json", action="store_true")

    remove = commands.add_parser("remove", help="forget a file, or every file under a folder")
    common(remove, top=False)
    remove.add_argument("path", metavar="PATH")

    status = commands.add_parser("status", help="what is indexed and which models are used")
    common(status, top=False)
    status.add_argument("--json", action="store_true")

    reindex = commands.add_parser("reindex", help="rebuild the collection with the current models")
    common(reindex, top=False)
    reindex.add_argument("--json", action="store_true")

    doctor = commands.add_parser(
        "doctor", help="check the index for inconsistencies (and --repair them)"
    )
    common(doctor, top=False)
    doctor.add_argument("--repair", action="store_true", help="fix what is found")
    doctor.add_argument("--json", action="store_true")

    collections = commands.add_parser("collections", help="list collections")
    common(collections, top=False)
    collections.add_argument("--json", action="store_true")

    gui = commands.add_parser("gui", help="open the desktop app (the default)")
    common(gui, top=False)


class _VersionAction(argparse.Action):
    """``--version``: computed only when asked (it may hash the models once, and it
    loads llama.cpp to ask for its build), so ``--help`` stays instant."""

    def __init__(self, option_strings: list[str], dest: str, **kwargs: Any) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, **kwargs)

    def __call__(self, parser: argparse.ArgumentParser, *_args: Any, **_kwargs: Any) -> None:
        from desk_assistant.api import version_text

        home = getattr(_args[0], "home", None) if _args else None
        sys.stdout.write(version_text(home))
        parser.exit()


def _ingest_events(args: argparse.Namespace, out: TextIO, events: Iterator[Any]) -> int:
    from desk_assistant.api import FILE_STEPS
    from desk_assistant.cli.render import Progress, describe_summary, print_json

    progress = Progress()
    started = time.monotonic()
    for event in events:
        if event.kind == "waiting":
            continue  # said on stderr once (say_waiting)
        if args.json:
            if event.kind in FILE_STEPS:
                continue  # progress inside a file is for the progress line only
            print_json(event.to_json(), out)
        else:
            progress.update(event)
        if event.kind == "summary" and not args.json:
            progress.finish()
            out.write(describe_summary(event.counts, time.monotonic() - started) + "\n")
    # Per-file failures are reported with their reasons, not fatal: the run succeeded.
    return EXIT_OK


def cmd_ingest(args: argparse.Namespace, out: TextIO) -> int:
    with open_assistant(args) as assistant:
        return _ingest_events(args, out, assistant.ingest(args.paths))


def cmd_sync(args: argparse.Namespace, out: TextIO) -> int:
    with open_assistant(args) as assistant:
        return _ingest_events(args, out, assistant.sync())


def cmd_watch(args: argparse.Namespace, out: TextIO) -> int:
    from desk_assistant.api import StoreUnavailable, watch

    with open_assistant(args) as assistant:
        for events in watch(assistant, debounce=args.debounce):  # the first run catches up
            try:
                _ingest_events(args, out, events)
            except StoreUnavailable as exc:  # a server that is away: keep watching
                sys.stderr.write(f"desk-assistant: {exc}; the files wait for the next sync\n")
    return EXIT_OK


def cmd_exclude(args: argparse.Namespace, out: TextIO) -> int:
    from desk_assistant.cli.render import print_json

    with open_assistant(args) as assistant:
        if args.patterns:
            patterns = assistant.exclude(args.patterns, undo=args.remove)
        else:
            patterns = assistant.excludes()
    if args.json:
        print_json(patterns, out)
    else:
        out.write("".join(f"{one_line(p)}\n" for p in patterns) or "No exclusions.\n")
        if args.patterns:
            out.write("Run 'desk-assistant sync' to apply the change to indexed files.\n")
    return EXIT_OK


def cmd_reindex(args: argparse.Namespace, out: TextIO) -> int:
    with open_assistant(args) as assistant:
        return _ingest_events(args, out, assistant.reindex())


def cmd_search(args: argparse.Namespace, out: TextIO) -> int:
    from desk_assistant.cli.render import passage_json, print_json, print_passages

    query = question_argument(args, "query")
    batch = read_batch(args.batch) if args.batch else None
    with open_assistant(args) as assistant:
        if batch is not None:

            def search(text: str) -> dict[str, Any]:
                passages = assistant.search(text, k=args.k, where=where(args))
                return {"results": [passage_json(r, p) for r, p in enumerate(passages, 1)]}

            return answer_batch(args, out, batch, search)
        assert query is not None
        passages = assistant.search(query, k=args.k, where=where(args))
        if args.json:
            print_json([passage_json(r, p) for r, p in enumerate(passages, start=1)], out)
        else:
            print_passages(passages, out)
    return EXIT_OK


def cmd_sources(args: argparse.Namespace, out: TextIO) -> int:
    from desk_assistant.cli.render import print_json, print_sources

    with open_assistant(args) as assistant:
        sources = assistant.sources()
        if args.json:
            print_json([s.to_json() for s in sources], out)
        else:
            print_sources(sources, out)
    return EXIT_OK


def cmd_remove(args: argparse.Namespace, out: TextIO) -> int:
    with open_assistant(args) as assistant:
        removed = assistant.remove(args.path)
    out.write(f"Removed {len(removed)} document{'s' if len(removed) != 1 else ''}.\n")
    return EXIT_OK


def cmd_status(args: argparse.Namespace, out: TextIO) -> int:
    from desk_assistant.cli.render import print_json

    with open_assistant(args) as assistant:
        status = assistant.status().to_json()
    if args.json:
        print_json(status, out)
    else:
        width = max(len(k) for k in status)
        for key, value in status.items():
            shown = ", ".join(map(one_line, value)) if isinstance(value, list) else value
            out.write(f"{key.replace('_', ' '):<{width}}  {one_line(str(shown))}\n")
    return EXIT_OK


def cmd_doctor(args: argparse.Namespace, out: TextIO) -> int:
    from desk_assistant.cli.render import print_json

    with open_assistant(args) as assistant:
        report = assistant.doctor(repair=args.repair)
    if args.json:
        print_json(report.to_json(), out)
    else:
        checked = ", ".join(f"{n} {what}" for what, n in report.checked.items())
        what = f"checked {checked}" if checked else "could not be checked"
        out.write(f"Collection '{one_line(report.collection)}': {what}.\n")
        for finding in report.findings:
            state = "repaired" if finding.repaired else "found"
            out.write(f"  {state}: {finding.check}: {one_line(finding.problem)}\n")
        if not report.findings:
            out.write("  No problems found.\n")
        elif not report.healthy:
            out.write("  Run again with --repair to fix them.\n")
    return EXIT_OK if report.healthy else EXIT_FAILURE


def cmd_collections(args: argparse.Namespace, out: TextIO) -> int:
    from desk_assistant.cli.render import print_json

    with open_assistant(args) as assistant:
        collections = assistant.collections()
    if args.json:
        print_json([c.to_json() for c in collections], out)
    else:
        for c in collections:
            out.write(f"{one_line(c.name)}  ({c.sources} documents, {c.chunks} chunks)\n")
    return EXIT_OK


def cmd_gui(args: argparse.Namespace, out: TextIO) -> int:
    # The one place the engine reaches the Qt layer, lazily (see the import-linter contracts).
    app = importlib.import_module("ui.app")
    code: int = app.main(home=args.home, collection=args.collection)
    return code


COMMANDS: dict[str | None, Callable[[argparse.Namespace, TextIO], int]] = {
    "ingest": cmd_ingest,
    **conversation.COMMANDS,
    "search": cmd_search,
    "sources": cmd_sources,
    "remove": cmd_remove,
    "status": cmd_status,
    "reindex": cmd_reindex,
    "sync": cmd_sync,
    "watch": cmd_watch,
    "exclude": cmd_exclude,
    "collections": cmd_collections,
    "doctor": cmd_doctor,
    "models": models_cmd.run,
    "gui": cmd_gui,
    None: cmd_gui,
}


def _run(args: argparse.Namespace, out: TextIO) -> int:
    command = COMMANDS[args.command]
    if args.command in (None, "gui"):
        return command(args, out)  # the window: its stderr is nobody's terminal
    with native_stderr_held():
        return command(args, out)


def main(argv: list[str] | None = None, out: TextIO | None = None) -> int:
    multiprocessing.freeze_support()  # a frozen parser worker starts here (Windows, macOS)
    parser = build_parser()
    args = parser.parse_args(argv)
    stream = safe_stream(out or sys.stdout)  # file names and passages are untrusted text
    from desk_assistant.api import DeskAssistantError, enforce_offline

    enforce_offline()
    try:
        return _run(args, stream)
    except UsageError as exc:
        parser.print_usage(sys.stderr)
        say(f"error: {exc}")
        return EXIT_USAGE
    except KeyboardInterrupt:
        say("interrupted")
        return 130
    except BrokenPipeError:
        return EXIT_OK
    except DeskAssistantError as exc:
        if args.debug:
            raise
        say(exc.for_terminal())
        return EXIT_FAILURE
    except Exception as exc:
        if args.debug:
            raise
        say(f"unexpected error: {type(exc).__name__}: {exc} (run with --debug for details)")
        return EXIT_FAILURE


if __name__ == "__main__":
    raise SystemExit(main())
