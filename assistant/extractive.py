"""The `extractive` answerer (default, no model): answer with the source's own sentences.

Every sentence of the retrieved passages (every row, for tables) is scored against the
question by meaning (embedding similarity, with its section heading as context), by the
rarity-weighted share of the question's words it contains, by whether it holds the kind of
fact asked for (a figure, a date, a name) and the year asked about. Compound questions are
split and each part gets its own sentence. The answer quotes the best sentences, grouped by
document, so that sources which disagree are each named with their date.

Whether to answer at all is a logistic model over a few evidence features (best score,
coverage of the question's words, the rarest question word that the evidence lacks, a year
asked about but absent, passage similarity). Its weights are fitted on the eval dev split by
`evals/calibrate.py`, never per question.
"""

from __future__ import annotations

import math
import re
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from langchain_core.documents import Document

from assistant.answer import Draft, passage_span
from assistant.condense import decompose
from assistant.text import Span, normalise_spelling, split_sentences, strip_superscripts, terms

EmbedMany = Callable[[list[str]], list[list[float]]]
Idf = Callable[[str], float]

_WANTS_NUMBER = re.compile(
    r"\b(how (many|much|far|large|big|high|long)|what (percentage|proportion|share|rate|ratio|number|"
    r"target|level|amount|value|figure|fraction|portion|cut|reduction|increase)|percent|per ?cent|"
    r"number of|by how much|how fast)\b|%",
    re.IGNORECASE,
)
_WANTS_DATE = re.compile(
    r"\b(when|what (year|date|month|day)|which (year|date|month)|since when)\b", re.I
)
_WANTS_NAME = re.compile(r"\b(who|whom|which (ministry|company|companies|city|cities|department|"
                         r"organi[sz]ation|official|body|country|countries))\b", re.I)  # fmt: skip
_HAS_NUMBER = re.compile(r"\d")
_HAS_DATE = re.compile(
    r"\b(19|20)\d\d\b|\b(January|February|March|April|May|June|July|August|September|October|"
    r"November|December|Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec)\b"
)
_HAS_NAME = re.compile(r"\b[A-Z][a-z]+(?:\s+[A-Z][a-z]+)+")
# A year the question asks about ("by 2020", "in 2013", "the 2025 target"), as opposed to a
# year that is part of a name ("Made in China 2025": the word before it is capitalised).
_YEAR = re.compile(r"\b(?:19|20)\d\d\b")
_YEAR_BEFORE = re.compile(r"\b(?:by|in|for|from|to|until|till|since|during|before|after|between|and|"
                          r"through|of|the|a)\s+$", re.IGNORECASE)  # fmt: skip
_YEAR_AFTER = re.compile(r"^\s+(?:target|value|baseline|figure|level|goal|rate)", re.IGNORECASE)
_NAME_BEFORE = re.compile(r"[A-Z][A-Za-z]*\s+$")

# Words that say what kind of answer is wanted rather than what it is about.
QUESTION_WORDS = frozenset(
    """
    many much date day dated describe described mention mentioned quote quoted according say
    said says refer refers call called name named list give given exact exactly kind type
    roughly approximately figure number
    """.split()  # noqa: SIM905
)

_POINTS_BACK = re.compile(
    r"^(It|They|These|Those|This|Such|Them|Their|Its|Among them|Of these|In addition|Specifically|"
    r"Namely|That is)\b"
)

FEATURES = (
    "bias",
    "best",
    "coverage_unit",
    "coverage_all",
    "missing_rare",
    "year_missing",
    "passage",
)


@dataclass(frozen=True)
class Weights:
    """How sentences are scored and chosen; tuned on the eval dev split, never per question."""

    dense: float = 0.45
    lexical: float = 0.35
    context: float = 0.10
    passage: float = 0.10
    answer_type: float = 0.08
    year: float = 0.10
    keep_within: float = 0.05  # more sentences from one document must score this close
    other_document_within: float = 0.10  # a second document is quoted if this close
    # Logistic model of "the best sentence answers the question", one weight per FEATURES.
    confidence: tuple[float, ...] = (-0.83, 2.48, 1.73, -0.26, -0.64, -2.38, 0.01)


@dataclass(frozen=True)
class Unit:
    passage: int  # 1-based index into the passages
    span: Span  # exact source span (the quote)
    display: str  # what the answer shows
    context: str  # heading and title, for meaning and for keyword coverage


@lru_cache(maxsize=50_000)
def term_set(text: str) -> frozenset[str]:
    """The content terms of a text; memoised, since the same sentences are scored again and
    again (cheap pass, full pass, and later questions about the same passages)."""
    return frozenset(terms(normalise_spelling(text)))


def temporal_years(question: str) -> set[str]:
    years = set()
    for match in _YEAR.finditer(question):
        before, after = question[: match.start()], question[match.end() :]
        if _NAME_BEFORE.search(before) and not _YEAR_BEFORE.search(before):
            continue
        if _YEAR_BEFORE.search(before) or _YEAR_AFTER.match(after):
            years.add(match.group(0))
    return years


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, x))))


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
        sentence_candidates: int = 10,
    ) -> None:
        self.embed = embed
        self.sentence_candidates = sentence_candidates
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
            restates = set(terms(meta.get("heading", "").split(" > ")[-1]))
            position = 0
            for line in span.text.splitlines(keepends=True):
                for sentence in split_sentences(line, offset=span.start + position):
                    words = set(terms(sentence.text))
                    # skip fragments, and lead sentences that only repeat their own heading
                    if len(sentence.text.split()) >= 3 and not (words and words <= restates):
                        out.append(Unit(n, sentence, " ".join(sentence.text.split()), context))
                position += len(line)
        return out

    @staticmethod
    def extend(units: list[Unit], i: int, passages: list[Document]) -> Unit:
        """Join the next sentence when it continues this one: this one is short or ends in a
        colon, or the next opens by pointing back ("They ...", "These ...")."""
        unit = units[i]
        if i + 1 >= len(units) or units[i + 1].passage != unit.passage:
            return unit
        following = units[i + 1]
        short = len(unit.display.split()) < 15 or unit.display.endswith(":")
        if not (short or _POINTS_BACK.match(following.display)):
            return unit
        whole = passage_span(passages[unit.passage - 1])
        text = whole.text[unit.span.start - whole.start : following.span.end - whole.start]
        return Unit(unit.passage, Span(unit.span.start, following.span.end, text),
                    f"{unit.display} {following.display}", unit.context)  # fmt: skip

    def _weighted_terms(self, question: str) -> dict[str, float]:
        wanted = set(terms(normalise_spelling(question))) - QUESTION_WORDS
        return {t: self.idf(t) for t in wanted}

    @staticmethod
    def _coverage(weighted: dict[str, float], text: str) -> float:
        total = sum(weighted.values())
        if not total:
            return 0.0
        present = term_set(text)
        return sum(w for t, w in weighted.items() if t in present) / total

    def _scores(self, question: str, units: list[Unit], unit_vectors: np.ndarray,
                question_vector: np.ndarray, passages: list[Document]) -> np.ndarray:  # fmt: skip
        w = self.weights
        weighted = self._weighted_terms(question)
        dense = unit_vectors @ question_vector
        lexical = np.array([self._coverage(weighted, u.display) for u in units])
        context = np.array([self._coverage(weighted, f"{u.context} {u.display}") for u in units])
        prior = np.array(
            [float(passages[u.passage - 1].metadata.get("dense_score", 0.0)) for u in units]
        )
        kind = np.zeros(len(units))
        for pattern, wants in (
            (_HAS_NUMBER, _WANTS_NUMBER),
            (_HAS_DATE, _WANTS_DATE),
            (_HAS_NAME, _WANTS_NAME),
        ):
            if wants.search(question):
                kind += np.array([1.0 if pattern.search(u.display) else 0.0 for u in units])
        years = temporal_years(question)
        year = np.array(
            [1.0 if years and all(y in u.display for y in years) else 0.0 for u in units]
        )
        return (w.dense * dense + w.lexical * lexical + w.context * context + w.passage * prior
                + w.answer_type * np.minimum(kind, 1.0) + w.year * year)  # fmt: skip

    def features(
        self, question: str, unit: Unit, score: float, passages: list[Document]
    ) -> list[float]:
        """Evidence that `unit` answers `question`; see FEATURES."""
        weighted = self._weighted_terms(question)
        doc = passages[unit.passage - 1]
        own = f"{unit.context} {unit.display} {doc.page_content} {doc.metadata.get('heading', '')}"
        everything = " ".join(
            f"{d.page_content} {d.metadata.get('heading', '')} {d.metadata.get('title', '')}"
            for d in passages
        )
        present = term_set(own)
        top = max(weighted.values(), default=1.0) or 1.0
        missing = max((v for t, v in weighted.items() if t not in present), default=0.0) / top
        years = temporal_years(question)
        year_missing = 1.0 if any(y not in unit.display for y in years) else 0.0
        return [1.0, score, self._coverage(weighted, f"{unit.context} {unit.display}"),
                self._coverage(weighted, everything), missing, year_missing,
                float(doc.metadata.get("dense_score", 0.0))]  # fmt: skip

    def analyse(
        self, question: str, passages: list[Document]
    ) -> tuple[list[Unit], list[int], list[list[float]]]:
        """The units, the chosen ones (indices), and the evidence features of each part's best."""
        units = self.units(passages)
        if not units:
            return [], [], []
        parts = decompose(question)
        vectors = self._vectors(parts)
        # Only the likeliest sentences are embedded: the cheap (keyword, type, year, passage)
        # score picks them, so a question costs a few embeddings, not one per sentence.
        blank = np.zeros((len(units), vectors.shape[1]), dtype=np.float32)
        keep: set[int] = set()
        for p, part in enumerate(parts):
            cheap = self._scores(part, units, blank, vectors[p], passages)
            keep.update(
                int(i) for i in np.argsort(-cheap, kind="stable")[: self.sentence_candidates]
            )
        candidates = sorted(keep)
        unit_vectors = blank.copy()
        unit_vectors[candidates] = self._vectors(
            [f"{units[i].context}: {units[i].display}" for i in candidates]
        )
        excluded = np.full(len(units), -np.inf)
        excluded[candidates] = 0.0
        chosen: list[int] = []
        features: list[list[float]] = []
        budget = max(self.max_sentences, len(parts) + 1)
        for p, part in enumerate(parts):
            scores = self._scores(part, units, unit_vectors, vectors[p], passages) + excluded
            order = [int(i) for i in np.argsort(-scores, kind="stable")]
            best = order[0]
            features.append(self.features(part, units[best], float(scores[best]), passages))
            picked = [best]
            sources = {self._source(passages, units[best])}
            for i in order[1:]:
                gap = float(scores[best] - scores[i])
                new_source = self._source(passages, units[i]) not in sources
                if gap > (
                    self.weights.other_document_within if new_source else self.weights.keep_within
                ):
                    continue
                if any(self._same(units[i], units[j]) for j in picked + chosen):
                    continue
                picked.append(i)
                sources.add(self._source(passages, units[i]))
                if len(picked) >= self.max_sentences:
                    break
            chosen.extend(i for i in picked if i not in chosen)
        return units, chosen[:budget], features

    def confidence(self, features: list[list[float]]) -> float:
        """Probability that the answer is right, from the parts' mean evidence."""
        mean = np.mean(np.asarray(features), axis=0)
        return _sigmoid(float(np.dot(self.weights.confidence, mean)))

    def answer(self, question: str, passages: list[Document]) -> Draft:
        units, chosen, features = self.analyse(question, passages)
        if not units:
            return Draft("", abstained=True)
        confidence = self.confidence(features)
        if confidence < self.threshold:
            return Draft("", abstained=True, confidence=confidence)
        picked = [self.extend(units, i, passages) for i in chosen]
        return Draft(
            self._compose(passages, picked), False, {u.passage: u.span for u in picked}, confidence
        )

    @staticmethod
    def _source(passages: list[Document], unit: Unit) -> str:
        return str(passages[unit.passage - 1].metadata["source"])

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
