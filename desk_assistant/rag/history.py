"""Which earlier turns of a chat go into the prompt: the newest that fit the budget.

The model reads the conversation so far in its own chat format (a follow-up like "and
for the landlord?" only makes sense after the question it follows), but every earlier
token delays the answer on a CPU, so only the newest turns within ``chat_history_tokens``
are given, whole, oldest first. Turns the documents could not answer, and answers the
user stopped, are left out: they would teach the model to refuse or to trail off. Their
``[n]`` markers are dropped too - they number other passages than this answer's.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from desk_assistant.rag.citations import MARKER
from desk_assistant.rag.followup import Turn
from desk_assistant.records import Message, exchanges


def turns(messages: Sequence[Message]) -> list[Turn]:
    """A chat's earlier exchanges as the answer path reads them."""
    return [
        Turn(a.question, a.searched_for, a.text, a.grounded and not a.stopped)
        for a in exchanges(messages)
    ]


def _plain(answer: str) -> str:
    return " ".join(re.sub(r"\s*" + MARKER.pattern, "", answer).split())


def fitting_turns(
    history: Sequence[Turn], budget: int, count_tokens: Callable[[str], int]
) -> list[tuple[str, str]]:
    """(question, answer) pairs of the newest usable turns whose tokens fit ``budget``."""
    chosen: list[tuple[str, str]] = []
    remaining = budget
    for turn in reversed(history):
        if not turn.usable:
            continue
        pair = (turn.question.strip(), _plain(turn.answer))
        cost = count_tokens(pair[0]) + count_tokens(pair[1]) + 8  # the format's markers
        if cost > remaining:
            break
        chosen.append(pair)
        remaining -= cost
    return chosen[::-1]
