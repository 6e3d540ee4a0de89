"""The eval run behind `assistant eval`: cases through the public API for each configuration,
optional LLM-judged faithfulness, the report folder and the gate. The CLI only parses
arguments and prints what this returns."""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from assistant.evals import scoring as ev
from assistant.evals.report import write_report

if TYPE_CHECKING:
    from assistant.assistant import Assistant
    from assistant.settings import Settings

# (configuration name, cases) -> a progress callback taking the number of cases done
Tracker = Callable[[str, int], Callable[[int], None]]
Indexer = Callable[["Assistant"], None]


class EvalError(ValueError):
    """The run cannot start as asked (no cases, an unknown configuration, no judge)."""


@dataclass
class EvalRun:
    results: list[ev.CaseResult]
    comparison: dict[str, dict[str, float]]  # "default" and each compared configuration
    by_kind: dict[str, dict[str, float]]
    report: Path
    faithfulness: float | None = None
    gate_failures: list[str] = field(default_factory=list)


def run_eval(base: Settings, cases: Path, split: str, *, k: int = 5, compare: list[str] | None = None,
             out: Path = Path("evals/reports"), gate: Path | None = None, faithfulness: bool = False,
             track: Tracker | None = None, index: Indexer | None = None) -> EvalRun:  # fmt: skip
    """Run the cases; `index(bot)` builds a missing or per-configuration index (the CLI shows
    a progress bar), `track(name, total)` gives a per-case progress callback."""
    from assistant.assistant import Assistant

    try:
        chosen = ev.load_cases(cases, split)
        configs = [ev.parse_config(spec) for spec in (compare or [])]
    except (OSError, ValueError) as exc:
        raise EvalError(str(exc)) from exc
    if not chosen:
        raise EvalError(f"no cases in {cases} for split {split!r}")

    def run(name: str, settings: Settings) -> tuple[list[ev.CaseResult], Assistant]:
        bot = Assistant(settings, build_if_missing=False)
        if bot.store.active() is None or name != "default":
            (index or (lambda b: b.index()))(bot)
        progress = track(name, len(chosen)) if track else None
        return ev.run_cases(bot, chosen, k, progress=progress), bot

    results, bot = run("default", base)
    judged = _faithfulness(bot, chosen) if faithfulness else None
    comparison = {"default": ev.summarize(results, k)}
    for name, overrides in configs:
        comparison[name] = ev.summarize(run(name, ev.config_settings(base, overrides, name))[0], k)
    report = write_report(
        out / datetime.now().strftime("%Y%m%d-%H%M%S"), results, k=k,
        title=f"Known-facts eval: {cases.name}, split {split}",
        settings=base.model_dump(mode="json", exclude={"openai_api_key"}),
        comparison=comparison if configs else None, faithfulness=judged,
    )  # fmt: skip
    failures = ev.check_gate(comparison["default"], tomllib.loads(gate.read_text())) if gate else []
    return EvalRun(results, comparison, ev.by_kind(results, k), report, judged, failures)


def _faithfulness(bot: Assistant, cases: list[ev.Case]) -> float | None:
    if bot.answerer.local:
        raise EvalError("--faithfulness needs the openai answerer (an LLM to judge)")
    scores = [
        ev.judge_faithfulness(bot.chat_model, bot.prompts, bot.ask(c.question, c.history))
        for c in cases
    ]
    valid = [s for s in scores if s is not None]
    return sum(valid) / len(valid) if valid else None
