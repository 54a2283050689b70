"""``desk-assistant models ...``: the model library on the command line.

``register(commands)`` adds the sub-command to the main parser and ``run(args, out)``
executes it, with the conventions of ``cli.main``: ``--json`` prints JSON, failures are
DeskAssistantErrors (exit 1), progress goes to stderr only when it is a terminal. The
library modules are imported when a command runs, so ``--help`` stays instant.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import TYPE_CHECKING, TextIO

from desk_assistant.cli.options import EXIT_OK, UsageError, common, settings_for
from desk_assistant.cli.terminal import one_line

if TYPE_CHECKING:
    from argparse import _SubParsersAction

    from desk_assistant.api import (
        FitReport,
        LibraryEntry,
        LicenceNotice,
        ModelDescription,
        ModelLibrary,
    )


def register(commands: _SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``models`` and its actions to the main parser's sub-commands."""
    models = commands.add_parser(
        "models", help="list, add, remove, choose and download models (default: list)"
    )
    common(models, top=False)
    actions = models.add_subparsers(dest="models_command", metavar="ACTION")

    def action(name: str, help_text: str, *, json: bool = True) -> argparse.ArgumentParser:
        parser = actions.add_parser(name, help=help_text)
        common(parser, top=False)
        if json:
            parser.add_argument("--json", action="store_true", help="print JSON")
        return parser

    action("list", "the models in the library; * marks the one in use")

    add = action("add", "add a GGUF/GGML model file (linked where it is, or --copy)")
    add.add_argument("path", metavar="PATH")
    add.add_argument("--copy", action="store_true", help="copy it into the models folder")
    add.add_argument("--name", help="the name to give it (default: from the file name)")
    add.add_argument(
        "--verify",
        action="store_true",
        help="load it in a child process first and refuse it if no runtime can",
    )

    remove = action("remove", "forget a model (its file stays unless --delete-file)")
    remove.add_argument("name", metavar="NAME")
    remove.add_argument(
        "--delete-file",
        action="store_true",
        help="also delete the file (only files inside the models folder)",
    )

    use = action("use", "answer with this model from now on")
    use.add_argument("name", metavar="NAME")
    use.add_argument(
        "--accept-licence",
        action="store_true",
        help="accept the model's licence notice (Llama 2) without being asked",
    )

    info = action("info", "what a model is, whether it fits, its licence and hash")
    info.add_argument("name", metavar="NAME|PATH")
    info.add_argument("--no-hash", action="store_true", help="skip computing the SHA-256")

    fmt = action("format", "override the detected prompt format of a model")
    fmt.add_argument("name", metavar="NAME")
    fmt.add_argument(
        "family",
        metavar="FORMAT",
        nargs="?",
        help="llama-2, mistral, vicuna, alpaca, chatml, zephyr, plain, or auto (detect); "
        "without it: show the model's format and the choices",
    )

    verify = action("verify", "load a model in a child process with each runtime")
    verify.add_argument("name", metavar="NAME")

    download = action("download", "download a model file (only when you ask)")
    download.add_argument("url", metavar="URL", nargs="?")
    download.add_argument("--catalogue", metavar="NAME", help="an entry of 'models catalogue'")
    download.add_argument("--sha256", metavar="HEX", help="the expected SHA-256 of the file")

    action("catalogue", "well-known chat models that 'models download' can fetch")

    server = action("server", "test an OpenAI-compatible model server (--use: answer with it)")
    server.add_argument(
        "url", metavar="URL", nargs="?", help="e.g. http://host:8080/v1 (default: llm_url)"
    )
    server.add_argument("--model", metavar="NAME", help="the model on the server")
    server.add_argument(
        "--use",
        action="store_true",
        help="answer with it from now on (saves runtime openai, llm_url and llm_model)",
    )


def run(args: argparse.Namespace, out: TextIO) -> int:
    from desk_assistant.api import ModelLibrary

    library = ModelLibrary(settings_for(args))
    action = args.models_command or "list"
    handler = _ACTIONS[action]
    return handler(library, args, out)


# --- actions --------------------------------------------------------------------------------


def _list(library: ModelLibrary, args: argparse.Namespace, out: TextIO) -> int:
    from desk_assistant.api import format_bytes
    from desk_assistant.cli.render import print_json

    entries = library.list()
    if getattr(args, "json", False):
        print_json([entry.to_json() for entry in entries], out)
        return EXIT_OK
    if not entries:
        out.write("No models. Add one: desk-assistant models add PATH\n")
        return EXIT_OK
    width = max(len(entry.name) for entry in entries)
    for entry in entries:
        mark = "*" if entry.in_use else " "
        size = format_bytes(entry.size_bytes) if entry.size_bytes is not None else "missing"
        detail = f"  prompt format: {entry.prompt_format}" if entry.prompt_format else ""
        out.write(f"{mark} {one_line(entry.name):<{width}}  {entry.kind:<13}  {size:>9}{detail}\n")
        out.write(f"  {'':<{width}}  {one_line(str(entry.path))}\n")
    return EXIT_OK


def _add(library: ModelLibrary, args: argparse.Namespace, out: TextIO) -> int:
    from desk_assistant.cli.render import print_json

    progress = ByteProgress("copying")
    result = library.add(
        args.path, copy=args.copy, name=args.name, progress=progress, verify=args.verify
    )
    progress.finish()
    if args.json:
        print_json(
            {
                **result.entry.to_json(),
                "already_present": result.already_present,
                "probes": [
                    {"runtime": p.runtime, "ok": p.ok, "reason": p.reason} for p in result.probes
                ],
            },
            out,
        )
        return EXIT_OK
    entry = result.entry
    if result.already_present:
        out.write(f"Already in the library as {entry.name}.\n")
    else:
        how = "Copied" if entry.kind == "models folder" and args.copy else "Added"
        out.write(f"{how} {entry.name} ({entry.path}).\n")
    for probe in result.probes:
        verdict = "loads" if probe.ok else f"cannot load it: {probe.reason}"
        out.write(f"  {probe.runtime}: {verdict}\n")
    if not result.already_present:
        out.write(f"Use it with: desk-assistant models use {entry.name}\n")
    return EXIT_OK


def _remove(library: ModelLibrary, args: argparse.Namespace, out: TextIO) -> int:
    from desk_assistant.cli.render import print_json

    result = library.remove(args.name, delete_file=args.delete_file)
    if args.json:
        print_json(
            {
                **result.entry.to_json(),
                "file_deleted": result.file_deleted,
                "back_to_builtin": result.back_to_builtin,
            },
            out,
        )
        return EXIT_OK
    deleted = f" and deleted {result.entry.path}" if result.file_deleted else ""
    out.write(f"Removed {result.entry.name}{deleted}.\n")
    if result.back_to_builtin:
        out.write("It was in use: answers now come from the built-in model.\n")
    return EXIT_OK


def _confirm(notice: LicenceNotice, out: TextIO) -> bool:
    """Ask on the terminal; without one (scripts, CI) the answer is no."""
    if not sys.stdin.isatty():
        return False
    out.flush()
    sys.stderr.write(f"Do you accept the {notice.title}? [y/N] ")
    sys.stderr.flush()
    answer = sys.stdin.readline().strip().lower()
    return answer in ("y", "yes")


def _use(library: ModelLibrary, args: argparse.Namespace, out: TextIO) -> int:
    from desk_assistant.cli.render import print_json

    accept = args.accept_licence
    notice = library.licence_notice(args.name)
    if notice is not None and not args.json:
        out.write(notice.text + "\n")
        accept = accept or _confirm(notice, out)
    result = library.use(args.name, accept_licence=accept)
    if args.json:
        print_json(
            {
                "model": result.entry.to_json(),
                "runtime": result.settings.runtime,
                "runtime_changed_from": result.runtime_changed_from,
                "licence_acknowledged": result.acknowledged.licence_id
                if result.acknowledged
                else None,
                "fit": result.fit.to_json() if result.fit else None,
            },
            out,
        )
        return EXIT_OK
    if result.acknowledged is not None:
        out.write(f"Recorded that you accepted the {result.acknowledged.title}.\n")
    out.write(f"Now answering with {result.entry.name} (runtime: {result.settings.runtime}).\n")
    if result.runtime_changed_from:
        out.write(
            f"The runtime setting was {result.runtime_changed_from}, which cannot load this "
            "model; it is now auto.\n"
        )
    if result.fit is not None:
        _print_fit(result.fit, out)
    return EXIT_OK


def _print_fit(fit: FitReport, out: TextIO) -> None:
    out.write(f"Memory: {fit.message}.\n")
    if fit.suggestion:
        out.write(f"  Suggestion: {fit.suggestion}.\n")


def _info(library: ModelLibrary, args: argparse.Namespace, out: TextIO) -> int:
    from desk_assistant.cli.render import print_json

    progress = ByteProgress("computing SHA-256")
    report = library.report(args.name, with_sha256=not args.no_hash, progress=progress)
    progress.finish()
    if args.json:
        print_json(report.to_json(), out)
        return EXIT_OK
    entry, fit = report.entry, report.fit
    _print_description(report.description, entry, out)
    if report.llama2_licence:
        state = "shown on first use" if report.notice else "accepted"
        out.write(f"{'':<16} Llama 2 Community License notice: {state}\n")
    if report.sha256_changed:
        out.write(
            f"WARNING: the file changed since it was downloaded (recorded SHA-256 "
            f"{entry.recorded_sha256 if entry else ''}).\n"
        )
    if fit is not None:
        out.write(f"{'Memory:':<16} {fit.message}\n")
        if fit.suggestion:
            out.write(f"{'':<16} suggestion: {fit.suggestion}\n")
        out.write(f"{'Threads:':<16} {fit.threads} suggested for this CPU\n")
    return EXIT_OK


def _print_description(d: ModelDescription, entry: LibraryEntry | None, out: TextIO) -> None:
    from desk_assistant.api import description_rows

    for label, value in description_rows(d, entry):  # the file's metadata: untrusted
        out.write(f"{label:<16} {one_line(str(value))}\n")


def _format(library: ModelLibrary, args: argparse.Namespace, out: TextIO) -> int:
    from desk_assistant.cli.render import print_json

    if args.family is None:
        return _show_formats(library, args, out)
    family = None if args.family == "auto" else args.family
    entry = library.set_prompt_format(args.name, family)
    if args.json:
        print_json(entry.to_json(), out)
    elif family is None:
        out.write(f"{entry.name}: the prompt format is detected from the file again.\n")
    else:
        out.write(f"{entry.name}: prompts are written in the {family} format.\n")
    return EXIT_OK


def _show_formats(library: ModelLibrary, args: argparse.Namespace, out: TextIO) -> int:
    from desk_assistant.api import PROMPT_FORMATS
    from desk_assistant.cli.render import print_json

    described = library.info(args.name, with_sha256=False)
    if args.json:
        print_json(
            {
                "format": described.prompt_family,
                "source": described.prompt_family_source,
                "choices": PROMPT_FORMATS,
            },
            out,
        )
        return EXIT_OK
    from desk_assistant.api import PROMPT_FORMAT_SOURCES

    source = PROMPT_FORMAT_SOURCES.get(
        described.prompt_family_source, described.prompt_family_source
    )
    out.write(f"{args.name}: {described.prompt_family} ({source})\nFormats:\n")
    for name, description in PROMPT_FORMATS.items():
        out.write(f"  {name:<8} {description}\n")
    out.write("  auto     detect it from the file again\n")
    return EXIT_OK


def _verify(library: ModelLibrary, args: argparse.Namespace, out: TextIO) -> int:
    from desk_assistant.api import ModelLoadError
    from desk_assistant.cli.render import print_json

    probes = library.verify(args.name)
    if args.json:
        print_json([{"runtime": p.runtime, "ok": p.ok, "reason": p.reason} for p in probes], out)
    else:
        for probe in probes:
            verdict = "loads it" if probe.ok else f"cannot load it: {probe.reason}"
            out.write(f"{probe.runtime}: {verdict}\n")
    if not any(p.ok for p in probes):
        raise ModelLoadError(f"no runtime can load {args.name}")
    return EXIT_OK


def _download(library: ModelLibrary, args: argparse.Namespace, out: TextIO) -> int:
    from desk_assistant.api import format_bytes
    from desk_assistant.cli.render import print_json

    if (args.url is None) == (args.catalogue is None):
        raise UsageError("give either a URL or --catalogue NAME")
    progress = ByteProgress("downloading")
    try:
        outcome = library.download(
            args.url, catalogue=args.catalogue, expected_sha256=args.sha256, progress=progress
        )
    finally:
        progress.finish()
    result, entry = outcome.result, outcome.entry
    if args.json:
        print_json(
            {
                **entry.to_json(),
                "sha256": result.sha256,
                "verified": result.verified,
                "resumed_from": result.resumed_from,
            },
            out,
        )
        return EXIT_OK
    resumed = f", resumed at {format_bytes(result.resumed_from)}" if result.resumed_from else ""
    out.write(
        f"Downloaded {entry.name} to {result.path} ({format_bytes(result.size_bytes)}{resumed}).\n"
    )
    if result.verified:
        out.write(f"SHA-256 {result.sha256}: matches the expected hash.\n")
    else:
        out.write(
            f"SHA-256 {result.sha256}: no expected hash was known, so this one is recorded "
            "and checked from now on; compare it with the file's page on the website.\n"
        )
    out.write(f"Use it with: desk-assistant models use {entry.name}\n")
    return EXIT_OK


def _server(library: ModelLibrary, args: argparse.Namespace, out: TextIO) -> int:
    from desk_assistant.api import check_server, update_settings
    from desk_assistant.cli.render import print_json

    # Without a URL, the llm_url setting; without any, the settings refuse "openai".
    settings = settings_for(args, runtime="openai", llm_url=args.url, llm_model=args.model)
    info = check_server(settings)  # a DeskAssistantError says what is wrong
    if args.use:
        changes = {"runtime": "openai", "llm_url": settings.llm_url, "llm_model": args.model}
        update_settings(settings.home, changes)
    if args.json:
        print_json(
            {
                "url": info.url,
                "model": info.model,
                "models": list(info.models),
                "context_length": info.context_length,
                "tokenizer": info.tokenizer,
                "used": bool(args.use),
            },
            out,
        )
        return EXIT_OK
    out.write(info.describe() + "\n")
    if len(info.models) > 1:
        out.write("It serves: " + ", ".join(info.models) + "\n")
    if args.use:
        out.write(f"Now answering with {info.model} on {info.url} (runtime: openai).\n")
    return EXIT_OK


def _catalogue(library: ModelLibrary, args: argparse.Namespace, out: TextIO) -> int:
    from desk_assistant.api import CATALOGUE, format_bytes
    from desk_assistant.cli.render import print_json

    if args.json:
        print_json([item.to_json() for item in CATALOGUE], out)
        return EXIT_OK
    width = max(len(item.name) for item in CATALOGUE)
    for item in CATALOGUE:
        out.write(
            f"{item.name:<{width}}  {format_bytes(item.size_bytes):>8}  "
            f"licence {item.licence:<10}  format {item.prompt_family}\n"
            f"{'':<{width}}  {item.title}\n"
        )
    out.write("Download one with: desk-assistant models download --catalogue NAME\n")
    return EXIT_OK


_ACTIONS = {
    "list": _list,
    "add": _add,
    "remove": _remove,
    "use": _use,
    "info": _info,
    "format": _format,
    "verify": _verify,
    "download": _download,
    "catalogue": _catalogue,
    "server": _server,
}


class ByteProgress:
    """A one-line byte counter on stderr, only when stderr is a terminal, at most ~5
    updates a second (a 4 GB copy reports thousands of chunks)."""

    def __init__(self, label: str, stream: TextIO | None = None) -> None:
        self.label = label
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty()
        self.shown = False
        self.last = 0.0

    def __call__(self, done: int, total: int | None) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if now - self.last < 0.2 and (total is None or done < total):
            return
        from desk_assistant.api import format_bytes

        self.last = now
        share = f"{100 * done / total:5.1f} % of {format_bytes(total)}" if total else ""
        self.stream.write(f"\r\033[K{self.label}: {format_bytes(done)} {share}")
        self.stream.flush()
        self.shown = True

    def finish(self) -> None:
        if self.shown:
            self.stream.write("\r\033[K")
            self.stream.flush()
            self.shown = False
