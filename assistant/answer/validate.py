"""Stage 7, answer: the typed result, and the citation check every answerer goes through.

An answerer returns a `Draft` whose [n] markers refer to the passages it was given (1-based).
`finalize` keeps only markers that point at a passage, renumbers them 1..m in order of first
appearance, attaches the exact supporting span of each, and flags an answer that cites
nothing valid instead of passing it off as grounded. Figures are checked too: every figure of
an answer must occur in one of its cited quotes. A composed (verbatim) answer loses the
sentence that breaks this; any other answer whose cited sentence its passage does not support
(its figures, most of its words) is flagged as unverified.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from langchain_core.documents import Document

from assistant.text import Span, split_sentences, terms

if TYPE_CHECKING:
    from assistant.answer.condense import Message

ABSTAIN_MESSAGE = (
    "Not found in the documents: none of the indexed passages answers this question. "
    "The closest passages are listed below."
)
UNGROUNDED_WARNING = "⚠ Unverified: this answer cites no source passage, so it may not be grounded."
UNSUPPORTED_WARNING = (
    "⚠ Unverified: a cited passage does not support a sentence or figure of this answer."
)
_MARKER = re.compile(r"\[(\d{1,3})\]")
FIGURE = re.compile(r"(?<![\w.])\d+(?:[.,]\d+)*")
SUPPORT_SHARE = 0.5  # of a sentence's content words that its cited passage must hold


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
    kind: str = "text"  # "text", "table_row", "list" or "list_item"


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
    """An answerer's output before validation; [n] refer to `passages[n-1]`: the answerer's
    own `passages` when it cites finer units than it was given (list items), else the
    retrieved ones. An abstention may say why (`reason`) and which passage to show first."""

    text: str
    abstained: bool = False
    quotes: dict[int, Span] = field(default_factory=dict)
    confidence: float = 0.0
    passages: tuple[Document, ...] = ()
    reason: str = ""
    focus: int = 0  # 1-based index of the retrieved passage to show first when abstaining
    evidence: tuple[float, ...] = ()  # the confidence model's inputs (for calibration)
    verbatim: bool = False  # composed from quotes: figures not in them are removed, not flagged


class Answerer(Protocol):
    """What the chain needs of an answerer; each brings its own condense step."""

    name: str  # recorded in every answer
    description: str  # one line for people ("offline extractive answerer ...")
    local: bool  # runs in-process at no cost (so a warm-up may call it)

    def condense(self, question: str, history: Sequence[Message]) -> str: ...

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
        kind=str(meta.get("kind", "text")),
    )


def _claims_citing(text: str, n: int) -> str:
    """The sentences of an answer that carry marker [n]."""
    return " ".join(s.text for s in split_sentences(text) if f"[{n}]" in s.text) or text


def figures(text: str) -> set[str]:
    """The figures of a text (numbers, percentages, years), citation markers left out."""
    return {f.replace(",", "") for f in FIGURE.findall(_MARKER.sub(" ", text))}


def citable_text(c: Citation) -> str:
    """What a citation vouches for: its quote, its document's title and date, and for a
    table row the rendered row (which names the columns the raw row leaves implicit)."""
    row = c.text if c.kind == "table_row" else ""
    return f"{c.quote} {c.title} {c.date} {row}"


# How a part of a compound question that the documents do not answer is marked in an answer.
MISSING_PART = "Not in the documents: "


def claims(text: str) -> str:
    """The paragraphs of an answer that state something from the documents: a missing part's
    line ("Not in the documents: ... the first 109 pilot projects ...") claims nothing, and
    the question's own figures in it need no quote."""
    return "\n\n".join(p for p in text.split("\n\n") if not p.startswith(MISSING_PART))


def ungrounded_figures(text: str, citations: Sequence[Citation]) -> set[str]:
    """Figures of an answer that none of its cited quotes holds."""
    allowed: set[str] = set()
    for c in citations:
        allowed |= figures(citable_text(c))
    return figures(text) - allowed


def supported(sentence: str, passage: str) -> bool:
    """A sentence is supported by a passage that holds its figures and most of its words."""
    if figures(sentence) - figures(passage):
        return False
    wanted = set(terms(_MARKER.sub(" ", sentence)))
    if not wanted:
        return True
    return len(wanted & set(terms(passage))) >= SUPPORT_SHARE * len(wanted)


def _drop_ungrounded(text: str, citations: Sequence[Citation]) -> str:
    """Remove the sentences of a composed answer whose figures no cited quote holds."""
    kept = [s.text for s in split_sentences(text) if not ungrounded_figures(s.text, citations)]
    return " ".join(kept)


def finalize(draft: Draft, passages: list[Document], question: str, answerer: str) -> Answer:
    """Validate and renumber citations; see the module docstring."""
    related = _related(passages, question, draft.focus)
    if draft.abstained:
        message = ABSTAIN_MESSAGE
        if draft.reason:
            message = (
                f"Not found in the documents: {draft.reason} The closest passages are listed below."
            )
        return Answer(message, True, (), related, question, True, answerer, draft.confidence)
    targets = list(draft.passages) or passages
    order: list[int] = []
    for match in _MARKER.finditer(draft.text):
        n = int(match.group(1))
        if 1 <= n <= len(targets) and n not in order:
            order.append(n)
    renumber = {old: new for new, old in enumerate(order, start=1)}

    def replace(match: re.Match[str]) -> str:
        n = int(match.group(1))
        return f"[{renumber[n]}]" if n in renumber else ""

    text = re.sub(r"\s+([.,;:])", r"\1", _MARKER.sub(replace, draft.text)).strip()
    citations = tuple(
        citation(renumber[old], targets[old - 1],
                 draft.quotes.get(old) or best_quote(targets[old - 1], _claims_citing(draft.text, old)))
        for old in order
    )  # fmt: skip
    grounded = bool(citations)
    if grounded and draft.verbatim and ungrounded_figures(claims(text), citations):
        text = "\n\n".join(
            p if p.startswith(MISSING_PART) else _drop_ungrounded(p, citations)
            for p in text.split("\n\n")
        ).strip()
        if not claims(text).strip():
            return Answer(
                ABSTAIN_MESSAGE, True, (), related, question, True, answerer, draft.confidence
            )
    if not grounded:
        text = f"{UNGROUNDED_WARNING}\n\n{text}"
    elif not draft.verbatim and not _supported(draft.text, targets):
        grounded = False
        text = f"{UNSUPPORTED_WARNING}\n\n{text}"
    return Answer(text, False, citations, () if grounded else related, question, grounded,
                  answerer, draft.confidence)  # fmt: skip


def _supported(text: str, passages: Sequence[Document]) -> bool:
    """Every sentence that cites is supported by the passages it cites."""
    for sentence in split_sentences(text):
        cited = [int(n) for n in _MARKER.findall(sentence.text) if 1 <= int(n) <= len(passages)]
        if cited:
            joined = " ".join(f"{passages[n - 1].page_content} {passage_span(passages[n - 1]).text}"
                              for n in cited)  # fmt: skip
            if not supported(sentence.text, joined):
                return False
    return True


def _related(passages: list[Document], question: str, focus: int) -> tuple[Citation, ...]:
    """The closest passages, the one an abstention is about first."""
    ordered = list(passages)
    if 1 <= focus <= len(ordered):
        ordered.insert(0, ordered.pop(focus - 1))
    return tuple(citation(i + 1, d, best_quote(d, question)) for i, d in enumerate(ordered[:3]))
