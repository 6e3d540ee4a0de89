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
from dataclasses import asdict, fields
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter, ValidationError

from assistant.answer.validate import Answer, Citation

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


def answer_html(answer: Answer, turn: int, question: str = "") -> str:
    """The chat message for an answer: text with clickable [n], then the source cards, then
    "Copy as Markdown" (the Markdown rides along hidden, so the click copies it at once:
    browsers allow clipboard writes only right in the click)."""
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
    copy = (
        "<div class='answer-tools'><a class='copy-md' title='Copy this answer and its sources "
        "as Markdown'>Copy as Markdown</a>"
        f"<div class='answer-md'>{html.escape(answer_markdown(answer, question))}</div></div>"
    )
    if not cards:
        return body + copy
    return f"{body}<div class='sources'><div class='sources-title'>{title}</div>{cards}</div>{copy}"


def streamed(answer: Answer, turn: int, pieces: int = 24, question: str = "") -> Iterator[str]:
    """Growing prefixes of the answer text, then the full message with its source cards."""
    words = re.findall(r"\S+\s*", answer.text)
    step = max(1, len(words) // pieces)
    for end in range(step, len(words), step):
        yield text_html("".join(words[:end]))
    yield answer_html(answer, turn, question)


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


# -- kept conversations ----------------------------------------------------------------------
# A person's conversations live in their browser (gr.BrowserState, i.e. localStorage). What
# comes back from there is client data: it is checked and rebuilt here, never trusted.

MAX_CONVERSATIONS = 50
# Whole conversations, oldest dropped first. The list travels in a request when a chat is
# saved or opened: kept well under the API's 1 MB body limit and the browser's storage quota.
MAX_STORED_BYTES = 600_000
TITLE_CHARS = 120
SHOWN_QUESTION_CHARS = 600


@cache
def _answer_adapter() -> TypeAdapter[Answer]:
    return TypeAdapter(Answer)  # built on first use: nothing happens at import


def question_html(question: str) -> str:
    """The question as shown in the chat; a very long one is cut (it was asked whole)."""
    if len(question) > SHOWN_QUESTION_CHARS:
        question = f"{question[:SHOWN_QUESTION_CHARS]}… ({len(question):,} characters)"
    return text_html(question)


def answer_from_state(record: dict[str, Any]) -> Answer:
    """The Answer a kept record describes; ValueError if it is not one."""
    known = {f.name for f in fields(Answer)}
    try:
        return _answer_adapter().validate_python({k: v for k, v in record.items() if k in known})
    except ValidationError as exc:
        raise ValueError(str(exc)) from exc


def restore_answers(records: Any) -> list[dict[str, Any]]:
    """Kept answer records, checked: malformed ones are dropped, the rest rebuilt from their
    Answer (so only known fields, of the right types, come back) and renumbered for the chat
    that `conversation_messages` rebuilds from them."""
    restored: list[dict[str, Any]] = []
    for record in records if isinstance(records, list) else []:
        if not isinstance(record, dict) or not isinstance(record.get("asked"), str):
            continue
        try:
            answer = answer_from_state(record)
        except ValueError:
            continue
        restored.append(
            answer_state(answer, record["asked"]) | {"message_index": 2 * len(restored) + 1}
        )
    return restored


def conversation_messages(records: list[dict[str, Any]]) -> list[dict[str, str]]:
    """The chat of checked records (`restore_answers`): each question, then its answer with
    clickable [n] and source cards, as when it was first asked. Notices (an empty question,
    a bad filter) were not answers and are not kept."""
    messages: list[dict[str, str]] = []
    for turn, record in enumerate(records):
        messages += [
            {"role": "user", "content": question_html(record["asked"])},
            {
                "role": "assistant",
                "content": answer_html(answer_from_state(record), turn, record["asked"]),
            },
        ]
    return messages


def stored_conversations(value: Any) -> list[dict[str, Any]]:
    """The conversations a browser sent back, checked: each {id, title, updated, answers}."""
    kept: list[dict[str, Any]] = []
    for item in value if isinstance(value, list) else []:
        if not isinstance(item, dict) or not isinstance(item.get("id"), str):
            continue
        if not re.fullmatch(r"[0-9a-f]{1,32}", item["id"]) or any(
            c["id"] == item["id"] for c in kept
        ):
            continue
        answers = restore_answers(item.get("answers"))
        if answers:
            updated = item.get("updated")
            kept.append(
                conversation(item["id"], answers, updated if isinstance(updated, str) else "")
            )
    return kept


def conversation(
    conversation_id: str, answers: list[dict[str, Any]], updated: str = ""
) -> dict[str, Any]:
    """One kept conversation; its title is its first question."""
    title = " ".join(answers[0]["asked"].split()) if answers else ""
    if len(title) > TITLE_CHARS:
        title = f"{title[: TITLE_CHARS - 1]}…"
    stored = [{k: v for k, v in a.items() if k != "message_index"} for a in answers]
    updated = updated or datetime.now(UTC).isoformat(timespec="seconds")
    return {
        "id": conversation_id,
        "title": title or "(untitled)",
        "updated": updated,
        "answers": stored,
    }


def keep_conversations(
    conversations: list[dict[str, Any]],
    limit: int = MAX_CONVERSATIONS,
    budget: int = MAX_STORED_BYTES,
) -> list[dict[str, Any]]:
    """The newest conversations that fit: at most `limit`, at most `budget` bytes of JSON.
    The newest (first) one is always kept; if it alone is too big its oldest answers go."""
    kept: list[dict[str, Any]] = []
    used = 0
    for item in conversations[:limit]:
        size = len(json.dumps(item, ensure_ascii=False).encode("utf-8"))
        if kept and used + size > budget:
            break
        while not kept and size > budget and len(item["answers"]) > 1:
            item = item | {"answers": item["answers"][1:]}
            size = len(json.dumps(item, ensure_ascii=False).encode("utf-8"))
        kept.append(item)
        used += size
    return kept


# -- export ----------------------------------------------------------------------------------

_MD_SPECIAL = re.compile(r"([\\`*_\[\]<])|&(?=#?\w+;)")
_MD_LINE_START = re.compile(r"^(\s*)([#>+=|-]|\d+[.)])", re.MULTILINE)


def md_text(text: str) -> str:
    """Text for Markdown that renders as exactly this text: nothing in a document can become
    a link, an image, HTML or formatting in whatever shows the exported file."""
    text = _MD_SPECIAL.sub(lambda m: "\\" + m.group(0), text)
    return _MD_LINE_START.sub(
        lambda m: m.group(1) + "".join(c if c.isdigit() else f"\\{c}" for c in m.group(2)), text
    )


def _md_answer_text(text: str) -> str:
    """An answer's text with its [n] markers kept as they are."""
    parts = re.split(r"(\[\d{1,3}\](?!:))", text)
    return "".join(p if i % 2 else md_text(p) for i, p in enumerate(parts))


def _md_source(c: Citation, label: str) -> str:
    meta = " · ".join(md_text(p) for p in (c.date, f"{c.source} chars {c.start}–{c.end}") if p)
    quote = "\n".join(
        f"> {line}" if line.strip() else ">" for line in md_text(c.quote).splitlines()
    )
    return f"{label} **{md_text(c.title)}** · {meta}\n\n{quote or '>'}\n"


def answer_markdown(answer: Answer, question: str = "") -> str:
    """One answer as Markdown: the question, the answer with its [n], then each numbered
    source with its title, date, exact quote and location (source chars start–end)."""
    asked = " ".join(question.split())
    parts = [f"## {md_text(asked)}\n"] if asked else []
    parts.append(_md_answer_text(answer.text) + "\n")
    if answer.abstained and answer.related:
        parts.append("**Related passages (not an answer)**\n")
        parts += [_md_source(c, "·") for c in answer.related]
    elif answer.citations:
        parts.append("**Sources**\n")
        parts += [_md_source(c, f"[{c.number}]") for c in answer.citations]
    return "\n".join(parts)


def markdown_export(
    records: list[dict[str, Any]], title: str = "Policy assistant conversation"
) -> str:
    """A conversation as a Markdown document, answers in the order they were asked."""
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    count = f"{len(records)} answer{'s' if len(records) != 1 else ''}"
    head = f"# {md_text(title)}\n\nExported {when} · {count}\n"
    answers = [answer_markdown(answer_from_state(r), r["asked"]) for r in records]
    return "\n".join([head, *answers])


# -- the Documents tab -----------------------------------------------------------------------

DOCUMENT_COLUMNS = ["Title", "Publisher", "Date", "Type", "Chunks", "Indexed (UTC)", "Source"]


def _when(iso: str) -> str:
    try:
        return datetime.fromisoformat(iso).astimezone(UTC).strftime("%Y-%m-%d %H:%M")
    except ValueError:
        return iso


def document_rows(documents: list[dict[str, Any]]) -> list[list[Any]]:
    """The documents table (`DOCUMENT_COLUMNS`); cells are plain text, shown as text."""
    return [
        [
            d["title"],
            d["publisher"],
            d["date"],
            d["format"],
            d["chunks"],
            _when(d["indexed"]),
            d["source"],
        ]
        for d in documents
    ]


def status_html(text: str, kind: str = "info") -> str:
    """A line under the upload and remove controls: info, done or error."""
    mark = {"done": "✓ ", "error": "⚠ "}.get(kind, "")
    return f"<div class='doc-status {html.escape(kind)}'>{mark}{text_html(text)}</div>"


def job_html(job: dict[str, Any]) -> str:
    """Where an upload or removal is: queued, embedding n/total chunks, done or failed."""
    state, done, total = job["state"], job["done"], job["total"]
    if state == "done":
        return status_html(job["message"] or "Done.", "done")
    if state == "failed":
        return status_html(job["message"] or "Indexing failed.", "error")
    if state == "queued":
        return status_html("Saved; waiting for the index to be free…")
    if not total:
        return status_html("Updating the index…")
    return (
        f"<div class='doc-status running'>Embedding {done}/{total} chunks…"
        f"<progress value='{done}' max='{total}'></progress></div>"
    )
