"""Sanity checks for the holdout cases: python tests/holdout/validate.py"""

import json
import pathlib
import sys
import tomllib

HERE = pathlib.Path(__file__).parent
CORPUS = HERE / "corpus"
KEYS = {
    "id",
    "question",
    "answers",
    "match",
    "source",
    "quote",
    "source2",
    "quote2",
    "kind",
    "history",
    "split",
    "column",
}
KINDS = {"table", "number", "name", "date", "list", "definition", "unanswerable"}

errors = []
meta = tomllib.loads((CORPUS / "metadata.toml").read_text(encoding="utf-8"))
docs = {
    p.name: p.read_text(encoding="utf-8") for p in CORPUS.iterdir() if p.name != "metadata.toml"
}
for name, text in docs.items():
    if name not in meta:
        errors.append(f"{name}: no metadata entry")
    if not 1500 <= len(text) <= 5000:
        errors.append(f"{name}: length {len(text)} outside 1500-5000")

seen = set()
counts = {}
for n, line in enumerate((HERE / "cases.jsonl").read_text(encoding="utf-8").splitlines(), 1):
    c = json.loads(line)
    cid = c.get("id")
    if set(c) != KEYS:
        errors.append(f"line {n}: keys {sorted(set(c) ^ KEYS)}")
    if cid in seen:
        errors.append(f"{cid}: duplicate id")
    seen.add(cid)
    counts[c["kind"]] = counts.get(c["kind"], 0) + 1
    if c["kind"] not in KINDS or c["split"] != "test" or c["match"] not in ("any", "all"):
        errors.append(f"{cid}: bad kind/split/match")
    if c["kind"] == "unanswerable":
        if c["answers"] or c["source"] or c["quote"]:
            errors.append(f"{cid}: unanswerable must have no answers/source/quote")
        continue
    text = docs.get(c["source"])
    if text is None:
        errors.append(f"{cid}: unknown source {c['source']}")
        continue
    if text.find(c["quote"]) < 0:
        errors.append(f"{cid}: quote not found")
    if c["kind"] == "list" and (c["match"] != "all" or len(c["answers"]) < 2):
        errors.append(f"{cid}: list needs match=all and >=2 answers")
    if c["kind"] == "table":
        if not c["column"] or c["column"] not in text:
            errors.append(f"{cid}: bad column")
        if not any(a in c["quote"] for a in c["answers"]):
            errors.append(f"{cid}: no answer inside quote")
    for a in c["answers"]:
        if c["match"] == "all" and a.lower() not in text.lower():
            errors.append(f"{cid}: answer {a!r} not in source")
    if c["match"] == "any" and not any(a.lower() in text.lower() for a in c["answers"]):
        errors.append(f"{cid}: no answer in source")

print("\n".join(errors) or "OK")
print(len(seen), "cases", dict(sorted(counts.items())))
sys.exit(1 if errors else 0)
