"""The gate: the eval's `test` split through the real pipeline, against evals/thresholds.toml."""

from __future__ import annotations

import tomllib

import pytest

from assistant import Assistant
from assistant.evals.scoring import by_kind, check_gate, load_cases, run_cases, summarize
from tests.conftest import ROOT

pytestmark = pytest.mark.integration


def test_test_split_meets_the_thresholds(real_bot: Assistant) -> None:
    cases = load_cases(ROOT / "evals" / "known_facts.jsonl", "test")
    results = run_cases(real_bot, cases)
    summary = summarize(results)
    print("\ntest split:", {k: round(v, 3) for k, v in summary.items()})
    for kind, row in by_kind(results).items():
        print(f"  {kind:13} acc={row['answer_accuracy']:.2f} hit={row['hit_at_k']:.2f} "
              f"abstain={row['abstention_accuracy']:.2f}")  # fmt: skip
    thresholds = tomllib.loads((ROOT / "evals" / "thresholds.toml").read_text())
    failures = check_gate(summary, thresholds)
    assert not failures, "\n".join(failures)
