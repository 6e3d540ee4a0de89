"""The `extractive` answerer (default, no model): answer with the source's own sentences.

Every sentence of the retrieved passages (every row, for tables) is scored against the
question by meaning (embedding similarity, with its section heading as context), by the
rarity-weighted share of the question's words it contains, and by whether it holds the kind
of fact asked for (a figure, a date). The best ones, at most one per passage, become the
answer, grouped by document so that disagreeing sources are each named with their date.
Weak evidence, or a rare question word that no passage contains, makes it abstain.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from langchain_core.documents import Document

from assistant.answer import Draft, passage_span
from assistant.text import Span, normalise_spelling, split_sentences, strip_superscripts, terms

EmbedMany = Callable[[list[str]], list[list[float]]]
Idf = Callable[[str], float]

_WANTS_NUMBER = re.compile(
    r"\b(how (many|much|far|large|big|high)|what (percentage|proportion|share|rate|ratio|number|"
    r"target|level|amount|value|figure)|percent|per ?cent|%|number of|by how much|how fast)\b",
    re.IGNORECASE,
)
_WANTS_DATE = re.compile(r"\b(when|what (year|date|month|day)|which (year|date|month)|since when)\b", re.I)
_WANTS_NAME = re.compile(r"\b(who|whom|which (ministry|company|companies|city|cities|department|organi[sz]ation))\b", re.I)
_HAS_NUMBER = re.compile(r"\d")
_HAS_DATE = re.compile(
    r"\b(19|20)\d\d\b|\b(January|February|March|April|May|June|July|August|September|October|"
    r"November|December|Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec)\b"
)
_HAS_NAME = re.compile(r"(?<![.!?]\s)(?<!^)\b[A-Z][a-z]+(?:\s+[A-Z][a-z]+)+")


@dataclass(frozen=True)
class Weights:
    """How the unit score is made; tuned on the eval dev split, never per question."""

    dense: float = 0.45
    lexical: float = 0.35
    context: float = 0.10
    passage: float = 0.10
    answer_type: float = 0.08
    keep_within: float = 0.06  # extra sentences must score within this of the best
    coverage_floor: float = 0.5  # confidence = best * (floor + (1 - floor) * coverage)


@dataclass(frozen=True)
class Unit:
    passage: int  # 1-based index into the passages
    span: Span  # exact source span (the quote)
    display: str  # what the answer shows
    context: str  # heading and title, for meaning and for keyword coverage


class ExtractiveAnswerer:
    """See the module docstring. `embed` embeds texts in a batch; `idf` weighs a term."""

    name = "extractive"

    def __init__(
        self,
        embed: EmbedMany,
        idf: Idf,
        threshold: float,
        max_sentences: int = 3,
        weights: Weights | None = None,
    ) -> None:
        self.embed = embed
        self.idf = idf
        self.threshold = threshold
        self.max_sentences = max_sentences
        self.weights = weights or Weights()
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def _vectors(self, texts: list[str]) -> np.ndarray:
        """Embed in one batch, reusing vectors of texts seen before."""
        with self._lock:
            todo = [t for t in dict.fromkeys(texts) if t not in self._cache]
        fresh = self.embed(todo) if todo else []
        with self._lock:
            for text, vector in zip(todo, fresh, strict=True):
                self._cache[text] = np.asarray(vector, dtype=np.float32)
            while len(self._cache) > 20000:
                self._cache.popitem(last=False)
            return np.stack([self._cache[t] for t in texts])

    @staticmethod
    def units(passages: list[Document]) -> list[Unit]:
        out: list[Unit] = []
        for n, doc in enumerate(passages, start=1):
            meta = doc.metadata
            heading = meta.get("heading", "").split(" > ")[-1]
            context = strip_superscripts(f"{heading} {meta.get('short_title', '')}")
            span = passage_span(doc)
            if meta.get("kind") == "table_row":
                out.append(Unit(n, span, doc.page_content, context))
                continue
            position = 0
            for line in span.text.splitlines(keepends=True):
                for sentence in split_sentences(line, offset=span.start + position):
                    if len(sentence.text.split()) >= 3:
                        out.append(Unit(n, sentence, " ".join(sentence.text.split()), context))
                position += len(line)
        return out

    def _coverage(self, weighted: dict[str, float], text: str) -> float:
        total = sum(weighted.values())
        if not total:
            return 0.0
        present = set(terms(normalise_spelling(text)))
        return sum(w for t, w in weighted.items() if t in present) / total

    def score(self, question: str, passages: list[Document]) -> tuple[list[Unit], np.ndarray, float]:
        """Units, their scores, and the confidence that the passages answer the question."""
        units = self.units(passages)
        if not units:
            return [], np.zeros(0), 0.0
        w = self.weights
        q_terms = set(terms(normalise_spelling(question)))
        weighted = {t: self.idf(t) for t in q_terms}
        vectors = self._vectors([question] + [f"{u.context}: {u.display}" for u in units])
        dense = vectors[1:] @ vectors[0]
        lexical = np.array([self._coverage(weighted, u.display) for u in units])
        context = np.array([self._coverage(weighted, f"{u.context} {u.display}") for u in units])
        prior = np.array([float(passages[u.passage - 1].metadata.get("dense_score", 0.0)) for u in units])
        kind = np.zeros(len(units))
        for pattern, wants in ((_HAS_NUMBER, _WANTS_NUMBER), (_HAS_DATE, _WANTS_DATE), (_HAS_NAME, _WANTS_NAME)):
            if wants.search(question):
                kind += np.array([1.0 if pattern.search(u.display) else 0.0 for u in units])
        scores = w.dense * dense + w.lexical * lexical + w.context * context + w.passage * prior
        scores = scores + w.answer_type * np.minimum(kind, 1.0)
        everything = " ".join(
            f"{d.page_content} {d.metadata.get('heading', '')} {d.metadata.get('title', '')}" for d in passages
        )
        coverage = self._coverage(weighted, everything)
        confidence = float(scores.max()) * (w.coverage_floor + (1 - w.coverage_floor) * coverage)
        return units, scores, confidence

    def answer(self, question: str, passages: list[Document]) -> Draft:
        units, scores, confidence = self.score(question, passages)
        if not units or confidence < self.threshold:
            return Draft("", abstained=True, confidence=confidence)
        chosen: list[int] = []
        best = float(scores.max())
        for i in np.argsort(-scores, kind="stable"):
            if len(chosen) >= self.max_sentences or scores[i] < best - self.weights.keep_within:
                break
            if any(self._same(units[i], units[j]) for j in chosen):
                continue
            chosen.append(int(i))
        return Draft(self._compose(passages, [units[i] for i in chosen]), False,
                     {units[i].passage: units[i].span for i in chosen}, confidence)  # fmt: skip

    @staticmethod
    def _same(a: Unit, b: Unit) -> bool:
        """One sentence per passage; the same sentence met twice (overlapping chunks) once."""
        return a.passage == b.passage or (a.span.start == b.span.start and a.display == b.display)

    @staticmethod
    def _compose(passages: list[Document], chosen: list[Unit]) -> str:
        by_source: dict[str, list[Unit]] = {}
        for unit in chosen:
            by_source.setdefault(passages[unit.passage - 1].metadata["source"], []).append(unit)
        lines = []
        for units in by_source.values():
            meta = passages[units[0].passage - 1].metadata
            date = f" ({meta['date']})" if meta.get("date") else ""
            body = " ".join(f"{u.display} [{u.passage}]" for u in units)
            lines.append(f"According to {meta.get('short_title') or meta['title']}{date}: {body}")
        return "\n\n".join(lines)
