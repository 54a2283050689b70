"""The commands that talk with the model: ``ask`` (also in a stored chat), ``chats``,
``summarize``. Answers stream to stdout; ``--format markdown`` and ``--json`` print the
finished answer for scripts; progress goes to stderr."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterator
from contextlib import closing
from typing import TYPE_CHECKING, TextIO

from desk_assistant.cli.options import (
    EXIT_OK,
    UsageError,
    answer_batch,
    common,
    filter_options,
    open_assistant,
    question_argument,
    read_batch,
    where,
)

if TYPE_CHECKING:
    from argparse import _SubParsersAction

    from desk_assistant.api import Answer, Assistant, Searched, Token

FORMATS = ("text", "markdown", "json")


def register(commands: _SubParsersAction[argparse.ArgumentParser]) -> None:
    ask = commands.add_parser("ask", help="answer a question from your documents")
    common(ask, top=False)
    ask.add_argument("question", nargs="?")
    ask.add_argument("-k", type=int, metavar="N", help="passages to retrieve")
    _model_options(ask)
    ask.add_argument("--max-tokens", type=int, metavar="N", help="longest answer in tokens")
    ask.add_argument(
        "--chat",
        metavar="ID",
        help="continue a stored chat ('new' starts one): follow-ups are read in its light",
    )
    ask.add_argument("--format", choices=FORMATS, default="text", help="output (default text)")
    ask.add_argument("--json", action="store_true", help="print one JSON object (--format json)")
    ask.add_argument("--batch", metavar="FILE", help="JSON lines {id, question}; '-' = stdin")
    filter_options(ask)

    chats = commands.add_parser("chats", help="list the stored chats, or print one")
    common(chats, top=False)
    chats.add_argument("chat", nargs="?", type=int, metavar="ID", help="the chat to print")
    chats.add_argument(
        "--format", choices=("markdown", "html", "json"), help="how to print a chat or list"
    )
    chats.add_argument("--json", action="store_true", help="JSON (--format json)")

    summarize = commands.add_parser(
        "summarize", help="summarize an indexed document with the model (cited sections)"
    )
    common(summarize, top=False)
    summarize.add_argument("path", metavar="PATH")
    _model_options(summarize)
    summarize.add_argument(
        "--max-tokens", type=int, metavar="N", help="longest summary of the whole document"
    )
    summarize.add_argument("--format", choices=FORMATS, default="text", help="output")
    summarize.add_argument(
        "--json", action="store_true", help="a JSON object per step, the summary last"
    )


def _model_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", metavar="PATH", help="GGUF model file (default: built-in)")
    parser.add_argument("--runtime", choices=["auto", "llama_cpp", "ctransformers", "openai"])
    parser.add_argument(
        "--llm-url", metavar="URL", help="model server, e.g. http://host:8080/v1 (--runtime openai)"
    )
    parser.add_argument("--llm-model", metavar="NAME", help="the model on the model server")


def _model_overrides(args: argparse.Namespace) -> dict[str, object]:
    """The settings :func:`_model_options` override."""
    return {
        "model_path": args.model,
        "runtime": args.runtime,
        "llm_url": args.llm_url,
        "llm_model": args.llm_model,
    }


def _format(args: argparse.Namespace) -> str:
    return "json" if args.json else str(args.format or "text")


def _chat_id(assistant: Assistant, given: str | None) -> int | None:
    """The chat ``--chat`` names: a stored one, or a new one for 'new' (said on stderr)."""
    import sys

    if given is None:
        return None
    if given == "new":
        chat = assistant.new_chat()
        sys.stderr.write(f"desk-assistant: new chat {chat.id}\n")
        return chat.id
    if not given.isdigit():
        raise UsageError(f"--chat takes a chat number or 'new', not {given!r}")
    return assistant.chat(int(given)).id


def cmd_ask(args: argparse.Namespace, out: TextIO) -> int:
    from desk_assistant.cli.render import print_json

    question = question_argument(args, "question")
    batch = read_batch(args.batch) if args.batch else None
    overrides = {**_model_overrides(args), "max_answer_tokens": args.max_tokens, "top_k": args.k}
    shape = _format(args)
    with open_assistant(args, **overrides) as assistant:
        chat_id = _chat_id(assistant, args.chat)
        extra = {} if chat_id is None else {"chat_id": chat_id}
        if batch is not None:

            def answer(text: str) -> dict[str, object]:
                found = _final(assistant.ask(text, chat_id=chat_id, where=where(args)))
                return {**found.to_json(), **extra}

            return answer_batch(args, out, batch, answer)
        assert question is not None
        # Closed before the Assistant is: a stopped answer is still saved in its chat.
        with closing(assistant.ask(question, chat_id=chat_id, where=where(args))) as items:
            if shape == "json":
                print_json({**_final(items).to_json(), **extra}, out)
            elif shape == "markdown":
                from desk_assistant.api import export

                out.write(export.answer_markdown(_final(items)))
            else:
                _stream_answer(items, out)
    return EXIT_OK


def _stream_answer(items: Iterator[Searched | Token | Answer], out: TextIO) -> None:
    from desk_assistant.api import Answer, Searched
    from desk_assistant.cli.render import print_answer_notes, print_citations, print_quotes

    streamed = False
    for item in items:
        if isinstance(item, Searched):
            if item.query != item.question:
                out.write(f"(searched for: {item.query})\n\n")
            if item.evidence_first and item.evidence:
                print_quotes(item.evidence, out)
                out.write("\n")
        elif isinstance(item, Answer):
            if not streamed:
                out.write(item.text)
            out.write("\n")
            print_answer_notes(item, out)
            print_citations(item, out)
        else:
            streamed = True
            out.write(item.text)
            out.flush()


def _final(items: Iterator[Searched | Token | Answer]) -> Answer:
    from desk_assistant.api import Answer

    for item in items:
        if isinstance(item, Answer):
            return item
    raise RuntimeError("the answer stream ended without an answer")


def cmd_chats(args: argparse.Namespace, out: TextIO) -> int:
    from desk_assistant.api import exchanges, export
    from desk_assistant.cli.render import print_chats, print_json

    shape = "json" if args.json else args.format
    with open_assistant(args) as assistant:
        if args.chat is None:
            listed = assistant.chats(collection=args.collection)
            if shape == "json":
                print_json([c.to_json() for c in listed], out)
            elif shape is not None:
                raise UsageError("--format markdown/html prints one chat: give its ID")
            else:
                print_chats(listed, out)
            return EXIT_OK
        chat = assistant.chat(args.chat)
        answers = exchanges(assistant.messages(chat.id))
    if shape == "json":
        turns = [{"question": a.question, **a.to_json()} for a in answers]
        print_json({**chat.to_json(), "turns": turns}, out)
    elif shape == "html":
        out.write(export.chat_html(chat, answers))
    else:
        out.write(export.chat_markdown(chat, answers))
    return EXIT_OK


def cmd_summarize(args: argparse.Namespace, out: TextIO) -> int:
    """Progress on stderr (or a JSON line per step), then the summary with the sections
    its sentences cite: printed whole, since the citations are added once it is written."""
    from desk_assistant.api import Summary, SummaryProgress
    from desk_assistant.cli.render import StepProgress, print_json, print_summary

    shape = _format(args)
    progress = StepProgress()
    overrides = {**_model_overrides(args), "max_answer_tokens": args.max_tokens}
    result: Summary | None = None
    with open_assistant(args, **overrides) as assistant:
        for item in assistant.summarize(args.path):
            if isinstance(item, SummaryProgress):
                if shape == "json":
                    print_json(item.to_json(), out)
                else:
                    progress.update_step(item)
            elif isinstance(item, Summary):
                result = item
    progress.finish()
    if result is None:
        raise RuntimeError("the summary ended without a result")
    if shape == "json":
        print_json(result.to_json(), out)
    elif shape == "markdown":
        from desk_assistant.api import export

        out.write(export.summary_markdown(result))
    else:
        print_summary(result, out)
    return EXIT_OK


COMMANDS: dict[str | None, Callable[[argparse.Namespace, TextIO], int]] = {
    "ask": cmd_ask,
    "chats": cmd_chats,
    "summarize": cmd_summarize,
}
