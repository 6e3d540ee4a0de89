"""How answers look to people: Markdown for the chat, plain text for the terminal."""

from __future__ import annotations

from dataclasses import dataclass

from assistant.answer import Answer, Citation


@dataclass(frozen=True)
class Style:
    sources: str
    related: str
    cited: str  # format of a cited source; {n}, {line}, {quote}
    near: str  # format of a related passage; {line}, {quote}


MARKDOWN = Style(
    "**Sources**",
    "**Related, but not an answer**",
    "{n}. {line}\n   > {quote}",
    "- {line}\n  > {quote}",
)
TEXT = Style(
    "Sources:",
    "Related passages (not an answer):",
    "  [{n}] {line}\n      “{quote}”",
    "  - {line}\n      “{quote}”",
)


def _source_line(c: Citation) -> str:
    date = f", {c.date}" if c.date else ""
    heading = f" — {c.heading.split(' > ')[-1]}" if c.heading else ""
    return f"{c.title}{date}{heading} · {c.source} chars {c.start}–{c.end}"


def render(answer: Answer, style: Style) -> str:
    """The answer, then numbered sources with their exact quotes (or the related passages)."""
    lines = [answer.text, ""]
    for title, template, citations in ((style.sources, style.cited, answer.citations),
                                       (style.related, style.near, answer.related)):  # fmt: skip
        if citations:
            lines.append(title)
            lines += [template.format(n=c.number, line=_source_line(c), quote=" ".join(c.quote.split()))
                      for c in citations]  # fmt: skip
    return "\n".join(lines).strip()


def answer_markdown(answer: Answer) -> str:
    return render(answer, MARKDOWN)


def answer_text(answer: Answer) -> str:
    return render(answer, TEXT)
