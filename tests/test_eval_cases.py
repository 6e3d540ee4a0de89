"""The known-facts file itself: schema, ids, quotes, kinds, splits."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from assistant.evals.scoring import KINDS, Case, load_cases

ROOT = Path(__file__).resolve().parent.parent
CASES = ROOT / "evals" / "known_facts.jsonl"


def corpus_text(source: str) -> str:
    with (ROOT / "corpus" / source).open(encoding="utf-8", newline="") as handle:
        return handle.read()


def test_every_line_is_a_valid_case_with_a_unique_id() -> None:
    lines = [line for line in CASES.read_text(encoding="utf-8").splitlines() if line.strip()]
    cases = [Case.model_validate(json.loads(line)) for line in lines]
    assert len(cases) >= 150
    assert len({c.id for c in cases}) == len(cases)
    assert len({c.question for c in cases}) == len(cases)


def test_every_quote_is_verbatim_in_its_source() -> None:
    for case in load_cases(CASES):
        if case.answerable:
            assert case.source and case.quote, case.id
            assert case.quote in corpus_text(case.source), case.id
        else:  # an unanswerable case may quote the closest passage (the topic, not the answer)
            assert case.answers == [], case.id
            assert not case.quote or case.quote in corpus_text(case.source), case.id
        if case.kind == "multi_doc":
            assert case.source2 and case.source2 != case.source, case.id
            assert case.quote2 in corpus_text(case.source2), case.id


def test_kinds_and_splits() -> None:
    cases = load_cases(CASES)
    kinds = Counter(c.kind for c in cases)
    assert set(kinds) == set(KINDS)
    assert kinds["follow_up"] >= 15 and kinds["unanswerable"] >= 15
    assert all(c.history for c in cases if c.kind == "follow_up")
    assert all(c.column in c.question for c in cases if c.column)
    assert not any(c.history for c in cases if c.kind != "follow_up")
    test_share = sum(c.split == "test" for c in cases) / len(cases)
    assert 0.28 <= test_share <= 0.38
    for kind in KINDS:  # every kind is in both splits
        assert {c.split for c in cases if c.kind == kind} == {"dev", "test"}, kind


@pytest.mark.parametrize(
    "folder", ["holdout2", "holdout3", "holdout4", "dev3", "dev4", "dev5", "dev6", "dev10", "holdout5"]
)
def test_case_sets_on_other_documents_are_well_formed(folder: str) -> None:
    """Each set's own checker: quotes found in their sources, answers in their quotes."""
    import subprocess
    import sys

    checker = ROOT / "tests" / "holdout2" / "validate.py"
    done = subprocess.run([sys.executable, str(checker), str(ROOT / "tests" / folder)],
                          capture_output=True, text=True, check=False)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize(
    ("folder", "size"), [("dev7", 90), ("dev8", 80), ("dev9", 70), ("dev11", 70)]
)
def test_sets_on_the_corpus_quote_it(folder: str, size: int) -> None:
    """dev7, dev8, dev9 and dev11 are written on the project corpus itself: quotes found there,
    answers in quotes."""
    cases = load_cases(ROOT / "tests" / folder / "cases.jsonl")
    assert len({c.id for c in cases}) == len(cases) >= size
    for case in cases:
        assert case.split == "dev" and case.quote in corpus_text(case.source), case.id
        assert not case.quote2 or case.quote2 in corpus_text(case.source2), case.id
        quoted = f"{case.quote} {case.quote2}".lower()
        assert all(a.lower() in quoted for a in case.answers), case.id
