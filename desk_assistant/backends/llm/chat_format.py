"""How a conversation is written as one raw prompt for a given model.

A chat model only answers well in the exact format it was trained on, and a wrong format
fails quietly: the model rambles, answers for the user, or never stops. The format comes
from, in order:

1. a manual per-model override (the model library stores it; the caller passes it in);
2. the model file's Jinja chat template, when it has one;
3. the family recognised from the file's metadata (``general.name``, ``general.basename``,
   ``general.finetune``), its tokenizer's special tokens, or its file name - the GGUF files
   of 2023 (TheBloke's Llama-2-Chat, Vicuna, Alpaca-style and Mistral conversions) carry
   no template, and their metadata often names only the base model ("LLaMA v2");
4. Llama 2 chat for any other Llama-architecture or GGML file, else a plain layout.

The template is untrusted input - anyone can publish a GGUF - so it runs in Jinja's
immutable sandbox inside a child process with a time and a memory limit
(:mod:`~desk_assistant.backends.llm.template_process`), and a template that cannot be
rendered in time degrades to the built-in format of the recognised family with a warning
instead of failing or hanging the question.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import PurePath

from desk_assistant.backends.llm.gguf_info import ModelInfo
from desk_assistant.backends.llm.template_process import TemplateFailure, TemplateProcess
from desk_assistant.errors import DeskAssistantError

log = logging.getLogger(__name__)

# Turn-end markers of the common template families; a template that writes one of them
# literally ends the assistant's turn with it, so generation must stop there.
_TURN_END_MARKERS = ("<|im_end|>", "<|eot_id|>", "<|end|>", "<end_of_turn>", "<|endoftext|>")

# The system lines these families were fine-tuned with; a prompt without one is out of
# distribution for them (FastChat's vicuna_v1.1 and Stanford Alpaca's no-input prompt).
VICUNA_SYSTEM = (
    "A chat between a curious user and an artificial intelligence assistant. The assistant "
    "gives helpful, detailed, and polite answers to the user's questions."
)
ALPACA_SYSTEM = (
    "Below is an instruction that describes a task. Write a response that appropriately "
    "completes the request."
)

History = Sequence[tuple[str, str]]  # earlier (user, assistant) turns, oldest first
Renderer = Callable[[str, str, History], str]


@dataclass(frozen=True, slots=True)
class ChatFormat:
    """A model's prompt format: ``render`` gives the raw prompt, ``stop`` ends the reply.

    ``add_bos`` says that the runtime's tokenizer puts the BOS token before the prompt by
    itself; the rendered text then never starts with the BOS text, or the model would see
    two BOS tokens (llama.cpp parses special-token text in prompts). ``warning`` tells the
    user that the model's own template could not be used. ``family`` and ``source`` say
    which format this is and how it was chosen, so the model picker can show (and the
    user can correct) a guess.
    """

    name: str
    stop: tuple[str, ...]
    add_bos: bool
    renderer: Renderer
    fallback: Renderer | None = None
    warning: str | None = None
    family: str = "plain"
    source: str = "default"
    evidence: str | None = None
    closer: Callable[[], None] | None = None  # ends the process a template renders in

    def close(self) -> None:
        """Free what rendering needs (the template's process); safe from any thread."""
        if self.closer is not None:
            self.closer()

    def render(self, system: str, user: str, history: History = ()) -> str:
        if self.fallback is None:
            return self.renderer(system, user, history)
        try:
            return self.renderer(system, user, history)
        except Exception as exc:  # the template is untrusted code: any failure is its own
            log.warning("The model's chat template failed (%s); using the built-in format", exc)
            return self.fallback(system, user, history)


# --- the built-in families ---------------------------------------------------------------


def _turns(history: History, user: str, first_prefix: str = "") -> list[tuple[str, str | None]]:
    """The (user, assistant) turns with the new question last (its answer still to come);
    ``first_prefix`` opens the first user turn (how formats without a system role carry
    the system text)."""
    turns: list[tuple[str, str | None]] = [*history, (user, None)]
    turns[0] = (first_prefix + turns[0][0], turns[0][1])
    return turns


def _llama2(system: str, user: str, history: History, bos: str) -> str:
    prefix = f"<<SYS>>\n{system}\n<</SYS>>\n\n" if system else ""
    parts = []
    for index, (asked, answered) in enumerate(_turns(history, user, prefix)):
        # Every turn after the first opens with BOS text; the first one's BOS is added by
        # the tokenizer (or by _bos_prefix when it does not).
        parts.append(("" if index == 0 else bos) + f"[INST] {asked} [/INST]")
        if answered is not None:
            parts.append(f" {answered} </s>")
    return "".join(parts)


def _mistral(system: str, user: str, history: History, bos: str) -> str:
    """Mistral Instruct has no system role: the system text opens the first user turn."""
    parts = []
    for asked, answered in _turns(history, user, f"{system}\n\n" if system else ""):
        parts.append(f"[INST] {asked} [/INST]")
        if answered is not None:
            parts.append(f" {answered}</s>")
    return "".join(parts)


def _vicuna(system: str, user: str, history: History, bos: str) -> str:
    parts = [system or VICUNA_SYSTEM]
    for asked, answered in history:
        parts.append(f" USER: {asked} ASSISTANT: {answered}</s>")
    parts.append(f" USER: {user} ASSISTANT:")
    return "".join(parts)


def _alpaca(system: str, user: str, history: History, bos: str) -> str:
    parts = [system or ALPACA_SYSTEM]
    for asked, answered in history:
        parts.append(f"\n\n### Instruction:\n{asked}\n\n### Response:\n{answered}")
    parts.append(f"\n\n### Instruction:\n{user}\n\n### Response:\n")
    return "".join(parts)


def _chatml(system: str, user: str, history: History, bos: str) -> str:
    parts = [f"<|im_start|>system\n{system}<|im_end|>\n"] if system else []
    for asked, answered in history:
        parts.append(f"<|im_start|>user\n{asked}<|im_end|>\n")
        parts.append(f"<|im_start|>assistant\n{answered}<|im_end|>\n")
    parts.append(f"<|im_start|>user\n{user}<|im_end|>\n<|im_start|>assistant\n")
    return "".join(parts)


def _zephyr(system: str, user: str, history: History, bos: str) -> str:
    parts = [f"<|system|>\n{system}</s>\n"] if system else []
    for asked, answered in history:
        parts.append(f"<|user|>\n{asked}</s>\n<|assistant|>\n{answered}</s>\n")
    parts.append(f"<|user|>\n{user}</s>\n<|assistant|>\n")
    return "".join(parts)


def _plain(system: str, user: str, history: History, bos: str) -> str:
    parts = [f"{system}\n\n"] if system else []
    for asked, answered in history:
        parts.append(f"User: {asked}\nAssistant: {answered}\n")
    parts.append(f"User: {user}\nAssistant:")
    return "".join(parts)


@dataclass(frozen=True, slots=True)
class _Family:
    render: Callable[[str, str, History, str], str]
    stop: tuple[str, ...]  # besides the model's own EOS text
    sentencepiece: bool  # trained on Llama/Mistral bases whose prompts open with BOS
    description: str


FAMILIES: dict[str, _Family] = {
    "llama-2": _Family(
        _llama2, ("</s>", "[INST]"), True, "Llama 2 Chat: [INST] <<SYS>> ... <</SYS>> ... [/INST]"
    ),
    "mistral": _Family(
        _mistral, ("</s>", "[INST]"), True, "Mistral Instruct: [INST] ... [/INST], no system"
    ),
    "vicuna": _Family(_vicuna, ("</s>", "USER:"), True, "Vicuna v1.1: system USER: ... ASSISTANT:"),
    "alpaca": _Family(
        _alpaca,
        ("</s>", "### Instruction", "### Input:"),
        True,
        "Alpaca: ### Instruction: ... ### Response:",
    ),
    "chatml": _Family(
        _chatml, ("<|im_end|>", "<|im_start|>"), False, "ChatML: <|im_start|>role ... <|im_end|>"
    ),
    "zephyr": _Family(
        _zephyr,
        ("</s>", "<|user|>", "<|system|>"),
        True,
        "Zephyr: <|system|> ... </s> <|user|> ... </s> <|assistant|>",
    ),
    "plain": _Family(_plain, ("\nUser:",), False, "plain: User: ... Assistant:"),
}
PROMPT_FAMILIES = tuple(FAMILIES)
# What the model library offers to choose from: each family's name and how it looks.
PROMPT_FORMATS = {name: family.description for name, family in FAMILIES.items()}


def _strip_bos(text: str, info: ModelInfo) -> str:
    bos = info.bos_token
    if info.add_bos_token and bos and text.startswith(bos):
        return text[len(bos) :]
    return text


def _bos_prefix(info: ModelInfo, family: _Family) -> str:
    """The BOS text to write before a prompt: only when the family's models expect BOS and
    the tokenizer will not add it. A SentencePiece tokenizer (Llama 2, Mistral) adds it by
    itself; a BPE model forced into a Llama-style format keeps its own BOS out of it."""
    sentencepiece_vocab = info.tokenizer_model == "llama" or info.file_format == "ggml"
    if family.sentencepiece and sentencepiece_vocab and not info.add_bos_token:
        return info.bos_token or ""
    return ""


def family_format(
    family: str, info: ModelInfo, *, source: str = "override", evidence: str | None = None
) -> ChatFormat:
    """The built-in format of ``family`` for this model (its BOS and EOS texts)."""
    spec = FAMILIES.get(family)
    if spec is None:
        raise DeskAssistantError(
            f"unknown prompt format {family!r}; choose one of: {', '.join(PROMPT_FAMILIES)}"
        )
    bos_text = info.bos_token or ""
    prefix = _bos_prefix(info, spec)

    def render(system: str, user: str, history: History) -> str:
        return prefix + spec.render(system, user, history, bos_text)

    eos = (info.eos_token,) if info.eos_token else ()
    # The marker stops come first: they are what this family's models actually write.
    stop = tuple(dict.fromkeys((*spec.stop, *eos)))
    return ChatFormat(
        family, stop, info.add_bos_token, render, family=family, source=source, evidence=evidence
    )


# --- recognising the family of a file without a template ---------------------------------


@dataclass(frozen=True, slots=True)
class FamilyGuess:
    """The prompt family of a model and where that conclusion came from."""

    family: str
    source: str  # "template", "metadata", "tokenizer", "file name", "architecture", "default"
    evidence: str | None = None


# Fine-tunes before their bases: "OpenHermes-2.5-Mistral" is ChatML, "zephyr-7b-beta" is
# a Mistral fine-tune in Zephyr format, "vicuna-7b-v1.5" is a Llama 2 fine-tune.
_NAME_RULES: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (family, re.compile(pattern))
    for family, pattern in (
        ("zephyr", r"zephyr|tinyllama.*chat"),
        ("chatml", r"hermes|dolphin|openorca|chatml|qwen|smollm"),
        ("vicuna", r"vicuna|wizardlm"),
        ("alpaca", r"alpaca|wizardcoder|platypus"),
        ("mistral", r"m[ai]xtral.*instruct|mistral.*instruct|instruct.*mistral"),
        ("llama-2", r"llama.?(?:2|v2)\b.*chat|chat.*llama.?2|code.?llama.*instruct"),
    )
)
_TEMPLATE_MARKERS = (
    ("chatml", "<|im_start|>"),
    ("llama-2", "<<SYS>>"),
    ("mistral", "[INST]"),
    ("zephyr", "<|user|>"),
    ("alpaca", "### Instruction"),
    ("vicuna", "USER:"),
)


def _by_name(text: str) -> str | None:
    lowered = text.lower().replace("_", "-")
    for family, pattern in _NAME_RULES:
        if pattern.search(lowered):
            return family
    return None


def template_family(template: str) -> str:
    """Which known layout a chat template writes ("custom" when none), for display."""
    for family, marker in _TEMPLATE_MARKERS:
        if marker in template:
            return family
    return "custom"


def detect_family(info: ModelInfo) -> FamilyGuess:
    """The family of a model's prompt format, ignoring any chat template it has."""
    for key, value in (
        ("general.name", info.name),
        ("general.basename", info.extra.get("basename")),
        ("general.finetune", info.extra.get("finetune")),
    ):
        if value and (family := _by_name(value)):
            return FamilyGuess(family, "metadata", f"{key} = {value!r}")
    if info.eos_token == "<|im_end|>" or info.eot_token == "<|im_end|>":
        return FamilyGuess("chatml", "tokenizer", "end-of-turn token <|im_end|>")
    file_name = PurePath(info.path).name
    if family := _by_name(file_name):
        return FamilyGuess(family, "file name", file_name)
    if info.architecture == "llama" or info.file_format == "ggml":
        what = "a GGML file" if info.file_format == "ggml" else "architecture llama"
        return FamilyGuess("llama-2", "architecture", what)
    return FamilyGuess("plain", "default", None)


# --- GGUF chat templates -----------------------------------------------------------------


def _messages(system: str, user: str, history: History, merge_system: bool) -> list[dict[str, str]]:
    messages: list[dict[str, str]] = []
    if system and not merge_system:
        messages.append({"role": "system", "content": system})
    prefix = f"{system}\n\n" if system and merge_system else ""
    for asked, answered in _turns(history, user, prefix):
        messages.append({"role": "user", "content": asked})
        if answered is not None:
            messages.append({"role": "assistant", "content": answered})
    return messages


def _template_renderer(process: TemplateProcess, info: ModelInfo, merge_system: bool) -> Renderer:
    def render(system: str, user: str, history: History) -> str:
        text = process.render(
            _messages(system, user, history, merge_system),
            bos=info.bos_token or "",
            eos=info.eos_token or "",
        )
        return _strip_bos(text, info)

    return render


def _template_format(info: ModelInfo, source: str, builtin: ChatFormat) -> ChatFormat:
    """Compile and try the template (in its own process); a template that refuses a
    system turn gets it merged.

    The stop sequences include the built-in format's, since a prompt that the template
    fails on at render time is written in the built-in format.
    """
    process = TemplateProcess(source)
    first_error: Exception | None = None
    for merge_system in (False, True):
        renderer = _template_renderer(process, info, merge_system)
        try:
            renderer("You answer from the passages.", "What is in the passages?", ())
        except TemplateFailure as exc:  # untrusted template code
            first_error = first_error or exc
            continue
        stops = [info.eos_token, info.eot_token]
        stops += [marker for marker in _TURN_END_MARKERS if marker in source]
        return ChatFormat(
            name="gguf-template" + (" (system merged into user)" if merge_system else ""),
            stop=tuple(dict.fromkeys(s for s in (*stops, *builtin.stop) if s)),
            add_bos=info.add_bos_token,
            renderer=renderer,
            fallback=builtin.renderer,
            family=template_family(source),
            source="template",
            evidence="tokenizer.chat_template",
            closer=process.close,
        )
    process.close()
    assert first_error is not None
    raise first_error


def chat_format_for(info: ModelInfo, override: str | None = None) -> ChatFormat:
    """The prompt format for this model: ``override`` (a family name from
    ``PROMPT_FAMILIES``) if given, else its own template when that works, else the
    built-in format of the family recognised from its metadata or file name."""
    if override:
        return family_format(override, info, source="override", evidence="chosen by the user")
    guess = detect_family(info)
    builtin = family_format(guess.family, info, source=guess.source, evidence=guess.evidence)
    if not info.chat_template:
        return builtin
    try:
        return _template_format(info, info.chat_template, builtin)
    except Exception as exc:  # untrusted template code: any failure means "do not use it"
        warning = (
            f"The model's chat template cannot be used ({type(exc).__name__}: {exc}); "
            f"prompts use the {builtin.name} format instead, so answers may be worse."
        )
        log.warning(warning)
        return replace(builtin, warning=warning)


# --- model servers -----------------------------------------------------------------------

SERVER_FAMILY = "server"


def messages_format() -> ChatFormat:
    """The format for a model server: the conversation itself, as a JSON list of chat
    messages, which the server writes in its model's own template (it knows the model;
    this process does not). :func:`parse_messages` reads it back."""

    def render(system: str, user: str, history: History) -> str:
        return json.dumps(_messages(system, user, history, merge_system=False))

    return ChatFormat(
        "the server's chat template",
        stop=(),
        add_bos=False,
        renderer=render,
        family=SERVER_FAMILY,
        source="server",
        evidence="the model server applies its model's template",
    )


def parse_messages(prompt: str) -> list[dict[str, str]]:
    """The chat messages :func:`messages_format` rendered, or any other prompt as the one
    user message (a raw prompt from a benchmark or a test)."""
    try:
        messages = json.loads(prompt)
    except ValueError:
        messages = None
    if isinstance(messages, list) and all(
        isinstance(m, dict)
        and isinstance(m.get("role"), str)
        and isinstance(m.get("content"), str)
        and set(m) == {"role", "content"}
        for m in messages
    ):
        return [{"role": m["role"], "content": m["content"]} for m in messages]
    return [{"role": "user", "content": prompt}]
