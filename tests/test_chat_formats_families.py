"""Prompt formats for files without a chat template: family detection, rendering, BOS/EOS,
stop sequences - and a real model (SmolLM2) stopping where each format says it must."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tiny_gguf import write_tiny_llama_gguf

from desk_assistant.backends.defaults import default_llm_path
from desk_assistant.backends.llm.base import LoadParams
from desk_assistant.backends.llm.chat_format import (
    ALPACA_SYSTEM,
    PROMPT_FAMILIES,
    VICUNA_SYSTEM,
    chat_format_for,
    detect_family,
    family_format,
    template_family,
)
from desk_assistant.backends.llm.fake import FakeRuntime
from desk_assistant.backends.llm.gguf_info import ModelInfo, read_model_info
from desk_assistant.backends.llm.llama_cpp_runtime import LlamaCppRuntime
from desk_assistant.errors import DeskAssistantError

HISTORY = [("What is the capital of Italy?", "Rome."), ("What is the capital of Spain?", "Madrid.")]


def llama_info(path: str = "model.gguf", **changes: Any) -> ModelInfo:
    """A 2023 Llama-2-era GGUF: SentencePiece vocabulary that adds BOS, no template."""
    fields: dict[str, Any] = {
        "path": path,
        "file_format": "gguf",
        "architecture": "llama",
        "tokenizer_model": "llama",
        "bos_token": "<s>",
        "eos_token": "</s>",
        "add_bos_token": True,
    }
    fields.update(changes)
    return ModelInfo(**fields)


# --- detection ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("info", "family", "source"),
    [
        # TheBloke's 2023 files name only the base model in their metadata.
        (llama_info("llama-2-7b-chat.Q4_K_M.gguf", name="LLaMA v2"), "llama-2", "file name"),
        (llama_info("vicuna-7b-v1.5.Q4_K_M.gguf", name="LLaMA v2"), "vicuna", "file name"),
        (llama_info("wizardlm-13b-v1.2.Q4_K_M.gguf"), "vicuna", "file name"),
        (llama_info("alpaca-7b-native.Q4_0.gguf"), "alpaca", "file name"),
        (llama_info("mistral-7b-instruct-v0.2.Q4_K_M.gguf"), "mistral", "file name"),
        (llama_info("zephyr-7b-beta.Q4_K_M.gguf"), "zephyr", "file name"),
        (llama_info("openhermes-2.5-mistral-7b.Q4_K_M.gguf"), "chatml", "file name"),
        (llama_info("codellama-7b-instruct.Q4_K_M.gguf"), "llama-2", "file name"),
        (llama_info("x.gguf", name="mistralai_mistral-7b-instruct-v0.2"), "mistral", "metadata"),
        (llama_info("x.gguf", extra={"basename": "vicuna"}), "vicuna", "metadata"),
        # Metadata wins over the file name; the tokenizer's end-of-turn over both.
        (llama_info("vicuna.gguf", name="Llama-2-7b-chat-hf"), "llama-2", "metadata"),
        (llama_info("my-model.gguf", eos_token="<|im_end|>"), "chatml", "tokenizer"),
        (llama_info("llama-2-7b.Q4_0.gguf"), "llama-2", "architecture"),  # a base model
        (ModelInfo(path="old.bin", file_format="ggml"), "llama-2", "architecture"),
        (ModelInfo(path="gpt2.gguf", file_format="gguf", architecture="gpt2"), "plain", "default"),
    ],
)
def test_family_detection(info: ModelInfo, family: str, source: str) -> None:
    guess = detect_family(info)
    assert (guess.family, guess.source) == (family, source)
    fmt = chat_format_for(info)
    assert (fmt.family, fmt.source, fmt.name) == (family, source, family)


def test_detection_from_a_real_file_header(tmp_path: Path) -> None:
    path = write_tiny_llama_gguf(
        tmp_path / "model.gguf",
        name="LLaMA v2",
        metadata={"general.basename": "vicuna", "general.finetune": "v1.5"},
    )
    guess = detect_family(read_model_info(path))
    assert (guess.family, guess.source) == ("vicuna", "metadata")
    assert guess.evidence == "general.basename = 'vicuna'"


def test_override_wins_over_template_and_detection() -> None:
    chatml = (
        "{% for m in messages %}{{ '<|im_start|>' + m['role'] + '\n' + m['content'] }}"
        "{{ '<|im_end|>\n' }}{% endfor %}{{ '<|im_start|>assistant\n' }}"
    )
    info = llama_info("llama-2-7b-chat.Q4_K_M.gguf", chat_template=chatml)
    assert chat_format_for(info).source == "template"
    assert chat_format_for(info).family == "chatml"

    fmt = chat_format_for(info, "alpaca")
    assert (fmt.family, fmt.source) == ("alpaca", "override")
    assert "### Instruction" in fmt.stop
    with pytest.raises(DeskAssistantError, match="unknown prompt format 'gpt-5'"):
        chat_format_for(info, "gpt-5")


@pytest.mark.parametrize(
    ("template", "family"),
    [
        ("{{ '<|im_start|>' }}", "chatml"),
        ("[INST] <<SYS>>", "llama-2"),
        ("{{ '[INST] ' + m }}", "mistral"),
        ("<|user|>", "zephyr"),
        ("### Instruction:", "alpaca"),
        ("USER: {{ x }} ASSISTANT:", "vicuna"),
        ("{{ messages }}", "custom"),
    ],
)
def test_template_family_for_display(template: str, family: str) -> None:
    assert template_family(template) == family


# --- rendering -------------------------------------------------------------------------------


def render(family: str, info: ModelInfo | None = None, **kwargs: Any) -> str:
    return family_format(family, info or llama_info()).render(
        kwargs.get("system", "Be brief."), "Hi?", kwargs.get("history", ())
    )


def test_llama_2_chat() -> None:
    assert render("llama-2") == "[INST] <<SYS>>\nBe brief.\n<</SYS>>\n\nHi? [/INST]"
    assert render("llama-2", history=[("A?", "B.")]) == (
        "[INST] <<SYS>>\nBe brief.\n<</SYS>>\n\nA? [/INST] B. </s><s>[INST] Hi? [/INST]"
    )


def test_mistral_merges_the_system_into_the_first_user_turn() -> None:
    assert render("mistral") == "[INST] Be brief.\n\nHi? [/INST]"
    assert render("mistral", system="") == "[INST] Hi? [/INST]"
    assert render("mistral", history=[("A?", "B.")]) == (
        "[INST] Be brief.\n\nA? [/INST] B.</s>[INST] Hi? [/INST]"
    )


def test_vicuna_v1_1() -> None:
    assert render("vicuna") == "Be brief. USER: Hi? ASSISTANT:"
    # Vicuna was trained with its own system line; no system text means that one.
    assert render("vicuna", system="") == f"{VICUNA_SYSTEM} USER: Hi? ASSISTANT:"
    assert render("vicuna", history=[("A?", "B.")]) == (
        "Be brief. USER: A? ASSISTANT: B.</s> USER: Hi? ASSISTANT:"
    )


def test_alpaca() -> None:
    assert render("alpaca") == "Be brief.\n\n### Instruction:\nHi?\n\n### Response:\n"
    assert render("alpaca", system="").startswith(ALPACA_SYSTEM + "\n\n### Instruction:\n")


def test_chatml_and_zephyr_and_plain() -> None:
    assert render("chatml") == (
        "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi?<|im_end|>\n"
        "<|im_start|>assistant\n"
    )
    assert render("zephyr") == "<|system|>\nBe brief.</s>\n<|user|>\nHi?</s>\n<|assistant|>\n"
    assert render("plain") == "Be brief.\n\nUser: Hi?\nAssistant:"


@pytest.mark.parametrize(
    ("family", "stops"),
    [
        ("llama-2", {"</s>", "[INST]"}),
        ("mistral", {"</s>", "[INST]"}),
        ("vicuna", {"</s>", "USER:"}),
        ("alpaca", {"</s>", "### Instruction"}),
        ("chatml", {"<|im_end|>", "<|im_start|>", "</s>"}),
        ("zephyr", {"</s>", "<|user|>"}),
        ("plain", {"\nUser:", "</s>"}),
    ],
)
def test_stop_sequences_include_the_turn_marker_and_the_models_eos(
    family: str, stops: set[str]
) -> None:
    fmt = family_format(family, llama_info(eos_token="</s>"))
    assert stops <= set(fmt.stop)
    assert fmt.add_bos  # the SentencePiece tokenizer adds BOS: never written as text


@pytest.mark.parametrize("family", PROMPT_FAMILIES)
def test_bos_is_never_doubled(family: str) -> None:
    # The tokenizer adds BOS: the prompt text must not start with it.
    assert not render(family).startswith("<s>")


@pytest.mark.parametrize(
    ("family", "with_bos"),
    [
        ("llama-2", True),
        ("mistral", True),
        ("vicuna", True),
        ("alpaca", True),
        ("zephyr", True),
        ("chatml", False),
        ("plain", False),
    ],
)
def test_bos_text_when_the_tokenizer_adds_none(family: str, with_bos: bool) -> None:
    info = llama_info(add_bos_token=False)
    assert render(family, info).startswith("<s>") is with_bos
    # A BPE model forced into a Llama-style format keeps its own BOS out of it.
    bpe = llama_info(tokenizer_model="gpt2", bos_token="<|im_start|>", add_bos_token=False)
    assert not render(family, bpe).startswith("<|im_start|>" + "[INST]")
    if family != "chatml":
        assert not render(family, bpe).startswith("<|im_start|>")


# --- stopping, with a scripted model -------------------------------------------------------


@pytest.mark.parametrize(
    ("family", "reply"),
    [
        ("llama-2", "Paris. </s><s>[INST] And Germany? [/INST] Berlin."),
        ("llama-2", "Paris. [INST] And Germany? [/INST] Berlin."),
        ("mistral", "Paris.</s>[INST] And Germany? [/INST] Berlin."),
        ("vicuna", "Paris. USER: And Germany? ASSISTANT: Berlin."),
        ("alpaca", "Paris.\n\n### Instruction:\nAnd Germany?\n\n### Response:\nBerlin."),
        ("chatml", "Paris.<|im_end|>\n<|im_start|>user\nAnd Germany?"),
        ("zephyr", "Paris.</s>\n<|user|>\nAnd Germany?</s>"),
        ("plain", "Paris.\nUser: And Germany?\nAssistant: Berlin."),
    ],
)
def test_scripted_model_is_cut_at_the_turn_marker(family: str, reply: str) -> None:
    fmt = family_format(family, llama_info())
    runtime = FakeRuntime([reply])

    answer = "".join(runtime.stream(fmt.render("", "Capital of France?"), stop=fmt.stop))

    assert answer.strip() == "Paris."
    assert not any(stop in answer for stop in fmt.stop)
    # Generation stopped at the marker: the words after it were never generated.
    assert runtime.pieces_generated < len(reply.split())


# --- stopping, with a real model -----------------------------------------------------------


@pytest.fixture(scope="module")
def smollm2() -> Iterator[LlamaCppRuntime]:
    # One thread: these tests share two cores with other work (see test_llm_runtimes.py).
    runtime = LlamaCppRuntime.load(default_llm_path(), LoadParams(context_length=512, threads=1))
    yield runtime
    runtime.close()


MAX_TOKENS = 16


@pytest.mark.model
@pytest.mark.parametrize("family", PROMPT_FAMILIES)
def test_real_model_stops_where_the_format_says(
    family: str, smollm2: LlamaCppRuntime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SmolLM2, shown two earlier turns in a format, answers and then goes on to write the
    next user turn in that format: the turn marker it writes must end the reply.

    The pieces llama.cpp generates are recorded under the stop-sequence cutter, so the test
    sees what the model wrote, what the caller got, and that generation ended right there.
    """
    generated: list[str] = []
    pieces = LlamaCppRuntime._pieces

    def recording(self: LlamaCppRuntime, *args: Any) -> Iterator[str]:
        for piece in pieces(self, *args):
            generated.append(piece)
            yield piece

    monkeypatch.setattr(LlamaCppRuntime, "_pieces", recording)
    # The format as a 2023 Llama-family file without a template would get it.
    fmt = family_format(family, smollm2.info)
    prompt = fmt.render("", "What is the capital of France?", HISTORY)

    answer = "".join(smollm2.stream(prompt, stop=fmt.stop, max_tokens=MAX_TOKENS, temperature=0))

    written = "".join(generated)
    assert "Paris" in answer
    assert not any(stop in answer for stop in fmt.stop)
    assert len(generated) < MAX_TOKENS
    hits = [written.find(stop) for stop in fmt.stop if stop in written]
    if family == "chatml":
        # SmolLM2's own format: <|im_end|> is its end-of-generation token, which llama.cpp
        # stops on by itself, so the text never shows it.
        assert not hits
        assert answer == written
        return
    assert hits, f"the model did not write a {family} turn marker: {written!r}"
    assert answer == written[: min(hits)]
    # The last generated piece completed the marker: not one token more was generated.
    assert not any(stop in "".join(generated[:-1]) for stop in fmt.stop)
