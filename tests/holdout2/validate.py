"""Sanity checks for a case set: python tests/holdout2/validate.py [SET_DIR]

SET_DIR (default: this folder) holds corpus/ and cases.jsonl; other sets reuse this checker.

Adapted from tests/holdout/validate.py. Differences: document size is checked
in words per format; unanswerable cases carry the closest on-topic passage as
source/quote (checked to exist); answers must appear in the quote itself;
HTML quotes must not cross tags; table lines must use real TAB characters;
.md and .html files are checked for basic well-formedness.
"""

import html
import html.parser
import json
import pathlib
import re
import sys
import tomllib

HERE = pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else pathlib.Path(__file__).parent
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
WORDS = {".txt": (900, 1400), ".md": (700, 1000), ".html": (600, 900)}

errors = []
meta = tomllib.loads((CORPUS / "metadata.toml").read_text(encoding="utf-8"))
docs = {
    p.name: p.read_text(encoding="utf-8") for p in CORPUS.iterdir() if p.name != "metadata.toml"
}
for name in meta:
    if name not in docs:
        errors.append(f"metadata entry {name} has no file")
    if set(meta[name]) != {"title", "short_title", "publisher", "date", "url"}:
        errors.append(f"{name}: bad metadata keys")


class Checker(html.parser.HTMLParser):
    VOID = frozenset({"meta", "br", "hr", "img", "link", "input"})

    def __init__(self):
        super().__init__()
        self.stack, self.problems = [], []

    def handle_starttag(self, tag, attrs):
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag):
        if not self.stack or self.stack[-1] != tag:
            self.problems.append(f"unexpected </{tag}> (open: {self.stack[-3:]})")
        else:
            self.stack.pop()


for name, text in docs.items():
    ext = pathlib.Path(name).suffix
    if name not in meta:
        errors.append(f"{name}: no metadata entry")
    plain = html.unescape(re.sub(r"<[^>]+>", " ", text)) if ext == ".html" else text
    n = len(plain.split())
    lo, hi = WORDS.get(ext, (0, 10**9))
    if not lo <= n <= hi:
        errors.append(f"{name}: {n} words outside {lo}-{hi}")
    if ext == ".txt":
        rows = [line for line in text.splitlines() if "\t" in line]
        if len(rows) < 6:
            errors.append(f"{name}: table has only {len(rows)} TAB lines")
        if len({line.count("\t") for line in rows}) != 1:
            errors.append(f"{name}: table rows have differing TAB counts")
        if any(re.search(r"\S {2,}\S", line) for line in text.splitlines()):
            errors.append(f"{name}: runs of spaces (table written with spaces?)")
    if ext == ".md":
        pipe = [line for line in text.splitlines() if line.startswith("|")]
        if len({line.count("|") for line in pipe}) != 1 or not any(
            re.fullmatch(r"\|(---\|)+", line) for line in pipe
        ):
            errors.append(f"{name}: malformed pipe table")
    if ext == ".html":
        c = Checker()
        c.feed(text)
        c.close()
        if c.problems or c.stack:
            errors.append(f"{name}: html not well formed {c.problems} {c.stack}")

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
    if c["history"] != [] or c["source2"] or c["quote2"]:
        errors.append(f"{cid}: history/source2/quote2 should be empty")
    text = docs.get(c["source"])
    if text is None:
        errors.append(f"{cid}: unknown source {c['source']}")
        continue
    if not c["quote"] or text.find(c["quote"]) < 0:
        errors.append(f"{cid}: quote not found")
    if len(c["quote"]) > 400:
        errors.append(f"{cid}: quote longer than 400 characters")
    if c["source"].endswith(".html") and ("<" in c["quote"] or ">" in c["quote"]):
        errors.append(f"{cid}: html quote crosses tags")
    if c["kind"] == "unanswerable":
        if c["answers"] or c["match"] != "any" or c["column"]:
            errors.append(f"{cid}: unanswerable must have no answers/column and match=any")
        continue
    if not c["answers"]:
        errors.append(f"{cid}: no answers")
    if c["kind"] == "list" and (c["match"] != "all" or len(c["answers"]) < 2):
        errors.append(f"{cid}: list needs match=all and >=2 answers")
    if c["kind"] == "table":
        header = next(
            (line for line in text.splitlines() if c["column"] and c["column"] in line), ""
        )
        if not c["column"] or not header:
            errors.append(f"{cid}: bad column")
    elif c["column"]:
        errors.append(f"{cid}: column set on non-table case")
    for a in c["answers"]:
        if a.lower() not in c["quote"].lower():
            errors.append(f"{cid}: answer {a!r} not in quote")

print("\n".join(errors) or "OK")
print(len(seen), "cases", dict(sorted(counts.items())))
sys.exit(1 if errors else 0)
