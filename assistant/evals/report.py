"""Eval reports: results.json, report.md and PNG charts in evals/reports/<timestamp>/.

A person should see where the assistant fails from report.md alone: the summary, the
per-kind table, the comparison of configurations, and the worst failures with their answers.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from assistant.evals.scoring import CaseResult, by_kind, summarize

SUMMARY_COLUMNS = (
    ("answer_accuracy", "answer acc."),
    ("hit_at_k", "hit@k"),
    ("mrr", "MRR"),
    ("citation_support", "citation support"),
    ("abstention_accuracy", "abstention acc."),
    ("false_abstention_rate", "false abstention"),
    ("numeric_grounding", "figures grounded"),
    ("first_sentence_answer", "answer first"),
    ("median_answer_chars", "median chars"),
    ("latency_p50", "p50 s"),
    ("latency_p95", "p95 s"),
)


ANSWERABLE_ONLY = {
    "answer_accuracy",
    "hit_at_k",
    "mrr",
    "citation_support",
    "false_abstention_rate",
    "first_sentence_answer",
}


def cell(key: str, row: dict[str, float]) -> str:
    """A metric, or a dash where the row has no case it applies to."""
    if (key in ANSWERABLE_ONLY and not row["answerable"]) or (
        key == "abstention_accuracy" and row["answerable"] == row["cases"]
    ):
        return "—"
    if key == "median_answer_chars":
        return f"{row[key]:.0f}"
    return f"{row[key]:.3f}" if key.startswith("latency") else f"{row[key]:.2f}"


def table(rows: dict[str, dict[str, float]], first: str) -> str:
    """A Markdown table: one row per key, the summary columns (and case counts)."""
    head = f"| {first} | cases | " + " | ".join(title for _, title in SUMMARY_COLUMNS) + " |"
    rule = "|---" * (len(SUMMARY_COLUMNS) + 2) + "|"
    lines = [head, rule]
    for name, row in rows.items():
        cells = " | ".join(cell(key, row) for key, _ in SUMMARY_COLUMNS)
        lines.append(f"| {name} | {int(row['cases'])} | {cells} |")
    return "\n".join(lines)


def worst_failures(results: Sequence[CaseResult], n: int = 15) -> list[CaseResult]:
    """Wrong answers first: confident wrong answers, then false abstentions, then missed
    abstentions; within each, by confidence (most confident first)."""
    wrong = [r for r in results if not r.correct]

    def severity(r: CaseResult) -> tuple[int, float]:
        if r.answerable and not r.abstained:
            return (0, -r.confidence)
        if r.answerable:
            return (1, -r.confidence)
        return (2, -r.confidence)

    return sorted(wrong, key=severity)[:n]


def charts(results: Sequence[CaseResult], folder: Path, k: int) -> list[str]:
    """accuracy_by_kind.png and latency.png; returns their file names."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    kinds = by_kind(results, k)
    names = list(kinds)
    accuracy = [
        kinds[n]["abstention_accuracy"] if n == "unanswerable" else kinds[n]["answer_accuracy"]
        for n in names
    ]
    hits = [kinds[n]["hit_at_k"] for n in names]
    fig, ax = plt.subplots(figsize=(9, 4.5))
    x = range(len(names))
    ax.bar(
        [i - 0.2 for i in x], accuracy, width=0.4, label="answer accuracy (unanswerable: abstained)"
    )
    ax.bar([i + 0.2 for i in x], hits, width=0.4, label=f"retrieval hit@{k}")
    ax.set_xticks(list(x), names, rotation=30, ha="right")
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("share of cases")
    ax.set_title("Accuracy and retrieval hits by kind of question")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.28), ncol=2, fontsize=8)
    fig.tight_layout()
    fig.savefig(folder / "accuracy_by_kind.png", dpi=110)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(7, 4))
    ax.hist([r.seconds * 1000 for r in results], bins=30)
    ax.set_xlabel("ask latency (ms)")
    ax.set_ylabel("cases")
    ax.set_title("Latency of Assistant.ask per case")
    fig.tight_layout()
    fig.savefig(folder / "latency.png", dpi=110)
    plt.close(fig)
    return ["accuracy_by_kind.png", "latency.png"]


def write_report(
    folder: Path,
    results: Sequence[CaseResult],
    *,
    k: int,
    title: str,
    settings: dict[str, Any],
    comparison: dict[str, dict[str, float]] | None = None,
    faithfulness: float | None = None,
) -> Path:
    """Write results.json, report.md and the charts; returns the report path."""
    folder.mkdir(parents=True, exist_ok=True)
    summary = summarize(results, k)
    payload = {"summary": summary, "by_kind": by_kind(results, k), "settings": settings,
               "comparison": comparison, "faithfulness": faithfulness,
               "cases": [asdict(r) for r in results]}  # fmt: skip
    (folder / "results.json").write_text(
        json.dumps(payload, ensure_ascii=False, indent=2, default=str)
    )
    images = charts(results, folder, k)

    lines = [f"# {title}", "", table({"all": summary}, "split"), ""]
    if faithfulness is not None:
        lines += [f"LLM-judged faithfulness (not part of the gate): {faithfulness:.2f}", ""]
    lines += ["## By kind", "", table(by_kind(results, k), "kind"), ""]
    lines += [f"![accuracy by kind]({images[0]})", "", f"![latency]({images[1]})", ""]
    if comparison:
        best = max(
            comparison,
            key=lambda name: (comparison[name]["overall_accuracy"], comparison[name]["hit_at_k"]),
        )
        lines += ["## Configurations compared", "", table(comparison, "configuration"), "",
                  f"Winner on overall accuracy (answers right + abstentions right): **{best}**.", ""]  # fmt: skip
    lines += ["## Worst failures", ""]
    for r in worst_failures(results):
        what = "abstained" if r.abstained else "answered"
        expected = "should abstain" if not r.answerable else "expected answer missing"
        lines += [f"### {r.id} ({r.kind}) — {what}, {expected}", "",
                  f"- question: {r.question}",
                  f"- confidence {r.confidence:.2f}, retrieval hit rank: {r.hit_rank or 'none in top k'}",
                  "- answer:", "", "  > " + " ".join(r.answer.split())[:600], ""]  # fmt: skip
    lines += ["## Settings", "", "```json", json.dumps(settings, indent=2, default=str), "```", ""]
    path = folder / "report.md"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path
