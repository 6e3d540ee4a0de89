"""Fit the extractive answerer's confidence model and abstention threshold on the dev split.

For every dev case it runs the real pipeline (condense → evidence → sentence choice) without
abstaining, records the evidence features of the chosen sentence and whether the answer was
right (unanswerable cases: never right, abstaining is), fits a small L2-regularised logistic
regression, and prints the weights and the threshold that maximise dev accuracy. Paste them
into `Weights.confidence` and `Settings.abstain_threshold`. Only the dev split is used.

Usage:  python evals/calibrate.py [--index-dir DIR]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from assistant import Assistant, Settings
from assistant.condense import condense
from assistant.evaluate import answer_correct, calibrate, load_cases
from assistant.extractive import FEATURES

HERE = Path(__file__).resolve().parent


def fit_logistic(x: np.ndarray, y: np.ndarray, l2: float = 0.002, steps: int = 40000) -> np.ndarray:
    """Plain gradient descent; the bias (column 0) is not regularised."""
    w = np.zeros(x.shape[1])
    for _ in range(steps):
        p = 1 / (1 + np.exp(-(x @ w)))
        grad = x.T @ (p - y) / len(y) + l2 * np.r_[0.0, w[1:]]
        w -= 0.5 * grad
    return w


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--index-dir", type=Path, default=Path("index"))
    parser.add_argument("--cases", type=Path, default=HERE / "known_facts.jsonl")
    args = parser.parse_args()

    cases = load_cases(args.cases, "dev")
    bot = Assistant(Settings(index_dir=args.index_dir))
    answerer = bot.answerer
    rows, labels = [], []
    for case in cases:
        question = condense(case.question, case.history)
        passages = bot.evidence(question)
        units, chosen, features = answerer.analyse(question, passages)
        text = answerer._compose(passages, [units[i] for i in chosen])
        rows.append(np.mean(np.asarray(features), axis=0))
        labels.append(
            1.0
            if case.answerable and answer_correct(text, False, case.answers, case.match)
            else 0.0
        )
    x, y = np.asarray(rows), np.asarray(labels)
    w = fit_logistic(x, y)
    p = 1 / (1 + np.exp(-(x @ w)))
    best = calibrate(p.tolist(), [bool(v) for v in y], [c.answerable for c in cases])
    print(f"{len(cases)} dev cases, {int(y.sum())} answered right without abstaining")
    print("weights:", ", ".join(f"{name}={v:.2f}" for name, v in zip(FEATURES, w, strict=True)))
    print(f"confidence = ({', '.join(f'{v:.2f}' for v in w)})")
    print(f"threshold {best[0]:.2f} -> dev accuracy {best[1]:.3f}")


if __name__ == "__main__":
    main()
