"""The prompt: grounding instructions and numbered passages, then the question.

The order is the most stable first, so that a local runtime can keep the model's state
for what prompts share (:mod:`desk_assistant.backends.llm.kv_state`): the instructions
open every prompt; the passages follow them in the system message, so a follow-up on the
same passages repeats everything up to its own question (and, in a chat, the earlier
turns, which the chat format writes after the system message).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from desk_assistant.backends.llm.chat_format import ChatFormat, History
from desk_assistant.rag.packing import PackedPassage, format_passage

SYSTEM_PROMPT = (
    "You are Desk Assistant. Answer the question using only the numbered passages from "
    "the user's documents. After each sentence, cite the passages it comes from like [1] "
    "or [2][3]. If the passages do not contain the answer, say that the documents do not "
    "contain it. Be concise."
)

NO_ANSWER = "The documents in this collection do not contain an answer to that question."
EMPTY_ANSWER = (
    "The model returned an empty answer. Try rephrasing the question, or use a larger model; "
    "the passages it was given are listed as sources."
)

# Control-token text a document could carry to end the user turn and speak as the
# assistant or the system: llama.cpp parses special tokens in prompt text, so a passage
# containing "<|im_end|>" would really end the turn. ChatML/Llama 3 style <|...|> tokens,
# Llama 2's <s>, </s>, [INST] and <<SYS>> markers, Gemma's turn markers, and the plain-text
# turn labels of the Vicuna ("USER:", "ASSISTANT:") and Alpaca ("### Response:") formats
# at the start of a line.
_CONTROL_TEXT = re.compile(
    r"<\|[a-zA-Z0-9_]{1,32}\|>|</?s>|\[/?INST\]|<</?SYS>>|<(?:start|end)_of_turn>"
    r"|(?im:^[ \t]*(?:USER|ASSISTANT|SYSTEM)[ \t]*:)"
    r"|(?im:^[ \t]*###[ \t]*(?:Instruction|Response|Input)[ \t]*:?)"
)


def neutralize(text: str) -> str:
    """Remove chat control sequences from untrusted text before it enters a prompt."""
    return _CONTROL_TEXT.sub(" ", text)


def system_message(packed: Sequence[PackedPassage]) -> str:
    """The instructions, then the numbered passages."""
    if not packed:
        return SYSTEM_PROMPT
    blocks = "\n\n".join(format_passage(p.n, p.passage, neutralize(p.text)) for p in packed)
    return f"{SYSTEM_PROMPT}\n\nPassages:\n\n{blocks}"


def user_message(question: str) -> str:
    return f"Question: {neutralize(question.strip())}"


# A private-use character: where the rendered probe is cut. Documents cannot smuggle one
# into a prefix: a cut in the wrong place only gives a shorter prefix, which is checked.
_SPLIT = "\ue000"


def shared_prefixes(chat_format: ChatFormat, system: str, history: History = ()) -> list[str]:
    """The leading parts of the prompt for ``system`` (and ``history``) that other prompts
    share: the instructions alone (every question), the system message with its passages
    (a follow-up on the same passages), and the conversation up to each earlier turn."""
    probes: list[tuple[str, str, History]] = [
        (SYSTEM_PROMPT + _SPLIT, "", ()),
        (system, _SPLIT, ()),
    ]
    probes += [(system, _SPLIT, history[:i]) for i in range(1, len(history) + 1)]
    prefixes = []
    for probe_system, user, turns in probes:
        rendered = chat_format.render(probe_system, user, turns)
        head, split, _ = rendered.partition(_SPLIT)
        if split and head:
            prefixes.append(head)
    return prefixes
