"""Does each sentence of an answer say what a source sentence says? The support check.

Citations point at the evidence; they do not say whether the sentence that carries them
is true to it. After generation, each sentence of the answer is compared with every
sentence of the passages the model was given (those it cites first):

- its **specifics** - numbers, dates, names - must appear in the passages, and in the
  source sentence that backs it (the landlord's "twelve months" does not back "the
  tenant's notice period is 12 months", though the paragraph holds both); what the
  question itself names is its subject, not the answer's claim, and need only appear
  somewhere in the passages (the source says "It inhabits the grasslands of Ethiopia",
  the answer "Grevy's zebras inhabit the grasslands of Ethiopia");
- a **negation** the sentence adds must be in the source: "may not" is not backed by
  "may". One only the source has is not held against it: a long source sentence often
  negates a clause the answer leaves out ("Romania is a secular state, thus having no
  national religion" backs "Romania is a secular state"); nor is one the question asked
  with ("... warm without blubber?");
- and the sentence must be close to that source sentence: the share of its words the
  source sentence contains, averaged with their similarity in meaning (the embedding
  model of retrieval) - low for a sentence the model made up.

A sentence too short to claim anything ("Yes.") is not judged. The threshold on the
closeness is ``min_support``; ``bench/trust.py`` measures what it catches on wikiqa.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from desk_assistant.rag.citations import MARKER, content_words, sentences
from desk_assistant.rag.claims import Claims, claims
from desk_assistant.rag.grounding import Sources, SourceSentence

SEMANTIC_WEIGHT = 0.5  # of the closeness; the rest is the share of words found
CITED_PREFERENCE = 0.05  # a cited sentence this close to the best one backs the claim
MIN_CLAIMS = 2  # a sentence with fewer words and specifics is not judged
NOT_FOUND = "not found in the cited passages"


@dataclass(frozen=True, slots=True)
class Check:
    """One sentence of an answer, judged."""

    text: str  # as written, markers included, whitespace trimmed
    cited: tuple[int, ...]  # the citation numbers its markers show
    supported: bool
    evidence: SourceSentence | None  # the source sentence closest to it
    score: float  # closeness to that sentence, 0..1
    missing: tuple[str, ...]  # specifics not backed ("12", "kentucky", "not")

    @property
    def reason(self) -> str:
        """Why it is flagged, for a tooltip and ``--json``; empty when supported."""
        if self.supported:
            return ""
        if self.missing:
            return f"{NOT_FOUND} ({', '.join(self.missing)})"
        return NOT_FOUND


def _coverage(claim: Claims, source: Claims) -> float:
    """The share of a sentence's words (figures aside) the source contains.

    Figures are left out on purpose: the backing sentence is the one about the same
    thing, and only then is it asked whether it holds the same figures - else the
    landlord's "twelve months" would back "the tenant's notice is 12 months"."""
    words = claim.words - claim.numbers
    if not words:
        return 0.0
    return len(words & (source.words | source.terms)) / len(words)


def _anywhere(sources: Sources) -> frozenset[str]:
    """Every word and figure of the passages (lower case, numbers as digits)."""
    found: set[str] = set()
    for sentence in sources.sentences:
        found |= sentence.claims.terms
    return frozenset(found)


def _named(name: str, source: Claims) -> bool:
    """Whether the source names ``name`` in another form of the word: "Christianity" is
    backed by "Christian 63%" (the content words are stemmed)."""
    stems = content_words(name)
    return bool(stems) and stems <= source.words


def unbacked(
    claim: Claims,
    backing: Claims,
    anywhere: frozenset[str],
    asked: frozenset[str] = frozenset(),
    asked_negated: bool = False,
) -> list[str]:
    """What the claim says that its backing sentence does not: specifics absent from the
    passages first, then specifics the passages hold elsewhere (except the question's own
    words, ``asked``: a source sentence names its subject once and then says "it"), then
    a negation the backing sentence does not have - unless the question asked with one
    (``asked_negated``: "How do otters keep warm without blubber?" is answered with the
    "without")."""
    gaps = sorted(
        s for s in claim.specifics - backing.terms if s in claim.numbers or not _named(s, backing)
    )
    absent = [s for s in gaps if s not in anywhere]
    elsewhere = [s for s in gaps if s in anywhere and s not in asked]
    denied = claim.negated and not backing.negated and not asked_negated
    return absent + elsewhere + (["not"] if denied else [])


def check(
    answer: str,
    sources: Sources,
    shown_to_packed: Mapping[int, int],
    min_support: float,
    question: str = "",
    query: str = "",
) -> list[Check]:
    """Judge each sentence of ``answer`` to ``question`` (with its ``[n]`` markers,
    numbered as shown; ``shown_to_packed`` maps them to the passages' numbers in the
    prompt). ``query`` is the question made standalone when it differs (a follow-up's
    "he" named): what it names was asked too."""
    parts = [s.strip() for s in sentences(answer) if s.strip()]
    if not parts:
        return []
    plain = [" ".join(MARKER.sub(" ", s).split()) for s in parts]
    vectors = sources.embedder.embed_documents(plain)
    similarity = sources.similarities(np.asarray(vectors))
    anywhere = _anywhere(sources)
    asking = [claims(text) for text in (question, query) if text]
    asked = frozenset().union(*(c.terms for c in asking))
    asked_negated = any(c.negated for c in asking)
    results: list[Check] = []
    for row, (text, bare) in enumerate(zip(parts, plain, strict=True)):
        shown = tuple(int(n) for m in MARKER.finditer(text) for n in _numbers(m.group(1)))
        claim = claims(bare)
        if not sources.sentences:
            judged = claim.size >= MIN_CLAIMS
            results.append(Check(text, shown, not judged, None, 0.0 if judged else 1.0, ()))
            continue
        closeness = [
            SEMANTIC_WEIGHT * float(similarity[row, column])
            + (1 - SEMANTIC_WEIGHT) * _coverage(claim, source.claims)
            for column, source in enumerate(sources.sentences)
        ]
        best = int(np.argmax(closeness))
        cited = {shown_to_packed[n] for n in shown if n in shown_to_packed}
        in_cited = [i for i, s in enumerate(sources.sentences) if s.n in cited]
        if in_cited:
            best_cited = max(in_cited, key=closeness.__getitem__)
            if closeness[best_cited] >= closeness[best] - CITED_PREFERENCE:
                best = best_cited
        backing = sources.sentences[best]
        score = max(0.0, min(1.0, closeness[best]))
        if claim.size < MIN_CLAIMS:  # nothing to judge: full marks
            results.append(Check(text, shown, True, backing, 1.0, ()))
            continue
        missing = tuple(unbacked(claim, backing.claims, anywhere, asked, asked_negated))
        supported = not missing and score >= min_support
        results.append(Check(text, shown, supported, backing, score, missing))
    return results


def _numbers(group: str) -> Sequence[str]:
    return [n for n in group.replace(";", ",").split(",") if n.strip().isdigit()]
