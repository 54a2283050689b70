"""The grounding instructions and the user turn that carries the numbered passages."""

from __future__ import annotations

import re
from collections.abc import Sequence

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


def user_message(question: str, packed: Sequence[PackedPassage]) -> str:
    blocks = "\n\n".join(format_passage(p.n, p.passage, neutralize(p.text)) for p in packed)
    return f"Passages:\n\n{blocks}\n\nQuestion: {neutralize(question.strip())}"
