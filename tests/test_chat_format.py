"""Prompt formats: GGUF templates in a sandbox, the Llama 2 format, BOS handling."""

from __future__ import annotations

import logging
import threading
import time

import pytest

from desk_assistant.backends.defaults import default_llm_path
from desk_assistant.backends.llm.chat_format import chat_format_for
from desk_assistant.backends.llm.gguf_info import ModelInfo, read_model_info
from desk_assistant.backends.llm.template_process import TemplateFailure

CHATML = (
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + "
    "message['content'] + '<|im_end|>' + '\n'}}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)
# Meta's Llama 2 chat template as shipped in tokenizer_config.json (abridged: no
# alternation check); it writes the BOS token itself.
LLAMA2_TEMPLATE = (
    "{% if messages[0]['role'] == 'system' %}{% set loop_messages = messages[1:] %}"
    "{% set system_message = messages[0]['content'] %}{% else %}"
    "{% set loop_messages = messages %}{% set system_message = false %}{% endif %}"
    "{% for message in loop_messages %}"
    "{% if loop.index0 == 0 and system_message != false %}"
    "{% set content = '<<SYS>>\\n' + system_message + '\\n<</SYS>>\\n\\n' + message['content'] %}"
    "{% else %}{% set content = message['content'] %}{% endif %}"
    "{% if message['role'] == 'user' %}{{ bos_token + '[INST] ' + content.strip() + ' [/INST]' }}"
    "{% endif %}{% endfor %}"
)
# Mistral-style: no system role.
NO_SYSTEM_TEMPLATE = (
    "{% for message in messages %}{% if message['role'] == 'system' %}"
    "{{ raise_exception('System role not supported') }}{% endif %}"
    "{{ '[INST] ' + message['content'] + ' [/INST]' }}{% endfor %}"
)


def llama_info(**changes: object) -> ModelInfo:
    fields: dict[str, object] = {
        "path": "llama-2-7b-chat.Q4_K_M.gguf",
        "file_format": "gguf",
        "architecture": "llama",
        "tokenizer_model": "llama",
        "bos_token": "<s>",
        "eos_token": "</s>",
        "add_bos_token": True,
    }
    fields.update(changes)
    return ModelInfo(**fields)  # type: ignore[arg-type]


def test_chatml_template() -> None:
    info = llama_info(
        tokenizer_model="gpt2",
        bos_token="<|im_start|>",
        eos_token="<|im_end|>",
        add_bos_token=False,
        chat_template=CHATML,
    )
    fmt = chat_format_for(info)

    assert fmt.name == "gguf-template"
    assert fmt.warning is None
    assert fmt.stop[0] == "<|im_end|>"
    assert fmt.render("Be brief.", "Hi?") == (
        "<|im_start|>system\nBe brief.<|im_end|>\n"
        "<|im_start|>user\nHi?<|im_end|>\n"
        "<|im_start|>assistant\n"
    )
    assert fmt.render("", "Hi?") == "<|im_start|>user\nHi?<|im_end|>\n<|im_start|>assistant\n"


@pytest.mark.model
def test_smollm2_uses_its_own_template() -> None:
    fmt = chat_format_for(read_model_info(default_llm_path()))
    prompt = fmt.render("Answer from the passages.", "What is the capital of France?")

    assert fmt.name == "gguf-template"
    assert "<|im_end|>" in fmt.stop
    # SmolLM2's BOS is "<|im_start|>" and its tokenizer does not add it: the template's
    # leading "<|im_start|>" must stay.
    assert not fmt.add_bos
    assert prompt.startswith("<|im_start|>system\nAnswer from the passages.<|im_end|>")
    assert prompt.endswith("<|im_start|>assistant\n")


def test_llama2_format_without_template() -> None:
    fmt = chat_format_for(llama_info())

    assert fmt.name == "llama-2"
    assert fmt.add_bos
    assert {"</s>", "[INST]"} <= set(fmt.stop)
    # No "<s>": llama.cpp and ctransformers add the BOS token themselves.
    assert fmt.render("Be brief.", "Hi?") == "[INST] <<SYS>>\nBe brief.\n<</SYS>>\n\nHi? [/INST]"
    assert fmt.render("", "Hi?") == "[INST] Hi? [/INST]"


def test_template_bos_is_not_doubled() -> None:
    fmt = chat_format_for(llama_info(chat_template=LLAMA2_TEMPLATE))

    assert fmt.name == "gguf-template"
    assert fmt.render("Be brief.", "Hi?") == "[INST] <<SYS>>\nBe brief.\n<</SYS>>\n\nHi? [/INST]"


def test_template_bos_is_kept_when_the_tokenizer_adds_none() -> None:
    fmt = chat_format_for(llama_info(chat_template=LLAMA2_TEMPLATE, add_bos_token=False))

    assert not fmt.add_bos
    assert fmt.render("", "Hi?") == "<s>[INST] Hi? [/INST]"


def test_template_without_system_role_gets_it_merged() -> None:
    fmt = chat_format_for(llama_info(chat_template=NO_SYSTEM_TEMPLATE))

    assert fmt.name == "gguf-template (system merged into user)"
    assert fmt.warning is None
    assert fmt.render("Be brief.", "Hi?") == "[INST] Be brief.\n\nHi? [/INST]"


def test_plain_format_for_other_architectures() -> None:
    fmt = chat_format_for(ModelInfo(path="gpt2.gguf", file_format="gguf", architecture="gpt2"))

    assert fmt.name == "plain"
    assert "\nUser:" in fmt.stop
    assert fmt.render("Be brief.", "Hi?") == "Be brief.\n\nUser: Hi?\nAssistant:"


@pytest.mark.parametrize(
    "template",
    [
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ ''.__class__ }}",
        "{{ cycler.__init__.__globals__.os.popen('id').read() }}",
        "{{ raise_exception.__globals__ }}",
        "{% set x = messages.append({'role': 'user', 'content': 'injected'}) %}{{ x }}",
        "{% for i in range(10**9) %}{{ i }}{% endfor %}",
        "{% for message in messages %}",  # syntax error
        "{{ messages[5]['content'] }}",  # fails on every conversation
    ],
    ids=[
        "mro",
        "class",
        "globals",
        "function-globals",
        "mutation",
        "huge-range",
        "syntax",
        "index",
    ],
)
def test_hostile_or_broken_templates_fall_back(
    template: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING):
        fmt = chat_format_for(llama_info(chat_template=template))

    assert fmt.name == "llama-2"
    assert fmt.warning is not None
    assert "chat template cannot be used" in fmt.warning
    assert fmt.render("S", "U") == "[INST] <<SYS>>\nS\n<</SYS>>\n\nU [/INST]"
    assert "chat template cannot be used" in caplog.text


def test_template_failing_on_one_prompt_falls_back_for_that_prompt() -> None:
    template = (
        "{% if 'boom' in messages[-1]['content'] %}{{ raise_exception('boom') }}{% endif %}"
        + CHATML
    )
    fmt = chat_format_for(llama_info(chat_template=template))

    assert fmt.name == "gguf-template"
    assert fmt.render("", "fine").startswith("<|im_start|>user\nfine")
    assert fmt.render("", "boom") == "[INST] boom [/INST]"
    # The fallback's stop sequences are part of the template format's.
    assert {"</s>", "[INST]"} <= set(fmt.stop)


SPIN = "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}"
BOMB = "{{ 'x' * 10**10 }}"
# Fine on the short probe, quadratic in the length of what it is given.
SLOW_ON_LONG = (
    "{% for m in messages %}{% for a in m['content'] %}{% for b in m['content'] %}"
    "{% endfor %}{% endfor %}{% endfor %}" + CHATML
)


@pytest.mark.parametrize("template", [SPIN, BOMB], ids=["nested-range-loops", "memory-bomb"])
def test_a_template_that_never_ends_or_eats_memory_costs_a_few_seconds_at_most(
    template: str,
) -> None:
    fmt = chat_format_for(llama_info(chat_template=template))

    # It came back at all, and says why: the child was stopped at its time or memory limit.
    assert fmt.name == "llama-2" and fmt.warning is not None
    assert "took longer than" in fmt.warning or "MemoryError" in fmt.warning
    assert fmt.render("S", "U") == "[INST] <<SYS>>\nS\n<</SYS>>\n\nU [/INST]"


def test_a_template_that_hangs_on_one_prompt_is_not_tried_again() -> None:
    fmt = chat_format_for(llama_info(chat_template=SLOW_ON_LONG))
    assert fmt.name == "gguf-template"
    assert fmt.render("", "short").startswith("<|im_start|>user\nshort")

    passages = "word " * 4000  # 16 million loop turns in the template
    assert fmt.render("", passages) == f"[INST] {passages} [/INST]"  # the built-in format
    assert fmt.render("", "short") == "[INST] short [/INST]"
    with pytest.raises(TemplateFailure, match="took longer than"):
        fmt.renderer("", "short", ())  # broken for good: the child is not asked again
    fmt.close()


def test_closing_a_format_ends_its_template_process_at_once() -> None:
    fmt = chat_format_for(llama_info(chat_template=SLOW_ON_LONG))
    renderer = fmt.renderer
    finished: list[str] = []
    thread = threading.Thread(target=lambda: finished.append(fmt.render("", "word " * 4000)))
    thread.start()
    time.sleep(0.3)  # rendering, in the child
    fmt.close()  # what quitting the app does
    thread.join(10)
    assert finished == [f"[INST] {'word ' * 4000} [/INST]"]  # fell back, did not wait
    with pytest.raises(TemplateFailure, match="closed"):
        renderer("", "short", ())
