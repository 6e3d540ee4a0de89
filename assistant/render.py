"""How answers look to people: Markdown for the chat, plain text for the terminal."""

from __future__ import annotations

from assistant.answer import Answer, Citation


def _source_line(c: Citation) -> str:
    date = f", {c.date}" if c.date else ""
    heading = f" — {c.heading.split(' > ')[-1]}" if c.heading else ""
    return f"{c.title}{date}{heading} · {c.source} chars {c.start}–{c.end}"


def _quote(text: str) -> str:
    return " ".join(text.split())


def answer_markdown(answer: Answer) -> str:
    """The answer, then numbered sources with their exact quotes."""
    lines = [answer.text, ""]
    if answer.citations:
        lines.append("**Sources**")
        lines += [
            f"{c.number}. {_source_line(c)}\n   > {_quote(c.quote)}" for c in answer.citations
        ]
    if answer.related:
        lines.append("**Related, but not an answer**")
        lines += [f"- {_source_line(c)}\n  > {_quote(c.quote)}" for c in answer.related]
    return "\n".join(lines).strip()


def answer_text(answer: Answer) -> str:
    lines = [answer.text, ""]
    if answer.citations:
        lines.append("Sources:")
        lines += [
            f"  [{c.number}] {_source_line(c)}\n      “{_quote(c.quote)}”" for c in answer.citations
        ]
    if answer.related:
        lines.append("Related passages (not an answer):")
        lines += [f"  - {_source_line(c)}\n      “{_quote(c.quote)}”" for c in answer.related]
    return "\n".join(lines).strip()
