"""Small text helpers shared by chunking, keyword search and the extractive answerer."""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

SUPERSCRIPTS = "⁰¹²³⁴⁵⁶⁷⁸⁹"
_SUPERSCRIPT_RE = re.compile(rf"\s*[{SUPERSCRIPTS}]+")

# Abbreviations after which a full stop does not end a sentence.
_ABBREVIATIONS = frozenset(
    """
    no nos mr mrs ms dr prof st co ltd inc e.g i.e etc vs u.s u.k fig art para vol jan feb
    mar apr jun jul aug sep sept oct nov dec
    """.split()  # noqa: SIM905
)
_BOUNDARY_RE = re.compile(
    r"(?<=[.!?])[\"”’)\]]*\s+(?=[\"“‘(\[]?[A-Z0-9])|(?<=;)\s+(?=\S)|(?<=[。！？；])"
)
# A sentence that opens by pointing back ("They cover ...") goes on from the one before.
POINTS_BACK = re.compile(
    r"^(It|They|These|Those|This|Such|Them|Their|Its|Among them|Of these|In addition|Specifically|"
    r"Namely|That is)\b"
)
_GLUED = re.compile(r"(?<=[a-z]{3})(?=[A-Z][a-z]{2})")  # "MainDifficulties" from a PDF
_WORD_RE = re.compile(r"[A-Za-z][A-Za-z0-9&'’\-]*|\d+(?:[.,]\d+)*%?|[\u4e00-\u9fff]")

STOPWORDS = frozenset(
    """
    a about above after again against all am an and any are as at be because been before
    being below between both but by can could did do does doing down during each few for
    from further had has have having he her here hers herself him himself his how i if in
    into is it its itself just me more most my myself no nor not now of off on once only or
    other our ours ourselves out over own same she should so some such than that the their
    theirs them themselves then there these they this those through to too under until up
    very was we were what when where which while who whom why will with would you your yours
    yourself yourselves also according say says said tell please give document documents
    """.split()  # noqa: SIM905
)


@dataclass(frozen=True)
class Span:
    """A piece of text with its character offsets in the text it was cut from."""

    start: int
    end: int
    text: str


def strip_superscripts(text: str) -> str:
    """Drop footnote markers such as '⁵' that would otherwise glue onto words."""
    return _SUPERSCRIPT_RE.sub("", text)


def split_sentences(text: str, offset: int = 0) -> list[Span]:
    """Split into sentences, keeping exact offsets; abbreviation-aware, never loses text."""
    spans: list[Span] = []
    start = 0
    for match in _BOUNDARY_RE.finditer(text):
        cut = match.start()
        candidate = text[start:cut].rstrip()
        last_word = re.search(r"([A-Za-z.]+)\.[\"”’)\]]*$", candidate)
        if last_word and last_word.group(1).lower() in _ABBREVIATIONS:
            continue
        if len(candidate.strip()) < 2:
            continue
        spans.extend(_trimmed(text, start, cut, offset))
        start = match.end()
    spans.extend(_trimmed(text, start, len(text), offset))
    return spans


def _trimmed(text: str, start: int, end: int, offset: int) -> Iterator[Span]:
    piece = text[start:end]
    stripped = piece.strip()
    if stripped:
        lead = len(piece) - len(piece.lstrip())
        begin = start + lead
        yield Span(offset + begin, offset + begin + len(stripped), stripped)


def words(text: str) -> list[str]:
    """Lower-cased word tokens; CJK characters count as one token each."""
    out = []
    for word in _WORD_RE.findall(_GLUED.sub(" ", strip_superscripts(text))):
        word = word.lower()
        if word.endswith(("'s", "’s")):
            word = word[:-2]
        out.append(word.strip("'’-"))
    return out


def terms(text: str, synonyms: bool = True) -> list[str]:
    """Content terms for keyword matching: words without stopwords, spelling normalised,
    Snowball-stemmed, and (with `synonyms`) a close synonym read as its group's first word
    (see SYNONYMS). Keyword search ranks without synonyms: merging them there moves
    passages that the question's own words find best."""
    return [read if synonyms else plain for plain, read in term_pairs(text)]


def term_pairs(text: str) -> list[tuple[str, str]]:
    """Each content word's term as written (stemmed) and as the answerer reads it (see
    `terms`): keyword search ranks on the first, question words are removed by it, and
    everything else in the answerer reads the second."""
    return [(_term(w), _read_as(w)) for w in words(text) if w not in STOPWORDS and w]


@functools.lru_cache(maxsize=200_000)
def _term(word: str) -> str:
    return stem(normalise_spelling(word))


@functools.lru_cache(maxsize=200_000)
def _read_as(word: str) -> str:
    """The word's term as the answerer reads it: its synonym group's, unless it is an agent
    noun its group does not list (see _AGENT_NOUN)."""
    if _AGENT_NOUN.search(word) and word not in _synonym_words():
        return _term(word)
    return synonym(_term(word))


def synonym(term: str) -> str:
    """The term its SYNONYMS group is read as ("firm" -> "compani")."""
    return _synonyms().get(term, term)


# Words that mean the same in policy and business writing, one group a line: a question
# says "firms" or "big companies" where a document says "enterprises" or "large
# enterprises". Only words that stand in for each other in nearly every use; a word with
# a second common sense that means something else ("national" is no "country") stays out.
SYNONYMS = """
company companies firm firms enterprise enterprises
big large
fraction share proportion percentage
help helps helped assist assists assisted assistance aid
head heads headed lead leads led
goal goals target targets aim aims objective objectives
cut cuts reduce reduces reduced reduction reductions decrease decreases decreased drop drops dropped decline declines declined
rise rises rose increase increases increased grow grows grew growth
build builds built construct constructs constructed construction
smart intelligent
foreign overseas
employee employees staff worker workers
begin begins began start starts started commence commenced
buy buys bought purchase purchases purchased
laboratory laboratories lab labs
approve approves approved approval ratify ratifies ratified
2 second
3 third
4 fourth
5 fifth
6 sixth
7 seventh
8 eighth
9 ninth
10 tenth
"""


# A noun for a doer or a device may share its verb's stem but not its sense: "RV reducers"
# cut nothing, "purchasers" are no purchase (unless its group lists it: "workers").
_AGENT_NOUN = re.compile(r"(?:er|or)s?$")


@functools.cache
def _synonym_words() -> frozenset[str]:
    return frozenset(SYNONYMS.split())


@functools.cache
def _synonyms() -> dict[str, str]:
    """Each SYNONYMS word's stem -> its group's first stem."""
    table: dict[str, str] = {}
    for line in SYNONYMS.strip().splitlines():
        stems = [stem(normalise_spelling(w)) for w in line.split()]
        table.update((s, stems[0]) for s in stems[1:] if s != stems[0])
    return table


@functools.cache
def _stemmer() -> Any:
    import Stemmer

    return Stemmer.Stemmer("english")


@functools.lru_cache(maxsize=200_000)
def stem(word: str) -> str:
    """Snowball (Porter 2) stem: 'centres'/'centre', 'funding'/'funded' meet."""
    if word.isdigit() or len(word) <= 3:
        return word
    return str(_stemmer().stemWord(word))


def normalise_spelling(text: str) -> str:
    """British and American spellings meet in one form, e.g. 'centre' and 'center'."""
    text = re.sub(r"(?i)\b(cent|fib|met|lit|theat)re(s?)\b", r"\1er\2", text)
    text = re.sub(r"(?i)\bprogramme(s?)\b", r"program\1", text)
    text = re.sub(r"(?i)\b(lab|fav|behavi|col|neighb|harb|hon|rum|vig)our", r"\1or", text)
    return re.sub(r"(?i)\b(\w{3,})is(ation|ations|e|es|ed|ing)\b", r"\1iz\2", text)
