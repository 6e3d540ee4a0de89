"""The REST service: retrieval and answers for other tools, plus an OpenAI-compatible endpoint.

Routes: POST /v1/retrieve, POST /v1/ask (optionally as server-sent events), POST
/v1/chat/completions (OpenAI format, streaming too), GET /v1/models, GET /v1/documents,
GET /healthz; OpenAPI at /openapi.json and /docs. Every error is a JSON body with a 4xx
status (503 when the vector store cannot be reached), never a bare 500 for bad input.

Streaming sends the answer after its citations have been validated, in small pieces: what a
client sees streamed is exactly the checked answer, never citation numbers that get dropped.
"""

from __future__ import annotations

import json
import re
import secrets
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any, Literal

import anyio.to_thread
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field, field_validator

from assistant.answer import Answer, Citation
from assistant.assistant import MAX_QUESTION_CHARS, InvalidQuestion
from assistant.retrieve import Filters, IndexMissing
from assistant.store import StoreUnavailable

if TYPE_CHECKING:
    from assistant.assistant import Assistant

MODEL_NAME = "policy-assistant"
TOKEN_COOKIE = "assistant_token"


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
                       chunk_id=c.chunk_id, text=c.text, quote=c.quote, start=c.start, end=c.end)  # fmt: skip


def ask_out(answer: Answer) -> AskOut:
    return AskOut(
        answer=answer.text,
        abstained=answer.abstained,
        grounded=answer.grounded,
        question=answer.question,
        citations=[citation_out(c) for c in answer.citations],
        related=[citation_out(c) for c in answer.related],
    )


def with_sources(answer: Answer) -> str:
    """The answer with a Sources list, for chat clients that only show message content."""
    if not answer.citations:
        return answer.text
    lines = [f"[{c.number}] {c.title} ({c.date}) — {c.source}, chars {c.start}–{c.end}: “{' '.join(c.quote.split())}”"
             for c in answer.citations]  # fmt: skip
    return answer.text + "\n\nSources:\n" + "\n".join(lines)


def pieces(text: str) -> Iterator[str]:
    """Word-sized pieces that join back to the text exactly."""
    yield from re.findall(r"\S+\s*|\s+", text)


def sse(event: str, data: Any) -> str:
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


# -- errors ------------------------------------------------------------------------------------


def error(status: int, kind: str, message: str, details: Any = None) -> JSONResponse:
    body: dict[str, Any] = {"error": {"type": kind, "message": message}}
    if details is not None:
        body["error"]["details"] = details
    return JSONResponse(status_code=status, content=body)


def is_store_failure(exc: BaseException) -> bool:
    """Errors that mean the vector store is unreachable (e.g. the Chroma server restarts)."""
    if isinstance(exc, StoreUnavailable | ConnectionError | TimeoutError):
        return True
    module = type(exc).__module__
    if module.startswith(("httpx", "httpcore")):
        return True
    text = str(exc).lower()
    return module.startswith("chromadb") and any(
        w in text for w in ("connect", "unavailable", "timed out")
    )


# -- the app -----------------------------------------------------------------------------------


def create_app(bot: Assistant, *, with_ui: bool = True) -> FastAPI:
    """The FastAPI app; the Gradio chat is mounted at / when `with_ui`."""
    from fastapi_offline import FastAPIOffline

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Few worker threads, queued in order: on a small machine, 40 threads fighting over
        # the CPU made some requests wait 10+ s while others finished at once.
        anyio.to_thread.current_default_thread_limiter().total_tokens = bot.settings.api_workers
        yield

    app = FastAPIOffline(  # serves /docs with bundled Swagger UI assets: no CDN, works offline
        title="Policy assistant API",
        version="1",
        description="Cited answers and passage retrieval over the policy corpus. "
        "Every answer's citations point at exact character offsets in the source files.",
        lifespan=lifespan,
    )
    token = bot.settings.api_token.get_secret_value() if bot.settings.api_token else None

    @app.middleware("http")
    async def store_failures(request: Request, call_next: Any) -> Any:
        """A store outage is a clear 503, not a 500 with a traceback."""
        try:
            return await call_next(request)
        except Exception as exc:
            if is_store_failure(exc):
                return error(503, "store_unavailable", f"the vector store cannot be reached: {exc}")
            return error(500, "internal_error", f"{type(exc).__name__}: {exc}")

    @app.middleware("http")
    async def require_token(request: Request, call_next: Any) -> Any:
        if token is None:
            return await call_next(request)
        given = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
        given = (
            given or request.cookies.get(TOKEN_COOKIE, "") or request.query_params.get("token", "")
        )
        if not secrets.compare_digest(given.encode(), token.encode()):
            return error(
                401, "unauthorized", "missing or wrong bearer token (Authorization: Bearer ...)"
            )
        response = await call_next(request)
        if request.query_params.get("token"):  # a browser opening /?token=... keeps a cookie
            response.set_cookie(TOKEN_COOKIE, token, httponly=True, samesite="strict")
        return response

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [
            {"where": ".".join(str(p) for p in e["loc"]), "problem": e["msg"]} for e in exc.errors()
        ]
        if any(e["type"] == "json_invalid" for e in exc.errors()):
            return error(400, "invalid_json", "the request body is not valid JSON", problems)
        summary = "; ".join(f"{p['where']}: {p['problem']}" for p in problems)
        return error(422, "invalid_request", summary, problems)

    @app.exception_handler(InvalidQuestion)
    async def bad_question(request: Request, exc: InvalidQuestion) -> JSONResponse:
        return error(422, "invalid_request", str(exc))

    @app.exception_handler(IndexMissing)
    async def no_index(request: Request, exc: IndexMissing) -> JSONResponse:
        return error(503, "index_missing", str(exc))

    @app.get("/healthz", tags=["service"])
    def healthz() -> dict[str, Any]:
        """Index version and counts; 503 if the store cannot be reached."""
        version = bot.version()
        return {"status": "ok", "index_version": version.collection, "built": version.created,
                "documents": len(version.documents), "chunks": version.chunk_count,
                "answerer": bot.answerer.name}  # fmt: skip

    @app.get("/v1/documents", tags=["retrieval"])
    def documents() -> dict[str, Any]:
        """The indexed documents with their metadata and chunk counts."""
        return {"documents": [d.__dict__ for d in bot.documents()]}

    @app.post("/v1/retrieve", tags=["retrieval"])
    def retrieve(body: RetrieveIn) -> dict[str, list[Passage]]:
        """The k best passages (hybrid BM25 + dense search)."""
        filters = body.filters.to_filters() if body.filters else None
        docs = bot.retrieve(body.query, k=body.k, filters=filters)
        return {
            "passages": [
                Passage(
                    text=d.page_content,
                    score=float(d.metadata["score"]),
                    source=d.metadata["source"],
                    title=d.metadata.get("title", ""),
                    heading=d.metadata.get("heading", ""),
                    date=d.metadata.get("date", ""),
                    chunk_id=d.metadata["chunk_id"],
                    start=int(d.metadata["start"]),
                    end=int(d.metadata["end"]),
                )
                for d in docs
            ]
        }

    def answer_for(
        question: str, history: list[dict[str, str]], filters: FiltersIn | None
    ) -> Answer:
        return bot.ask(question, history=history, filters=filters.to_filters() if filters else None)

    @app.post("/v1/ask", tags=["answers"], response_model=AskOut)
    def ask(body: AskIn) -> Any:
        """A cited answer. With "stream": true, server-sent events: `delta` pieces of the
        answer, then `answer` (the whole AskOut with citations), then `done`."""
        answer = answer_for(body.question, [m.model_dump() for m in body.history], body.filters)
        if not body.stream:
            return ask_out(answer)

        def events() -> Iterator[str]:
            for piece in pieces(answer.text):
                yield sse("delta", {"text": piece})
            yield sse("answer", ask_out(answer).model_dump())
            yield sse("done", {})

        return StreamingResponse(events(), media_type="text/event-stream")

    @app.get("/v1/models", tags=["openai"])
    def models() -> dict[str, Any]:
        return {
            "object": "list",
            "data": [{"id": MODEL_NAME, "object": "model", "owned_by": "assistant"}],
        }

    @app.post("/v1/chat/completions", tags=["openai"])
    def chat_completions(body: ChatIn) -> Any:
        """OpenAI-compatible chat: the last user message is the question, earlier turns are the
        history. Citations come as a Sources list in the content and in `citations`."""
        turns = [
            {"role": m.role, "content": m.text()}
            for m in body.messages
            if m.role in ("user", "assistant")
        ]
        if not turns or turns[-1]["role"] != "user":
            raise InvalidQuestion("the last message must be a user message")
        answer = answer_for(turns[-1]["content"], turns[:-1], None)
        content = with_sources(answer)
        citations = [citation_out(c).model_dump() for c in answer.citations]
        ident, created, model = (
            f"chatcmpl-{uuid.uuid4().hex[:24]}",
            int(time.time()),
            body.model or MODEL_NAME,
        )
        if not body.stream:
            return {
                "id": ident, "object": "chat.completion", "created": created, "model": model,
                "choices": [{"index": 0, "message": {"role": "assistant", "content": content},
                             "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
                "citations": citations, "abstained": answer.abstained,
            }  # fmt: skip

        def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> str:
            payload = {"id": ident, "object": "chat.completion.chunk", "created": created, "model": model,
                       "choices": [{"index": 0, "delta": delta, "finish_reason": finish}], **extra}  # fmt: skip
            return f"data: {json.dumps(payload, ensure_ascii=False)}\n\n"

        def stream() -> Iterator[str]:
            yield chunk({"role": "assistant", "content": ""})
            for piece in pieces(content):
                yield chunk({"content": piece})
            yield chunk({}, "stop", citations=citations, abstained=answer.abstained)
            yield "data: [DONE]\n\n"

        return StreamingResponse(stream(), media_type="text/event-stream")

    if with_ui:
        import gradio as gr

        from assistant.ui import build_app, ui_assets

        app = gr.mount_gradio_app(
            app, build_app(bot).queue(default_concurrency_limit=4), path="/", **ui_assets()
        )
    return app
