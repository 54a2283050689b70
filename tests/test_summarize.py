"""Summaries: map-reduce within the context window, progress, citations, stop, CLI."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest
from fakes import make_parts, summary

from desk_assistant.cli.main import main
from desk_assistant.errors import NotFoundError
from desk_assistant.records import Summary, SummaryProgress, Token
from desk_assistant.service import Assistant
from desk_assistant.settings import Settings


def scripted(prompt: str) -> str:
    """Each section's summary names the topic it read; the last step cites two parts."""
    if "Write one summary" in prompt:
        return "The report covers topic3 and the bridge [2]. It ends with topic11 and the bridge."
    topics = re.findall(r"topic(\d+)", prompt.rsplit("Text from", 1)[-1])
    return f"This part is about topic{topics[-1] if topics else 'x'} and the bridge."


@pytest.fixture(scope="module")
def indexed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A data folder with the report indexed (once: parsing starts a worker process),
    and the report."""
    docs = tmp_path_factory.mktemp("docs")
    parts = [
        f"## Part {i}\n\n"
        + " ".join(
            f"Sentence {j} of part {i} is about topic{i} and bridge {i * 10 + j}."
            for j in range(30)
        )
        for i in range(12)
    ]
    (docs / "report.md").write_text("# Report\n\n" + "\n\n".join(parts), encoding="utf-8")
    home = tmp_path_factory.mktemp("home")
    with Assistant(make_parts(home)) as assistant:
        summary(assistant.ingest([docs]))
    return home, docs / "report.md"


def run(assistant: Assistant, path: Path) -> list[SummaryProgress | Token | Summary]:
    return list(assistant.summarize(path))


def test_a_long_document_is_summarized_in_steps_that_fit_the_window(
    indexed: tuple[Path, Path],
) -> None:
    # a Llama-2-sized window scaled down: each step must fit, so sections are batched
    home, report = indexed
    parts = make_parts(home, replies=scripted, window=1024, summary_reduce="model")
    runtime = parts.runtime
    with Assistant(parts) as assistant:
        items = run(assistant, report)
    prompts = runtime.prompts  # type: ignore[attr-defined]
    assert len(prompts) > 3
    assert all(len(runtime.tokenize(p)) + 160 <= 1024 for p in prompts[:-1])
    assert len(runtime.tokenize(prompts[-1])) + parts.settings.max_answer_tokens <= 1024
    steps = [i for i in items if isinstance(i, SummaryProgress)]
    assert steps[0].done == 0 and steps[-1].done == steps[-1].total == len(prompts)
    assert [s.done for s in steps] == sorted(s.done for s in steps)
    assert all(s.seconds_left is not None for s in steps[1:])
    sections = [s.section for s in steps if s.section is not None]
    assert sections[0] is not None and sections[0].heading == "Part 0 – Part 1"  # 2 a step
    final = items[-1]
    assert isinstance(final, Summary)
    # the model's [2] is kept, the unmarked sentence is attributed by its words
    assert final.text == (
        "The report covers topic3 and the bridge [1]. It ends with topic11 and the bridge [2]."
    )
    assert [c.heading for c in final.sections] == [sections[1].heading, sections[-1].heading]
    assert "topic11" in final.sections[1].text
    assert final.to_json()["sections"][0]["pages"] == sections[1].heading


def test_the_built_in_model_s_summary_is_picked_from_what_its_sections_back(
    indexed: tuple[Path, Path],
) -> None:
    def facts(prompt: str) -> str:
        """Each section's summary: a fact of its section, then one the model made up
        (a year and a mayor the report never names), then one cut off mid-sentence."""
        if "Write one summary" in prompt or "Combine these" in prompt:
            raise AssertionError("the built-in model is not asked to combine")
        i = re.findall(r"topic(\d+)", prompt.rsplit("Text from", 1)[-1])[-1]
        return (
            f"Part {i} of the report is about topic{i} and bridge {int(i) * 10 + 1}. "
            "The mayor Gonzalez opened it in 1987 after a long flood. "
            f"Then it turns to topic{i} and"
        )

    home, report = indexed
    parts = make_parts(home, replies=facts, window=1024)  # summary_reduce "auto"
    runtime = parts.runtime
    with Assistant(parts) as assistant:
        items = run(assistant, report)
    prompts = runtime.prompts  # type: ignore[attr-defined]
    steps = [i for i in items if isinstance(i, SummaryProgress)]
    sections = [s.section for s in steps if s.section is not None]
    # one model step a section and no combining: the total is right from the start
    assert len(prompts) == len(sections) > 3
    assert {s.total for s in steps} == {len(sections) + 1}
    assert steps[-1].done == steps[-1].total
    assert steps[-2].done == steps[-2].total - 1 and steps[-2].text == ""  # the pick begins
    # the last step's time left is none: the pick does not run the model
    assert steps[-3].done == len(sections) and steps[-3].seconds_left == 0.0
    final = items[-1]
    assert isinstance(final, Summary) and final.reduce == "extract"
    streamed = "".join(i.text for i in items[items.index(steps[-2]) :] if isinstance(i, Token))
    assert streamed == final.text
    # only the backed, whole sentences, each citing its own section, in document order
    assert "Gonzalez" not in final.text and "turns to" not in final.text
    said = re.findall(
        r"Part (\d+) of the report is about topic\1 and bridge \d+ \[(\d+)\]\.", final.text
    )
    assert len(said) == len(final.sentences) > 1
    topics = [int(i) for i, _n in said]
    assert topics == sorted(topics)
    for (topic, n), sentence in zip(said, final.sentences, strict=True):
        cited = final.sections[int(n) - 1]
        assert f"topic{topic} " in cited.text and sentence.supported
        assert sentence.citations == (int(n),) and sentence.evidence is not None
    assert len(runtime.tokenize(final.text)) <= parts.settings.max_answer_tokens
    shown = final.to_json()
    assert shown["reduce"] == "extract" and shown["sentences"][0]["supported"] is True


def test_a_model_of_the_user_s_own_combines_and_its_sentences_are_judged(
    indexed: tuple[Path, Path],
) -> None:
    def inventing(prompt: str) -> str:
        if "Write one summary" in prompt:
            return (
                "Sentence 4 of part 3 is about topic3 and bridge 34 [2]. "
                "The mayor Gonzalez wrote it in 1987."
            )
        return scripted(prompt)

    home, report = indexed
    model = home / "llama-2-7b-chat.Q4_K_M.gguf"
    model.write_bytes(b"GGUF")
    parts = make_parts(home, replies=inventing, window=1024, model_path=model)
    with Assistant(parts) as assistant:
        final = run(assistant, report)[-1]
    assert isinstance(final, Summary) and final.reduce == "model"
    assert [s.supported for s in final.sentences] == [True, False]
    assert "1987" in final.sentences[1].reason


def test_a_summary_stops_when_the_caller_stops(indexed: tuple[Path, Path]) -> None:
    home, report = indexed
    parts = make_parts(home, replies=scripted, window=1024)
    runtime = parts.runtime
    with Assistant(parts) as assistant:
        stream = assistant.summarize(report)
        for item in stream:
            if isinstance(item, Token):
                break
        stream.close()  # type: ignore[attr-defined]
    assert runtime.pieces_generated <= 2  # type: ignore[attr-defined]


def test_a_step_where_the_model_loops_ends_at_the_loop_and_leaves_it_out(
    indexed: tuple[Path, Path],
) -> None:
    def looping(prompt: str) -> str:
        """Every step starts well, then loops inside its second sentence until the
        token limit, as the built-in model can."""
        said = scripted(prompt)
        return f"{said} It then turns to the council and the" + " bridge and the" * 200

    home, report = indexed
    parts = make_parts(home, replies=looping, window=1024, summary_reduce="model")
    runtime = parts.runtime
    with Assistant(parts) as assistant:
        items = run(assistant, report)
    *steps, last = [i.text for i in items if isinstance(i, SummaryProgress) and i.text]
    assert steps and all(
        re.fullmatch(r"This part is about topic\d+ and the bridge\.", s) for s in steps
    )
    assert (
        last == "The report covers topic3 and the bridge [2]. It ends with topic11 and the bridge."
    )
    final = items[-1]
    assert isinstance(final, Summary)
    assert final.text == (
        "The report covers topic3 and the bridge [1]. It ends with topic11 and the bridge [2]."
    )
    # each step stopped three repeats into its loop, far short of its token limit
    assert final.timings["loops_stopped"] == len(runtime.prompts)  # type: ignore[attr-defined]
    assert runtime.pieces_generated < len(runtime.prompts) * 40  # type: ignore[attr-defined]


def test_only_indexed_documents_are_summarized(tmp_path: Path, app_home: Path) -> None:
    with Assistant(make_parts(app_home)) as assistant, pytest.raises(NotFoundError) as error:
        run(assistant, tmp_path / "nowhere.pdf")
    assert "is not indexed in collection 'default'" in str(error.value)


def test_cli_summarize_prints_cited_sections(
    indexed: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    def open_fake(cls: type[Assistant], settings: Settings, **_options: object) -> Assistant:
        return cls(make_parts(settings.home, replies=scripted, window=1024, summary_reduce="model"))

    monkeypatch.setattr(Assistant, "open", classmethod(open_fake))
    home, report = indexed
    monkeypatch.setenv("DESK_ASSISTANT_HOME", str(home))
    out = io.StringIO()
    assert main(["summarize", str(report)], out) == 0
    text = out.getvalue()
    assert text.startswith("The report covers topic3 and the bridge [1].")
    assert f"[1] {report}, Part 2 – Part 3" in text
    # the sentences the sections they cite do not back, and the closest source sentence
    assert "! not found in the cited passages: “The report covers topic3" in text
    assert "  closest: “Sentence 0 of part 11 is about topic11 and bridge 110.”" in text
    out = io.StringIO()
    assert main(["summarize", str(report), "--json"], out) == 0
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert lines[0]["event"] == "progress" and lines[-1]["event"] == "summary"
    assert lines[-1]["sections"][0]["path"] == str(report)
    out = io.StringIO()
    assert main(["summarize", str(report), "--format", "markdown"], out) == 0
    assert out.getvalue().startswith("# Summary of report.md")
