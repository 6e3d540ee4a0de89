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
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Literal

from assistant.ingest.load import SourceDocument
from assistant.ingest.outline import Item, OutlineBuilder, OutlineList, render_list
from assistant.ingest.tables import Row, Table, find_tables, raw_lines, render_row, row_record
from assistant.text import Span, split_sentences, strip_superscripts

TokenCounter = Callable[[str], int]

_MD_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
_ROMAN = re.compile(r"^(?P<label>(?:X{0,3})(?:IX|IV|V?I{0,3}))\.\s*(?P<title>\S.*)$")
_NUMBERED = re.compile(r"^(?P<label>\d{1,2})\.\s*(?P<title>\S.*)$")
_PAREN = re.compile(r"^\((?P<label>\d{1,2})\)\s*(?P<title>\S.*)$")
_BOX = re.compile(r"^Box\s+\d+\b\s*(?P<title>.*)$")
_QUESTION = re.compile(r"^(?P<who>[A-Z][A-Za-z .]{1,30}?)\s*:\s*(?P<q>.+\?)\s*$")
_LABELLED = re.compile(r"^[A-Z][a-z]+:\s")  # "Updated: ...", "Source: ..."
# A byline ("By Ana Ruiz", "Interview by Jonas Whitcombe for ...", "..., published 6 May 2026")
_BYLINE = re.compile(
    r"^(?:By|[A-Z][a-z]+(?: and [a-z]+)? by) [A-Z][a-z]|\b(?:published|posted|updated) (?:on )?\d"
)
_YEARLIKE = re.compile(r"^\(?\d{4}\)?$|^[\d.,%\-–—_ ]+$")

MAX_HEADING_WORDS = 14
MAX_PATH_WORDS = 24  # a heading longer than this is cut in the heading path


@dataclass(frozen=True)
class Chunk:
    """One retrievable unit. `text` is the exact source span; `passage` is what readers see."""

    id: str
    source: str
    text: str
    start: int
    end: int
    heading: tuple[str, ...]
    kind: Literal["text", "table_row", "list"]
    passage: str
    embed_text: str
    record: str = ""  # JSON: a table row's cells, or a list's items, with exact spans


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
    record: str


def _lines(text: str) -> list[_Line]:
    """The non-blank lines, each trimmed, with exact offsets."""
    out: list[_Line] = []
    for line in raw_lines(text):
        if line.text.strip():
            start, end = line.stripped_span
            out.append(_Line(start, end, text[start:end]))
    return out


def _looks_like_title(line: _Line, following: _Line | None) -> bool:
    """A short capitalised line with no closing punctuation, followed by a longer paragraph.
    A label and its value ("Updated: Oct 21, 2017 7:15 AM") is a dateline and "Interview by
    ..." a byline, not a title: text to quote ("who wrote it?")."""
    text = line.text
    if not (2 <= line.words <= MAX_HEADING_WORDS) or not text[0].isupper():
        return False
    if text[-1] in ".,;:!?" or "|" in text or "\t" in text or _YEARLIKE.match(text):
        return False
    if _LABELLED.match(text) or _BYLINE.search(text):
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
        elif kind.startswith("md"):  # closes the same or a deeper level, and all inside it
            level = int(kind[2:])
            ends = [
                i
                for i, (k, _) in enumerate(self.stack)
                if k.startswith("md") and int(k[2:]) >= level
            ]
            if ends:
                del self.stack[ends[0] :]
                self.last_number.clear()
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

    def continues(self, kind: str, number: int) -> bool:
        """Whether a "(4)" follows an open "(3)": the next item of a sequence, whatever its
        shape (the last item of a list is often followed by a short heading)."""
        kinds = [k for k, _ in self.stack]
        return kind in kinds and number == self.last_number.get(kind, -1) + 1

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
    if len(first.split()) > 20 and (cut := re.search(r"[,;]", first[20:])):
        first = first[: 20 + cut.start()]  # "1. Connect every school by 2023, starting with ..."
    return f"{number}. {first}" if len(first.split()) <= 20 else None


class _Parser:
    """Turns a document into prose groups, table rows and lists, tracking the heading path."""

    def __init__(self, document: SourceDocument) -> None:
        self.doc = document
        self.lines = _lines(document.text)
        self.outline = _Outline()
        self.tree = OutlineBuilder(document.short_title)
        self.groups: list[_Group] = []
        self.rows: list[_Row] = []

    def parse(self) -> tuple[list[_Group], list[_Row], list[OutlineList]]:
        tables = find_tables(self.doc.text)
        owned = {span for table in tables for span in table.lines}
        rows = {(row.start, row.end): (table, row) for table in tables for row in table.rows}
        for i, line in enumerate(self.lines):
            if (line.start, line.end) in owned:
                self.groups.append(_Group(self.outline.path))  # prose never spans a table
                if (line.start, line.end) in rows:
                    self._add_row(line, *rows[line.start, line.end])
                continue
            following = self.lines[i + 1] if i + 1 < len(self.lines) else None
            heading, is_prose = self._heading(line, following)
            span = Span(line.start, line.end, line.text)
            if heading:
                self.outline.enter(*heading)
                depth = len(self.outline.stack)
                self.tree.heading(heading[0], heading[1], span, depth, self.outline.path)
            if is_prose:
                self._add_prose(line)
                self.tree.paragraph(span, len(self.outline.stack))
        return self.prose_groups(), self.rows, self.tree.lists()

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
            (m := _PAREN.match(text))
            and line.words <= 25
            and (
                not text.endswith(".")
                or (following and following.words > 8)
                or self.outline.continues("paren", int(m.group("label")))
            )
        ):
            self.outline.last_number["paren"] = int(m.group("label"))
            return ("paren", text.rstrip(":.")), False
        if _BOX.match(text) and line.words <= MAX_HEADING_WORDS + 4:
            return ("box", text), False
        if (m := _QUESTION.match(text)) and len(m.group("who").split()) <= 3 and line.words <= 80:
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

    def _add_row(self, line: _Line, table: Table, row: Row) -> None:
        heading = self.outline.path
        title = (heading[-1:] or ("",))[0]
        record = json.dumps(row_record(table, row, title), ensure_ascii=False)
        self.rows.append(_Row(line, heading, render_row(table, row, title), record))


def chunk_document(
    document: SourceDocument,
    config: ChunkingConfig,
    count_tokens: TokenCounter,
    count_embed_tokens: TokenCounter,
    max_embed_tokens: int,
) -> list[Chunk]:
    """Chunk one document. `count_tokens` sizes chunks (tiktoken); `count_embed_tokens` and
    `max_embed_tokens` are the embedder's own tokenizer and limit, enforced as a hard bound."""
    groups, rows, lists = _Parser(document).parse()
    builder = _Builder(document, config, count_tokens, count_embed_tokens, max_embed_tokens)
    for row in rows:
        span = Span(row.line.start, row.line.end, row.line.text)
        builder.add_unit(row.heading, span, row.rendered, "table_row", row.record)
    for found in lists:
        first = found.items[0]
        span = Span(first.start, first.end, document.text[first.start : first.end])
        record = json.dumps(
            {"title": found.title, "kind": found.kind,
             "intro": _item_record(document, found.intro),
             "lead": _item_record(document, found.lead),
             "items": [_item_record(document, i) for i in found.items]},
            ensure_ascii=False,
        )  # fmt: skip
        builder.add_unit(found.heading, span, render_list(found), "list", record)
    for group in groups:
        for spans in _pack(group, config, count_tokens):
            builder.add(group.heading, spans)
    return sorted(builder.chunks, key=lambda c: (c.start, c.end, c.kind))


def _item_record(document: SourceDocument, item: Item | None) -> dict[str, object] | None:
    """A list item's label and exact span, as the answerer reads it from the index."""
    if item is None:
        return None
    return {"label": item.label, "raw": document.text[item.start : item.end],
            "start": item.start, "end": item.end}  # fmt: skip


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
    """Cut a span at the word boundary nearest its middle (at the middle character when it
    has no spaces) until every piece fits: hostile text becomes more pieces, never an error."""
    text = span.text
    if fits(span) or len(text) < 2:
        return [span]
    middle = len(text) // 2
    cut = text.rfind(" ", 0, middle)
    if cut <= 0:
        cut = text.find(" ", middle)
    if cut <= 0:
        cut = middle
    head = text[:cut].rstrip()
    left = Span(span.start, span.start + len(head), head)
    rest = text[cut:].lstrip()
    right = Span(span.end - len(rest), span.end, rest)
    return _halve(left, fits) + _halve(right, fits)


def _short_heading(title: str) -> str:
    words = strip_superscripts(title).split()
    cut = " ".join(words[:MAX_PATH_WORDS])
    return cut[:200] + ("…" if len(words) > MAX_PATH_WORDS or len(cut) > 200 else "")


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
        context = " > ".join(_short_heading(h) for h in (self.doc.short_title, *heading))
        return f"{context}\n{passage}"

    def fits(self, heading: tuple[str, ...], passage: str) -> bool:
        return self.count_embed(self.embed_text(heading, passage)) <= self.max_embed

    def add(self, heading: tuple[str, ...], spans: list[Span]) -> None:
        """Prose: split again (by sentences, then words, then characters) until it fits."""
        start, end = spans[0].start, spans[-1].end
        text = self.doc.text[start:end]
        if not self.fits(heading, text):
            if len(spans) > 1:
                middle = len(spans) // 2
                self.add(heading, spans[:middle])
                self.add(heading, spans[middle:])
                return
            if not self.fits(heading, "x"):  # a heading path alone can be too long
                heading = heading[-1:] if self.fits(heading[-1:], "x") else ()
            pieces = _halve(Span(start, end, text), lambda s: self.fits(heading, s.text))
            if len(pieces) > 1:
                for piece in pieces:
                    self.add(heading, [piece])
                return
        self._emit(heading, Span(start, end, text), text, "text", "")

    def add_unit(self, heading: tuple[str, ...], span: Span, rendered: str,
                 kind: Literal["table_row", "list"], record: str) -> None:  # fmt: skip
        """A table row or a list: one unit whose rendered text is shortened, never split."""
        if not self.fits(heading, rendered):
            heading = heading[-1:] if self.fits(heading[-1:], rendered) else ()
        while not self.fits(heading, rendered) and len(rendered) > 40:
            rendered = rendered[: int(len(rendered) * 0.8)].rsplit(" ", 1)[0] + " …"
        self._emit(heading, span, rendered, kind, record)

    def _emit(self, heading: tuple[str, ...], span: Span, passage: str,
              kind: Literal["text", "table_row", "list"], record: str) -> None:  # fmt: skip
        embed = self.embed_text(heading, passage)
        chunk_id = chunk_key(self.doc.source, embed)
        suffix = 1
        while chunk_id in self.seen:  # the same passage twice in one document
            suffix += 1
            chunk_id = chunk_key(self.doc.source, f"{embed}\x00{suffix}")
        self.seen.add(chunk_id)
        self.chunks.append(Chunk(chunk_id, self.doc.source, span.text, span.start, span.end,
                                 heading, kind, passage, embed, record))  # fmt: skip


def chunk_key(source: str, content: str) -> str:
    """Stable id: the same source and content always give the same id."""
    return hashlib.sha256(f"{source}\x00{content}".encode()).hexdigest()[:32]
