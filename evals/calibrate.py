"""Fit the extractive answerer's confidence model and abstention threshold on development data.

For every development case it runs the code users get (the chain's condense step, the
evidence search, the answerer and the citation check) with the answerer's confidence gate
off, and records the answer's evidence features (`assistant/answer/evidence.py: FEATURES`)
and whether the answer was right (an unanswerable case is never answered right: abstaining
is). It fits an L2-regularised logistic regression (scikit-learn) and picks the threshold
that maximises the utility, scored out of fold (5-fold): a right answer or a right refusal
+1, a wrong answer -0.5, a needless refusal 0 (a confident wrong answer is worse than a
refusal), among the thresholds that refuse at most 10% of the answerable cases of every
case set (needless refusals cost staff their answer, and the model cannot have both few of
them and many right refusals: see the curve it prints). It writes both into
`assistant/answer/answerer_weights.json`, which the answerer reads.

The data: the dev split of evals/known_facts.jsonl, and development sets written on other
documents (`--sets`; by default tests/holdout, tests/dev3 and tests/dev4, each a folder with
corpus/ and cases.jsonl, indexed under .cache/calibration/). A model fitted on one corpus
learns that corpus's scores and refuses too readily on documents it has never seen; several
corpora teach it what does not depend on the documents. A folder without corpus/ holds new
questions on this corpus (tests/dev7, tests/dev8). Nothing is tuned per question, and
measure-only sets (tests/holdout2, tests/holdout3, tests/holdout4) must never be passed here.

Usage:  python evals/calibrate.py [--index-dir DIR] [--sets DIR ...] [--dry-run]
"""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from assistant import Assistant, Settings
from assistant.answer.evidence import FEATURES, WEIGHTS_FILE
from assistant.answer.validate import finalize
from assistant.evals.scoring import Case, answer_correct, calibrate, load_cases

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
CACHE = ROOT / ".cache" / "calibration"
# Development sets on other documents (tests/holdout was read once, so it is one now).
DEV_SETS = ("tests/holdout", "tests/dev3", "tests/dev4")


def fit(x: np.ndarray, y: np.ndarray, c: float) -> tuple[float, np.ndarray]:
    """Intercept and coefficients of a logistic regression (features standardised inside)."""
    from sklearn.linear_model import LogisticRegression

    mean, scale = x.mean(axis=0), x.std(axis=0)
    scale[scale == 0] = 1.0
    model = LogisticRegression(C=c, max_iter=5000).fit((x - mean) / scale, y)
    coef = model.coef_[0] / scale
    return float(model.intercept_[0] - np.dot(coef, mean)), coef


def out_of_fold(
    x: np.ndarray, y: np.ndarray, c: float, folds: int, repeats: int = 10
) -> np.ndarray:
    """Each case's probability from models fitted without it (stratified k-fold), averaged
    over `repeats` shufflings: one split's luck moved the chosen threshold by 0.07."""
    from sklearn.model_selection import RepeatedStratifiedKFold

    p = np.zeros(len(y))
    splits = RepeatedStratifiedKFold(n_splits=folds, n_repeats=repeats, random_state=0)
    for train, held in splits.split(x, y):
        intercept, coef = fit(x[train], y[train], c)
        p[held] += 1 / (1 + np.exp(-(x[held] @ coef + intercept)))
    return p / repeats


def _features(bot: Assistant, cases: list[Case]) -> list[tuple[list[float], float, bool]]:
    """(evidence features, answered right, answerable) for each case the rules did not refuse."""
    answerer = bot.answerer
    found = []
    for case in cases:
        question = bot.standalone(case.question, case.history)
        passages = bot.evidence(question)
        draft = answerer.answer(question, passages, gate=False)  # type: ignore[call-arg]
        answer = finalize(draft, passages, question, answerer.name)
        right = case.answerable and answer_correct(
            answer.text, answer.abstained, case.answers, case.match, case.column
        )
        if draft.evidence and not draft.abstained:  # rules refused it (an empty cell)
            found.append((list(draft.evidence), 1.0 if right else 0.0, case.answerable))
    return found


def main() -> None:
    parser = argparse.ArgumentParser(  # no abbreviations: "--set X" would mean "--sets X"
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        allow_abbrev=False,
    )
    parser.add_argument("--index-dir", type=Path, default=Path("index"))
    parser.add_argument("--cases", type=Path, default=HERE / "known_facts.jsonl")
    parser.add_argument("--c", type=float, default=1.0, help="inverse L2 strength")
    parser.add_argument(
        "--wrong-cost",
        type=float,
        default=0.5,
        help="how much worse a wrong answer is than a refusal (utility -COST)",
    )
    parser.add_argument(
        "--max-false-abstention",
        type=float,
        default=0.10,
        help="refuse at most this share of the answerable cases of each set (the gate's ceiling on test)",
    )
    parser.add_argument(
        "--sets",
        type=Path,
        nargs="*",
        default=[ROOT / name for name in DEV_SETS],
        help="development set folders (cases.jsonl, with corpus/ or else on this corpus) to fit on too "
        f"(default: {' '.join(DEV_SETS)}; none with a bare --sets)",
    )
    parser.add_argument("--folds", type=int, default=5, help="folds for the out-of-fold threshold")
    parser.add_argument("--dry-run", action="store_true", help="print, do not write the file")
    args = parser.parse_args()

    rows: list[list[float]] = []
    labels: list[float] = []
    answerable: list[bool] = []
    groups: list[str] = []
    sets = [(args.cases, "dev", Settings(index_dir=args.index_dir))]
    for folder in args.sets:
        if (folder / "corpus").is_dir():
            index_dir = CACHE / folder.resolve().name
            settings = Settings(corpus_dir=folder / "corpus", index_dir=index_dir)
        else:  # a set of new questions on this corpus (tests/dev7)
            settings = Settings(index_dir=args.index_dir)
        sets.append((folder / "cases.jsonl", "all", settings))
    for path, split, settings in sets:
        bot = Assistant(settings)
        if path != args.cases:
            bot.index()
        found = _features(bot, load_cases(path, split))
        print(f"{path}: {len(found)} cases with evidence")
        for row, label, can in found:
            rows.append(row)
            labels.append(label)
            answerable.append(can)
            groups.append(str(path))
    x, y = np.asarray(rows), np.asarray(labels)
    names = [n for n in FEATURES if n != "bias"]
    intercept, coef = fit(x[:, 1:], y, args.c)
    weights = {"bias": intercept} | dict(zip(names, coef.tolist(), strict=True))
    # The threshold is chosen on out-of-fold probabilities: a model scored on the cases it
    # was fitted on is too sure of them, and a threshold picked there refuses too little
    # or too much on new questions.
    p = out_of_fold(x[:, 1:], y, args.c, args.folds)
    threshold, accuracy = calibrate(p.tolist(), [bool(v) for v in y], answerable, args.wrong_cost,
                                    args.max_false_abstention, groups)  # fmt: skip
    print(f"{len(y)} dev cases, {int(y.sum())} answered right without abstaining")
    print("weights:", ", ".join(f"{k}={v:.2f}" for k, v in weights.items()))
    print(f"threshold {threshold:.3f} -> dev accuracy {accuracy:.3f}")
    print("threshold  abstains on unanswerable  abstains on answerable  answered wrong")
    for t in np.linspace(0.1, 0.8, 15):
        a = np.asarray(answerable)
        print(
            f"  {t:.2f}     {np.mean(p[~a] < t):.2f}                    {np.mean(p[a] < t):.2f}"
            f"                    {np.mean((p[a] >= t) & (y[a] == 0)):.2f}"
        )
    if args.dry_run:
        return
    data = json.loads(WEIGHTS_FILE.read_text(encoding="utf-8"))
    data.update(
        confidence={k: round(v, 4) for k, v in weights.items()},
        threshold=round(threshold, 4),
        fitted_on=f"dev split of {args.cases.name}"
        + "".join(f" + {folder.name}" for folder in args.sets)
        + f": {len(y)} cases, "
        f"{datetime.now(UTC).date().isoformat()}, dev accuracy {accuracy:.3f}",
    )
    WEIGHTS_FILE.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {WEIGHTS_FILE}")


if __name__ == "__main__":
    main()
