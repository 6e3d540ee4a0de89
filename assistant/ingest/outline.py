"""Stage 2b, outline: a document's tree of sections, and the lists that tree holds.

The chunker reports every heading it enters (with its depth) and every prose line; this
module builds the tree from them and finds the enumerations a reader would call a list:

- sibling headings of one kind under one parent ("(1) ... (9)" under "3. Strategic tasks");
- every box of a document, and every interview question;
- runs of bullet lines ("- Be innovation-driven: ..."), a bullet whose dash was lost included
  when it has the same "Label: text" shape;
- runs of paragraphs that open with a short lead sentence ("Let the market lead with
  government guidance. Comprehensively ...");
- ordinal paragraphs ("The first is ...", "The second is ...", "Step 2: ...");
- enumerations inside a sentence that say how many they hold ("four development guides—new
  materials, information industry, pharmaceutical industry and manufacturing talents").

Every item keeps the exact span of its label, so an answer can cite each item.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from assistant.text import POINTS_BACK, Span, split_sentences

MD_HASHES = re.compile(r"^#{1,6}\s+")  # a markdown heading's marks are no part of its name
# A dash or dot, or a letter or small roman numeral ("a)", "(b)", "iv)"): numbers are headings.
BULLET = re.compile(r"^(?:[-–—•·*▪◦]|\(?(?:[a-z]|[ivx]{1,4})\))\s+")
LABEL_COLON = re.compile(r"^(?P<label>[^:：.]{2,60}?)\s*[:：]\s+\S")
ORDINALS = ("first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth",
            "ninth", "tenth")  # fmt: skip
ORDINAL = re.compile(
    r"^(?:the\s+(?P<a>" + "|".join(ORDINALS) + r")\s+(?:is|was|are|were)\b|"
    r"(?P<b>" + "|".join(ORDINALS) + r")(?:ly)?\s*[,:]|step\s+(?P<c>\d{1,2})\s*:)",
    re.IGNORECASE,
)
NUMBER_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine",
                "ten", "eleven", "twelve")  # fmt: skip
MAX_LABEL_WORDS = 14
MAX_LEAD_WORDS = 12
MIN_RUN = 3  # lead-sentence paragraphs needed to call a run a list
MAX_INLINE_ITEM_WORDS = 8
# "<count> <up to four words>" then a dash, a colon, "namely"/"including"/"such as", or "to
# <verb>"; or "<count> <up to ten words>:" ("three new companies were formed this year:"). The
# items follow, separated by commas, the last after "and" or "or".
INLINE = re.compile(
    r"\b(?P<count>(?i:two|three|four|five|six|seven|eight|nine|ten|eleven|twelve)|[2-9]|1[0-2])"
    r"(?:(?P<noun>(?:\s+[A-Za-z][\w-]*){1,4}?)"
    r"\s*(?P<sep>[—–:]\s*|,?\s+(?:namely|including|such as)\s+|\s+to\s+[a-z]+\s+(?:the\s+)?)"
    r"|(?:\s+[\w'’-]+){5,10}?\s*:\s*)"
)
# Where the clause that announces an inline list begins: after the sentence's last comma,
# semicolon or "and" before the count ("To achieve this, the board has agreed three ...").
CLAUSE_START = re.compile(r"(?:[,;]\s+(?:and\s+|but\s+)?)")
# The final item after an Oxford comma (", and"): earlier items may hold "and" themselves.
OXFORD = re.compile(r",\s+(?:and|or)\s+")


@dataclass(frozen=True)
class Item:
    label: str  # for display: whitespace normalised
    start: int  # exact span of the label in the document
    end: int


@dataclass(frozen=True)
class OutlineList:
    title: str  # what the list is of: its parent heading, or a description
    heading: tuple[str, ...]  # heading path of the list's parent
    kind: str
    items: tuple[Item, ...]
    intro: Item | None = None  # the sentence that announces it ("The focus is on four aspects.")
    lead: Item | None = None  # an inline list's own clause before its items ("We run four ...")


@dataclass
class Node:
    kind: str  # a heading kind ("number", "paren", "box", "md2", ...) or "para"
    title: str
    span: Span
    children: list[Node] = field(default_factory=list)
    path: tuple[str, ...] = ()


ENUMERATOR = re.compile(r"^(?:\(\d{1,2}\)|\d{1,2}[.)]|[IVX]{1,4}\.|Box\s+\d+)\s*")
NOTE = re.compile(r"^\s*(?:[⁰¹²³⁴⁵⁶⁷⁸⁹]+|\[\d{1,3}\]|Translator's note\b|Note:)")  # a footnote line
SPEAKER = re.compile(r"^[^:：?]{1,40}[:：]\s*")


def label_span(span: Span, whole_sentence: bool = False) -> Span:
    """The part of a line that names an item: the whole short line, the label before a
    colon, or the first sentence (`whole_sentence`: always the first sentence). An
    enumerator ("(1)", "2.") is kept, a bullet dash or markdown "###" is not."""
    text = span.text
    if bullet := BULLET.match(text) or MD_HASHES.match(text):
        text, offset = text[bullet.end() :], span.start + bullet.end()
    else:
        offset = span.start
    enumerator = ENUMERATOR.match(text)
    skip = enumerator.end() if enumerator else 0
    body = text[skip:]
    if not whole_sentence and len(body.split()) <= MAX_LABEL_WORDS and body[-1:] != ".":
        label = text
    elif (
        not whole_sentence
        and (m := LABEL_COLON.match(body))
        and len(m.group("label").split()) <= 10
    ):
        label = text[: skip + m.end("label")]
    else:
        sentences = split_sentences(body)
        first = sentences[0].text if sentences else body
        if len(first.split()) > 3 * MAX_LABEL_WORDS and (cut := re.search(r"[,;:]", first[20:])):
            first = first[: 20 + cut.start()]
        label = text[: skip + body.index(first) + len(first)]
    label = label.rstrip(" .:;：")
    return Span(offset, offset + len(label), label)


def _item(span: Span, whole_sentence: bool = False) -> Item:
    return _item_of(label_span(span, whole_sentence))


def _item_of(span: Span) -> Item:
    """An item whose label is exactly `span`, its whitespace normalised for display."""
    return Item(" ".join(span.text.split()), span.start, span.end)


def _question(span: Span) -> Item:
    """An interview question without its speaker ("Liao Wang: ...")."""
    m = SPEAKER.match(span.text)
    skip = m.end() if m else 0
    text = span.text[skip:].rstrip()
    return _item_of(Span(span.start + skip, span.start + skip + len(text), text))


class OutlineBuilder:
    """Fed by the chunker's parser, in document order."""

    def __init__(self, title: str) -> None:
        self.root = Node("root", title, Span(0, 0, ""))
        self.stack: list[Node] = [self.root]

    def heading(self, kind: str, title: str, span: Span, depth: int, path: tuple[str, ...]) -> None:
        """A heading entered at `depth` (1 = top level); `path` is the heading path after it."""
        del self.stack[depth:]
        node = Node(kind, title, span, path=path)
        self.stack[-1].children.append(node)
        self.stack.append(node)

    def paragraph(self, span: Span, depth: int) -> None:
        del self.stack[depth + 1 :]
        parent = self.stack[-1]
        parent.children.append(Node("para", span.text, span, path=parent.path))

    def lists(self) -> list[OutlineList]:
        found: list[OutlineList] = []
        self._walk(self.root, found)
        for kind, title, make in (
            ("box", "Boxes", _item),
            ("question", "Questions asked", _question),
        ):
            nodes = [n for n in self._all(self.root) if n.kind == kind]
            if len(nodes) >= 2:
                found.append(OutlineList(title, (), kind, tuple(make(n.span) for n in nodes)))
        return found

    def _all(self, node: Node) -> list[Node]:
        out = []
        for child in node.children:
            out.append(child)
            out.extend(self._all(child))
        return out

    def _walk(self, node: Node, found: list[OutlineList]) -> None:
        headings = [c for c in node.children if c.kind != "para"]
        for kind in dict.fromkeys(c.kind for c in headings):
            same = [c for c in headings if c.kind == kind]
            if len(same) >= 2 and kind not in ("box", "question", "title"):
                found.append(OutlineList(node.title, node.path, kind,
                                         tuple(_item(c.span) for c in same),
                                         _opening(node, same[0])))  # fmt: skip
        paragraphs = [c for c in node.children if c.kind == "para" and not NOTE.match(c.title)]
        # A box set into a section (a page-layout insert) may split the section's own run
        # of items: the box's lead-sentence paragraphs after its text continue that run.
        boxed = [p for c in headings if c.kind == "box" for p in c.children if p.kind == "para"]
        found.extend(
            _paragraph_lists(node, sorted(paragraphs + _leads(boxed), key=lambda p: p.span.start))
        )
        for paragraph in paragraphs:
            found.extend(inline_lists(paragraph.span, node.path))
            found.extend(ordinal_sentences(paragraph.span, node.title, node.path))
        for child in headings:
            self._walk(child, found)


def _paragraph_lists(parent: Node, paragraphs: list[Node]) -> list[OutlineList]:
    out = []
    for kind, run in (
        ("bullet", _bullet_run(paragraphs)),
        ("labelled", _labelled_run(paragraphs)),
        ("ordinal", _ordinal_run(paragraphs)),
        ("lead", _lead_run(paragraphs)),
    ):
        if run:
            whole = kind not in ("bullet", "labelled")
            items = tuple(_item(p.span, whole) for p in run)
            out.append(
                OutlineList(parent.title, parent.path, kind, items, _intro(run[0], paragraphs))
            )
    return out


def _intro(first: Node, paragraphs: list[Node]) -> Item | None:
    """The sentence just before a list's first item: in its own paragraph, or the last one
    of the paragraph before; with the sentence before it, when it points back ("They cover
    ...")."""
    before = [p for p in paragraphs if p.span.end <= first.span.start]
    if not before:
        return None
    paragraph = before[-1].span
    sentences = [
        s
        for s in split_sentences(paragraph.text, offset=paragraph.start)
        if s.end <= first.span.start
    ]
    if not sentences:
        return None
    start = sentences[
        -2 if len(sentences) > 1 and POINTS_BACK.match(sentences[-1].text) else -1
    ].start
    end = sentences[-1].end
    at = start - paragraph.start
    return _item_of(Span(start, end, paragraph.text[at : at + end - start]))


def _opening(node: Node, first: Node) -> Item | None:
    """The sentence that announces the items ("... three galleries were refurbished:") when
    one ends in a colon just before them; else the first sentence under the heading, when it
    comes before the heading's first item."""
    paragraphs = [c for c in node.children if c.kind == "para"]
    announced = _intro(first, paragraphs)
    if announced is not None and announced.label.endswith(":"):
        return announced
    opening = next(iter(paragraphs), None)
    if opening is None or opening.span.start > first.span.start:
        return None
    sentences = split_sentences(opening.span.text, offset=opening.span.start)
    return _item_of(sentences[0]) if sentences else None


def _first_run(paragraphs: list[Node], accept: Callable[[Node, list[Node]], bool]) -> list[Node]:
    """The first run of two or more consecutive paragraphs that `accept` takes (it also sees
    the run so far)."""
    run: list[Node] = []
    for p in paragraphs:
        if accept(p, run):
            run.append(p)
        elif len(run) >= 2:
            break
        else:
            run = []
    return run if len(run) >= 2 else []


def _short_label(p: Node) -> bool:
    """The paragraph opens with a short label and a colon ("Robotics: Focus on ..."), not a
    sentence that announces something ("Two new tugs were ordered during the year: ...")."""
    m = LABEL_COLON.match(p.span.text)
    return bool(m) and len(m.group("label").split()) <= 6


def _labelled_run(paragraphs: list[Node]) -> list[Node]:
    """Paragraphs that each open with a short label and a colon."""
    return _first_run(paragraphs, lambda p, _: _short_label(p) and not BULLET.match(p.span.text))


def _bullet_run(paragraphs: list[Node]) -> list[Node]:
    """Bullet lines, and a line of the same "Label: text" shape whose dash was lost."""
    return _first_run(
        paragraphs, lambda p, run: bool(BULLET.match(p.span.text) or (run and _short_label(p)))
    )


def ordinal_of(text: str) -> int:
    """1 for 'The first is ...', 'First, ...' or 'Step 1: ...'; 0 when not ordinal."""
    m = ORDINAL.match(text)
    if not m:
        return 0
    if m.group("c"):
        return int(m.group("c"))
    return ORDINALS.index((m.group("a") or m.group("b")).lower()) + 1


def _ordinal_run(paragraphs: list[Node]) -> list[Node]:
    """Paragraphs numbered by ordinals; other paragraphs may come between them."""
    run: list[Node] = []
    expected = 1
    for i, p in enumerate(paragraphs):
        n = ordinal_of(p.span.text)
        if n == 2 and not run and i > 0:  # "The first is ..." sits inside the paragraph before
            opening = paragraphs[i - 1].span
            sentences = split_sentences(opening.text, offset=opening.start)
            first = next((s for s in sentences if ordinal_of(s.text) == 1), None)
            if first is not None:
                run.append(Node("para", first.text, first, path=p.path))
                expected = 2
        if n and n == expected:
            run.append(p)
            expected = n + 1
    return run if len(run) >= 2 else []


def ordinal_sentences(span: Span, title: str, path: tuple[str, ...] = ()) -> list[OutlineList]:
    """Ordinal sentences inside one paragraph ("... the following aspects: first, ... The
    second is ... The third is ..."): each item is its whole sentence, from the ordinal; the
    words before such a colon, or else the sentence before, introduce the list."""
    pieces: list[Span] = []
    heads: list[Span | None] = []  # the words before the colon that opens a piece
    for sentence in split_sentences(span.text, offset=span.start):
        colon = AFTER_COLON.search(sentence.text)
        at = colon.end() if colon and ordinal_of(sentence.text[colon.end() :]) == 1 else 0
        pieces.append(Span(sentence.start + at, sentence.end, sentence.text[at:]))
        head = sentence.text[:at].rstrip()
        heads.append(Span(sentence.start, sentence.start + len(head), head) if at else None)
    items: list[Item] = []
    intro: Item | None = None
    for k, piece in enumerate(pieces):
        n = ordinal_of(piece.text)
        if n == 1:
            items = [_item_of(_trim_end(piece))]
            head = heads[k] or (pieces[k - 1] if k else None)
            intro = _item_of(head) if head else None
        elif n and n == len(items) + 1:
            items.append(_item_of(_trim_end(piece)))
    return [OutlineList(title, path, "ordinal", tuple(items), intro)] if len(items) >= 2 else []


AFTER_COLON = re.compile(r"[:：]\s+(?=\S)")


def _trim_end(span: Span) -> Span:
    text = span.text.rstrip().rstrip(".;")
    return Span(span.start, span.start + len(text), text)


def _has_lead(p: Node) -> bool:
    """A paragraph that opens with a short lead sentence ("Keep costs low. Every ...")."""
    sentences = split_sentences(p.span.text)
    lead = sentences[0].text if sentences else ""
    return (
        len(sentences) >= 2
        and len(lead.split()) <= MAX_LEAD_WORDS
        and lead[:1].isupper()
        and not BULLET.match(lead)
        and not ordinal_of(lead)
    )


def _leads(paragraphs: list[Node]) -> list[Node]:
    """The trailing lead-sentence paragraphs of a box (its own text comes first)."""
    tail: list[Node] = []
    for p in reversed(paragraphs):
        if not _has_lead(p):
            break
        tail.insert(0, p)
    return tail if len(tail) < len(paragraphs) else []


def _lead_run(paragraphs: list[Node]) -> list[Node]:
    """The longest run of paragraphs that open with a short lead sentence."""
    best: list[Node] = []
    run: list[Node] = []
    for p in paragraphs:
        if _has_lead(p):
            run.append(p)
            if len(run) > len(best):
                best = list(run)
        else:
            run = []
    return best if len(best) >= MIN_RUN else []


def inline_lists(span: Span, path: tuple[str, ...] = ()) -> list[OutlineList]:
    """Enumerations inside sentences that hold as many items as they announce. The list's
    title is the clause that announces it ("the Trust Board has agreed three priorities"),
    except after "to <verb>", where it is the count and its noun ("two corridors")."""
    out = []
    sentences = split_sentences(span.text, offset=span.start)
    for k, sentence in enumerate(sentences):
        for m in INLINE.finditer(sentence.text):
            count = m.group("count")
            n = int(count) if count.isdigit() else NUMBER_WORDS.index(count.lower())
            items = _inline_items(sentence, sentence.start + m.end(), n)
            if len(items) != n:
                continue
            lead = None
            if m.group("sep") and m.group("sep").lstrip().startswith("to "):
                title = f"{count} {' '.join(m.group('noun').split())}"
            else:
                starts = [c.end() for c in CLAUSE_START.finditer(sentence.text, 0, m.start())]
                begin = (starts or [0])[-1]
                text = sentence.text[begin : m.end()]
                text = re.sub(r"\s*(?:[—–:]|,?\s+(?:namely|including|such as))\s*$", "", text)
                at = sentence.start + begin
                lead = _item_of(Span(at, at + len(text), text))  # quoted before the items
                title = lead.label
            # The sentence before often says what the items are part of.
            before = _item_of(sentences[k - 1]) if k else None
            out.append(OutlineList(title, path, "inline", tuple(items), before, lead))
    return out


def _inline_items(sentence: Span, start: int, n: int) -> list[Item]:
    """The `n` items from `start`, read after an Oxford comma (", and") when that gives `n`,
    else as comma-separated items, the one after "and"/"or" the last. Empty when an item is
    too long to be a list item."""
    text = sentence.text[start - sentence.start :]
    oxford = _oxford_items(text, start)
    return oxford if len(oxford) == n else _plain_items(text, start)


def _oxford_items(text: str, start: int) -> list[Item]:
    """After an Oxford comma the last item runs to the clause's end ("a cleaner, quieter
    harbour"), and earlier ones may hold "and" ("faster loading and unloading")."""
    oxford = OXFORD.search(text)
    if not oxford:
        return []
    pieces, at = [], start
    for chunk in re.split(r"(?<=,)", text[: oxford.start()]):
        pieces.append((chunk.rstrip(","), at))
        at += len(chunk)
    pieces.append((text[oxford.end() :], start + oxford.end()))
    items = []
    for piece, at in pieces:
        item = _clause_item(piece, at)
        if item is None:
            return []
        items.append(item)
    return items


def _plain_items(text: str, start: int) -> list[Item]:
    items: list[Item] = []
    at = start
    for chunk in re.split(r"(?<=,)", text):
        piece = chunk.rstrip(",")
        last = re.match(r"\s*(?:and|or)\s+", piece)
        if last:
            piece, at = piece[last.end() :], at + last.end()
        elif m := re.search(r"\s+(?:and|or)\s+", piece):  # "b and c": two items, the end
            items.append(_inline_item(piece[: m.start()], at))
            piece, at, last = piece[m.end() :], at + m.end(), m
        item = _clause_item(piece, at)
        if item is None:
            return []
        items.append(item)
        if last:
            return items
        at += len(chunk)
    return []


def _clause_item(piece: str, at: int) -> Item | None:
    """An item up to the end of its clause (";", ".", a bracket); None when empty or too
    long to be a list item."""
    piece = re.split(r"[;.()]", piece)[0]
    if not piece.strip() or len(piece.split()) > MAX_INLINE_ITEM_WORDS:
        return None
    return _inline_item(piece, at)


def _inline_item(piece: str, at: int) -> Item:
    lead = len(piece) - len(piece.lstrip())
    text = piece.strip()
    return _item_of(Span(at + lead, at + lead + len(text), text))


def count_word(n: int) -> str:
    return NUMBER_WORDS[n] if n < len(NUMBER_WORDS) else str(n)


def render_list(outline_list: OutlineList) -> str:
    """'3. Strategic tasks and priorities (nine items, 9): (1) ...; (2) ...'."""
    n = len(outline_list.items)
    intro = f" — {outline_list.intro.label}" if outline_list.intro else ""
    items = "; ".join(i.label for i in outline_list.items)
    return f"{outline_list.title}{intro} ({count_word(n)} items, {n}): {items}"
