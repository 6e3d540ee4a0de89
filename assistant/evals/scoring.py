"""Evals of known facts: cases are data, scorers are small pure functions.

A case (one JSON line) names the strings a correct answer contains and the exact source quote
that supports it; unanswerable cases have no answers, and the right behaviour is to abstain.
"""

from __future__ import annotations

import re
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from statistics import median
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from assistant.answer.validate import FIGURE, Answer, claims, figures, ungrounded_figures
from assistant.ingest.load import document_text

KINDS = ("number", "table", "name", "date", "list", "definition", "paraphrase", "multi_doc",
         "follow_up", "unanswerable")  # fmt: skip


class Case(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    question: str
    answers: list[str]
    match: Literal["any", "all"] = "any"
    source: str = ""
    quote: str = ""
    source2: str = ""
    quote2: str = ""
    kind: Literal[KINDS]  # type: ignore[valid-type]
    history: list[dict[str, str]] = Field(default_factory=list)
    split: Literal["dev", "test"] = "dev"
    column: str = ""  # a table column (e.g. "2020"): the answer must tie no other figure to it

    @property
    def answerable(self) -> bool:
        return bool(self.answers)


def load_cases(path: Path, split: str | None = None) -> list[Case]:
    cases = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if line.strip():
            try:
                cases.append(Case.model_validate_json(line))
            except ValueError as exc:
                raise ValueError(f"{path}:{number}: {exc}") from exc
    return [c for c in cases if split in (None, "all") or c.split == split]


# -- scorers: pure functions ---------------------------------------------------------------


def _norm(text: str) -> str:
    return " ".join(text.lower().split())


def answer_correct(
    text: str, abstained: bool, answers: Sequence[str], match: str, column: str = ""
) -> bool:
    """Not abstained, contains the expected strings (any or all, case-insensitive), and,
    when a column is asked, ties no other figure to that column."""
    if abstained or not answers:
        return False
    body = _norm(text)
    found = [_norm(a) in body for a in answers]
    if not (all(found) if match == "all" else any(found)):
        return False
    expected = set().union(*(figures(a) for a in answers))
    return not column or not expected or set(tied_figures(text, column)) <= expected


_TIE_END = re.compile(r"[;\n]|\.(?:\s|$)")
_TIE_VERB = re.compile(r"\s(?:is|was|are|were|reach(?:es)?)\s|:\s")
_COLUMN_LABEL = re.compile(r"(?:19|20)\d\d(?:\s+and\s+(?:19|20)\d\d)?\s*:")


def tied_figures(text: str, column: str) -> list[str]:
    """The figure an answer gives for a column, at each mention of it: the first figure after
    the column label ("2020: 79", "the 2020 target for X is 73%"), within its clause."""
    tied = []
    plain = re.sub(r"\[\d{1,3}\]", "", text)
    for m in re.finditer(rf"(?<![\w.]){re.escape(column)}(?![\w])", plain):
        rest = plain[m.end() :]
        end = _TIE_END.search(rest)
        window = rest[: end.start()] if end else rest
        verb = _TIE_VERB.search(window)
        if verb:
            window = window[verb.end() - 1 :]
        # a mention that meets another column's label first ("Indicators for 2020 and 2025 —
        # X: 2013: 83.1") names no value of its own
        found = FIGURE.search(window)
        if found and not _COLUMN_LABEL.match(window, found.start()):
            tied.append(found.group(0).replace(",", ""))
    return tied


def first_sentence(text: str) -> str:
    """The answer's first sentence (a list's items, joined by semicolons, stay in it)."""
    m = re.match(r"(.+?[.!?])(?:\s+(?=[A-Z“\"(])|$)", text.strip(), flags=re.S)
    return m.group(1) if m else text


def holds_answer(text: str, answers: Sequence[str], match: str) -> bool:
    body = _norm(text)
    found = [_norm(a) in body for a in answers]
    return bool(found) and (all(found) if match == "all" else any(found))


def span_supports(
    source: str, start: int, end: int, quote_source: str, quote_start: int, quote_end: int
) -> bool:
    """A passage supports a quote when it is in the same file and overlaps it."""
    return source == quote_source and start < quote_end and quote_start < end


def first_support_rank(
    passages: Sequence[tuple[str, int, int]], quotes: Sequence[tuple[str, int, int]]
) -> int | None:
    """1-based rank of the first passage that supports any of the quotes."""
    for rank, (source, start, end) in enumerate(passages, start=1):
        if any(span_supports(source, start, end, *q) for q in quotes):
            return rank
    return None


def reciprocal_rank(rank: int | None) -> float:
    return 1.0 / rank if rank else 0.0


def percentile(values: Sequence[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


# -- running -------------------------------------------------------------------------------


@dataclass
class CaseResult:
    id: str
    kind: str
    question: str
    answerable: bool
    answer: str
    abstained: bool
    correct: bool  # answerable: right answer; unanswerable: abstained
    hit_rank: int | None
    cited_support: bool
    confidence: float
    seconds: float
    citations: list[dict[str, Any]] = field(default_factory=list)
    figures_grounded: bool = True  # every figure of the answer is in one of its cited quotes
    first_sentence_holds: bool = False  # the first sentence holds the expected answer
    length: int = 0  # characters of the answer (0 when it abstained)


def quote_spans(case: Case, read: Callable[[str], str]) -> list[tuple[str, int, int]]:
    spans = []
    for source, quote in ((case.source, case.quote), (case.source2, case.quote2)):
        if source and quote:
            start = read(source).find(quote)
            if start >= 0:
                spans.append((source, start, start + len(quote)))
    return spans


def score_case(case: Case, answer: Answer, passages: list[tuple[str, int, int]],
               quotes: list[tuple[str, int, int]], seconds: float) -> CaseResult:  # fmt: skip
    cited = [(c.source, c.passage_start, c.passage_end) for c in answer.citations]
    if case.answerable:
        correct = answer_correct(
            answer.text, answer.abstained, case.answers, case.match, case.column
        )
    else:
        correct = answer.abstained
    return CaseResult(
        id=case.id,
        kind=case.kind,
        question=case.question,
        answerable=case.answerable,
        answer=answer.text,
        abstained=answer.abstained,
        correct=correct,
        hit_rank=first_support_rank(passages, quotes) if quotes else None,
        cited_support=first_support_rank(cited, quotes) is not None if quotes else False,
        confidence=answer.confidence,
        seconds=seconds,
        citations=[asdict(c) for c in answer.citations],
        figures_grounded=answer.abstained
        or not ungrounded_figures(claims(answer.text), answer.citations),
        first_sentence_holds=correct
        and case.answerable
        and holds_answer(first_sentence(answer.text), case.answers, case.match),
        length=0 if answer.abstained else len(answer.text),
    )


def run_cases(bot: Any, cases: Iterable[Case], k: int = 5,
              progress: Callable[[int], None] | None = None) -> list[CaseResult]:  # fmt: skip
    """Every case through the public API: `ask` for the answer, `retrieve` for hit@k."""
    texts: dict[str, str] = {}

    def read(source: str) -> str:
        if source not in texts:
            # the text as loaded: the passages' offsets are into it (an HTML file's are not)
            texts[source] = document_text(bot.settings.corpus_dir, source)
        return texts[source]

    results = []
    for i, case in enumerate(cases, start=1):
        began = time.perf_counter()
        answer = bot.ask(case.question, history=case.history)
        seconds = time.perf_counter() - began
        docs = bot.retrieve(answer.question or case.question, k=k)
        passages = [
            (d.metadata["source"], int(d.metadata["start"]), int(d.metadata["end"])) for d in docs
        ]
        results.append(score_case(case, answer, passages, quote_spans(case, read), seconds))
        if progress:
            progress(i)
    return results


def summarize(results: Sequence[CaseResult], k: int = 5) -> dict[str, float]:
    answerable = [r for r in results if r.answerable]
    unanswerable = [r for r in results if not r.answerable]

    def share(items: Sequence[Any], test: Callable[[Any], bool]) -> float:
        return sum(1 for x in items if test(x)) / len(items) if items else 0.0

    latencies = [r.seconds for r in results]
    answered = [r for r in results if not r.abstained]
    right = [r for r in answerable if r.correct]
    return {
        "cases": len(results),
        "answerable": len(answerable),
        "answer_accuracy": share(answerable, lambda r: r.correct),
        "hit_at_k": share(answerable, lambda r: r.hit_rank is not None and r.hit_rank <= k),
        "mrr": sum(reciprocal_rank(r.hit_rank) for r in answerable) / len(answerable)
        if answerable
        else 0.0,
        "citation_support": share(answerable, lambda r: r.cited_support),
        "abstention_accuracy": share(unanswerable, lambda r: r.abstained),
        "false_abstention_rate": share(answerable, lambda r: r.abstained),
        "overall_accuracy": share(results, lambda r: r.correct),
        "numeric_grounding": share(answered, lambda r: r.figures_grounded),
        "first_sentence_answer": share(right, lambda r: r.first_sentence_holds),
        "median_answer_chars": float(median([r.length for r in answered])) if answered else 0.0,
        "latency_p50": percentile(latencies, 50),
        "latency_p95": percentile(latencies, 95),
    }


def by_kind(results: Sequence[CaseResult], k: int = 5) -> dict[str, dict[str, float]]:
    kinds = sorted({r.kind for r in results}, key=lambda x: KINDS.index(x))
    return {kind: summarize([r for r in results if r.kind == kind], k) for kind in kinds}


def calibrate(
    confidences: Sequence[float],
    right: Sequence[bool],
    answerable: Sequence[bool],
    wrong_cost: float = 0.0,
    max_false_abstention: float = 1.0,
    groups: Sequence[str] | None = None,
) -> tuple[float, float]:
    """The abstention threshold with the best utility: +1 for a right answer (confidence >=
    threshold and `right`) or for abstaining on an unanswerable case, 0 for abstaining on an
    answerable one, and -`wrong_cost` for any wrong answer (a confident wrong answer is worse
    than a refusal), among thresholds that refuse at most `max_false_abstention` of the
    answerable cases (needless refusals are not free either: staff lose the answer).
    With `groups` (a case's document set), the ceiling holds in every group: a threshold
    must not refuse too much on any set of documents, not only on all of them together.
    Candidates lie midway between observed confidences.
    Returns (threshold, accuracy at that threshold)."""
    points = sorted({0.0, *confidences})
    group_of = list(groups) if groups is not None else [""] * len(confidences)
    n_answerable = Counter(g for g, a in zip(group_of, answerable, strict=True) if a)
    best = (0.0, -1.0, -float("inf"))
    for i, low in enumerate(points):
        threshold = (low + (points[i + 1] if i + 1 < len(points) else low + 0.02)) / 2
        hits = wrong = 0
        needless: Counter[str] = Counter()
        for c, ok, a, g in zip(confidences, right, answerable, group_of, strict=True):
            answered = c >= threshold
            hits += (answered and ok) or (not answered and not a)
            wrong += answered and not ok
            needless[g] += a and not answered
        if any(needless[g] / n > max_false_abstention for g, n in n_answerable.items()):
            continue
        utility = hits - wrong_cost * wrong
        if utility > best[2]:
            best = (threshold, hits / len(confidences), utility)
    return best[0], best[1]


# -- configurations compared side by side --------------------------------------------------

COMPARE_CONFIGS: dict[str, dict[str, Any]] = {
    "hybrid": {},
    "dense": {"retrieval_mode": "dense"},
    "bm25": {"retrieval_mode": "bm25"},
    "chunk-100": {"chunk_size": 100, "chunk_overlap": 16},
    "chunk-220": {"chunk_size": 220, "chunk_overlap": 32},
    "no-headings": {"heading_in_embedding": False},
}
CHUNKING_KEYS = frozenset(
    {"chunk_size", "chunk_overlap", "heading_in_embedding", "tiktoken_encoding"}
)


def parse_config(spec: str) -> tuple[str, dict[str, Any]]:
    """A named configuration ('dense') or ad-hoc overrides ('chunk_size=120,k=8')."""
    if spec in COMPARE_CONFIGS:
        return spec, COMPARE_CONFIGS[spec]
    if "=" not in spec:
        raise ValueError(f"unknown configuration {spec!r}; named ones: {', '.join(COMPARE_CONFIGS)}, "
                         "or give overrides such as chunk_size=120,retrieval_mode=dense")  # fmt: skip
    overrides: dict[str, Any] = {}
    for pair in spec.split(","):
        key, _, value = pair.partition("=")
        overrides[key.strip()] = value.strip()
    return spec, overrides


def config_settings(base: Any, overrides: dict[str, Any], name: str) -> Any:
    """Settings for one configuration; chunking changes get their own (cached) index."""
    values = base.model_dump()
    values.update(overrides)
    if CHUNKING_KEYS & overrides.keys():
        safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in name)
        values["index_dir"] = base.cache_dir / "eval-indexes" / safe
    return type(base)(**values)


def check_gate(summary: dict[str, float], thresholds: dict[str, dict[str, float]]) -> list[str]:
    """Every metric below its [min] or above its [max] threshold, as a readable line."""
    failures = []
    for metric, floor in thresholds.get("min", {}).items():
        if summary[metric] < floor:
            failures.append(f"{metric} = {summary[metric]:.3f} is below the threshold {floor:.3f}")
    for metric, ceiling in thresholds.get("max", {}).items():
        if summary[metric] > ceiling:
            failures.append(
                f"{metric} = {summary[metric]:.3f} is above the threshold {ceiling:.3f}"
            )
    return failures


# -- optional LLM-judged faithfulness (never part of the gate) ------------------------------

_VERDICT = re.compile(r"(\d+)\s*(?:/|of|out of)\s*(\d+)")


def judge_faithfulness(model: Any, prompts: Any, answer: Answer) -> float | None:
    """Share of the answer's claims that the cited passages support, as the judge sees it.

    None for abstentions and for replies the judge did not format as 'N/M'.
    """
    if answer.abstained or not answer.citations:
        return None
    sources = "\n\n".join(f"[{c.number}] {c.text}" for c in answer.citations)
    reply = str(
        model.invoke(prompts.messages("faithfulness", answer=answer.text, sources=sources)).content
    )
    match = _VERDICT.search(reply)
    if not match or int(match.group(2)) == 0:
        return None
    return min(1.0, int(match.group(1)) / int(match.group(2)))
