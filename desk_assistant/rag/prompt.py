"""The grounding instructions and the user turn that carries the numbered passages."""

from __future__ import annotations

from collections.abc import Sequence

from desk_assistant.rag.packing import PackedPassage, format_passage

SYSTEM_PROMPT = (
    "You are Desk Assistant. Answer the question using only the numbered passages from "
    "the user's documents. After each sentence, cite the passages it comes from like [1] "
    "or [2][3]. If the passages do not contain the answer, say that the documents do not "
    "contain it. Be concise."
)

NO_ANSWER = "The documents in this collection do not contain an answer to that question."


def user_message(question: str, packed: Sequence[PackedPassage]) -> str:
    blocks = "\n\n".join(format_passage(p.n, p.passage, p.text) for p in packed)
    return f"Passages:\n\n{blocks}\n\nQuestion: {question.strip()}"
