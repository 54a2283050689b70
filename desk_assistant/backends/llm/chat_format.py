"""How a (system, user) exchange is written as one raw prompt for a given model.

A chat model only answers well in the exact format it was trained on, so the format comes
from the model file: its Jinja chat template when it has one, else the Llama 2 chat format
for Llama-architecture files (TheBloke's Llama-2-Chat GGUFs carry no template), else a
plain "User:/Assistant:" layout. The template is untrusted input - anyone can publish a
GGUF - so it runs in Jinja's immutable sandbox, and a template that cannot be rendered
degrades to the built-in format with a warning instead of failing the question.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, NoReturn

from desk_assistant.backends.llm.base import ModelInfo

if TYPE_CHECKING:
    import jinja2

log = logging.getLogger(__name__)

LLAMA2_SYSTEM = "[INST] <<SYS>>\n{system}\n<</SYS>>\n\n{user} [/INST]"
# Turn-end markers of the common template families; a template that writes one of them
# literally ends the assistant's turn with it, so generation must stop there.
_TURN_END_MARKERS = ("<|im_end|>", "<|eot_id|>", "<|end|>", "<end_of_turn>", "<|endoftext|>")

Renderer = Callable[[str, str], str]


@dataclass(frozen=True, slots=True)
class ChatFormat:
    """A model's prompt format: ``render`` gives the raw prompt, ``stop`` ends the reply.

    ``add_bos`` says that the runtime's tokenizer puts the BOS token before the prompt by
    itself; the rendered text then never starts with the BOS text, or the model would see
    two BOS tokens (llama.cpp parses special-token text in prompts). ``warning`` tells the
    user that the model's own template could not be used.
    """

    name: str
    stop: tuple[str, ...]
    add_bos: bool
    renderer: Renderer
    fallback: Renderer | None = None
    warning: str | None = None

    def render(self, system: str, user: str) -> str:
        if self.fallback is None:
            return self.renderer(system, user)
        try:
            return self.renderer(system, user)
        except Exception as exc:  # the template is untrusted code: any failure is its own
            log.warning("The model's chat template failed (%s); using the built-in format", exc)
            return self.fallback(system, user)


def _strip_bos(text: str, info: ModelInfo) -> str:
    bos = info.bos_token
    if info.add_bos_token and bos and text.startswith(bos):
        return text[len(bos) :]
    return text


def _builtin_format(info: ModelInfo) -> ChatFormat:
    """The format used when the file has no usable template: Llama 2 chat or plain."""
    eos = (info.eos_token,) if info.eos_token else ()
    if info.architecture == "llama" or info.file_format == "ggml":
        bos = info.bos_token or ""

        def llama2(system: str, user: str) -> str:
            if system:
                text = bos + LLAMA2_SYSTEM.format(system=system, user=user)
            else:
                text = f"{bos}[INST] {user} [/INST]"
            return _strip_bos(text, info)

        stops = tuple(dict.fromkeys((*eos, "</s>", "[INST]")))
        return ChatFormat("llama-2", stops, info.add_bos_token, llama2)

    def plain(system: str, user: str) -> str:
        head = f"{system}\n\n" if system else ""
        return f"{head}User: {user}\nAssistant:"

    return ChatFormat("plain", (*eos, "\nUser:"), info.add_bos_token, plain)


def _raise_exception(message: str) -> NoReturn:
    from jinja2 import TemplateError

    raise TemplateError(message)


def _sandbox() -> jinja2.Environment:
    from jinja2 import ext
    from jinja2.exceptions import SecurityError
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    class _StrictSandbox(ImmutableSandboxedEnvironment):
        """Refuses unsafe attribute access outright.

        The stock sandbox returns an Undefined that prints as "", so a probing template
        would render silently; failing makes it fall back, with a visible warning.
        """

        def unsafe_undefined(self, obj: Any, attribute: str) -> Any:
            raise SecurityError(
                f"access to attribute {attribute!r} of {type(obj).__name__!r} object is unsafe"
            )

    # Hugging Face's apply_chat_template settings, which templates are written against.
    env = _StrictSandbox(trim_blocks=True, lstrip_blocks=True, extensions=[ext.loopcontrols])
    env.globals["raise_exception"] = _raise_exception
    return env


def _template_renderer(template: jinja2.Template, info: ModelInfo, merge_system: bool) -> Renderer:
    def render(system: str, user: str) -> str:
        if system and merge_system:
            messages = [{"role": "user", "content": f"{system}\n\n{user}"}]
        elif system:
            messages = [{"role": "system", "content": system}, {"role": "user", "content": user}]
        else:
            messages = [{"role": "user", "content": user}]
        text = template.render(
            messages=messages,
            add_generation_prompt=True,
            bos_token=info.bos_token or "",
            eos_token=info.eos_token or "",
        )
        return _strip_bos(text, info)

    return render


def _template_format(info: ModelInfo, source: str, builtin: ChatFormat) -> ChatFormat:
    """Compile and try the template; a template that refuses a system turn gets it merged.

    The stop sequences include the built-in format's, since a prompt that the template
    fails on at render time is written in the built-in format.
    """
    template = _sandbox().from_string(source)
    first_error: Exception | None = None
    for merge_system in (False, True):
        renderer = _template_renderer(template, info, merge_system)
        try:
            renderer("You answer from the passages.", "What is in the passages?")
        except Exception as exc:  # untrusted template code
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
        )
    assert first_error is not None
    raise first_error


def chat_format_for(info: ModelInfo) -> ChatFormat:
    """The prompt format for this model: its own template when that works, else built-in."""
    builtin = _builtin_format(info)
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
