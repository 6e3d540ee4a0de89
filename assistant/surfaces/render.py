"""How answers look in the terminal (the chat UI's HTML is built in `chatview`)."""

from __future__ import annotations

from assistant.answer.validate import Answer, Citation


def _source_line(c: Citation) -> str:
    date = f", {c.date}" if c.date else ""
    heading = f" — {c.heading.split(' > ')[-1]}" if c.heading else ""
    return f"{c.title}{date}{heading} · {c.source} chars {c.start}–{c.end}"


def answer_text(answer: Answer) -> str:
    """The answer, then numbered sources with their exact quotes (or the related passages)."""
    lines = [answer.text, ""]
    if answer.citations:
        lines.append("Sources:")
        lines += [
            f"  [{c.number}] {_source_line(c)}\n      “{' '.join(c.quote.split())}”"
            for c in answer.citations
        ]
    if answer.related:
        lines.append("Related passages (not an answer):")
        lines += [
            f"  - {_source_line(c)}\n      “{' '.join(c.quote.split())}”" for c in answer.related
        ]
    return "\n".join(lines).strip()
