from __future__ import annotations

import json
from pathlib import Path

import pytest

from assistant import Assistant
from assistant.answer.prompts import PromptLibrary
from assistant.answer.validate import Answer, Citation
from assistant.evals.report import worst_failures, write_report
from assistant.evals.scoring import (
    Case,
    CaseResult,
    answer_correct,
    calibrate,
    check_gate,
    config_settings,
    first_support_rank,
    judge_faithfulness,
    parse_config,
    percentile,
    reciprocal_rank,
    run_cases,
    span_supports,
    summarize,
)
from assistant.settings import Settings
from tests.fakes import ScriptedChatModel


def test_answer_correct_rules() -> None:
    assert answer_correct("The target is 82% by 2025.", False, ["82"], "any")
    assert not answer_correct("The target is 82%.", True, ["82"], "any")  # abstained
    assert answer_correct("Ningbo and  QUANZHOU", False, ["ningbo", "Quanzhou"], "all")
    assert not answer_correct("Ningbo only", False, ["Ningbo", "Quanzhou"], "all")
    assert answer_correct("forty percent", False, ["40%", "forty percent"], "any")
    assert not answer_correct(
        "anything", False, [], "any"
    )  # unanswerable cases are never "right answers"


def test_support_and_ranks() -> None:
    assert span_supports("a.txt", 10, 20, "a.txt", 15, 30)
    assert not span_supports("a.txt", 10, 20, "a.txt", 20, 30)  # touching is not overlapping
    assert not span_supports("b.txt", 10, 20, "a.txt", 15, 30)
    passages = [("b.txt", 0, 10), ("a.txt", 100, 200), ("a.txt", 0, 50)]
    assert first_support_rank(passages, [("a.txt", 40, 60)]) == 3
    assert first_support_rank(passages, [("c.txt", 0, 9)]) is None
    assert reciprocal_rank(4) == 0.25 and reciprocal_rank(None) == 0.0
    assert percentile([1, 2, 3, 4, 100], 50) == 3 and percentile([], 95) == 0.0


def result(answerable: bool, correct: bool, abstained: bool, confidence: float = 0.5) -> CaseResult:
    return CaseResult("x", "number" if answerable else "unanswerable", "q", answerable, "a", abstained,
                      correct, 1 if answerable else None, correct, confidence, 0.01)  # fmt: skip


def test_summary_metrics() -> None:
    results = [result(True, True, False), result(True, False, True), result(False, True, True),
               result(False, False, False)]  # fmt: skip
    s = summarize(results)
    assert s["answer_accuracy"] == 0.5 and s["false_abstention_rate"] == 0.5
    assert s["abstention_accuracy"] == 0.5 and s["overall_accuracy"] == 0.5 and s["hit_at_k"] == 1.0


def test_calibrate_picks_the_separating_threshold() -> None:
    results = [result(True, True, False, 0.9), result(True, True, False, 0.8),
               result(False, False, False, 0.3), result(False, False, False, 0.2)]  # fmt: skip
    threshold, accuracy = calibrate(
        [r.confidence for r in results], [True, True, False, False], [r.answerable for r in results]
    )
    assert 0.3 < threshold < 0.8 and accuracy == 1.0


def test_gate_reports_each_missed_threshold() -> None:
    summary = {"answer_accuracy": 0.7, "hit_at_k": 0.95, "false_abstention_rate": 0.2}
    failures = check_gate(summary, {"min": {"answer_accuracy": 0.75, "hit_at_k": 0.9},
                                    "max": {"false_abstention_rate": 0.05}})  # fmt: skip
    assert len(failures) == 2 and "answer_accuracy" in failures[0] and "above" in failures[1]
    assert check_gate(summary, {"min": {"hit_at_k": 0.9}}) == []


def test_configurations(tmp_path: Path) -> None:
    base = Settings(cache_dir=tmp_path)
    name, overrides = parse_config("dense")
    assert config_settings(base, overrides, name).retrieval_mode == "dense"
    assert config_settings(base, overrides, name).index_dir == base.index_dir  # same index
    name, overrides = parse_config("chunk_size=120,k=8")
    chunked = config_settings(base, overrides, name)
    assert chunked.chunk_size == 120 and chunked.k == 8 and chunked.index_dir != base.index_dir
    with pytest.raises(ValueError, match="unknown configuration"):
        parse_config("fastest")


def test_faithfulness_judge_parses_the_verdict() -> None:
    citation = Citation(1, "a.txt", "A", "c1", "Alpha is one.", "Alpha is one.", 0, 13)
    answer = Answer("Alpha is one [1].", False, (citation,))
    prompts = PromptLibrary()
    assert judge_faithfulness(
        ScriptedChatModel(replies=["SUPPORTED 2/3"]), prompts, answer
    ) == pytest.approx(2 / 3)
    assert judge_faithfulness(ScriptedChatModel(replies=["no idea"]), prompts, answer) is None
    assert (
        judge_faithfulness(ScriptedChatModel(replies=["1/1"]), prompts, Answer("x", True)) is None
    )


def test_run_and_report_on_a_few_cases(hash_settings: Settings, tmp_path: Path) -> None:
    bot = Assistant(hash_settings)
    cases = [
        Case(id="bb", question="What is the broadband penetration target for 2025?", answers=["82"],
             source="state-council-made-in-china-2025-2015.txt",
             quote="Broadband penetration ⁵ (%)\t37\t50\t70\t82", kind="number", split="test"),
        Case(id="bread", question="What is the recipe for sourdough bread with rye?", answers=[],
             kind="unanswerable", split="test"),
    ]  # fmt: skip
    results = run_cases(bot, cases)
    assert [r.id for r in results] == ["bb", "bread"]
    first, second = results
    assert first.hit_rank is not None and first.hit_rank <= 5
    assert first.correct == (not first.abstained and "82" in first.answer)
    assert second.abstained and second.correct
    comparison = {"default": summarize(results), "dense": summarize(results)}
    path = write_report(
        tmp_path / "r", results, k=5, title="t", settings={"k": 5}, comparison=comparison
    )
    report = path.read_text()
    assert "## By kind" in report and "## Configurations compared" in report and "Winner" in report
    assert (tmp_path / "r" / "accuracy_by_kind.png").stat().st_size > 1000
    assert (tmp_path / "r" / "latency.png").stat().st_size > 1000
    payload = json.loads((tmp_path / "r" / "results.json").read_text())
    assert payload["cases"][0]["citations"][0]["number"] == 1
    assert all(not r.correct for r in worst_failures(results))


@pytest.mark.parametrize(
    ("text", "expected", "column", "right"),
    [
        ("Solid waste (%) — 62: 2013: 65; 2015: 73; 2020: 79 [1]", "73", "2020", False),  # shifted
        ("The 2020 target for solid waste is 73% [1]. Other columns: 2013: 62; 2025: 79.", "73",
         "2020", True),
        ("The 2020 target for patents per 100 million yuan is 0.70 patents [1].", "0.70", "2020",
         True),
        ("R&D (%): 2013: 0.95; 2015: 1.26", "0.95", "2015", False),  # right figure, wrong year
        ("R&D (%): 2013: not given; 2015: 0.95; 2020: 1.26", "0.95", "2015", True),
        ("The 2020 target is down 22% from 2015 [1].", "Down 22%", "2020", True),
        # the caption names the year; the cell is further on
        ("Indicators for 2020 and 2025 — CO2: 2013: not given; 2020: Down 22% from 2015 [1]",
         "22%", "2020", True),
        ("Indicators for 2020 and 2025 — CO2: 2013: not given; 2020: Down 18% from 2015 [1]",
         "22%", "2020", False),
        ("Indicators for 2020 and 2025 — Index: 2013: 83.1; 2015: 83.5; 2020: 84.5 [1]",
         "84.5", "2020", True),  # 83.1 is 2013's
    ],
)  # fmt: skip
def test_a_figure_must_be_tied_to_the_column_asked(
    text: str, expected: str, column: str, right: bool
) -> None:
    assert answer_correct(text, False, [expected], "any", column) is right


def test_tied_figures_and_first_sentence() -> None:
    from assistant.evals.scoring import first_sentence, tied_figures

    assert tied_figures("2013: 65; 2015: 73; 2020: 79", "2020") == ["79"]
    assert tied_figures("The 2020 target is 73% [1].", "2020") == ["73"]
    assert tied_figures("By 2025, nothing is said.", "2020") == []
    assert (
        first_sentence("It has two items: A [1]; B [2]. It opens: C.")
        == "It has two items: A [1]; B [2]."
    )


def test_an_html_quote_is_placed_in_the_text_as_loaded(
    hash_settings: Settings, corpus_copy: Path
) -> None:
    """Passages' offsets are into the extracted text; a quote found in the raw HTML file sits
    further on (the markup before it), so it overlapped no passage and hit@k read 'none'."""
    (corpus_copy / "pier.html").write_text(
        "<html><head><title>Pier notice</title><style>p {color: red}</style></head><body>"
        "<h1>Pier notice</h1><p>The ferry pier at Ostmark reopens on 3 May 2031.</p>"
        "</body></html>",
        encoding="utf-8",
    )
    bot = Assistant(hash_settings)
    case = Case(id="pier", question="When does the ferry pier at Ostmark reopen?",
                answers=["3 May 2031"], source="pier.html",
                quote="The ferry pier at Ostmark reopens on 3 May 2031.", kind="date", split="test")  # fmt: skip
    (result,) = run_cases(bot, [case])
    assert result.hit_rank is not None and result.cited_support
