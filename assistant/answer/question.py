"""Chain step 2a, question analysis: what a question asks for, as data the answerer checks.

From the question alone: the answer type (a number, an amount of money, a date, a person, a
place, an organisation, a list, a definition, a reason), the years it asks about ("in 2013",
"the 2020 target", "in March 2017"), the count of a list it names ("the nine tasks"), the
noun naming the slot ("which *city*", "which *university*") and its content terms.

Every rule is a row in a table below, and each table has its own table-driven unit test.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache

from assistant.text import term_pairs, terms

AnswerType = str  # one of ANSWER_TYPES

ANSWER_TYPES = ("list", "money", "number", "date", "person", "place", "organisation",
                "definition", "reason", "other")  # fmt: skip

# (answer type, pattern): the first row that matches decides. Order matters: a list question
# that names a number ("the nine tasks") is a list, "how much funding" is money, not number.
TYPE_RULES: tuple[tuple[AnswerType, str], ...] = (
    (
        "definition",
        r"\b(what (is|are|was) (meant by|the (definition|meaning) of)|define|what does .+ (mean|stand for|refer to))\b",
    ),
    # "When does an outage count as an interruption?" asks for the condition, not a date
    ("definition", r"^\s*when (is|are|was|were|does|do|did|will|would) .+\b(counts?|counted|considered|regarded|treated|classed|classified|deemed)( [\w\-']+){0,3} as\b"),
    ("list", r"^\s*(list|name|enumerate|outline)\b(?! of)"),
    ("list", r"\bin what ways\b|\b(which|what) (kinds|types|sorts) of\b"),
    ("list", r"^\s*what (does|do|did) .+ (recommend|propose|suggest|call for)\s*\??\s*$"),
    # conditions to be met: "what must a vessel satisfy to ...", "what does it have to meet"
    ("list", r"^\s*what (must|does|do|should|would) .+\b(satisfy|meet|fulfil+)\b"),
    (
        "list",
        r"\b(what|which) (are|were) the\b(?!.*\b(target|value|figure|rate|number|share)s? (for|in|by)\b)",
    ),
    ("list", r"\b(what|which) (two|three|four|five|six|seven|eight|nine|ten|\d{1,2}) \w+"),
    (
        "list",
        r"^\s*(what|which|list|name)\b(?!.*\bhow many\b).*\bthe (two|three|four|five|six|seven|eight|nine|ten|\d{1,2}) (\w+ ){0,4}\w+s\b",
    ),
    (
        "list",
        r"^\s*(what|which) (?!(percentage|proportion|share|rate|ratio|number|amount|value|level|figure|year|date|kind|type)\b)([\w\-]+ ){0,4}[\w\-]+(s|ies)\b( (at|in|of|on|for|from|under) (the |its |their )?([\w\-']+ ){0,2}[\w\-']+)? (do|does|did|are|were|will|should|fall|have|has|belong)\b",
    ),
    ("money", r"\bhow much (money|funding|funds?|investment|capital|budget)\b|\bwhat sum\b"),
    ("money", r"\bwhat (is|was|are|were) the (budget|funding|cost|price|investment|capital)\b"),
    (
        "money",
        r"\bhow (large|big|much)\b.*\b(fund|funds|funding|budget|investment|capital|loans?|subsid(y|ies))\b",
    ),
    (
        "money",
        r"\b(funding|budget|investment|subsid(y|ies)|cost|spend|spent|invest(ed)?|allocat\w*|grant)\b.*\b(how much|amount|receive|get|total)\b",
    ),
    (
        "money",
        r"\b(how much|what amount)\b.*\b(funding|budget|investment|subsid(y|ies)|cost|spend|spent|invest(ed)?|money|yuan|dollars?)\b",
    ),
    (
        "date",
        # not "When X is meant, how does ...?", "When relaxing X, for which sectors ...?" nor
        # "What did they ask for when consulted?": that "when" sets a condition
        r"((?:^\s*|[,;:]\s*|\b(?:since|by|until|till|and) )when\b(?!.*,\s*(?:(?:for|in|of|on|at|to|by|from|with)\s+)?(how|what|which|who|where|why)\b)|\b(what|which) ((exact|precise|calendar|specific) )?(years?|dates?|months?|days?)|since when|how long ago)\b",
    ),
    # "What is the revised completion date for ...?"
    ("date", r"^\s*what (is|was|are|were) the ([\w\-]+ ){0,3}(dates?|deadlines?)\b"),
    ("number", r"\b(how (many|much|far|large|big|high|long)|by how much|how fast)\b|%"),
    (
        "number",
        r"\bwhat (percentage|proportion|share|rate|ratio|number|target|level|amount|value|figure|fraction|portion|cut|reduction|increase|index)\b",
    ),
    ("number", r"\b(percent|per ?cent|number of)\b"),
    (
        "number",
        r"\b(target|value|figure|rate|ratio|level|index|share|proportion)\b.*\b(19|20)\d\d\b",
    ),
    (
        "number",
        r"\b(19|20)\d\d\b.*\b(target|value|figure|rate|ratio|level|index|share|proportion)\b",
    ),
    # "who are the members ...?": the people (or bodies) of a group, one list
    ("list", r"^\s*who (are|were) (the|its|their) ([\w\-']+ ){0,2}(members|partners|trustees|directors|founders|winners|signatories|shareholders|owners)\b"),
    ("person", r"\b(who|whom|whose)\b"),
    (
        "person",
        r"\bwhat (is|was|are|were) the names? of (the |its |their )?([\w\-]+ ){0,3}?(chief|director|head|"
        r"minister|mayor|chair|chairman|chairwoman|chairperson|president|secretary|nurse|leader|"
        r"manager|officer|governor|premier|editor|author|translator|spokes(man|woman|person)|"
        r"founder|official)s?\b",
    ),
    (
        "person",
        r"\bwhich (official|minister|person|people|leader|premier|vice premier|expert|reporter|journalist|chair(man|person)?|head)\b",
    ),
    (
        "place",
        # "Where does the sector rank?" asks for a rank, not a place
        r"\b(where\b(?!.*\brank)|in which (city|province|country|region|place|town|district)|which (city|cities|province|provinces|country|countries|region|regions|place|town|district|location|airport|port|station))\b",
    ),
    (
        "organisation",
        r"\bwhich (ministry|ministries|company|companies|university|universities|department|departments|organi[sz]ations?|body|bodies|agency|agencies|institute|institution|firm|firms|bank|enterprise|enterprises|group|supplier|contractor|operator|provider|manufacturer|developer|vendor)\b",
    ),
    (
        "definition",
        r"\b(what (is|are|was) (meant by|the (definition|meaning) of)|define|what does .+ (mean|stand for|refer to)|how is .+ defined|how is .+ calculated)\b",
    ),
    ("reason", r"\b(why|for what reason|what (is|was) the (reason|purpose|aim|goal)|what for)\b"),
    ("definition", r"^\s*what (is|are) (a |an |the )?[\w&\- ]{2,60}\??\s*$"),
)
_TYPE_PATTERNS = tuple((kind, re.compile(p, re.IGNORECASE)) for kind, p in TYPE_RULES)

# The noun that names the slot ("which *university*", "what *tax* reductions"): the
# evidence should hold it (or, for people, places and organisations, a name of that kind).
SLOT_NOUN = re.compile(
    r"\b(?i:which|in which|at which|from which|what kind of|what type of)\s+(?:of the\s+)?"
    r"(?:[A-Z][\w\-]*\s+)*(?:(?:two|three|four|five|six|seven|eight|nine|ten|\d+)\s+)?"
    r"(?P<noun>[a-z][a-z\-]{2,})\b"
)
NOT_SLOT_NOUNS = frozenset(
    """
    is are was were do does did will would should can could has have had the a an this that
    these those year years date dates month day percentage proportion share rate ratio number
    amount value level figure target targets kind type way ways role goal goals main key
    new other measures steps progress calendar exact precise specific set sets pair pairs
    series batch batches
    """.split()  # noqa: SIM905
)
ADJECTIVE = re.compile(r"(?:ic|al|ive|ous|ful|ary)$")
NOT_HEAD = frozenset(
    """is are was were do does did will would should can could has have had be been of in on
    for to by at with from that which""".split()  # noqa: SIM905
)
# The words naming what is asked about the topic ("how much *funding*", "what is the
# *budget* of", "which *airport*", "what *sales target*"): an answer must speak of them.
FOCUS = (
    re.compile(
        r"\bhow (?:much|many)\s+(?!(?:did|do|does|is|are|was|were|will|should|has|have|had)\b)(?P<f>(?:[a-z][\w\-]*\s+){0,3}[a-z][\w\-]*)",
        re.I,
    ),
    # what a list counts: "what are the three *transformations* ... must go through"
    re.compile(
        r"^\s*(?:what|which) (?:are|were) the (?:two|three|four|five|six|seven|eight|nine|ten|\d{1,2})\s+(?P<f>(?:[a-z][\w\-]*\s+){0,2}?[a-z][\w\-]*s)\b",
        re.I,
    ),
    re.compile(
        r"\b(?:what|which) (?:is|was|are|were) the\s+(?P<f>(?:[a-z][\w\-]*\s+){0,1}?[a-z][\w\-]*)\s+(?:of|for|in|on|that|by|to|behind)\b",
        re.I,
    ),
    # A second word followed by a preposition is a verb ("What measures *fall* under ...").
    re.compile(
        r"\b(?i:what|which|in which|from which|at which)\s+(?:of the\s+)?(?:[A-Z][\w\-]*\s+)*(?P<f>[a-z][\w\-]*(?:\s+(?!is|are|was|were|do|does|did|will|would|should|can|could|may|might|must|shall|has|have|had)[a-z][\w\-]*\b(?!\s+(?:under|into|onto|from|with|within|to|at|by|on)\b))?)"
    ),
)
# Words that end what "how many ..." counts ("how many firms *from* Germany", "how many
# parks *are* ...").
FOCUS_END = frozenset(
    """
    is are was were do does did will would should can could has have had be been
    from in of for on at by with to under across per among into within since during
    """.split()  # noqa: SIM905
)
CLASSIFIER_OF = re.compile(r"\b(?:kinds?|types?|sorts?|categor(?:y|ies)|classes|forms) of\s+", re.I)
PLURAL = re.compile(r"[a-z]{2}(?<![su])s$", re.IGNORECASE)  # "guides", not "status" or "glass"
FOCUS_STOP = frozenset(
    """
    is are was were do does did will would should can could has have had be been being
    the a an this that these those it its their there
    one two three four five six seven eight nine ten eleven twelve
    """.split()  # noqa: SIM905
)
# "On what exact date", "which calendar day": a relative date ("on Wednesday", "earlier this
# month") does not answer it.
# A figure asked "exactly": "more than 20" or "about 40" does not give it.
EXACT_FIGURE = re.compile(r"\b(?:exact(?:ly)?|precise(?:ly)?)\b", re.IGNORECASE)
EXACT_DATE = re.compile(
    r"\b(?:exact(?:ly)?|precise(?:ly)?|calendar)\b.*\b(?:date|day)\b|\b(?:date|day)\b.*\bexact(?:ly)?\b"
    r"|\b(?:on|by) (?:what|which) dates?\b",
    re.IGNORECASE,
)
# "In which month ...": a year alone does not answer it; "in which year ...": nor does
# "last year".
MONTH_ASKED = re.compile(r"\b(?:what|which) month\b", re.IGNORECASE)
YEAR_ASKED = re.compile(r"\b(?:what|which) year\b", re.IGNORECASE)
# "Who chairs ...?", "Who signed ...?": the person is the answer. Not "who ... sell to?",
# where a buyer of any kind may be.
STRANDED = re.compile(r"\b(?:to|for|with|from|by)\s*\??\s*$", re.IGNORECASE)
WHO_SUBJECT = re.compile(rf"^\s*who\b(?!.*{STRANDED.pattern})", re.IGNORECASE)
# "What kind of enterprises ...?" asks for a description, not for the name of one.
KIND_OF = re.compile(r"\bwhat (?:kind|kinds|type|types|sort|sorts) of\b", re.IGNORECASE)
WANTS_PERCENT = re.compile(
    r"\b(what|which) (percentage|proportion|share|rate|ratio)\b|\bper ?cent\b", re.I
)

# A year the question asks about ("by 2020", "in 2013", "in March 2017", "the 2025 target"),
# as opposed to a year that is part of a name ("Made in China 2025").
MONTHS = (  # noqa: SIM905
    "January February March April May June July August September October November December "
    "Jan Feb Mar Apr Jun Jul Aug Sep Sept Oct Nov Dec"
).split()
MONTH_NAMES = "|".join(MONTHS)  # the alternation the date patterns share
# A financial or academic year ("2027/28", "2024-25") is one year token, not 2027 alone.
YEAR = re.compile(r"\b(?:19|20)\d\d(?:[/\-–]\d\d(?![\d\-/])|/(?:19|20)\d\d)?\b")
YEAR_BEFORE = re.compile(
    r"\b(?:by|in|for|from|to|until|till|since|during|before|after|between|and|through|of|the|a|"
    r"as of|end of|early|late|mid|on)\s+(?:(?:" + MONTH_NAMES + r")\s+(?:\d{1,2},?\s+)?)?$",
    re.IGNORECASE,
)
YEAR_AFTER = re.compile(
    r"^\s*(?:target|value|baseline|figure|level|goal|rate|data|numbers?|plan|objective|deadline)",
    re.I,
)
# A year a figure is compared with ("lower than in 2015", "compared with 2013") is its base,
# not the column asked about.
BASE_YEAR = re.compile(
    r"\b(?:than|compared (?:with|to)|relative to|versus|vs\.?)\s+(?:in\s+|the\s+)?$",
    re.IGNORECASE,
)
ARTICLE_BEFORE = re.compile(r"\b(?:the|a|its|their)\s+$", re.IGNORECASE)
# A year given with a month ("March 2017", "Oct 16, 2017"): the month, and the year.
MONTH_YEAR = re.compile(rf"\b({MONTH_NAMES})\.?\s+(?:\d{{1,2}},?\s+)?((?:19|20)\d\d)\b")
# A year that dates a document ("the 2015 plan", "the 2017 State Council release") or what
# someone said ("what did MIIT report in 2017?", "Miao Wei said in October 2017").
DOCUMENT_NOUNS = (
    "plan|report|release|article|interview|notice|document|strategy|statement|speech|"
    "briefing|review|paper|circular|announcement|press release|story"
)
DOCUMENT_AFTER = re.compile(
    rf"^(?:\s+(?:[A-Z][\w\-']*|'s))*\s+(?:{DOCUMENT_NOUNS})\b(?!\s+(?:target|value|goal|figure))",
)
SAID_BEFORE = re.compile(
    r"\b(?:say|says|said|report|reports|reported|state|states|stated|announce|announced|"
    r"write|wrote|note|noted|tell|told|publish|published)\s+(?:in|on)\s+"
    r"(?:(?:" + MONTH_NAMES + r")\.?\s+)?$",
    re.IGNORECASE,
)
OTHER_YEARS = re.compile(r"^(?:\s*(?:,|and|or)\s*(?:19|20)\d\d)+")
# A capitalised word right before a year makes it part of a name, unless it is a question
# or function word ("What 2015 value ...").
NAME_BEFORE = re.compile(
    r"\b(?!(?:What|Which|When|Where|Who|How|The|In|By|For|And|Of|As|Is|Was|Did|Does|Do)\s)"
    r"[A-Z][A-Za-z]*\s+$"
)

# A name with a number: "Tram Line 1", "Phase 2", "Box 4", "Step III" (no year: "China 2025").
NUMBERED_NAME = re.compile(r"\b([A-Z][a-z]+)\s+(\d{1,3}|[IVX]{1,4})\b(?![.,:]?\d)")

NUMBER_WORDS = {"two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
                "nine": 9, "ten": 10, "eleven": 11, "twelve": 12}  # fmt: skip
COUNT = re.compile(
    r"\b(?:the|which|what|are|these|those|its|their)\s+(?P<n>"
    + "|".join(NUMBER_WORDS)
    + r"|\d{1,2})\s+(?!percent|per|%)(?:[\w\-\"“”]+\s+){0,4}?[\w\-\"“”]+s\b",
    re.IGNORECASE,
)

# Words that say what kind of answer is wanted rather than what it is about.
QUESTION_WORDS = """
    many much date day dated describe described mention mentioned quote quoted according
    say said says refer refers call called name named list give given exact exactly kind
    type roughly approximately figure number what which who when where why how value
    target targets main key list items item title titled category categories sort sorts
"""


@lru_cache(maxsize=1)
def question_terms() -> frozenset[str]:
    """QUESTION_WORDS as terms before synonyms (made on first use, so importing loads no
    stemmer): "target" frames a table question ("the 2020 target for X"), but its synonym
    "aims" names what is asked ("the three aims of the plan")."""
    return frozenset(terms(QUESTION_WORDS, synonyms=False))


def content_terms(text: str) -> list[str]:
    """The text's terms without question words, each read as its synonym group."""
    return [read for plain, read in term_pairs(text) if plain not in question_terms()]


@dataclass(frozen=True)
class Ask:
    """What a question asks for."""

    text: str
    answer_type: AnswerType
    years: tuple[str, ...]
    count: int | None
    slot_noun: str
    terms: tuple[str, ...]  # content terms, question words and asked years removed
    dated: tuple[str, ...] = ()  # asked years given with a month ("March 2017"): a report's date
    focus: tuple[str, ...] = ()  # terms naming what is asked about the topic
    wants_percent: bool = False
    exact_date: bool = False  # a date asked "exactly": a relative one does not fill it
    names_person: bool = False  # the person is the answer ("who chairs ...?")
    month_asked: bool = False  # "in which month": a year alone does not fill it
    named: tuple[str, ...] = ()  # terms of the names the question gives ("Ice and Iron")
    # the numbered names the question gives: ("Line 1", "line", "1") for "Tram Line 1"
    numbered: tuple[tuple[str, str, str], ...] = ()
    year_asked: bool = False  # "in which year": a relative date ("last year") does not fill it

    @property
    def given(self) -> frozenset[str]:
        """What the question itself states (its terms and years): never new information."""
        return frozenset(self.terms) | frozenset(self.years)


def answer_type(question: str) -> AnswerType:
    """The first TYPE_RULES row that matches. A question on one numbered member of a list
    ("What is Step 2 of the three steps strategy?") asks for that member, not the list."""
    kinds = (kind for kind, p in _TYPE_PATTERNS if p.search(question))
    kind = next(kinds, "other")
    if kind == "list" and _one_of_counted(question):
        kind = next((k for k in kinds if k != "list"), "other")
    return kind


def _one_of_counted(question: str) -> bool:
    """The question names one numbered member ("Step 2") of what it counts ("three steps"),
    not a range of them ("the five boxes (Box 1 to Box 5)")."""
    counted = {t for m in COUNT.finditer(question) for t in terms(m.group())}
    words = [word for _, word, _ in numbered_names(question)]
    return any(words.count(word) == 1 and set(terms(word)) & counted for word in words)


def asked_years(question: str) -> tuple[str, ...]:
    """Years the question asks about, in order, without those that are part of a name."""
    years = []
    for match in YEAR.finditer(question):
        before, after = question[: match.start()], question[match.end() :]
        if (NAME_BEFORE.search(before) and not YEAR_BEFORE.search(before)) or BASE_YEAR.search(
            before
        ):
            continue
        listed = years and re.search(rf"{years[-1]}\s*(?:,|,?\s*and|,?\s*or)\s*$", before)
        if YEAR_BEFORE.search(before) or YEAR_AFTER.match(OTHER_YEARS.sub("", after)) or listed:
            years.append(match.group(0))
    return tuple(dict.fromkeys(years))


def asked_count(question: str, about: tuple[str, ...] = ()) -> int | None:
    """The size of the list a question names: 'the nine tasks' -> 9. Given what the list is
    of (its focus), a number counting something else is not its size ("which industries
    did the 97 pilot projects cover")."""
    for m in COUNT.finditer(question):
        classifier = CLASSIFIER_OF.match(question, m.end() - len(m.group().split()[-1]))
        if not about or classifier or set(about) & set(terms(m.group())):
            n = m.group("n").lower()
            return NUMBER_WORDS.get(n) or int(n)
    return None


def slot_noun(question: str) -> str:
    """The noun after "which": an adjective or a general word before it gives way to the head
    noun of its phrase ("which 12 *specific* indicators" -> "indicators", "which of the 15
    *key* milestone projects" -> "projects")."""
    m = SLOT_NOUN.search(question)
    if not m:
        return ""
    noun = m.group("noun").lower()
    if noun in NOT_SLOT_NOUNS or ADJECTIVE.search(noun):
        for word in question[m.end() :].split()[:3]:
            word = word.strip("?,.;:").lower()
            if (
                not re.fullmatch(r"[a-z][a-z\-]{2,}", word)
                or word in NOT_HEAD
                or word.endswith(("ed", "ly"))
            ):
                break
            noun = word
            if word.endswith("s"):
                break
    return "" if noun in NOT_SLOT_NOUNS or noun.endswith("ly") else noun  # "actually"


def dated_years(question: str) -> tuple[str, ...]:
    """Asked years that a document's date may stand for: a year given with a month ("in
    March 2017", "on Oct 16, 2017"), one that names a thing ("the 2015 guideline", as
    opposed to "the 2015 target"), one that dates a document ("the 2015 plan", "the May 2017
    State Council release") or a statement ("what did MIIT report in 2017?")."""
    found = [year for _, year in MONTH_YEAR.findall(question)]
    for match in YEAR.finditer(question):
        before, after = question[: match.start()], OTHER_YEARS.sub("", question[match.end() :])
        if (
            (ARTICLE_BEFORE.search(before) and not YEAR_AFTER.match(after))
            or DOCUMENT_AFTER.match(after)
            or SAID_BEFORE.search(before)
        ):
            found.append(match.group(0))
    return tuple(dict.fromkeys(found))


def date_words(question: str, dated: tuple[str, ...]) -> frozenset[str]:
    """Terms of the months that date a document or a statement ("the October 2017 article"),
    given its `dated` years: the document's date holds them, not its text."""
    months = MONTH_YEAR.findall(question)
    return frozenset(t for month, year in months if year in dated for t in terms(month))


def focus(question: str) -> tuple[str, ...]:
    """Terms of the words that say what is asked about the topic (see FOCUS). A classifier
    gives way to what it classifies: "what five categories of *materials*"."""
    question = CLASSIFIER_OF.sub("", question)
    for pattern in FOCUS:
        if m := pattern.search(question):
            said = list(
                itertools.takewhile(lambda w: w.lower() not in FOCUS_END, m.group("f").split())
            )
            # what is counted ends at its plural noun: "how many action *guides* belong to"
            plural = next((i for i, w in enumerate(said) if PLURAL.search(w)), None)
            if pattern is FOCUS[0] and plural is not None:
                said = said[: plural + 1]
            # after a plural, a word that is not one is a verb: "which organisations *sent*"
            if pattern is FOCUS[-1] and len(said) == 2 and plural == 0 and not PLURAL.search(said[1]):
                said = said[:1]
            words = [w for w in said if w.lower() not in FOCUS_STOP]
            found = tuple(content_terms(" ".join(words)))
            if found:
                return found
    return ()


def names(question: str) -> tuple[str, ...]:
    """Terms of the capitalised words after the question's first word: the names it gives
    ("Who curated the *Ice and Iron* exhibition?"), which an answer must be about."""
    capitalised = re.findall(r"(?<=\s)[A-Z][\w\-']*", question)
    return tuple(dict.fromkeys(content_terms(" ".join(capitalised))))


def numbered_names(question: str) -> tuple[tuple[str, str, str], ...]:
    """Each numbered name the question gives, as said, its word in lower case, its number."""
    return tuple((m.group(0), m.group(1).lower(), m.group(2))
                 for m in NUMBERED_NAME.finditer(question))  # fmt: skip


@lru_cache(maxsize=4096)
def analyse(question: str) -> Ask:
    kind = answer_type(question)
    years = asked_years(question)
    dated = dated_years(question)
    dating = date_words(question, dated)
    content = tuple(
        t for t in dict.fromkeys(content_terms(question)) if t not in years and t not in dating
    )
    focused = focus(question)
    count = asked_count(question, focused) if kind == "list" else None
    return Ask(question, kind, years, count, slot_noun(question), content,
               tuple(y for y in dated if y in years), focused,
               bool(WANTS_PERCENT.search(question)),
               kind == "date" and bool(EXACT_DATE.search(question)),
               kind == "person" and bool(WHO_SUBJECT.search(question)),
               kind == "date" and bool(MONTH_ASKED.search(question)), names(question),
               numbered_names(question),
               kind == "date" and bool(YEAR_ASKED.search(question)))  # fmt: skip


# A question may name the document it asks about ("in the China Daily report", "MIIT's
# report", "according to the Liaowang piece"): a name in capitals before one of these nouns,
# or "according to" a document's publisher. Not a verb: "did the council *release* the plan".
DOCUMENT_NOUNS = (
    "report article piece story interview notice plan release guideline guidelines document "
    "statement speech review strategy paper survey letter minutes decision notes"
)
_DOCUMENT_MENTION = re.compile(
    r"(?P<name>(?:[A-Z0-9][\w\-&'’]*\s+)*)(?:the\s+|this\s+|that\s+)?"
    rf"\b(?P<noun>(?i:{'|'.join(DOCUMENT_NOUNS.split())}))\b(?!\s+(?:the|a|an|its|their|that|this)\b)"
)
_ACCORDING_TO = re.compile(
    r"\b(?:according to|per)\s+(?:the\s+)?(?P<name>[A-Z][\w\-&'’]*(?:\s+[A-Z][\w\-&'’]*)*)"
)


@dataclass(frozen=True)
class Named:
    """How a document is named: its title, short title and publisher."""

    title: str
    short_title: str
    publisher: str


def document_mentions(question: str, documents: Mapping[str, Named]) -> list[tuple[str, str | None]]:
    """Each mention of a document in the question, by the name said, with the source it
    names: every term of the name is in that document's title, short title or publisher and
    no other's (the noun decides between two: "the MIIT *report*", not the interview with
    the MIIT minister), or the name is its publisher's ("according to China Daily"). A
    mention that names none of them ("the 2015 plan"), or more than one, names no source."""
    found: list[tuple[str, str | None]] = []
    for m in _DOCUMENT_MENTION.finditer(question):
        said = set(terms(m.group("name")))
        if not said:  # "the plan": no name, and no document looked at
            found.append(("", None))
            continue
        fits = [s for s, d in documents.items() if said <= _name_terms(d)[0]]
        if len(fits) > 1:
            fits = [s for s in fits if set(terms(m.group("noun"))) <= _name_terms(documents[s])[0]]
        found.append((m.group("name").strip(), fits[0] if len(fits) == 1 else None))
    for m in _ACCORDING_TO.finditer(question):
        said = set(terms(m.group("name")))
        fits = [s for s, d in documents.items() if said and said <= _name_terms(d)[1]]
        if len(fits) == 1:
            found.append((m.group("name"), fits[0]))
    return found


@lru_cache(maxsize=8192)
def _name_terms(document: Named) -> tuple[frozenset[str], frozenset[str]]:
    """The terms naming a document (title, short title, publisher), and its publisher's:
    read once per document, not once per question."""
    return (frozenset(terms(f"{document.title} {document.short_title} {document.publisher}")),
            frozenset(terms(document.publisher)))  # fmt: skip


def named_source(question: str, documents: Mapping[str, Named]) -> str | None:
    """The one document the question names, if it names one and mentions no other."""
    sources = {source for _, source in document_mentions(question, documents)}
    return sources.pop() if len(sources) == 1 else None
