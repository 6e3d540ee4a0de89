"""Chain step 3b, composition: the answer's first sentence states the fact asked for.

- A table cell asked by row and column: "The 2020 target for broadband penetration is 70%."
  An empty cell, or a column the table does not have, is a refusal that says so.
- A list: every item, each cited at its own heading.
- Otherwise the sentence that answers; for a figure or a date, only the clause that holds
  it. Supporting sentences follow. Where two documents are quoted, each is named with its
  date ("According to ... (2017-03-14), ..."), since the documents disagree in places.

Every function here is pure: units and passages in, text and cited spans out.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from langchain_core.documents import Document

from assistant.answer.evidence import LIST_NUMBERING, Unit, asked_run, has_filler, record
from assistant.answer.question import Ask
from assistant.answer.validate import passage_span
from assistant.ingest.outline import count_word
from assistant.text import Span, strip_superscripts, terms

LONG_SENTENCE_WORDS = 36
MIN_LIST_MATCH = 0.4  # share of the question's (idf-weighted) terms a list's title must hold
ITEMS_FACTOR = 0.8  # ... or, discounted by this, its title and items together
COUNT_BONUS = 0.3  # a list of the size the question names ("the nine tasks"), or not
RANK_BONUS = 0.1  # times the passage's similarity to the question
TARGET_WORDS = re.compile(r"\b(target|goal|aim|plan|expected|should|will)\b", re.IGNORECASE)


@dataclass
class Cited:
    """A composed answer: text whose [k] markers refer to `docs[k-1]` and `quotes[k-1]`."""

    parts: list[str] = field(default_factory=list)
    docs: list[Document] = field(default_factory=list)
    quotes: list[Span] = field(default_factory=list)

    def cite(self, doc: Document, quote: Span) -> str:
        for k, (d, q) in enumerate(zip(self.docs, self.quotes, strict=True), start=1):
            if d.metadata["chunk_id"] == doc.metadata["chunk_id"] and q == quote:
                return f"[{k}]"
        self.docs.append(doc)
        self.quotes.append(quote)
        return f"[{len(self.docs)}]"


@dataclass(frozen=True)
class Refusal:
    """Why the documents do not answer, in one line, and the passage to show first."""

    reason: str
    passage: int = 0  # 1-based; 0 when none in particular


# -- tables --------------------------------------------------------------------------------


# Units that say a column holds counts ("Volunteer days (number)"): "5,200", not "5,200 number".
COUNT_UNITS = frozenset({"number", "no.", "count", "total", "units", "#"})


def _value_with_unit(value: str, unit: str) -> str:
    if unit == "%" and re.fullmatch(r"[\d.,]+", value):
        return f"{value}%"
    if unit.lower() in COUNT_UNITS:
        unit = ""
    if unit and unit != "%" and re.fullmatch(r"[\d.,]+", value):
        return f"{value} {unit}"
    if len(value.split()) > 4:
        return f"“{value}”"
    return _lower_first(value)


def row_label(doc: Document) -> str:
    return str(record(doc).get("label", "")) or doc.page_content[:80]


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:] if text[1:2].islower() else text


def cell_answer(ask: Ask, doc: Document, out: Cited, about_row: bool) -> str | Refusal | None:
    """State the asked cells of a table row, or refuse when the table does not give them.

    None when the question names no column of this row, or does not name the row
    (`about_row`: most of its terms are in the row's label), so that the row is quoted whole."""
    row = record(doc)
    cells = {c["column"]: c for c in row.get("cells", [])}
    if not ask.years or not cells or not about_row:
        return None
    label = _lower_first(row["label"])
    asked = {c: y for y in ask.years if (c := column_for(y, cells))}  # column -> year asked
    columns = list(asked)
    if not columns:
        elsewhere = any(y in doc.page_content or y in str(doc.metadata.get("date", ""))
                        for y in ask.years)  # fmt: skip
        if elsewhere:
            return None
        return Refusal(f"The table has no {' or '.join(ask.years)} column for {label}; its "
                       f"columns are {', '.join(cells)}.")  # fmt: skip
    empty = [y for y in columns if not cells[y]["value"]]
    if empty:
        given = "; ".join(f"{c}: {v['value']}" for c, v in cells.items() if v["value"])
        return Refusal(f"The table gives no {' or '.join(empty)} figure for {label}"
                       + (f" (it gives {given})." if given else "."))  # fmt: skip
    marker = out.cite(doc, passage_span(doc))
    noun = "target" if TARGET_WORDS.search(ask.text) else "figure"
    if noun == "figure" and all(int(asked[c][:4]) > _year(doc) for c in columns):
        noun = "target"
    values = [_value_with_unit(cells[y]["value"], row["unit"]) for y in columns]
    named = [c if c not in ask.years else f"{c} {noun}" for c in columns]  # "2025 target" as is
    first = f"The {named[0]} for {label} is {values[0]}"
    first += "".join(f", and the {c} is {v}" for c, v in zip(named[1:], values[1:], strict=True))
    rest = [f"{c}: {v['value'] or 'not given'}" for c, v in cells.items() if c not in columns]
    context = f" Other columns: {'; '.join(rest)}." if rest else ""
    return f"{first} {marker}.{context}"


def column_for(year: str, cells: dict[str, Any]) -> str | None:
    """The column a year asked about names: the year itself, else the one column whose
    header holds it ("2025 target", "Target (2025)", "2027/28 target"). A financial year
    ("2022-23") is no calendar year: asked "2023", the refusal lists the columns there are."""
    if year in cells:
        return year
    holding = [c for c in cells if re.search(rf"(?<![\w\-–/]){re.escape(year)}(?![\w\-–/])", c)]
    return holding[0] if len(holding) == 1 else None


def _year(doc: Document) -> int:
    date = str(doc.metadata.get("date", ""))
    return int(date[:4]) if date[:4].isdigit() else 0


# -- lists ---------------------------------------------------------------------------------


def list_passages(passages: Sequence[Document]) -> list[int]:
    return [i for i, d in enumerate(passages, start=1) if d.metadata.get("kind") == "list"]


def choose_list(ask: Ask, passages: Sequence[Document], weighted: dict[str, float]) -> int | None:
    """The list passage that best names what is asked; a list of the asked size wins. A list
    set inside the section of the best one, whose own title names more of what is asked (the
    "Conditions" under "Decision", which lists "Conditions" and "Reasons"), is the nearer
    answer."""
    found = list(_scored_lists(ask, passages, weighted))
    if not found:
        return None
    best = max(found, key=lambda f: f.score)
    inside = [
        f
        for f in found
        if f.path[: len(best.path)] == best.path
        and len(f.path) > len(best.path)
        and f.own_share > best.own_share
    ]
    return max(inside or [best], key=lambda f: f.score).passage


@dataclass(frozen=True)
class _ScoredList:
    passage: int
    score: float
    own_share: float  # of the asked terms' weight, in the list's own title and heading
    path: tuple[str, ...]  # heading path of the list's own section


def _scored_lists(
    ask: Ask, passages: Sequence[Document], weighted: dict[str, float]
) -> Iterator[_ScoredList]:
    noun = set(terms(ask.slot_noun))
    prose = (
        set(terms(" ".join(d.page_content for d in passages if d.metadata.get("kind") != "list")))
        if noun
        else set()
    )
    for n in list_passages(passages):
        doc = passages[n - 1]
        data = record(doc)
        # The document's own title names every list in it: its words decide nothing here.
        titled = set(
            terms(f"{doc.metadata.get('title', '')} {doc.metadata.get('short_title', '')}")
        )
        asked = {t: w for t, w in weighted.items() if t not in titled} or weighted
        total = sum(asked.values()) or 1.0
        own, listed = _list_terms(doc, data)
        # The sentence before a list may be about something else (another list, even): what
        # the list's own title holds counts most.
        own_share = sum(w for t, w in asked.items() if t in own) / total
        all_share = sum(w for t, w in asked.items() if t in listed) / total
        score = max(own_share, ITEMS_FACTOR * all_share)
        if ask.count is not None:
            score += COUNT_BONUS if len(data.get("items", [])) == ask.count else -COUNT_BONUS
        score += RANK_BONUS * float(doc.metadata.get("dense_score", 0.0))
        if noun & prose and not noun & listed:
            continue  # "which three *levels*": the prose names levels, this list never does
        if score < MIN_LIST_MATCH:
            continue
        path = tuple(str(doc.metadata.get("heading", "")).split(" > "))
        yield _ScoredList(n, score, own_share, path)


def names_focus(ask: Ask, doc: Document) -> bool:
    """The list's title, heading, intro or the words its items share name what is asked
    about ("which four *relationships*")."""
    return bool(set(ask.focus) & _list_terms(doc, record(doc))[1])


def _list_terms(doc: Document, data: dict[str, Any]) -> tuple[set[str], set[str]]:
    """The terms of a list's own title and heading, and those with its intro and the words
    its items share: what names the list."""
    intro = (data.get("intro") or {}).get("label", "")
    own = set(terms(f"{data.get('title', '')} {doc.metadata.get('heading', '')}"))
    return own, own | set(terms(intro)) | _shared_by_items(data.get("items", []))


def _shared_by_items(items: list[dict[str, Any]]) -> set[str]:
    """Terms that at least half of a list's items share: the kind of thing listed ("Step 1:
    ...", "Step 2: ..."), which can name a list as its title does."""
    counts: dict[str, int] = {}
    for item in items:
        for term in set(terms(item["label"])):
            counts[term] = counts.get(term, 0) + 1
    return {t for t, n in counts.items() if n >= 2 and n * 2 >= len(items) and not t.isdigit()}




def introduced_list(unit: Unit, passages: Sequence[Document]) -> int | None:
    """The list passage whose items `unit` announces ("... depends on four programmes:"): the
    items, not the announcement, answer."""
    if unit.kind != "text" or not unit.display.endswith(":"):
        return None
    for n in list_passages(passages):
        intro = record(passages[n - 1]).get("intro")
        if intro and intro["start"] <= unit.span.start < intro["end"]:
            return n
    return None


def list_answer(doc: Document, out: Cited) -> str:
    """Every item of a list, each cited at its own heading span, after the clause that
    announces them when the list is inside a sentence; then the sentence that introduces the
    list, if there is one, as context."""
    data = record(doc)
    items = data.get("items", [])
    title = LIST_NUMBERING.sub("", data.get("title", "")).strip(" :")
    if lead := data.get("lead"):
        # the clause that announces the items, in the source's words: "We run four hospitals"
        marker = out.cite(_part_of(doc, lead), _span(lead))
        head = f"{lead['label'][:1].upper()}{lead['label'][1:]} {marker}"
    else:
        n = count_word(len(items))
        head = f"“{title}” has {n} items" if title else f"There are {n} items"
    cited = [f"{item['label']} {out.cite(_part_of(doc, item), _span(item))}" for item in items]
    text = f"{head}: " + "; ".join(cited) + "."
    if intro := data.get("intro"):
        text += f" It opens: “{intro['label']}” {out.cite(_part_of(doc, intro), _span(intro))}."
    return text


def _span(item: dict[str, Any]) -> Span:
    return Span(item["start"], item["end"], item["raw"])


def _part_of(doc: Document, item: dict[str, Any]) -> Document:
    """A list item (or its intro) as a passage of its own, so that it is cited exactly."""
    return Document(
        page_content=item["label"],
        metadata={**doc.metadata, "start": item["start"], "end": item["end"], "text": item["raw"],
                  "kind": "list_item"},
    )  # fmt: skip


# -- sentences -----------------------------------------------------------------------------


def clauses(text: str) -> list[tuple[int, int]]:
    """(start, end) of the clauses of a sentence, split at commas, semicolons and colons that
    are not inside brackets or quotation marks."""
    pieces, start, depth = [], 0, 0
    for m in re.finditer(r"[(\[“]|[)\]”]|[,;:]\s+", text):
        token = m.group(0)
        if token in "([“":
            depth += 1
        elif token in ")]”":
            depth = max(0, depth - 1)
        elif depth == 0:
            pieces.append((start, m.start()))
            start = m.end()
    pieces.append((start, len(text)))
    return [(a, b) for a, b in pieces if b > a]


def core(ask: Ask, unit: Unit) -> Span:
    """For a counted list inside a long sentence, the run of parts that name what is asked.
    For a figure or a date in a long sentence, the part that holds it: the sentence from
    its start up to the clause that holds a filler and most of the question's terms (the
    clauses before it qualify it: "By 2020, ..."), dropping leading clauses only when that
    is still long. Clauses after it are left out, unless they hold a question word the part
    kept lacks ("... 2.3% market increase, with over 10% *export growth* rate" asked how fast
    exports grew): the figure asked for may be there."""
    sentence = unit.span
    if ask.answer_type == "list" and ask.count and unit.kind == "text":
        run = asked_run(ask, sentence.text)
        if run is not None:  # a list inside a long sentence
            a, b = run
            return Span(sentence.start + a, sentence.start + b, sentence.text[a:b])
    if (
        unit.kind != "text"
        or ask.answer_type not in ("number", "money", "date")
        or len(sentence.text.split()) <= LONG_SENTENCE_WORDS
    ):
        return sentence
    pieces = clauses(sentence.text)
    wanted = set(ask.terms)
    years = [y for y in ask.years if y in sentence.text]
    best_key, at = (0, 0), None
    for i, (a, b) in enumerate(pieces):
        text = sentence.text[a:b]
        if not has_filler(ask.answer_type, text) or any(y not in sentence.text[:b] for y in years):
            continue
        key = (len(wanted & set(terms(text))) + 1, -i)
        if key > best_key:
            best_key, at = key, i
    if at is None:
        return sentence
    kept = set(terms(sentence.text[: pieces[at][1]]))
    while (
        at < len(pieces) - 1 and wanted & set(terms(sentence.text[slice(*pieces[at + 1])])) - kept
    ):
        at += 1
        kept |= set(terms(sentence.text[slice(*pieces[at])]))
    if at == len(pieces) - 1:
        return sentence
    lo = 0
    while len(sentence.text[pieces[lo][0] : pieces[at][1]].split()) > 2 * LONG_SENTENCE_WORDS:
        lo += 1
    a, b = pieces[lo][0], pieces[at][1]
    text = sentence.text[a:b].rstrip(" ,;:")
    return Span(sentence.start + a, sentence.start + a + len(text), text)


def sentence_text(span: Span) -> str:
    """A quote as a sentence of the answer: one line, capitalised, closed."""
    text = strip_superscripts(" ".join(span.text.split())).lstrip().rstrip(" ,;:")
    text = text[:1].upper() + text[1:]
    return text if text.endswith((".", "?", "!", "”", '"', ")")) else f"{text}."


def with_marker(text: str, marker: str) -> str:
    """'Sentence.' -> 'Sentence [1].'"""
    if text and text[-1] in ".?!" and not text.endswith(("...", "…")):
        return f"{text[:-1]} {marker}{text[-1]}"
    return f"{text} {marker}"


def attribution(doc: Document) -> str:
    meta = doc.metadata
    date = f" ({meta['date']})" if meta.get("date") else ""
    return f"According to {meta.get('short_title') or meta['title']}{date}, "


def sentences_answer(
    chosen: list[tuple[Unit, Span]], passages: Sequence[Document], out: Cited
) -> str:
    """The chosen spans in order, the first being the answer; documents named when two or
    more are quoted."""
    sources = {passages[u.passage - 1].metadata["source"] for u, _ in chosen}
    lines = []
    for unit, span in chosen:
        doc = passages[unit.passage - 1]
        if unit.kind == "item":  # cited as list_answer cites it
            doc = _part_of(doc, {"label": unit.display, "start": span.start, "end": span.end,
                                 "raw": span.text})  # fmt: skip
            text = sentence_text(Span(span.start, span.end, unit.display))
        elif span == unit.span and unit.kind != "text":
            text = unit.display
        else:
            text = sentence_text(span)
        text = with_marker(text, out.cite(doc, span))
        if len(sources) > 1:
            text = attribution(doc) + _lower_first(text)
        lines.append(text)
    return " ".join(lines)
