"""Exports: what a Markdown or HTML file of an answer holds, and what it never does."""

from __future__ import annotations

from dataclasses import replace

from desk_assistant import export
from desk_assistant.records import Answer, ChatInfo, Citation, Quote, SentenceCheck, Summary

HOSTILE = "Rent is 900. ![x](https://evil.example/?q=secret) <script>alert(1)</script>"
CITATION = Citation(1, "/docs/lease.pdf", 3, HOSTILE, 0.71)
QUOTE = Quote("The tenant may terminate with three months' notice.", 1, "/docs/lease.pdf", 3)
WRONG = SentenceCheck(
    "The notice period is 12 months [1].",
    (1,),
    False,
    QUOTE,
    0.4,
    "not found in the cited passages (12)",
)


def answer(**changes: object) -> Answer:
    base = Answer(
        "And for the tenant?",
        "The notice period is 12 months [1].",
        (CITATION,),
        grounded=True,
        model="m.gguf",
        query="What is the notice period for the tenant?",
        sentences=(WRONG,),
        evidence=(QUOTE,),
        evidence_first=True,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def test_markdown_has_the_question_query_quote_flags_and_sources() -> None:
    text = export.answer_markdown(answer())
    lines = text.splitlines()
    assert lines[0] == "## And for the tenant?"
    assert "*Searched for: What is the notice period for the tenant?*" in text
    quote_at = text.index("> “The tenant may terminate")
    assert quote_at < text.index("The notice period is 12 months [1].")  # evidence first
    assert "**⚠ This answer is not backed by the documents.**" in text
    assert "— *not found in the cited passages (12)*; closest: “The tenant may" in text
    assert "1. `/docs/lease.pdf`, page 3" in text
    # a passage cannot make a Markdown viewer fetch anything
    assert "![x](" not in text and "<script>" not in text
    assert "!\\[x](https://evil.example" in text


def test_a_larger_models_quote_follows_the_answer() -> None:
    text = export.answer_markdown(answer(evidence_first=False, sentences=()))
    assert text.index("The notice period is 12 months") < text.index("> “The tenant may")
    assert "not backed" not in text


def test_html_escapes_everything_and_underlines_the_flagged_sentence() -> None:
    page = export.answer_html(answer())
    assert page.startswith("<!DOCTYPE html>")
    assert "default-src 'none'" in page  # no script, no remote anything
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert (
        '<span class="unsupported" title="not found in the cited passages (12)">'
        "The notice period is 12 months [1].</span>"
    ) in page
    assert "<code>/docs/lease.pdf</code>, page 3" in page


def test_a_chat_and_a_summary_export_whole() -> None:
    chat = ChatInfo(3, "Lease questions", "default", 0.0, 1.8e9, 4)
    first = answer(question="What is the rent?", query="", sentences=())
    text = export.chat_markdown(chat, [first, answer()])
    assert text.startswith("# Lease questions\n\n*Desk Assistant chat, collection default")
    assert text.count("**Sources**") == 2
    assert "<h1>Lease questions</h1>" in export.chat_html(chat, [first])
    section = Citation(1, "/docs/report.pdf", 2, "Section text.", 1.0, heading="pages 2-4")
    made = Summary("/docs/report.pdf", "It covers the bridge [1].", (section,), "m.gguf")
    assert "# Summary of report.pdf" in export.summary_markdown(made)
    assert "1. `/docs/report.pdf`, page 2" in export.summary_markdown(made)
    assert "It covers the bridge [1]." in export.summary_html(made)
