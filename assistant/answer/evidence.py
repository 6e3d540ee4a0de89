"""Chain step 3a, evidence: the units an answer may quote, how well each answers a question,
and the named features of the chosen evidence that the confidence model weighs.

A unit is a sentence of a retrieved passage (a whole row for a table, a whole list for a
list passage), with its exact source span. Scoring mixes meaning (embedding similarity, with
the section heading as context), the rarity-weighted share of the question's terms it holds,
whether it holds a filler of the type asked for, and the year asked about. The scoring
weights and the confidence model are data: `answerer_weights.json`, written by
`evals/calibrate.py` from the dev split.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
from langchain_core.documents import Document

from assistant.answer.question import (
    EXACT_FIGURE,
    KIND_OF,
    MONTH_NAMES,
    MONTHS,
    NUMBERED_NAME,
    STRANDED,
    YEAR,
    Ask,
)
from assistant.answer.validate import passage_span
from assistant.text import POINTS_BACK, Span, split_sentences, strip_superscripts, terms
from assistant.text import words as text_words

Idf = Callable[[str], float]
WEIGHTS_FILE = Path(__file__).with_name("answerer_weights.json")

# Words for a person's role, after or before a name ("Samuel Okafor, Head Curator").
ROLES = (
    "curator|director|chair|chairman|chairwoman|chief executive|head|minister|governor|manager|"
    "officer|secretary|president|leader|engineer|executive|editor|professor|mayor|councillor|"
    "commissioner|spokesperson|spokesman|spokeswoman|founder|adviser|advisor|economist|analyst|"
    "coordinator|trustee|architect|master|planner|inspector|auditor|dean|rector|surveyor|warden|"
    "librarian|treasurer|registrar|clerk|superintendent|principal|chancellor|provost|ombudsman|"
    "administrator|commander|director-general"
)
# The same roles as titles before a name ("Chief Inspector Miriam Osei-Bannerman").
ROLE_TITLES = "|".join(
    " ".join("-".join(p.capitalize() for p in w.split("-")) for w in role.split())
    for role in ROLES.split("|")
)
AMOUNT = r"\d[\d,.]*(?:\s*(?:million|billion|trillion|thousand|bn|m|k)\b)?"
CURRENCY_CODES = "RMB|USD|EUR|GBP|JPY|CHF|CNY|SEK|NOK|DKK|INR"
CURRENCY_WORDS = (
    "yuan|renminbi|dollars?|euros?|pounds?|sterling|yen|francs?|crowns?|kronor|krona|kroner|"
    "krone|florins?|rupees?|pesos?|rand|lira|zloty|won|rubles?|roubles?|shillings?|dinars?|"
    "dirhams?|riyals?|reais|real"
)
COUNTRIES = (
    r"\b(United States|United Kingdom|Britain|Germany|France|Italy|Spain|Netherlands|Belgium|"
    r"Sweden|Switzerland|Austria|Poland|Russia|Japan|Korea|India|Singapore|Malaysia|Thailand|"
    r"Vietnam|Indonesia|Australia|Canada|Mexico|Brazil|Argentina|Chile|South Africa|Egypt|"
    r"Nigeria|Israel|Turkey|Iran|Saudi Arabia|Pakistan|Kazakhstan|European Union|ASEAN)\b"
)
# What counts as a filler of each answer type (types not listed need none).
FILLERS: dict[str, str] = {
    "number": r"(?<!\d)(?<!\d\.)(?!(?:19|20)\d\d\b)\d[\d,.]*(?!\d|st\b|nd\b|rd\b|th\b)\s*%?|(?i:\b(one|two|three|four|five|six|seven|"
    r"eight|nine|ten|eleven|twelve|fifteen|twenty|thirty|forty|fifty|hundreds?|thousands?|millions?|"
    r"billions?|dozens?|half|double|doubled|tripled|percent)\b)",
    # an amount: a currency sign or code before a figure, or a currency after it ("1.2
    # billion yuan", "£38,000", "USD 5m", "7,500 euros")
    # or any three-letter code before a sum in millions ("SVC 184 million")
    "money": rf"(?:[$¥€£₹₩]|\b(?:{CURRENCY_CODES})\s?)\s?{AMOUNT}|"
    r"\b[A-Z]{3} \d[\d,.]*\s*(?:million|billion|trillion|bn)\b|"
    rf"{AMOUNT}\s*(?:{CURRENCY_WORDS}|{CURRENCY_CODES})\b",
    # a day of a month ("March 3", "3 March"), or a numeric date: not "on Wednesday"
    "exact_date": rf"\b(?:{MONTH_NAMES})\.?\s+\d{{1,2}}(?:st|nd|rd|th)?\b|"
    rf"\b\d{{1,2}}(?:st|nd|rd|th)?\s+(?:of\s+)?(?:{'|'.join(MONTHS[:12])})\b|"
    r"\b(?:19|20)\d\d-\d\d-\d\d\b|\b\d{1,2}/\d{1,2}/(?:19|20)\d\d\b",
    "date": rf"\b(?:19|20)\d\d\b|\b(?:{MONTH_NAMES})\b\.?(?:\s+\d{{1,2}}\b)?|"
    r"\b(Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)\b|"
    r"(?i:\b(?:earlier|later|last|next|this|early|late) (?:this |that )?(?:week|month|year|spring|"
    r"summer|autumn|winter)\b|\byesterday\b|\b\d+ (?:days|weeks|months|years) (?:ago|later)\b)",
    "person": r"\b(Premier|President|Minister|Vice Premier|Secretary|Director|Chairman|Chairwoman|"
    r"Mr|Ms|Mrs|Dr|Professor|Prof|Councillor|Cllr|Mayor|Governor|Sir|Dame|Lord|Baroness|"
    r"Commissioner|Judge|Senator|Captain)\.?\s+[A-Z][a-z]+|"
    rf"\b(?:[A-Z][a-z]+ )?(?:{ROLE_TITLES}) [A-Z][a-z]+ [A-Z][a-z'\-]+\b|"
    r"\b[A-Z][a-z]+ [A-Z][a-z]{1,9}\s+(said|says|"
    r"stated|noted|added|told|pointed out)\b|^[A-Z][a-z]+ [A-Z][a-z]+:|"
    r"\b(?:Editor|Editors|Translator|Author|Authors|Reporter|Writer)\s+[A-Z][a-z]+ [A-Z][a-z]+\b|"
    r"^By\s+[A-Z][a-z]+ [A-Z][a-z]+\b|"
    r"\b[A-Z][a-z]+ [A-Z][a-z]+\s*/\s*[A-Z][a-z]+ [A-Z][a-z]+\b|"
    # a name with its role ("Samuel Okafor, Head Curator", "Head Curator, Samuel Okafor"),
    # or with a clause about the person ("Richard Haldane, who stepped down")
    rf"\b[A-Z][a-z]+ [A-Z][a-z'\-]+, (?:the |our |its )?(?:[\w\-'’]+ ){{0,3}}?(?i:{ROLES})\b|"
    rf"\b(?i:{ROLES})(?: (?:of|for) (?:the )?[A-Z][\w\-]+(?: (?:and )?[A-Z][\w\-]+)*)?,\s+(?:Dr |Mr |Ms |Mrs |"
    r"Professor )?[A-Z][a-z]+ [A-Z][a-z'\-]+\b|\b[A-Z][a-z]+ [A-Z][a-z'\-]+,? who\b",
    "place": rf"{COUNTRIES}|"
    r"\b[A-Z][a-z]+\s+(Province|City|Municipality|District|Prefecture|Region|County|province|prefecture)\b|"
    r"\b(in|at|from|of)\s+(Beijing|Shanghai|Tianjin|Chongqing|Guangzhou|Shenzhen|Wuhan|Hangzhou|"
    r"Nanjing|Chengdu|Xi'an|Ningbo|Suzhou|Qingdao|Dalian|Shenyang|Harbin|Changsha|Hefei|Fujian|"
    r"Zhejiang|Jiangsu|Guangdong|Shandong|Hubei|Hunan|Sichuan|Hebei|Henan|Liaoning|[A-Z][a-z]+ Province)\b|"
    r"\b[A-Z][\w\-]+(?:\s+[A-Z][\w\-]+)*\s+(?:International\s+)?(?:Airport|Port|Station|Harbou?r)\b|"
    # where a body or office is: "located in the Ministry of ...", "based at Holm Bridge"
    r"\b(?:located|based|headquartered|situated|housed) (?:in|at) (?:the )?[A-Z][\w\-]+"
    r"(?:\s+(?:of|and|for|[A-Z][\w\-]+))*",
    "list": r"(?:,[^,]{2,80}){2,}|[^,]{2,80},[^,]{2,80},? and\b|"
    r"\b(?:such as|including|namely|as follows|the following)\b|[:—]",
    "organisation": r"\b(?!(?:The|A|An|This|Its|Their|Our)\s)[A-Z][\w&\-]*(?:'s)?(?:\s+(?:of|for|and|[A-Z][\w&\-]*(?:'s)?))*\s+(Ministry|Commission|"
    r"Council|University|Institute|Academy|Association|Administration|Bureau|Company|Corporation|"
    r"Group|Bank|Agency|Office|Federation|Committee|Alliance|Center|Centre|Forum|Board|Team|"
    r"College|Trust|Authority|Partnership|Foundation|Fund|Society|Union|Consortium|Cooperative|"
    r"Holdings|Networks|Yard|Shipyard|Works|Laboratory|Laboratories|Partners|Industries|Services|"
    r"Systems|Technologies|Ltd|Limited|plc|PLC|Inc|LLP|GmbH)\b|\b(Ministry|University|Institute|Academy|Commission)\s+of\s+(?:the\s+)?[A-Z][\w\-]*"
    r"(?:\s+(?:and|of|for|[A-Z][\w\-]*))*|"
    # a body known by its initials ("The CSRC revised ..."), not a currency code
    rf"\b(?!(?:{CURRENCY_CODES}|GDP|GNP|CPI|PMI|CNC|ICT|SME|SMEs|CEO|CFO)\b)[A-Z]{{3,6}}\b",
}
# "Who runs ...?" is answered by a person or by a body ("run by Calder Renewables Ltd"), also
# one named in lower case ("the port authority", "the national government").
FILLERS["agent"] = (
    f"{FILLERS['person']}|{FILLERS['organisation']}|"
    r"\bthe (?:[a-z]+ ){0,2}(?:government|authority|council|ministry|department|agency|"
    r"commission|board|trust|operator)\b|"
    # a name as the one who did it, or with what it is: "carried out by Halvorsen Marine",
    # "Halvorsen Marine, a contractor from Tromsø"
    rf"\bby (?!(?:{MONTH_NAMES})\b)[A-Z][\w&\-]+(?: [A-Z][\w&\-]+)+|"
    r"\b[A-Z][\w&\-]+(?: [A-Z][\w&\-]+)+, (?:a|an) [a-z]"
)
# "Which city": a place within a country; a country is no answer.
FILLERS["city"] = FILLERS["place"].removeprefix(f"{COUNTRIES}|")
FILLERS["month"] = rf"\b(?:{MONTH_NAMES})\b\.?"
FILLERS["year"] = r"\b(?:19|20)\d\d\b"
_FILLER_PATTERNS = {kind: re.compile(p) for kind, p in FILLERS.items()}
# A year right after a capitalised word that is no month or function word is part of a name.
_NAMED_YEAR = re.compile(
    rf"\b((?!(?:{MONTH_NAMES}|In|By|For|From|Of|Since|Until|To|And|Or|The|Before|After|During|"
    r"Spring|Summer|Autumn|Winter|Fall|Early|Late|Mid|End|Q[1-4])\b)[A-Z][A-Za-z]*)\s+"
    r"(?:19|20)\d\d\b"
)
_DAY_OF_MONTH = re.compile(rf"\b(?:{MONTH_NAMES})\.?\s+\d{{1,2}}\b(?:,\s*(?:19|20)\d\d)?")
_NEW_ITEM = re.compile(
    r"^(?:[*•\-–]\s|\(?(?:\d{1,2}|[a-z]|[ivx]{1,4})[.)]\s)"
)  # "* The ...", "(2) ..."

FEATURES = (
    "bias",
    "best",
    "coverage_unit",
    "coverage_all",
    "missing_rare",
    "year_missing",
    "passage",
    "filler_missing",
    "named_filler_missing",
    "slot_noun_missing",
    "named_slot_missing",
    "rare_missing_count",
    "percent_missing",
    "focus_missing",
    "unknown_terms",
    "count_far",
    "members_missing",
    "figure_hedged",
    "numbered_other",
)
ABOUT_ROW = 0.5  # share of the question's weighted terms a table row's label must hold
UNRELATED_ROW = 0.3  # ... and below which (columns' names included) it is about something else
NAMED_TYPES = ("money", "date", "person", "place", "organisation")  # a number alone cannot fill
NAME_KINDS = ("person", "place", "city", "organisation", "agent")  # filler kinds that are names


@dataclass(frozen=True)
class Weights:
    """How units are scored and chosen, and the confidence model; loaded from the JSON file."""

    dense: float = 0.45
    lexical: float = 0.35
    context: float = 0.10
    passage: float = 0.10
    answer_type: float = 0.08
    year: float = 0.10
    keep_within: float = 0.05  # more sentences from one document must score this close
    other_document_within: float = 0.10  # a second document is quoted if this close
    filler_within: float = 0.15  # a sentence with the asked date, sum or name, if this close
    confidence: dict[str, float] = field(default_factory=dict)  # feature name -> coefficient
    threshold: float = 0.5

    @classmethod
    def load(cls, path: Path = WEIGHTS_FILE) -> Weights:
        data = json.loads(path.read_text(encoding="utf-8"))
        return cls(**data["selection"], confidence=data["confidence"], threshold=data["threshold"])


@dataclass(frozen=True)
class Unit:
    passage: int  # 1-based index into the passages
    span: Span  # exact source span (the quote)
    display: str  # what the answer shows
    context: str  # heading and title, for meaning and for keyword coverage
    kind: str = "text"  # "text", "table_row", "list" or "item" (one of a list's items)
    notes: str = ""  # a table row's footnotes: matched like its own words, never shown


@lru_cache(maxsize=50_000)
def term_set(text: str) -> frozenset[str]:
    """The content terms of a text; memoised, since the same sentences are scored again and
    again (cheap pass, full pass, and later questions about the same passages)."""
    return frozenset(terms(text))


def has_filler(answer_type: str, text: str, given: frozenset[str] = frozenset()) -> bool:
    """Whether `text` holds a filler of the type: something new, so a figure or a name the
    question itself gives (`given`, its terms) does not count."""
    pattern = _FILLER_PATTERNS.get(answer_type)
    if pattern is None:
        return True
    if answer_type == "number":  # the day of a date ("on Oct 16") is no count or amount
        text = _DAY_OF_MONTH.sub(" ", text)
    if answer_type in ("date", "year"):  # "Made in China 2025", "the Water Act 2019": names, not dates
        text = _NAMED_YEAR.sub(r"\1 ", text)
    found = [m.group(0) for m in pattern.finditer(text)]
    if answer_type in NAME_KINDS:  # "Co Ltd" alone names nobody
        found = [f for f in found if term_set(f) - term_set(NAME_WORDS)]
    return any(not _only_given(f, given) for f in found)


def filler_type(ask: Ask) -> str:
    """The type a filler must have: a typed slot noun decides ("which three *bodies*": an
    organisation, even in a list), else the answer type."""
    if ask.exact_date:
        return "exact_date"
    if ask.month_asked:
        return "month"
    if ask.year_asked:
        return "year"
    slot = slot_type(ask)
    if slot or ask.answer_type != "person":
        return slot or ask.answer_type
    if STRANDED.search(ask.text):  # "who could they sell to?": a buyer of any kind
        return "any"
    # "Who is the director ...?", "Who chairs ...?" ask for a person; "Who runs ...?" may
    # be answered by a body.
    # "leads" is no "head" here, and an action is no role ("coordination" shares the stem
    # of "coordinator", "management" that of "manager")
    doing = " ".join(w for w in text_words(ask.text) if not ACTION_NOUN.search(w))
    said = frozenset(terms(doing, synonyms=False))
    return "person" if said & role_terms() else "agent"


def slot_type(ask: Ask) -> str:
    """The kind of name a slot noun asks for ("which *bodies*": an organisation); none for
    "what kind of enterprises", which asks for a description."""
    return "" if KIND_OF.search(ask.text) else _SLOT_TYPE.get(ask.slot_noun, "")


ACTION_NOUN = re.compile(r"(?:tion|sion|ment|ing)s?$")


@lru_cache(maxsize=1)
def role_terms() -> frozenset[str]:
    """Roles whose stems name no body too ("minister" and "ministry" share one)."""
    roles = terms(ROLES.replace("|", " "), synonyms=False)
    return frozenset(roles) - frozenset(
        terms("chief executive officer commissioner engineer minister", synonyms=False)
    )


def _only_given(found: str, given: frozenset[str]) -> bool:
    """Most of a name's own words are in the question: the question names it ("Beiqi Foton"
    for "Beiqi Foton Motor Co Ltd")."""
    words = term_set(found) - term_set(NAME_WORDS)
    return bool(words) and len(words & given) > len(words) / 2


# Words that make a name a name ("Ministry", "Center") but say nothing new by themselves.
NAME_WORDS = (
    "ministry commission council university institute academy association administration "
    "bureau company corporation group bank agency office federation committee alliance center "
    "centre forum board team province city municipality district prefecture region county "
    "premier president minister vice secretary director chairman chairwoman mr ms mrs dr "
    "professor prof college trust authority partnership foundation fund society union "
    "consortium cooperative holdings networks yard shipyard works laboratory laboratories partners "
    "industries services systems technologies co ltd limited plc inc llp gmbh"
)
# Slot nouns that also name loose sets of people ("which four groups are represented"):
# a "Group" in a company's name is not what they ask for.
LOOSE_SLOT_NOUNS = "group groups"
# Other words that name the same kind of body ("Itcetera Language Group, Inc." is a company).
NAME_KIN = {
    "compan": "corporation group inc ltd co limited",
    "universit": "college",
    "centre": "center",
    "center": "centre",
}
SLOT_TYPES = {
    "organisation": "company companies firm firms enterprise enterprises university universities "
    "ministry ministries department departments agency agencies institute institutes "
    "institution institutions bank banks body bodies organization organizations organisation "
    "organisations group groups supplier suppliers contractor contractors operator operators "
    "provider providers manufacturer manufacturers developer developers vendor vendors "
    "shipyard shipyards builder builders consultancy consultancies",
    "city": "city cities town towns municipality municipalities",
    "place": "province provinces country countries region regions airport airports "
    "district districts port ports location locations place places",
    "person": "person people official officials minister ministers executive executives expert "
    "experts leader leaders head heads chair chairman chairwoman director directors "
    "journalist journalists reporter reporters interviewer interviewers author authors writer "
    "writers editor editors spokesperson spokesman spokeswoman",
}
_SLOT_TYPE = {noun: kind for kind, nouns in SLOT_TYPES.items() for noun in nouns.split()}


def units(passages: Sequence[Document]) -> list[Unit]:
    """Sentences of prose passages; a table row or a list stays one unit."""
    out: list[Unit] = []
    for n, doc in enumerate(passages, start=1):
        meta = doc.metadata
        heading = meta.get("heading", "").split(" > ")[-1]
        context = strip_superscripts(f"{heading} {meta.get('short_title', '')}")
        span = passage_span(doc)
        kind = meta.get("kind", "text")
        if kind in ("table_row", "list"):
            data = record(doc)
            notes = " ".join(data.get("footnotes", []))
            out.append(Unit(n, span, doc.page_content, context, kind, notes))
            # Each item, too, for a question on one of them ("What is Step 2 ...?"); the
            # list's title says what it is one of. A heading that only names its section
            # ("(1) Tram Line 3 from Dunhallow to Harrowgate") is no answer.
            within = strip_superscripts(f"{context} {data.get('title', '')}")
            out.extend(Unit(n, Span(item["start"], item["end"], item["raw"]),
                            " ".join(item["label"].split()), within, "item")
                       for item in data.get("items", [])
                       if kind == "list" and not _title_like(item["label"]))  # fmt: skip
            continue
        # the document's title, met again as its first line, is no answer to anything
        restates = set(terms(heading)) | set(terms(meta.get("title", "")))
        position = 0
        for line in span.text.splitlines(keepends=True):
            for sentence in split_sentences(line, offset=span.start + position):
                words = set(terms(sentence.text))
                # skip fragments, and lead sentences that only repeat their heading or title
                if len(sentence.text.split()) >= 3 and not (words and words <= restates):
                    out.append(Unit(n, sentence, " ".join(sentence.text.split()), context))
            position += len(line)
    return out


# A heading's own number ("3.", "(2)", "IV.", "Chapter 5", "Box 1"): no figure of the answer,
# and not in the items' quotes, so numeric grounding would cut the answer's head with it.
LIST_NUMBERING = re.compile(
    r"^\(?\d{1,2}[.)]\s*|^[IVX]{1,4}\.\s*"
    r"|^(?:Chapter|Section|Part|Article|Box|Annex|Appendix)\s+(?:\d{1,3}|[IVX]{1,4})\b[.:]?\s*",
    re.IGNORECASE,
)


def figures_text(unit: Unit) -> str:
    """The unit's text where a figure, date or name may answer: an item without its own
    number ("4. A farm advisory service") and the numbers of names ("Tram Line 3")."""
    if unit.kind != "item":
        return unit.display
    return NUMBERED_NAME.sub(r"\1", LIST_NUMBERING.sub("", unit.display))


SMALL_WORDS = frozenset("of and the for in on to a an at by with from".split())  # noqa: SIM905


def _title_like(label: str) -> bool:
    """A name rather than a statement: under three words ("Step 2"), or every word
    capitalised but the small ones ("Box 4 Green Manufacturing Projects")."""
    words = [w.lstrip("([“\"'") for w in label.split() if any(c.isalpha() for c in w)]
    return len(label.split()) < 3 or all(w[0].isupper() or w in SMALL_WORDS for w in words)


def extend(found: list[Unit], i: int, passages: Sequence[Document],
           back: Collection[str] = ()) -> Unit:  # fmt: skip
    """Join the next sentence when it continues this one: this one is short or ends in a
    colon, or the next opens by pointing back ("They ...", "These ..."). With `back` (a list
    is asked for: the question's terms), a sentence that itself opens by pointing back ("Its
    other members are ...") is joined to the one before when that one names something asked
    that this one does not (the board the members are of); otherwise the answer would open
    with a sentence that is not the answer."""
    unit = found[i]
    if unit.kind != "text":
        return unit
    if back and i > 0 and found[i - 1].passage == unit.passage and POINTS_BACK.match(unit.display):
        before = found[i - 1]
        if (set(back) & term_set(before.display)) - term_set(unit.display):
            unit = _joined(before, unit, passages)
    if i + 1 >= len(found) or found[i + 1].passage != unit.passage:
        return unit
    following = found[i + 1]
    short = len(unit.display.split()) < 15 or unit.display.endswith(":")
    if not (short or POINTS_BACK.match(following.display)):
        return unit
    return _joined(unit, following, passages)


def _joined(first: Unit, second: Unit, passages: Sequence[Document]) -> Unit:
    """Two sentences of one passage as one unit, quoted exactly."""
    whole = passage_span(passages[first.passage - 1])
    text = whole.text[first.span.start - whole.start : second.span.end - whole.start]
    return Unit(first.passage, Span(first.span.start, second.span.end, text),
                f"{first.display} {second.display}", first.context)  # fmt: skip


def continues(found: list[Unit], i: int) -> bool:
    """The unit after `i` goes on about its topic ("... ran all summer. Curated by Dr Holt,
    it ..."): it follows in the same passage and does not start a new list item."""
    after = i + 1
    return (
        after < len(found)
        and found[after].passage == found[i].passage
        and not _NEW_ITEM.match(found[after].display)
    )


# An inline list's separators, and the words that open its last item ("..., and c").
_LIST_SEPARATOR = re.compile(r"[,;]\s+")
_LAST_ITEM = re.compile(r"^(?:and|or|as well as|plus)\s", re.IGNORECASE)


def enumeration_sizes(text: str) -> frozenset[int]:
    """How many items a sentence may list inline, read from its commas: "a, b, and c" lists
    3 (or 2, the first part being a clause before the list); "a, b and c" lists 3, or 2 when
    an item holds "and" ("growth and adjustment, government and market"). Three items at
    least: two parts are no list."""
    parts = [p for p in _LIST_SEPARATOR.split(text.strip().rstrip(".")) if p.strip()]
    if len(parts) == 2 and ":" in parts[0] and re.search(r"\s(?:and|or)\s", parts[1]):
        return frozenset({3})  # announced by a colon: "three aims: a, b and c"
    if len(parts) < 3:
        return frozenset()
    ends = [i for i in range(1, len(parts)) if _LAST_ITEM.match(parts[i])]
    sizes: set[int] = set()
    # A part opening with "and" ends a list; the list began at the sentence's start, after
    # its first clause, or after an earlier "and" part (", and foster models such as a, b,
    # and c"). What follows the last item is no part of the list.
    for n, end in enumerate(ends):
        sizes |= {end + 1, end} | {end - start + 1 for start in ends[:n]}
    if not ends:
        sizes = {len(parts), len(parts) - 1}
        if re.search(r"\s(?:and|or|as well as)\s", parts[-1]):
            sizes.add(len(parts) + 1)
    return frozenset(n for n in sizes if n >= 3)


def inline_list(ask: Ask, found: list[Unit], scored: np.ndarray, weighted: dict[str, float],
                within: float) -> int | None:  # fmt: skip
    """The sentence that lists what a list question asks for inline: it scores near the best
    sentence, names what is listed (a focus term: "which four *relationships*"), and lists
    as many items as the question says ("a, b, c and d" for "which four"), or at least three
    when it gives no count. Among several, one whose items name what is asked comes first."""
    if ask.answer_type != "list" or not ask.focus:
        return None
    text = [i for i, u in enumerate(found) if u.kind == "text" and np.isfinite(scored[i])]
    if not text:
        return None
    # A list of the size the question names is strong evidence: it may score further below.
    floor = max(float(scored[i]) for i in text) - (2 * within if ask.count else within)
    fits = [
        i
        for i in text
        if scored[i] >= floor
        and set(ask.focus) & term_set(found[i].display)
        and shares_term(weighted, found[i].display)
        and (ask.count in _listed_sizes(found[i].display, set(ask.focus)) if ask.count
             else bool(enumeration_sizes(found[i].display))
             or headed_list(found[i].display, set(ask.focus)))
    ]  # fmt: skip
    # Items that each name what is asked ("special metal functional *materials*, functional
    # polymer *materials*, ...") are that list, more surely than a better-scoring sentence
    # naming it once among other things; so are items headed by a word naming it.
    return max(fits, key=lambda i: (asked_run(ask, found[i].display) is not None,
                                    headed_list(found[i].display, set(ask.focus)),
                                    float(scored[i])), default=None)  # fmt: skip


# What opens a list after the noun naming its items ("methods *such as* a, b and c"), and
# what closes one before that noun ("a, b, c *and other* major equipment").
LIST_OPENER = re.compile(r"(?:,?\s+(?:such as|including|namely|for example|e\.g\.)|:)\s+", re.I)
LIST_CLOSER = re.compile(r",?\s+(?:and|or) other\s+", re.I)
CLAUSE_WORDS = frozenset("where when which that who whose while because if".split())  # noqa: SIM905
HEAD_REACH = 4  # words between the naming noun and the opener ("management modes and methods")
_CLAUSE_END = re.compile(r"[;.](?:\s|$)")


def headed_list(text: str, asked: set[str]) -> bool:
    """The sentence lists things of the asked kind by name: an opener right after a word
    naming it ("advanced production *management* modes and methods such as a, b, c"), or a
    closer right before one ("a, b, c, and other major technological *equipment*"), with
    two items at least on the list's side."""
    for m in LIST_OPENER.finditer(text):
        before = text[: m.start()].split()[-HEAD_REACH:]
        cut = [k for k, w in enumerate(before) if w.endswith(",") or w.lower() in CLAUSE_WORDS]
        before = before[cut[-1] + 1 :] if cut else before  # "crops rose where *farms* such as"
        items = _CLAUSE_END.split(text[m.end() :], maxsplit=1)[0]
        if asked & term_set(" ".join(before)) and _two_items(items):
            return True
    for m in LIST_CLOSER.finditer(text):
        after = text[m.end() :].split()[:HEAD_REACH]
        items = _CLAUSE_END.split(text[: m.start()])[-1]
        if asked & term_set(" ".join(after)) and len(_LIST_SEPARATOR.split(items)) >= 3:
            return True
    return False


def _two_items(text: str) -> bool:
    return bool(_LIST_SEPARATOR.search(text) or re.search(r"\s(?:and|or)\s", text))


def _listed_sizes(text: str, asked: set[str]) -> frozenset[int]:
    """enumeration_sizes, and the length of each list inside a longer one whose parts all
    name what is asked (see named_runs)."""
    return enumeration_sizes(text) | {len(run) for run in named_runs(text, asked)}


def named_runs(text: str, asked: set[str]) -> list[list[tuple[int, int]]]:
    """Runs of three or more comma-separated parts in a row that each name what is asked, as
    character ranges of `text`: a list inside a longer one ("..., realize the
    *transformation* from A to B, the *transformation* of C to D, the *transformation* of E
    to F, and complete ..."). A part opening with "and" ends its run."""
    runs: list[list[tuple[int, int]]] = []
    run: list[tuple[int, int]] = []
    at = 0
    for sep in [*_LIST_SEPARATOR.finditer(text), None]:
        end = sep.start() if sep else len(text)
        named = bool(asked & term_set(text[at:end]))
        if named:
            run.append((at, end))
        if not named or sep is None or _LAST_ITEM.match(text[at:end]):  # "..., and c" ends it
            if len(run) >= 3:
                runs.append(run)
            run = []
        at = sep.end() if sep else end
    return runs


def asked_run(ask: Ask, text: str) -> tuple[int, int] | None:
    """Where the sentence lists what is asked with each item naming it, as many as asked (the
    first such run, as a character range of `text`); None when it does not."""
    runs = [r for r in named_runs(text, set(ask.focus)) if not ask.count or len(r) == ask.count]
    return (runs[0][0][0], runs[0][-1][1]) if runs else None


def shares_term(weighted: dict[str, float], text: str) -> bool:
    """The text holds one of the question's terms, or a part of a hyphenated one ("yuan" of
    "dollar-yuan")."""
    present = term_set(text)
    return any(t in present or any(p in present for p in t.split("-")) for t in weighted)


def near_names(ask: Ask, found: list[Unit], i: int, passages: Sequence[Document]) -> bool:
    """The unit, with the sentence before it (what "it" and "the plant" point back to) and
    its document's title and publisher, holds at least half the names the question gives: a
    name found beside other names is no answer."""
    if not ask.named:
        return True
    unit = found[i]
    meta = passages[unit.passage - 1].metadata
    text = f"{unit.context} {unit.display} {meta.get('title', '')} {meta.get('publisher', '')}"
    if i > 0 and found[i - 1].passage == unit.passage:
        text += f" {found[i - 1].display}"
    present = term_set(text)
    # "Veldania" is named by "Veldanian" too: a name's stem may begin a longer word
    held = [n for n in ask.named if n in present or any(t.startswith(n) for t in present)]
    return len(held) * 2 >= len(ask.named)


def missing_years(ask: Ask, unit: Unit, passages: Sequence[Document]) -> list[str]:
    """Years asked about that the unit does not hold. A year given with a month ("as of March
    2017") or naming a document ("the 2015 plan") may instead be a document's date: it places
    the question in time, and in a question on two documents it may date the other one. A
    financial year in a document's title ("Annual Research Report 2024-25") is the year all
    of it is about; a calendar year there may be part of a name ("Made in China 2025")."""
    meta = passages[unit.passage - 1].metadata
    dates = " ".join(str(d.metadata.get("date", "")) for d in passages)
    years = YEAR.findall(str(meta.get("title", "")))
    titled = years[0] if len(years) == 1 and len(years[0]) > 4 else ""
    return [y for y in ask.years if y not in unit.display and y != titled
            and not (y in ask.dated and y in dates)]  # fmt: skip


def coverage(weighted: dict[str, float], text: str) -> float:
    total = sum(weighted.values())
    if not total:
        return 0.0
    present = term_set(text)
    return sum(w for t, w in weighted.items() if t in present) / total


HOW_MANY = re.compile(r"\bhow many\b", re.IGNORECASE)
_WORDS = re.compile(r"\d[\d,.]*%?|[^\W\d][\w\-']*")
# A figure followed by one of these measures that ("four weeks", "12 metres"), and counts
# nothing else.
MEASURE = re.compile(
    r"(?:second|minute|hour|day|week|month|year|time|metre|meter|kilometre|kilometer|mile|"
    r"tonne|ton|kilogram|litre|liter)s?|per|percent|km|kg|m"
)
RANGE_WORDS = frozenset({"or", "to", "and"})  # "2 or 3 years": a range of one measure
COUNT_WINDOW = 6  # words between a count and what it counts ("42 new electric ferries")


# Words before a figure that make it a bound or a guess ("more than 20", "about 40").
HEDGED = re.compile(
    r"\b(?:more than|over|above|upwards of|about|around|nearly|almost|some|approximately|"
    r"roughly|at least|at most|up to|close to|fewer than|less than|under|below|an estimated|"
    r"estimated|approx\.)\s*$",
    re.IGNORECASE,
)
ROUND_WORDS = re.compile(r"(?i)^(?:hundreds?|thousands?|millions?|billions?|dozens?)$")


def hedged_only(ask: Ask, text: str) -> bool:
    """A figure is asked "exactly" and every figure counting what is asked is a bound or a
    guess ("more than 20 departments"): the documents do not give it."""
    if ask.answer_type != "number" or not EXACT_FIGURE.search(ask.text):
        return False
    words, near = _counts(ask, text)
    return bool(near) and all(
        ROUND_WORDS.match(words[i]) or HEDGED.search(" ".join(words[max(0, i - 3) : i]))
        for i in near
    )


BEFORE_CHARS = 300  # how far back in its passage a sentence's subject is looked for


def other_numbered(ask: Ask, unit: Unit, passages: Sequence[Document]) -> str:
    """The question's numbered name ("Line 1") when the unit is about another number of it:
    the unit names only others ("Phase 2 restores the orchard; it will have 120 trees"), or,
    naming none, the nearest sentence before it (or its heading) that names one names only
    others ("Tram Line 3 is the largest project. The line will have 14 stops."). '' when the
    question names none, or the unit may be about the one asked."""
    if not ask.numbered or unit.kind not in ("text", "item"):
        return ""
    earlier = []  # a list's item names its own number, or none
    if unit.kind == "text":
        whole = passage_span(passages[unit.passage - 1])
        before = whole.text[: max(0, unit.span.start - whole.start)][-BEFORE_CHARS:]
        earlier = [unit.context, *(s.text for s in split_sentences(before))]
    for said, word, number in ask.numbered:
        for text in (unit.display, *reversed(earlier)):
            numbers = {n for w, n in NUMBERED_NAME.findall(text) if w.lower() == word}
            if numbers:
                if number not in numbers:
                    return said
                break
    return ""


def counted_near(ask: Ask, text: str) -> bool:
    """For "how many X", a figure stands within a few words of X ("three weeks" does not
    count laptops); other questions need nothing here."""
    if not HOW_MANY.search(ask.text) or not ask.focus:
        return True
    return bool(_counts(ask, text)[1])


def _measures(words: list[str], i: int, named: list[int]) -> bool:
    """The figure at `i` measures something not asked about: "four weeks", and both ends of
    "2 or 3 years" and "5 to 10 metres"."""
    after = i + 1
    ranged = after + 1 < len(words) and words[after].lower() in RANGE_WORDS
    if ranged and _FILLER_PATTERNS["number"].match(words[after + 1]):
        after += 2
    return (
        after < len(words) and after not in named and bool(MEASURE.fullmatch(words[after].lower()))
    )


def _counts(ask: Ask, text: str) -> tuple[list[str], list[int]]:
    """The words of `text`, and which of them are figures within a few words of what is asked
    about (all figures when the question names nothing)."""
    words = _WORDS.findall(_DAY_OF_MONTH.sub(" ", text))  # "initiated.99 enterprises": 3 words
    asked = set(ask.focus)
    named = [i for i, w in enumerate(words) if set(terms(w)) & asked]
    # "four weeks" measures weeks, unless weeks are what is asked ("how many tonnes")
    figures = [
        i
        for i, w in enumerate(words)
        if _FILLER_PATTERNS["number"].match(w) and not _measures(words, i, named)
    ]
    if not asked:
        return words, figures
    return words, [i for i in figures if any(abs(i - j) <= COUNT_WINDOW for j in named)]


# Words that count a noun, or leave it vague, rather than name its members ("22 industrial
# clusters", "a number of projects", "certain industries"), looked for a few words before it.
QUANTIFIER_WORDS = (
    "one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
    "sixteen seventeen eighteen nineteen twenty thirty forty fifty sixty seventy eighty ninety "
    "hundred hundreds thousand thousands dozen dozens several many some various number few "
    "numerous multiple certain unspecified"
)
QUANTIFIERS = frozenset(QUANTIFIER_WORDS.split())
QUANTIFIER_REACH = 5  # words between a count and its noun ("15 key milestone projects")
# What opens the members' names right after a counted noun ("8 cities (Ningbo, ...)",
# "four measures: ...", "12 cities such as Ningbo", "three bodies, namely ...").
ENUMERATION = re.compile(
    r"\s*(?:[(:—–]|,?\s*(?:such as|including|includ(?:e|es|ed)|namely|like|e\.g\.|i\.e\.|"
    r"(?:[a-z]+\s+){0,2}(?:are|were)(?=\s*(?:[A-Z:]|the\b)))\b|,\s*[A-Z])\s*(?P<first>\S*)",
)
_TOKENS = re.compile(r"\d[\d,.]*\d%?|\d%?|[^\W\d][\w\-']*|[^\w\s]")


def counted_only(ask: Ask, text: str) -> bool:
    """For "which X" asking for the members of a list, X is met in `text` only as a count
    ("the first batch of 22 industrial clusters", "15 German companies"), never followed by
    its members: the documents say how many, not which."""
    if ask.answer_type != "list" or not ask.slot_noun:
        return False
    noun = set(terms(ask.slot_noun))
    tokens = list(_TOKENS.finditer(text))
    mentions = [i for i, m in enumerate(tokens) if set(terms(m.group())) & noun]
    if not mentions:
        return False
    for i in mentions:
        before: list[str] = []
        for m in reversed(tokens[max(0, i - QUANTIFIER_REACH) : i]):
            if not m.group()[0].isalnum():
                break  # a comma or a bracket ends the noun phrase
            before.append(m.group().lower())
        counted = any(
            (w[0].isdigit() and not YEAR.fullmatch(w)) or w in QUANTIFIERS for w in before
        )
        opened = ENUMERATION.match(text, tokens[i].end())
        # "more than 80 companies, including 15 German companies": another count, no names
        names = opened is not None and not opened.group("first")[:1].isdigit()
        if not counted or names or _enumerates(text[tokens[i].end() :]):
            return False
    return True


def _enumerates(rest: str) -> bool:
    """The rest of the sentence lists things ("at three levels between the deputy ministers'
    meeting, the working group, and the associations"), not counts ("..., 7 were fully
    implemented, 4 were basically implemented")."""
    clause = re.split(r"[.;](?:\s|$)", rest, maxsplit=1)[0]
    items = [re.sub(r"^(?:and|or)\s+", "", p.strip()) for p in clause.split(",")[1:]]
    return sum(1 for item in items if item and not item[0].isdigit()) >= 2


def weighted_terms(ask: Ask, idf: Idf) -> dict[str, float]:
    return {t: idf(t) for t in ask.terms}


def scores(ask: Ask, found: list[Unit], unit_vectors: np.ndarray, question_vector: np.ndarray,
           passages: Sequence[Document], weighted: dict[str, float], w: Weights) -> np.ndarray:  # fmt: skip
    """How well each unit answers the question (higher is better)."""
    dense = unit_vectors @ question_vector
    lexical = np.array([coverage(weighted, f"{u.display} {u.notes}") for u in found])
    context = np.array([coverage(weighted, f"{u.context} {u.display} {u.notes}") for u in found])
    prior = np.array(
        [float(passages[u.passage - 1].metadata.get("dense_score", 0.0)) for u in found]
    )
    wanted = filler_type(ask)
    typed = wanted in _FILLER_PATTERNS
    kind = np.array([1.0 if typed and has_filler(wanted, u.display) else 0.0 for u in found])
    year = np.array(
        [1.0 if ask.years and all(y in u.display for y in ask.years) else 0.0 for u in found]
    )
    return (w.dense * dense + w.lexical * lexical + w.context * context + w.passage * prior
            + w.answer_type * kind + w.year * year)  # fmt: skip


def features(ask: Ask, unit: Unit, score: float, passages: Sequence[Document],
             weighted: dict[str, float]) -> dict[str, float]:  # fmt: skip
    """Evidence that `unit` answers the question, by name (see FEATURES)."""
    doc = passages[unit.passage - 1]
    own = f"{unit.context} {unit.display} {doc.page_content} {doc.metadata.get('heading', '')}"
    everything = " ".join(
        f"{d.page_content} {d.metadata.get('heading', '')} {d.metadata.get('title', '')}"
        for d in passages
    )
    given = ask.given
    slot_kind = slot_type(ask)
    # A word the corpus never uses is the asker's own; a typed slot noun ("which three
    # *bodies*") is answered by a filler of its type, not by the word.
    slot_filled = bool(slot_kind) and has_filler(slot_kind, unit.display, given)
    skip = term_set(ask.slot_noun) if slot_filled else frozenset()
    present = term_set(own) | skip
    top = max(weighted.values(), default=1.0) or 1.0
    missing = [v for t, v in weighted.items() if t not in present]
    rare_missing = sum(1 for v in missing if v >= 0.6 * top)
    focus = [t for t in ask.focus if weighted.get(t, 1.0) and t not in skip]
    filled = has_filler(filler_type(ask), figures_text(unit), given)
    # "Which *university*": a name of that kind must be there ("... University"), not any body.
    named = slot_kind == "organisation" and bool(
        term_set(ask.slot_noun) & (term_set(NAME_WORDS) - term_set(LOOSE_SLOT_NOUNS))
    )
    kin = term_set(
        " ".join([ask.slot_noun, *(v for k, v in NAME_KIN.items() if k in ask.slot_noun)])
    )
    noun_in_unit = bool(kin & term_set(f"{unit.display} {unit.context}"))
    if not ask.slot_noun:
        noun_missing = False
    elif named or not slot_kind:
        noun_missing = not noun_in_unit
    else:
        noun_missing = not has_filler(slot_kind, unit.display, given)
    return {
        "count_far": 1.0 if unit.kind == "text" and not counted_near(ask, unit.display) else 0.0,
        "members_missing": 1.0 if unit.kind == "text" and counted_only(ask, unit.display) else 0.0,
        "figure_hedged": 1.0 if unit.kind == "text" and hedged_only(ask, unit.display) else 0.0,
        "numbered_other": 1.0 if other_numbered(ask, unit, passages) else 0.0,
        "bias": 1.0,
        "best": score,
        "coverage_unit": coverage(weighted, f"{unit.context} {unit.display} {unit.notes}"),
        "coverage_all": coverage(weighted, everything),
        "missing_rare": max(missing, default=0.0) / top,
        "year_missing": 1.0 if missing_years(ask, unit, passages) else 0.0,
        "passage": float(doc.metadata.get("dense_score", 0.0)),
        "filler_missing": 0.0 if filled else 1.0,
        "named_filler_missing": 1.0 if ask.answer_type in NAMED_TYPES and not filled else 0.0,
        "slot_noun_missing": 1.0 if noun_missing else 0.0,
        "named_slot_missing": 1.0 if named and noun_missing else 0.0,
        "rare_missing_count": min(rare_missing, 3) / 3,
        "percent_missing": 1.0
        if ask.wants_percent and not re.search(r"%|per ?cent", unit.display, re.I)
        else 0.0,
        "focus_missing": len(set(focus) - term_set(f"{unit.display} {unit.context} {unit.notes}"))
        / len(focus)
        if focus
        else 0.0,
        "unknown_terms": min(sum(1 for v in weighted.values() if not v), 3) / 3,
    }


# Words a "%" unit stands for ("what *share* ...", "the *percentage* of ...").
PERCENT_WORDS = "percent percentage per cent share proportion"


def about_row(doc: Document, weighted: dict[str, float]) -> bool:
    """A question names a table row when the row's own label (category, indicator, unit,
    footnotes) holds most of its terms, not just the table's caption."""
    return row_coverage(doc, weighted) >= ABOUT_ROW


def unrelated_row(doc: Document, weighted: dict[str, float]) -> bool:
    """The row's label and its columns' names hold almost none of the question's terms: a
    figure of this row, for whatever year, answers some other question."""
    return row_coverage(doc, weighted, columns=True) < UNRELATED_ROW


def row_coverage(doc: Document, weighted: dict[str, float], columns: bool = False) -> float:
    """The share of the question's weighted terms in the row's own label (and, with `columns`,
    its columns' names: in a table of regions, "coverage" is a column). Words that name the
    document ("the Kestrel Harbour plan") say which table, not which row: they do not count."""
    row = record(doc)
    own = f"{row.get('category', '')} {row.get('label', '')} {row.get('unit', '')} " + " ".join(
        row.get("footnotes", [])
    )
    if columns:
        own += " " + " ".join(str(c.get("column", "")) for c in row.get("cells", []))
    if "%" in own:
        own += f" {PERCENT_WORDS}"
    meta = doc.metadata
    naming = term_set(f"{meta.get('title', '')} {meta.get('short_title', '')} "
                      f"{meta.get('publisher', '')}") - term_set(own)  # fmt: skip
    return coverage({t: w for t, w in weighted.items() if t not in naming}, own)


def confidence(parts: list[dict[str, float]], w: Weights) -> float:
    """Probability that the answer is right, from the parts' mean evidence."""
    mean = vectorise(parts)
    z = sum(w.confidence.get(name, 0.0) * v for name, v in zip(FEATURES, mean, strict=True))
    return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))


def vectorise(parts: list[dict[str, float]]) -> list[float]:
    """The mean features in FEATURES order: one row of the calibration data."""
    return [float(np.mean([p[name] for p in parts])) for name in FEATURES]


def record(doc: Document) -> dict[str, Any]:
    raw = doc.metadata.get("record")
    return json.loads(raw) if raw else {}
