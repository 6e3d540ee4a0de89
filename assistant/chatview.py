"""What the chat UI shows, as plain functions (unit-tested without a browser).

Answers become HTML with clickable [n] markers and numbered source cards whose supporting
span is highlighted; the source viewer shows a whole document scrolled to the exact span.
Everything from documents or users is HTML-escaped here; `ui.py` only lays out and wires.

Chat messages are HTML, never Markdown (the Chatbot renders them with Markdown and LaTeX off):
document text such as `![diagram](http://example.com/x.png)` stays text, during streaming too,
so nothing a document says can make the browser fetch anything. The page's Content-Security-
Policy (`CONTENT_SECURITY_POLICY`) backs this up in the browser.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterator
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from assistant.answer import Answer, Citation
from assistant.load import LoadError, load_file

HIGHLIGHT_ID = "assistant-highlight"
_MARKER = re.compile(r"\[(\d{1,3})\]")
# Images, media, fonts and connections only from the page's own origin; no plugins.
CONTENT_SECURITY_POLICY = (
    "img-src 'self' data: blob:; media-src 'self' data: blob:; font-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'"
)


def text_html(text: str) -> str:
    """Plain text as chat HTML: escaped, line breaks kept. For questions, notices, partial
    answers: anything that is not built from an Answer."""
    return html.escape(text).replace("\n", "<br>")


def cite_key(turn: int, number: int, related: bool = False) -> str:
    """The id a click sends back: which answer, which citation (r = related passage). It
    travels as a class name ('cite-0-1'), the one attribute the chat's HTML sanitiser keeps."""
    return f"{turn}-{'r' if related else ''}{number}"


def passage_html(c: Citation) -> str:
    """The cited passage with its supporting quote highlighted (the whole passage when the
    passage is a rendered table row and the quote is the raw row)."""
    offset = c.start - c.passage_start
    if offset >= 0 and c.text[offset : offset + len(c.quote)] == c.quote:
        before, quote, after = c.text[:offset], c.quote, c.text[offset + len(c.quote) :]
    else:
        before, quote, after = "", c.text, ""
    return (
        f"{html.escape(before)}<mark class='quote'>{html.escape(quote)}</mark>{html.escape(after)}"
    )


def card_html(c: Citation, turn: int, related: bool = False) -> str:
    label = "·" if related else f"[{c.number}]"
    parts = [p for p in (c.date, c.heading.split(" > ")[-1] if c.heading else "") if p]
    meta = " · ".join(html.escape(p) for p in parts)
    return (
        f"<div class='source-card cite-{cite_key(turn, c.number, related)}' title='Open the document at this passage'>"
        f"<div class='card-head'><b>{label} {html.escape(c.title)}</b> <span class='card-meta'>{meta}</span></div>"
        f"<div class='card-passage'>{passage_html(c)}</div></div>"
    )


def answer_html(answer: Answer, turn: int) -> str:
    """The chat message for an answer: text with clickable [n], then the source cards."""
    text = text_html(answer.text)
    text = _MARKER.sub(
        lambda m: f"<a class='cite cite-{cite_key(turn, int(m.group(1)))}'>[{m.group(1)}]</a>",
        text,
    )
    if answer.abstained:
        body = f"<div class='abstained'>{text}</div>"
        cards = "".join(card_html(c, turn, related=True) for c in answer.related)
        title = "Related, but not an answer"
    else:
        body = f"<div class='answer'>{text}</div>"
        cards = "".join(card_html(c, turn) for c in answer.citations)
        title = "Sources"
    if not cards:
        return body
    return f"{body}<div class='sources'><div class='sources-title'>{title}</div>{cards}</div>"


def streamed(answer: Answer, turn: int, pieces: int = 24) -> Iterator[str]:
    """Growing prefixes of the answer text, then the full message with its source cards."""
    words = re.findall(r"\S+\s*", answer.text)
    step = max(1, len(words) // pieces)
    for end in range(step, len(words), step):
        yield text_html("".join(words[:end]))
    yield answer_html(answer, turn)


def find_citation(answers: list[dict[str, Any]], key: str) -> Citation | None:
    """The citation a clicked key names, from this session's answers."""
    match = re.fullmatch(r"(\d+)-(r?)(\d+)", key.strip().removeprefix("cite-"))
    if not match:
        return None
    turn, related, number = int(match.group(1)), bool(match.group(2)), int(match.group(3))
    if turn >= len(answers):
        return None
    items = answers[turn]["related" if related else "citations"]
    found = next((c for c in items if c["number"] == number), None)
    return Citation(**found) if found else None


def document_text(corpus_dir: Path, source: str) -> str:
    """The document as the index saw it, so that citation offsets line up."""
    path = (corpus_dir / source).resolve()
    if corpus_dir.resolve() not in path.parents:
        raise LoadError("outside the corpus")
    return load_file(path, source, {}).text


def viewer_html(c: Citation, text: str) -> str:
    """The whole document, the cited span highlighted (scrolled to by the page's script)."""
    if text[c.start : c.end] != c.quote:  # the document changed since it was indexed
        return (f"<div class='viewer-error'>{html.escape(c.source)} has changed since it was indexed; "
                "run <code>assistant index</code> again.</div>")  # fmt: skip
    body = (
        html.escape(text[: c.start])
        + f"<mark id='{HIGHLIGHT_ID}' class='quote'>{html.escape(c.quote)}</mark>"
        + html.escape(text[c.end :])
    )
    head = f"<div class='viewer-head'><b>[{c.number}] {html.escape(c.title)}</b> · {html.escape(c.date)} · {html.escape(c.source)}</div>"
    return f"{head}<div class='viewer-body'>{body}</div>"


def feedback_record(
    question: str, answer: dict[str, Any], rating: str, comment: str
) -> dict[str, Any]:
    return {
        "time": datetime.now(UTC).isoformat(timespec="seconds"),
        "question": question,
        "answer": answer["text"],
        "citations": [
            {k: c[k] for k in ("number", "source", "start", "end", "quote")}
            for c in answer["citations"]
        ],
        "rating": rating,
        "comment": comment.strip(),
    }


def append_feedback(path: Path, record: dict[str, Any]) -> None:
    """One JSON line per rating; the folder is created on first use."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(record, ensure_ascii=False) + "\n")


def answer_state(answer: Answer, question: str) -> dict[str, Any]:
    """What the session keeps of an answer: enough to open its sources and rate it."""
    data = asdict(answer)
    data["asked"] = question
    return data
