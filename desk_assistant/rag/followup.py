"""A question read in the light of its chat: the standalone query that is searched for.

"When was he born?" after "Was Abraham Lincoln the sixteenth president?" retrieves
nothing useful on its own. The retrieval query is therefore made standalone first:

- by a **rule** (the default): a question that leans on the conversation - a pronoun
  ("he", "its", "they") that no name of the question's own comes before, or an
  ellipsis ("And for the landlord?", "What about the deposit?") - gets the subject of
  the previous query: the
  pronoun is replaced by the name the previous query was about, an ellipsis is grafted
  onto the previous query ("What is the notice period for the tenant?" + "And for the
  landlord?" = "What is the notice period for the landlord?"), and otherwise the previous
  query's key words are added;
- or by the **model** (``followup_rewrite = "model"``), asked to rewrite the question;
  its rewrite is used only when it looks like a question of reasonable length, else the
  rule's.

``bench/followup.py`` measures both on wikiqa follow-up pairs; with the built-in model the
rule is the one that meets the target, hence the default.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from desk_assistant.backends.llm.base import LLMRuntime
from desk_assistant.backends.llm.chat_format import ChatFormat
from desk_assistant.rag.citations import MARKER, content_words
from desk_assistant.rag.prompt import neutralize

_SUBJECT_PRONOUNS = {"he", "she", "it", "they"}
_OBJECT_PRONOUNS = {"him", "her", "them"}
_POSSESSIVES = {"his", "her", "its", "their", "hers", "theirs"}
_PRONOUNS = _SUBJECT_PRONOUNS | _OBJECT_PRONOUNS | _POSSESSIVES
# "And for the landlord?", "What about the deposit?", "How about in 2010?"
_ELLIPSIS = re.compile(
    r"^\s*(?:and\s+)?(?:what|how)\s+about\s+|^\s*(?:and|also|same\s+for)\s+", re.IGNORECASE
)
_WORD = re.compile(r"[\w'’-]+|[^\w\s]+")
# The words a question opens with; a capitalised one of these names nothing.
_OPENERS = frozenset(
    "what who whom whose which when where why how is are was were do does did can could "
    "would should will shall has have had may might must tell list name describe explain "
    "give show and also in on at for of to by the a an".split()
)
_CONNECTORS = {"of", "de", "da", "del", "der", "van", "von", "the", "and", "la", "le", "du"}
_PREPOSITIONS = "for of in on at to from with by during under about between after before"
_DETERMINERS = "the a an this that these those my your our his her its their"
# What an elliptical fragment starts with, and so where it is grafted onto the previous
# query: the same preposition ("for the landlord"), or a determiner ("the landlord").
_GRAFT_POINT = re.compile(
    rf"^\s*({'|'.join(_PREPOSITIONS.split())}|{'|'.join(_DETERMINERS.split())})\b",
    re.IGNORECASE,
)
MAX_REWRITE_WORDS = 40
# What a small model writes before its rewrite ("The answer to this question is: When do
# emperor penguins breed?"): its words are in no document, and the search that carries
# them finds too few of its key terms and refuses (the model-server test's follow-up).
_PREAMBLE = re.compile(r"^[^?:]*:\s+(?=\S)")
REWRITE_TOKENS = 64
REWRITE_SYSTEM = (
    "Rewrite the user's last question so that it can be understood without the "
    "conversation: replace pronouns like he, she, it or they with the name they refer to. "
    "Reply with the rewritten question only."
)


@dataclass(frozen=True, slots=True)
class Turn:
    """An earlier exchange of the chat: the question, the query searched for it (the
    question itself when it was standalone) and the answer; ``usable`` is False for a
    refusal or a stopped answer (their query still names what the chat is about)."""

    question: str
    query: str
    answer: str
    usable: bool = True


def _tokens(text: str) -> list[str]:
    return _WORD.findall(text)


def subject(query: str) -> str | None:
    """The first name a query is about: a run of capitalised words (with "of", "de",
    ... inside), the question's opening words aside. ``None`` when it names nothing."""
    found = _first_name(_tokens(query))
    return " ".join(found[1]) if found else None


def _first_name(tokens: list[str]) -> tuple[int, list[str]] | None:
    """Where the first name among ``tokens`` starts, and its words."""
    run: list[str] = []
    start = 0
    for index, token in enumerate([*tokens, "."]):
        opener = index == 0 and token.lower() in _OPENERS
        capital = token[:1].isupper() and not opener and token.lower() not in _PRONOUNS
        if capital or (run and token.lower() in _CONNECTORS):
            start = index if not run else start
            run.append(token)
            continue
        while run and run[-1].lower() in _CONNECTORS:
            run.pop()
        if run:
            return start, run
    return None


def _pronoun_at(words: list[str]) -> int | None:
    for index, word in enumerate(words):
        if word.lower() in _PRONOUNS:
            return index
    return None


def needs_context(question: str) -> bool:
    """Whether the question leans on the conversation: an ellipsis, or a pronoun that no
    name of the question's own comes before ("Did he go to Harvard?" leans on the chat;
    in "When did Lincoln say he was tired?" the pronoun is Lincoln)."""
    if _ELLIPSIS.search(question):
        return True
    tokens = _tokens(question)
    pronoun = _pronoun_at(tokens)
    if pronoun is None:
        return False
    name = _first_name(tokens)
    return name is None or pronoun < name[0]


def _replace_pronoun(question: str, name: str) -> str:
    words = _tokens(question)
    index = _pronoun_at(words)
    assert index is not None
    pronoun = words[index].lower()
    # "her" is object or possessive: possessive when a word follows that is no verb-ish
    # function word ("her mother" vs "did they marry her ?").
    following = words[index + 1] if index + 1 < len(words) else ""
    possessive = pronoun in _POSSESSIVES and (pronoun != "her" or following.isalpha())
    words[index] = f"{name}'s" if possessive else name
    return _join(words)


def _join(words: list[str]) -> str:
    text = " ".join(words)
    return re.sub(r"\s+([?.!,;:)])", r"\1", re.sub(r"\s+(['’]s)\b", r"\1", text))


def _graft(question: str, previous: str) -> str | None:
    """An ellipsis grafted onto the previous query: its ending from the same preposition
    or determiner on is replaced ("... for the tenant?" + "for the landlord" -> "... for
    the landlord?"; "... for the tenant?" + "the landlord" likewise)."""
    fragment = _ELLIPSIS.sub("", question, count=1).strip().rstrip("?.! ")
    match = _GRAFT_POINT.match(fragment)
    if not fragment or match is None:
        return None
    word = match.group(1).lower()
    kind = _DETERMINERS.split() if word in _DETERMINERS.split() else [word]
    pattern = r"\b(?:" + "|".join(kind) + r")\b"
    found = list(re.finditer(pattern, previous, re.IGNORECASE))
    if not found:
        return None
    return previous[: found[-1].start()].rstrip() + " " + fragment + "?"


def _with_key_words(question: str, previous: str) -> str:
    """The question followed by the previous query's content words it lacks."""
    own = content_words(question)
    extra = [
        w
        for w in dict.fromkeys(re.findall(r"[^\W\d_][\w'’-]*|\d+", previous))
        if content_words(w) and not content_words(w) <= own
    ]
    return f"{question.strip()} ({' '.join(extra)})" if extra else question


def rule_query(question: str, history: Sequence[Turn]) -> str:
    """The standalone query by the rule (see the module's docstring)."""
    if not history or not needs_context(question):
        return question
    previous = history[-1].query or history[-1].question
    if _ELLIPSIS.search(question):
        grafted = _graft(question, previous)
        return grafted or _with_key_words(question, previous)
    names = (subject(turn.query or turn.question) for turn in reversed(history))
    name = next((n for n in names if n), None)
    if name is not None:
        return _replace_pronoun(question, name)
    return _with_key_words(question, previous)


def model_query(
    question: str,
    history: Sequence[Turn],
    runtime: LLMRuntime,
    chat_format: ChatFormat,
) -> str:
    """The standalone query as the model rewrites it; the rule's when the rewrite is not
    a plausible question (empty, very long, or several lines)."""
    fallback = rule_query(question, history)
    if not history or not needs_context(question):
        return question
    conversation = "\n".join(
        f"User: {neutralize(t.question)}\nAssistant: {neutralize(MARKER.sub('', t.answer))}"
        for t in history[-2:]
    )
    prompt = chat_format.render(
        REWRITE_SYSTEM,
        f"Conversation:\n{conversation}\n\nLast question: {neutralize(question)}\n\n"
        "Rewritten question:",
    )
    stream = runtime.stream(
        prompt, stop=chat_format.stop, max_tokens=REWRITE_TOKENS, temperature=0.0
    )
    lines = [line.strip("\"' ") for line in "".join(stream).splitlines() if line.strip()]
    rewrite = _PREAMBLE.sub("", lines[0]) if lines else ""
    if not rewrite or len(rewrite.split()) > MAX_REWRITE_WORDS or "?" not in rewrite:
        return fallback
    return rewrite
