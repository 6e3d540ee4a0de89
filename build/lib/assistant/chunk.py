"""Stage 2, chunk: structure-aware, token-aware passages with exact offsets and stable ids.

The document is read line by line. Headings (numbered sections, "(6) ...", "Box 2 ...",
markdown headings, roman numerals, short title lines, interview questions) build a heading
path; tab-separated tables become one chunk per row rendered with the column headers and the
table title; prose is packed by sentences up to `chunk_size` tiktoken tokens with an overlap.
On top of that, no chunk's embedded text may exceed the embedder's own token limit: chunks
that would are split again, so nothing is silently truncated.

Invariant: `chunk.text == document.text[chunk.start:chunk.end]`.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Literal

from assistant.load import SourceDocument
from assistant.text import Span, split_sentences, strip_superscripts

TokenCounter = Callable[[str], int]

_MD_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
_ROMAN = re.compile(r"^(?P<label>(?:X{0,3})(?:IX|IV|V?I{0,3}))\.\s*(?P<title>\S.*)$")
_NUMBERED = re.compile(r"^(?P<label>\d{1,2})\.\s*(?P<title>\S.*)$")
_PAREN = re.compile(r"^\((?P<label>\d{1,2})\)\s*(?P<title>\S.*)$")
_BOX = re.compile(r"^Box\s+\d+\b\s*(?P<title>.*)$")
_QUESTION = re.compile(r"^(?P<who>[A-Z][A-Za-z .]{1,30}?)\s*:\s*(?P<q>.+\?)\s*$")
_YEARLIKE = re.compile(r"^\(?\d{4}\)?$|^[\d.,%\-–—_ ]+$")

MAX_HEADING_WORDS = 14


@dataclass(frozen=True)
class Chunk:
    """One retrievable unit. `text` is the exact source span; `passage` is what readers see."""

    id: str
    source: str
    text: str
    start: int
    end: int
    heading: tuple[str, ...]
    kind: Literal["text", "table_row"]
    passage: str
    embed_text: str


@dataclass(frozen=True)
class ChunkingConfig:
    chunk_size: int = 220
    chunk_overlap: int = 32
    heading_in_embedding: bool = True


@dataclass
class _Line:
    start: int
    end: int
    text: str  # stripped

    @property
    def words(self) -> int:
        return len(self.text.split())


@dataclass
class _Group:
    """Consecutive prose lines that share one heading path."""

    heading: tuple[str, ...]
    lines: list[_Line] = field(default_factory=list)


@dataclass
class _Row:
    line: _Line
    heading: tuple[str, ...]
    rendered: str


def _lines(text: str) -> list[_Line]:
    out: list[_Line] = []
    pos = 0
    for raw in text.splitlines(keepends=True):
        body = raw.rstrip("\r\n")
        stripped = body.strip()
        if stripped:
            lead = len(body) - len(body.lstrip())
            out.append(_Line(pos + lead, pos + lead + len(stripped), stripped))
        pos += len(raw)
    return out


def _cells(line: str) -> list[str]:
    return [c.strip() for c in line.rstrip("\t").split("\t")]


def _is_table_line(raw: str) -> bool:
    return raw.count("\t") >= 2 and sum(1 for c in _cells(raw) if c) >= 3


def _looks_like_title(line: _Line, following: _Line | None) -> bool:
    """A short capitalised line with no closing punctuation, followed by a longer paragraph."""
    text = line.text
    if not (2 <= line.words <= MAX_HEADING_WORDS) or not text[0].isupper():
        return False
    if text[-1] in ".,;:!?" or "|" in text or "\t" in text or _YEARLIKE.match(text):
        return False
    return following is not None and following.words > line.words + 8


class _Outline:
    """The current heading path, as a stack of (kind, title), plus list numbering.

    Numbered headings nest by their sequence: a "1." met while a numbered section and a
    deeper level are open starts a sub-list ("(6) Key fields" > "1. New generation IT"),
    and the sub-list goes on while its numbers continue.
    """

    def __init__(self) -> None:
        self.stack: list[tuple[str, str]] = []
        self.last_number: dict[str, int] = {}

    def enter(self, kind: str, title: str) -> None:
        kinds = [k for k, _ in self.stack]
        if kind in kinds:
            del self.stack[kinds.index(kind) :]
        elif kind.startswith("md"):
            level = int(kind[2:])
            self.stack = [
                (k, t) for k, t in self.stack if not (k.startswith("md") and int(k[2:]) >= level)
            ]
        self.stack.append((kind, title))

    def number_kind(self, number: int) -> str:
        kinds = [k for k, _ in self.stack]
        if ("subnumber" in kinds and number == self.last_number.get("subnumber", 0) + 1) or (
            number == 1 and "number" in kinds and kinds[-1] != "number"
        ):
            kind = "subnumber"
        else:
            kind = "number"
        self.last_number[kind] = number
        return kind

    @property
    def path(self) -> tuple[str, ...]:
        return tuple(title for _, title in self.stack)


def _numbered_label(text: str) -> str | None:
    """The heading a numbered line stands for: the whole line when short, else the label
    before a colon ('1. New generation IT industry: ...') or a short lead sentence
    ('3.Implementation of pilot projects has taken root. The work ...')."""
    match = _NUMBERED.match(text)
    if not match:
        return None
    number, body = match.group("label"), match.group("title")
    if len(text.split()) <= MAX_HEADING_WORDS and not text.endswith("."):
        return f"{number}. {body.rstrip(':').strip()}"
    head, sep, _ = body.partition(":")
    if sep and len(head.split()) <= 10:
        return f"{number}. {head.strip()}"
    first = split_sentences(body)[0].text.rstrip(".")
    return f"{number}. {first}" if len(first.split()) <= 20 else None


class _Parser:
    """Turns a document into prose groups and table rows, tracking the heading path."""

    def __init__(self, document: SourceDocument) -> None:
        self.doc = document
        self.lines = _lines(document.text)
        self.outline = _Outline()
        self.groups: list[_Group] = []
        self.rows: list[_Row] = []

    def raw(self, line: _Line) -> str:
        return self.doc.text[line.start : line.end]

    def parse(self) -> tuple[list[_Group], list[_Row]]:
        tables, titles = self._table_regions()
        for i, line in enumerate(self.lines):
            if i in titles or i in tables:
                self.groups.append(_Group(self.outline.path))  # prose never spans a table
                if i in tables and line is not tables[i][0]:
                    self._add_row(line, *tables[i])
                continue
            following = self.lines[i + 1] if i + 1 < len(self.lines) else None
            heading, is_prose = self._heading(line, following)
            if heading:
                self.outline.enter(*heading)
            if is_prose:
                self._add_prose(line)
        return self.prose_groups(), self.rows

    def _heading(self, line: _Line, following: _Line | None) -> tuple[tuple[str, str] | None, bool]:
        """(heading to enter, whether the line is also prose)."""
        text = line.text
        short = line.words <= MAX_HEADING_WORDS and not text.endswith(".")
        if m := _MD_HEADING.match(text):
            return (f"md{len(m.group(1))}", m.group(2).strip()), False
        if (m := _ROMAN.match(text)) and m.group("label") and short:
            return ("roman", text), False
        if (m := _NUMBERED.match(text)) and (label := _numbered_label(text)):
            kind = self.outline.number_kind(int(m.group("label")))
            return (kind, label), not short
        if (
            _PAREN.match(text)
            and line.words <= 25
            and (not text.endswith(".") or (following and following.words > 8))
        ):
            return ("paren", text.rstrip(":.")), False
        if _BOX.match(text) and line.words <= MAX_HEADING_WORDS + 4:
            return ("box", text), False
        if (m := _QUESTION.match(text)) and len(m.group("who").split()) <= 3:
            return ("question", text), False
        if _looks_like_title(line, following):
            return ("title", text), False
        return None, True

    def _add_prose(self, line: _Line) -> None:
        heading = self.outline.path
        if not self.groups or self.groups[-1].heading != heading:
            self.groups.append(_Group(heading))
        self.groups[-1].lines.append(line)

    def prose_groups(self) -> list[_Group]:
        return [g for g in self.groups if g.lines]

    def _table_regions(self) -> tuple[dict[int, tuple[_Line, str]], set[int]]:
        """Rows of every table: line index -> (header line, table title); and title lines.

        A table starts at a tab-separated line with at least three cells and runs over the
        following tab-separated lines; a few non-table lines may interrupt it (page breaks
        put footnotes and the title between rows). The title is a short line inside or right
        before the table, else the current section heading.
        """
        regions: dict[int, tuple[_Line, str]] = {}
        titles: set[int] = set()
        n = len(self.lines)
        i = 0
        while i < n:
            if not _is_table_line(self.raw(self.lines[i])):
                i += 1
                continue
            members = [i]
            j, gap = i + 1, 0
            while j < n and gap <= 4:
                if _is_table_line(self.raw(self.lines[j])):
                    members.append(j)
                    gap = 0
                else:
                    gap += 1
                j += 1
            if len(members) < 3:
                i = members[-1] + 1
                continue
            around = [k for k in range(max(i - 2, 0), members[-1]) if k not in members]
            title_at = next((k for k in around if _is_table_title(self.lines[k])), None)
            title = ""
            if title_at is not None:
                titles.add(title_at)
                title = self.lines[title_at].text
            for k in members:
                regions[k] = (self.lines[i], title)
            i = members[-1] + 1
        return regions, titles

    def _add_row(self, line: _Line, header: _Line, title: str) -> None:
        heading = self.outline.path
        rendered = render_row(self.raw(header), self.raw(line), title or (heading[-1:] or ("",))[0])
        if rendered:
            self.rows.append(_Row(line, heading, rendered))


def _is_table_title(line: _Line) -> bool:
    text = line.text
    return 2 <= line.words <= MAX_HEADING_WORDS and text[0].isupper() and text[-1] not in ".:;,"


def _is_value_header(cell: str) -> bool:
    return bool(re.fullmatch(r"[\d./\-–% ]+|(?:19|20)\d\d\w*", cell))


def render_row(header_raw: str, row_raw: str, title: str) -> str:
    """'Title — Category — Indicator (%): 2013: 37; 2015: 50' from a header and a row."""
    header = _cells(header_raw)
    cells = _cells(row_raw)
    cells += [""] * (len(header) - len(cells))
    n_keys = next((i for i, h in enumerate(header) if _is_value_header(h)), 1) or 1
    keys = [strip_superscripts(c) for c in cells[:n_keys] if c and c not in "-_–—"]
    values = [
        f"{strip_superscripts(h) or f'column {i + 1}'}: {strip_superscripts(v)}"
        for i, (h, v) in enumerate(zip(header, cells, strict=False))
        if i >= n_keys and v and v not in "-_–—"
    ]
    extra = [strip_superscripts(v) for v in cells[len(header) :] if v]
    if not keys or not (values or extra):
        return ""
    label = " — ".join(k for k in (strip_superscripts(title), *keys) if k)
    return f"{label}: {'; '.join(values + extra)}"


def chunk_document(
    document: SourceDocument,
    config: ChunkingConfig,
    count_tokens: TokenCounter,
    count_embed_tokens: TokenCounter,
    max_embed_tokens: int,
) -> list[Chunk]:
    """Chunk one document. `count_tokens` sizes chunks (tiktoken); `count_embed_tokens` and
    `max_embed_tokens` are the embedder's own tokenizer and limit, enforced as a hard bound."""
    groups, rows = _Parser(document).parse()
    builder = _Builder(document, config, count_tokens, count_embed_tokens, max_embed_tokens)
    for row in rows:
        builder.add(row.heading, [Span(row.line.start, row.line.end, row.line.text)], row.rendered)
    for group in groups:
        for spans in _pack(group, config, count_tokens):
            builder.add(group.heading, spans, None)
    return sorted(builder.chunks, key=lambda c: (c.start, c.end))


def _group_sentences(group: _Group) -> list[Span]:
    out: list[Span] = []
    for line in group.lines:
        out.extend(split_sentences(line.text, offset=line.start))
    return out


def _pack(group: _Group, config: ChunkingConfig, count: TokenCounter) -> Iterable[list[Span]]:
    """Greedy packing of sentences up to chunk_size tokens, with sentence-level overlap."""
    sentences = [
        s for sentence in _group_sentences(group) for s in _split_long(sentence, config, count)
    ]
    sizes = [count(s.text) for s in sentences]
    current: list[int] = []
    total = 0
    for i, size in enumerate(sizes):
        if current and total + size > config.chunk_size:
            yield [sentences[k] for k in current]
            keep: list[int] = []
            kept = 0
            for k in reversed(current):
                if (
                    kept + sizes[k] > config.chunk_overlap
                    or kept + sizes[k] + size > config.chunk_size
                ):
                    break
                keep.insert(0, k)
                kept += sizes[k]
            current, total = keep, kept
        current.append(i)
        total += size
    if current:
        yield [sentences[k] for k in current]


def _split_long(span: Span, config: ChunkingConfig, count: TokenCounter) -> list[Span]:
    """Split a sentence longer than chunk_size at word boundaries."""
    if count(span.text) <= config.chunk_size:
        return [span]
    return _halve(span, lambda s: count(s.text) <= config.chunk_size)


def _halve(span: Span, fits: Callable[[Span], bool]) -> list[Span]:
    """Cut a span at the word boundary nearest its middle until every piece fits."""
    if fits(span) or len(span.text.split()) < 2:
        return [span]
    text = span.text
    middle = len(text) // 2
    cut = text.rfind(" ", 0, middle)
    if cut <= 0:
        cut = text.find(" ", middle)
    left = Span(span.start, span.start + len(text[:cut].rstrip()), text[:cut].rstrip())
    rest = text[cut:].lstrip()
    right = Span(span.end - len(rest), span.end, rest)
    return _halve(left, fits) + _halve(right, fits)


class _Builder:
    """Turns runs of spans into Chunks, enforcing the embedder's token limit."""

    def __init__(
        self,
        document: SourceDocument,
        config: ChunkingConfig,
        count_tokens: TokenCounter,
        count_embed_tokens: TokenCounter,
        max_embed_tokens: int,
    ) -> None:
        self.doc = document
        self.config = config
        self.count_tokens = count_tokens
        self.count_embed = count_embed_tokens
        self.max_embed = max_embed_tokens
        self.chunks: list[Chunk] = []
        self.seen: set[str] = set()

    def embed_text(self, heading: tuple[str, ...], passage: str) -> str:
        if not self.config.heading_in_embedding:
            return passage
        context = " > ".join(strip_superscripts(h) for h in (self.doc.short_title, *heading))
        return f"{context}\n{passage}"

    def add(self, heading: tuple[str, ...], spans: list[Span], rendered: str | None) -> None:
        start, end = spans[0].start, spans[-1].end
        text = self.doc.text[start:end]
        passage = rendered or text
        embed = self.embed_text(heading, passage)
        if self.count_embed(embed) > self.max_embed:
            if len(spans) > 1:
                middle = len(spans) // 2
                self.add(heading, spans[:middle], None)
                self.add(heading, spans[middle:], None)
                return
            if rendered is None and len(text.split()) > 1:
                whole = Span(start, end, text)
                pieces = _halve(
                    whole,
                    lambda s: self.count_embed(self.embed_text(heading, s.text)) <= self.max_embed,
                )
                for piece in pieces:
                    self.add(heading, [piece], None)
                return
            heading = heading[-1:]  # a heading path alone can be too long: keep the nearest
            embed = self.embed_text(heading, passage)
            if self.count_embed(embed) > self.max_embed:
                raise ValueError(f"{self.doc.source}: a unit of text exceeds the embedder limit")
        chunk_id = chunk_key(self.doc.source, embed)
        suffix = 1
        while chunk_id in self.seen:  # the same passage twice in one document
            suffix += 1
            chunk_id = chunk_key(self.doc.source, f"{embed}\x00{suffix}")
        self.seen.add(chunk_id)
        kind: Literal["text", "table_row"] = "table_row" if rendered else "text"
        self.chunks.append(
            Chunk(chunk_id, self.doc.source, text, start, end, heading, kind, passage, embed)
        )


def chunk_key(source: str, content: str) -> str:
    """Stable id: the same source and content always give the same id."""
    return hashlib.sha256(f"{source}\x00{content}".encode()).hexdigest()[:32]
