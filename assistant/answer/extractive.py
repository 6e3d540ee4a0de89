"""The `extractive` answerer (default, no model): answer with the source's own words.

For each part of the question (compound questions are split): analyse what is asked
(`question.py`), score the passages' units against it (`evidence.py`), decide whether the
evidence answers it (a logistic model over named features, fitted on the dev split by
`evals/calibrate.py` and read from `answerer_weights.json`), then compose the answer with
the fact first (`compose.py`). `evals/calibrate.py` runs this same code with the gate off.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from langchain_core.documents import Document

from assistant.answer import compose, evidence
from assistant.answer.condense import Message, condense, decompose
from assistant.answer.evidence import Idf, Unit, Weights
from assistant.answer.question import Ask, Named, analyse, document_mentions
from assistant.answer.validate import MISSING_PART, Draft
from assistant.cache import LRUCache
from assistant.text import terms

EmbedMany = Callable[[list[str]], list[list[float]]]
MISSING_WHAT = {
    "number": "give no figure for it",
    "money": "give no amount of money for it",
    "date": "give no date for it",
    "person": "name no person for it",
    "place": "name no place for it",
    "organisation": "name no organisation for it",
}


STRICT_TYPES = ("date", "money")  # types whose fillers are found reliably: missing is decisive


def _unfilled(part: Part) -> bool:
    """A date (an exact one, when asked "exactly"), an amount of money or, for "who chairs
    ...?", a person is asked and the evidence holds none that the question does not already
    give, or a named kind of body ("which *university*") or place ("in
    which *city*") is asked and the evidence names none, or the evidence is about another
    numbered thing ("Line 3" for "Line 1"): the documents do not say, whatever else matches."""
    ask = part.ask
    strict = (
        ask.answer_type in STRICT_TYPES
        or (ask.answer_type == "place" and ask.slot_noun)
        or ask.names_person
        or evidence.slot_type(ask) == "person"  # "which *journalist*": a name must be there
    )
    if strict and part.features["filler_missing"]:
        return True
    return bool(
        part.features["named_slot_missing"]
        or part.features["count_far"]
        or part.features["members_missing"]
        or part.features["figure_hedged"]
        or part.features["numbered_other"]
    )


@dataclass(frozen=True)
class Part:
    """One part of a question, the units chosen for it, and the evidence features."""

    ask: Ask
    picks: tuple[int, ...]  # unit indices, best first
    quoted: Unit  # the best unit as the answer quotes it (joined to the next: see extend)
    features: dict[str, float]  # read from `quoted`
    weighted: dict[str, float]
    list_passage: int | None = None


class ExtractiveAnswerer:
    """See the module docstring. `embed` embeds texts in a batch; `idf` weighs a term."""

    name = "extractive"
    description = "offline extractive answerer (quotes the documents)"
    local = True

    def __init__(self, embed: EmbedMany, idf: Idf, weights: Weights, threshold: float | None = None,
                 max_sentences: int = 3, sentence_candidates: int = 10) -> None:  # fmt: skip
        self.embed = embed
        self.idf = idf
        self.weights = weights
        self.threshold = weights.threshold if threshold is None else threshold
        self.max_sentences = max_sentences
        self.sentence_candidates = sentence_candidates
        self._cache: LRUCache[str, np.ndarray] = LRUCache(20_000)

    def _vectors(self, texts: list[str]) -> np.ndarray:
        """Embed in one batch, reusing vectors of texts seen before."""
        return np.stack(self._cache.get_many(texts, self._embed))

    def _embed(self, texts: list[str]) -> list[np.ndarray]:
        return [np.asarray(v, dtype=np.float32) for v in self.embed(texts)]

    def condense(self, question: str, history: Sequence[Message]) -> str:
        """Follow-ups are rewritten by rules (no model): see condense.py."""
        return condense(question, history)

    # -- analysis ------------------------------------------------------------------------

    def analyse(self, question: str, passages: Sequence[Document]) -> tuple[list[Unit], list[Part]]:
        """The units and, for each part of the question, what was chosen and why."""
        found = evidence.units(passages)
        if not found:
            return [], []
        asks = [analyse(p) for p in decompose(question)]
        vectors = self._vectors([a.text for a in asks])
        weighted = [_unattributed(evidence.weighted_terms(a, self.idf), a.text, passages)
                    for a in asks]  # fmt: skip
        # Only the likeliest units are embedded: the cheap (keyword, type, year, passage)
        # score picks them, so a question costs a few embeddings, not one per sentence.
        blank = np.zeros((len(found), vectors.shape[1]), dtype=np.float32)
        keep: set[int] = set()
        for p, ask in enumerate(asks):
            cheap = evidence.scores(
                ask, found, blank, vectors[p], passages, weighted[p], self.weights
            )
            keep.update(
                int(i) for i in np.argsort(-cheap, kind="stable")[: self.sentence_candidates]
            )
        candidates = sorted(keep)
        unit_vectors = blank.copy()
        unit_vectors[candidates] = self._vectors(
            [f"{found[i].context}: {found[i].display} {found[i].notes}".strip() for i in candidates]
        )
        mask = np.full(len(found), -np.inf)
        mask[candidates] = 0.0
        parts = []
        for p, ask in enumerate(asks):
            scored = evidence.scores(ask, found, unit_vectors, vectors[p], passages, weighted[p],
                                     self.weights) + mask  # fmt: skip
            parts.append(self._part(ask, found, scored, passages, weighted[p]))
        return found, parts

    def _part(self, ask: Ask, found: list[Unit], scored: np.ndarray,
              passages: Sequence[Document], weighted: dict[str, float]) -> Part:  # fmt: skip
        listed = compose.choose_list(ask, passages, weighted) if ask.answer_type == "list" else None
        if ask.answer_type == "list":  # a list is asked for, not one of its items
            scored = np.where([u.kind == "item" for u in found], -np.inf, scored)
        # A sentence listing what is asked inline beats a list record that never names it
        # ("the three transformations" against the plan's "Strategic goals: Step 1, ..."),
        # and, when the question gives the count, a better-scoring sentence that lists nothing;
        # so does one whose items each name it ("the transformation of A to B, the
        # transformation of C to D, ...") against a list naming it only in its opening.
        is_list = np.array([u.kind == "list" for u in found])
        inline = evidence.inline_list(ask, found, np.where(is_list, -np.inf, scored), weighted,
                                      self.weights.filler_within)  # fmt: skip
        if inline is not None and (
            not compose.names_focus(ask, passages[listed - 1])
            or evidence.asked_run(ask, found[inline].display) is not None
            if listed
            else ask.count or evidence.headed_list(found[inline].display, set(ask.focus))
        ):
            listed = None
            scored = scored.copy()
            scored[inline] = float(np.max(scored[np.isfinite(scored)])) + 0.01
        if listed is not None:
            at = next(i for i, u in enumerate(found) if u.passage == listed and u.kind == "list")
            scored = scored.copy()
            scored[at] = max(float(np.max(scored[np.isfinite(scored)], initial=0.0)), 0.0) + 0.01
        else:
            scored = np.where(is_list, -np.inf, scored)
        # "How much will Stage 2 cost?": a sentence about Stage 1 is no answer while one that
        # may be about Stage 2 is left.
        if ask.numbered:
            other = np.array([bool(evidence.other_numbered(ask, u, passages)) for u in found])
            if np.any(other) and np.any(~other & np.isfinite(scored)):
                scored = np.where(other, -np.inf, scored)
        wanted = evidence.filler_type(ask)
        if ask.answer_type in STRICT_TYPES or wanted in evidence.NAME_KINDS:
            # Only evidence that can answer may be chosen (a date, a sum, a name), and only
            # near the topic: a date from a sentence on something else is no answer, so one
            # that scores far below the best leaves the best, to be refused. The sentence
            # right after the best one goes on about its topic ("... ran all summer. Curated
            # by Dr Holt, it ..."), so it may answer whatever its own score.
            filled = np.array([evidence.has_filler(wanted, evidence.figures_text(u), ask.given)
                               and evidence.near_names(ask, found, i, passages)
                               for i, u in enumerate(found)])  # fmt: skip
            if np.any(np.isfinite(scored)):  # unscored units are -inf, never the best
                top_i = int(np.argmax(scored))
                floor = float(scored[top_i]) - self.weights.filler_within
                # A sentence sharing no word with the question is about something else,
                # however it scores, unless it goes on from the best one.
                near = (scored >= floor) & np.array(
                    [evidence.shares_term(weighted, u.display) for u in found]
                )
                after = top_i + 1
                if evidence.continues(found, top_i):
                    near[after] = True
                    scored = scored.copy()
                    scored[after] = max(float(scored[after]), floor)
                filled &= near
                if np.any(filled):
                    scored = np.where(filled, scored, -np.inf)
        order = [int(i) for i in np.argsort(-scored, kind="stable") if np.isfinite(scored[i])]
        if not order:
            order = [0]
        best = order[0]
        picks = [best]
        sources = {self._source(passages, found[best])}
        for i in order[1:]:
            if found[i].kind == "list" or len(picks) >= self.max_sentences:
                continue
            new_source = self._source(passages, found[i]) not in sources
            gap = float(scored[best] - scored[i])
            margin = self.weights.other_document_within if new_source else self.weights.keep_within
            if gap > margin or any(self._same(found[i], found[j], passages) for j in picks):
                continue
            picks.append(i)
            sources.add(self._source(passages, found[i]))
        listed = listed or compose.introduced_list(found[best], passages)
        # The features read the text the answer will quote: a short sentence is joined to the
        # next one (a title to its byline), so what fills the slot may be in the next one.
        asked = tuple(weighted) if ask.answer_type == "list" else ()  # see evidence.extend
        quoted = evidence.extend(found, best, passages, asked)
        features = evidence.features(ask, quoted, float(scored[best]), passages, weighted)
        if any(evidence.counted_near(ask, found[i].display) for i in picks):
            features["count_far"] = 0.0  # the count is in a sentence that goes with the best
        return Part(ask, tuple(picks), quoted, features, weighted, listed)

    def confidence(self, parts: list[Part]) -> float:
        return evidence.confidence([p.features for p in parts], self.weights)

    # -- answering -----------------------------------------------------------------------

    def answer(self, question: str, passages: list[Document], gate: bool = True) -> Draft:
        """The draft answer; with `gate` off (calibration) it never abstains on confidence."""
        found, parts = self.analyse(question, passages)
        if not parts:
            return Draft("", abstained=True)
        overall = self.confidence(parts)
        evidence_row = tuple(evidence.vectorise([p.features for p in parts]))
        out = compose.Cited()
        texts: list[str] = []
        refusals: list[compose.Refusal] = []
        for part in parts:
            sure = not gate or (self.confidence([part]) >= self.threshold and not _unfilled(part))
            result = self._compose_part(part, found, passages, out) if sure else None
            if isinstance(result, str):
                texts.append(result)
            else:
                refusals.append(result or compose.Refusal(self.reason(part, found, passages)))
        if not texts:
            focus = next((r.passage for r in refusals if r.passage), 0)
            return Draft("", True, confidence=overall, reason=refusals[0].reason, focus=focus,
                         evidence=evidence_row, verbatim=True)  # fmt: skip
        if len(parts) > 1:
            texts += [f"{MISSING_PART}{r.reason}" for r in refusals]
        quotes = {k: span for k, span in enumerate(out.quotes, start=1)}
        return Draft("\n\n".join(texts), False, quotes, overall, passages=tuple(out.docs),
                     evidence=evidence_row, verbatim=True)  # fmt: skip

    def _compose_part(self, part: Part, found: list[Unit], passages: Sequence[Document],
                      out: compose.Cited) -> str | compose.Refusal:  # fmt: skip
        if part.list_passage is not None:
            return compose.list_answer(passages[part.list_passage - 1], out)
        best = found[part.picks[0]]
        if best.kind == "table_row":
            doc = passages[best.passage - 1]
            if evidence.unrelated_row(doc, part.weighted):
                return compose.Refusal(
                    f"No table row is about this; the closest is “{compose.row_label(doc)}”.",
                    best.passage,
                )
            cell = compose.cell_answer(part.ask, doc, out, evidence.about_row(doc, part.weighted))
            if isinstance(cell, compose.Refusal):
                return compose.Refusal(cell.reason, best.passage)
            if cell is not None:
                return cell
        first = part.quoted
        chosen = [(first, compose.core(part.ask, first))]
        sources = {self._source(passages, best)}
        for i in part.picks[1:]:
            unit = found[i]
            source = self._source(passages, unit)
            if source in sources and len(chosen[0][1].text) > 120:
                continue  # a long first sentence says enough; other documents still count
            if best.kind == unit.kind == "table_row" and part.ask.years:
                continue  # other rows' figures for the asked year would answer other questions
            sources.add(source)
            chosen.append((unit, compose.core(part.ask, unit)))
        return compose.sentences_answer(chosen, passages, out)

    def reason(self, part: Part, found: list[Unit], passages: Sequence[Document]) -> str:
        """One line on what the closest evidence lacks."""
        unit = found[part.picks[0]]
        doc = passages[unit.passage - 1]
        own = f"{unit.display} {doc.page_content} {doc.metadata.get('heading', '')}"
        topic = _topic(part.ask.text, own)
        f = part.features
        no_filler = bool(f["filler_missing"]) and part.ask.answer_type in MISSING_WHAT
        noun = part.ask.slot_noun
        if f["numbered_other"]:
            said = evidence.other_numbered(part.ask, part.quoted, passages)  # as the features
            what = f"give it for another {said.split()[0].lower()}, not {said}"
        elif f["members_missing"]:
            what = f"say how many {noun}, not which"  # what refused it comes first
        elif f["figure_hedged"]:
            what = "give no exact figure for it"
        elif f["count_far"]:
            counted = _focus_words(part.ask)
            what = f"give no number of {counted}" if counted else "give no figure for it"
        elif no_filler and _unfilled(part):
            what = _missing_filler(part.ask)
        elif part.ask.years and f["year_missing"]:
            what = f"give nothing for {' or '.join(part.ask.years)}"
        elif f["slot_noun_missing"]:
            what = f"name no {part.ask.slot_noun}"
        elif no_filler:
            what = _missing_filler(part.ask)
        else:
            lacking = _missing_words(part.ask.text, own, part.weighted)
            what = f"do not mention {lacking}" if lacking else "do not answer this question"
        if not topic:
            return "None of the indexed passages answers this question."
        return f"The documents mention {topic} but {what}."

    @staticmethod
    def _source(passages: Sequence[Document], unit: Unit) -> str:
        return str(passages[unit.passage - 1].metadata["source"])

    @staticmethod
    def _same(a: Unit, b: Unit, passages: Sequence[Document]) -> bool:
        """One sentence per passage; the same words met twice (overlapping chunks, or a
        list's item and the prose passage holding it) once."""
        return a.passage == b.passage or (
            ExtractiveAnswerer._source(passages, a) == ExtractiveAnswerer._source(passages, b)
            and a.span.start < b.span.end
            and b.span.start < a.span.end
        )


QUOTES = "\"'“”‘’()"
TOPIC_GLUE = frozenset("of for and the in on to & a an".split())  # noqa: SIM905
AUX = frozenset("is are was were do does did will would should can could has have had be".split())  # noqa: SIM905


def _unattributed(weighted: dict[str, float], question: str,
                  passages: Sequence[Document]) -> dict[str, float]:  # fmt: skip
    """Without the name of a document the evidence comes from ("in the *China Daily*
    report"): it says where to look (see Assistant.evidence), not what to look for, and
    would choose the byline that names the paper. "Notice" in "the State Council notice"
    stays: "the notice is dated ..." answers when it was signed."""
    named = {
        str(d.metadata.get("source", "")): Named(str(d.metadata.get("title", "")),
                                                 str(d.metadata.get("short_title", "")),
                                                 str(d.metadata.get("publisher", "")))
        for d in passages
    }  # fmt: skip
    said = {t for text, source in document_mentions(question, named) if source
            for t in terms(text)}  # fmt: skip
    return {t: w for t, w in weighted.items() if t not in said} if said else weighted


def _missing_filler(ask: Ask) -> str:
    if ask.exact_date:
        return "give no exact date for it"
    if ask.month_asked:
        return "give no month for it"
    if ask.year_asked:
        return "give no year for it"
    # "who runs ...?" may be answered by a body as well as a person
    wanted = evidence.filler_type(ask)
    if wanted in ("agent", "any"):
        return "name no one for it"
    if wanted == "city":
        return "name no city for it"
    return MISSING_WHAT[ask.answer_type]


def _focus_words(ask: Ask) -> str:
    """The question's own words for what it asks about ("member companies")."""
    words = [w.strip(QUOTES + ",.;:?") for w in ask.text.split()]
    return " ".join(w for w in words if w and set(terms(w)) & set(ask.focus))


def _topic(question: str, evidence_text: str) -> str:
    """The longest run of the question's content words that the evidence also holds (small
    words such as "of" may join it; a verb or a comma ends it)."""
    present = set(terms(evidence_text))
    best: list[str] = []
    run: list[str] = []
    for token in question.rstrip("?").split():
        word = token.strip("\"“”'’(),;:")
        content = terms(word)
        known = content and all(t in present for t in content) and word.lower() not in AUX
        if known or (word.lower() in TOPIC_GLUE and run):
            run.append(word)
        else:
            run = []
        trimmed = _trim(run)
        if len(trimmed) > len(best):
            best = trimmed
        if token.endswith((",", ";", ":")):
            run = []
    return " ".join(best)


def _trim(run: list[str]) -> list[str]:
    """No small words at the ends of a topic."""
    lo, hi = 0, len(run)
    while lo < hi and run[lo].lower() in TOPIC_GLUE:
        lo += 1
    while hi > lo and run[hi - 1].lower() in TOPIC_GLUE:
        hi -= 1
    return run[lo:hi]


def _missing_words(question: str, evidence_text: str, weighted: dict[str, float]) -> str:
    present = set(terms(evidence_text))
    missing = sorted((w for t, w in weighted.items() if t not in present), reverse=True)
    if not missing:
        return ""
    top = missing[0]
    for token in question.rstrip("?").split():
        stems = terms(token)
        if stems and stems[0] not in present and weighted.get(stems[0]) == top:
            return f"“{token.strip(',.;:' + QUOTES)}”"
    return ""
