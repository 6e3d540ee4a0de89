"""What goes over the wire: request and response models, and how answers and citations
become them (also as server-sent events)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from assistant.answer.validate import Answer, Citation
from assistant.assistant import MAX_QUESTION_CHARS
from assistant.search.retrieve import Filters

if TYPE_CHECKING:
    pass


# -- request and response models -------------------------------------------------------------


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class FiltersIn(Strict):
    sources: list[str] = Field(default_factory=list, description="File names under corpus/.")
    date_from: str | None = Field(default=None, description="YYYY, YYYY-MM or YYYY-MM-DD.")
    date_to: str | None = None

    def to_filters(self) -> Filters:
        return Filters(sources=tuple(self.sources), date_from=self.date_from, date_to=self.date_to)

    @field_validator("date_from", "date_to")
    @classmethod
    def _date(cls, value: str | None) -> str | None:
        Filters(date_from=value)  # same rule as the Python API
        return value


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be empty or only spaces")
    return value


class RetrieveIn(Strict):
    query: str = Field(min_length=1, max_length=MAX_QUESTION_CHARS)
    k: int = Field(default=5, ge=1, le=50)
    filters: FiltersIn | None = None

    _check = field_validator("query")(_not_blank)


class Passage(BaseModel):
    text: str
    score: float
    source: str
    title: str
    heading: str
    date: str
    chunk_id: str
    start: int
    end: int


class Message(Strict):
    role: Literal["user", "assistant", "system"]
    content: str


class AskIn(Strict):
    question: str = Field(min_length=1, max_length=MAX_QUESTION_CHARS)
    history: list[Message] = Field(default_factory=list)
    filters: FiltersIn | None = None
    stream: bool = False

    _check = field_validator("question")(_not_blank)


class CitationOut(BaseModel):
    number: int
    source: str
    title: str
    heading: str
    date: str
    chunk_id: str
    text: str
    quote: str
    start: int
    end: int
    kind: str = "text"  # "text", "table_row", "list" or "list_item" (one item of a list)


class AskOut(BaseModel):
    answer: str
    abstained: bool
    grounded: bool
    question: str
    citations: list[CitationOut]
    related: list[CitationOut]


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow")

    role: str
    content: str | list[dict[str, Any]] | None = None

    def text(self) -> str:
        if isinstance(self.content, list):  # OpenAI content parts
            return " ".join(str(part.get("text", "")) for part in self.content)
        return self.content or ""


class ChatIn(BaseModel):
    """OpenAI's request; fields such as temperature are accepted and ignored."""

    model_config = ConfigDict(extra="allow")

    model: str | None = None
    messages: list[ChatMessage] = Field(min_length=1)
    stream: bool = False


def citation_out(c: Citation) -> CitationOut:
    return CitationOut(number=c.number, source=c.source, title=c.title, heading=c.heading, date=c.date,
                       chunk_id=c.chunk_id, text=c.text, quote=c.quote, start=c.start, end=c.end,
                       kind=c.kind)  # fmt: skip


def ask_out(answer: Answer) -> AskOut:
    return AskOut(
        answer=answer.text,
        abstained=answer.abstained,
        grounded=answer.grounded,
        question=answer.question,
        citations=[citation_out(c) for c in answer.citations],
        related=[citation_out(c) for c in answer.related],
    )


def pieces(text: str) -> Iterator[str]:
    """Word-sized pieces that join back to the text exactly."""
    yield from re.findall(r"\S+\s*|\s+", text)


def sse(event: str, data: Any) -> str:
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"
