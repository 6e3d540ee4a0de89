"""Stage 7, answer: the typed result, and the citation check every answerer goes through.

An answerer returns a `Draft` whose [n] markers refer to the passages it was given (1-based).
`finalize` keeps only markers that point at a passage, renumbers them 1..m in order of first
appearance, attaches the exact supporting span of each, and flags an answer that cites
nothing valid instead of passing it off as grounded.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

from langchain_core.documents import Document

from assistant.text import Span, split_sentences, terms

ABSTAIN_MESSAGE = (
    "Not found in the documents: none of the indexed passages answers this question. "
    "The closest passages are listed below."
)
UNGROUNDED_WARNING = "⚠ Unverified: this answer cites no source passage, so it may not be grounded."
_MARKER = re.compile(r"\[(\d{1,3})\]")


@dataclass(frozen=True)
class Citation:
    """One source behind an answer. `quote == document_text[start:end]` exactly."""

    number: int
    source: str
    title: str
    chunk_id: str
    text: str
    quote: str
    start: int
    end: int
    heading: str = ""
    date: str = ""
    passage_start: int = 0
    passage_end: int = 0
    score: float = 0.0


@dataclass(frozen=True)
class Answer:
    text: str
    abstained: bool
    citations: tuple[Citation, ...] = ()
    related: tuple[Citation, ...] = ()  # closest passages, shown when abstaining
    question: str = ""  # the standalone question that was searched
    grounded: bool = True
    answerer: str = "extractive"
    confidence: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Draft:
    """An answerer's output before validation; [n] refer to `passages[n-1]`."""

    text: str
    abstained: bool = False
    quotes: dict[int, Span] = field(default_factory=dict)
    confidence: float = 0.0


class Answerer(Protocol):
    name: str

    def answer(self, question: str, passages: list[Document]) -> Draft: ...


def passage_span(doc: Document) -> Span:
    """The exact source span of a retrieved passage."""
    meta = doc.metadata
    return Span(int(meta["start"]), int(meta["end"]), meta.get("text") or doc.page_content)


def best_quote(doc: Document, claim: str) -> Span:
    """The sentence of a passage that shares most content words with a claim."""
    span = passage_span(doc)
    if doc.metadata.get("kind") == "table_row":
        return span
    sentences = split_sentences(span.text, offset=span.start)
    if not sentences:
        return span
    wanted = set(terms(claim))
    return max(sentences, key=lambda s: (len(wanted & set(terms(s.text))), -s.start))


def citation(number: int, doc: Document, quote: Span) -> Citation:
    meta = doc.metadata
    span = passage_span(doc)
    return Citation(
        number=number,
        source=meta["source"],
        title=meta.get("title", meta["source"]),
        chunk_id=meta["chunk_id"],
        text=doc.page_content,
        quote=quote.text,
        start=quote.start,
        end=quote.end,
        heading=meta.get("heading", ""),
        date=meta.get("date", ""),
        passage_start=span.start,
        passage_end=span.end,
        score=float(meta.get("score", 0.0)),
    )


def _claims_citing(text: str, n: int) -> str:
    """The sentences of an answer that carry marker [n]."""
    return " ".join(s.text for s in split_sentences(text) if f"[{n}]" in s.text) or text


def finalize(draft: Draft, passages: list[Document], question: str, answerer: str) -> Answer:
    """Validate and renumber citations; see the module docstring."""
    related = tuple(citation(i + 1, d, best_quote(d, question)) for i, d in enumerate(passages[:3]))
    if draft.abstained:
        return Answer(
            ABSTAIN_MESSAGE, True, (), related, question, True, answerer, draft.confidence
        )

    order: list[int] = []
    for match in _MARKER.finditer(draft.text):
        n = int(match.group(1))
        if 1 <= n <= len(passages) and n not in order:
            order.append(n)
    renumber = {old: new for new, old in enumerate(order, start=1)}

    def replace(match: re.Match[str]) -> str:
        n = int(match.group(1))
        return f"[{renumber[n]}]" if n in renumber else ""

    text = re.sub(r"\s+([.,;:])", r"\1", _MARKER.sub(replace, draft.text)).strip()
    citations = tuple(
        citation(renumber[old], passages[old - 1],
                 draft.quotes.get(old) or best_quote(passages[old - 1], _claims_citing(draft.text, old)))
        for old in order
    )  # fmt: skip
    grounded = bool(citations)
    if not grounded:
        text = f"{UNGROUNDED_WARNING}\n\n{text}"
    return Answer(text, False, citations, () if grounded else related, question, grounded,
                  answerer, draft.confidence)  # fmt: skip
