"""The REST service: retrieval and answers for other tools, plus an OpenAI-compatible endpoint.

Routes: POST /v1/retrieve, POST /v1/ask (optionally as server-sent events), POST
/v1/chat/completions (OpenAI format, streaming too), GET /v1/models, GET /healthz, the
documents routes of `api_documents.py` (list, upload, remove, jobs) and the MCP server at
/mcp (`mcp_server.py`); OpenAPI at /openapi.json and /docs. Every error is a JSON body with a 4xx
status (503 when the vector store cannot be reached), never a bare 500 for bad input.

Streaming sends the answer after its citations have been validated, in small pieces: what a
client sees streamed is exactly the checked answer, never citation numbers that get dropped.

Limits (settings): request bodies over `api_max_body_bytes` get a 413; questions over 4,000
characters a 422; only the last `history_turns` history messages are used, each cut to
`history_message_chars` characters (cut, not refused: chat clients send back earlier answers
with their Sources lists). At most `api_workers` requests compute at once and the rest wait
first come, first served; past `api_queue_limit` waiting or computing, a 503 with Retry-After.
Identical requests waiting at the same time share one computation. A request whose client has
gone is dropped when its turn comes. `/healthz` answers 503
{"status": "starting"} until the models and the keyword index are loaded, then checks the store
on every call.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import math
import re
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any, Literal, TypeVar

import anyio
import anyio.to_thread
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field, field_validator
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.types import Message as ASGIMessage

from assistant.answer import Answer, Citation
from assistant.api_documents import documents_router
from assistant.assistant import MAX_QUESTION_CHARS, InvalidQuestion
from assistant.chatview import CONTENT_SECURITY_POLICY
from assistant.documents import DocumentManager, UploadRejected
from assistant.retrieve import Filters, IndexMissing
from assistant.store import is_store_failure

if TYPE_CHECKING:
    from assistant.assistant import Assistant

MODEL_NAME = "policy-assistant"
TOKEN_COOKIE = "assistant_token"
WARM_QUESTION = "What is the target for 2025?"
ALL_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
log = logging.getLogger("assistant.api")
T = TypeVar("T")


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


def error(
    status: int,
    kind: str,
    message: str,
    details: Any = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    """The one error body of the API: {"error": {"type", "message", "details"}}."""
    body = {"error": {"type": kind, "message": message, "details": details}}
    return JSONResponse(status_code=status, content=body, headers=headers)


HTTP_ERRORS = {
    400: "invalid_request",
    401: "unauthorized",
    404: "not_found",
    405: "method_not_allowed",
    413: "request_too_large",
}


class BodyTooLarge(HTTPException):
    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the request body is larger than the limit of {limit:,} bytes")


class ClientGone(Exception):
    """The client closed the connection before its request's turn came."""


# -- middleware (plain ASGI, so that streaming and disconnects pass through untouched) -------


# Uploads may be larger than questions: the REST upload and the Gradio UI's file upload.
UPLOAD_PATHS = frozenset({"/v1/documents", "/gradio_api/upload"})
UPLOAD_FORM_BYTES = 1_000_000  # the multipart envelope and the metadata fields


class LimitBody:
    """Refuse request bodies over the limit with a 413: at once when Content-Length says so,
    otherwise as soon as the bytes received pass it."""

    def __init__(self, app: ASGIApp, limit: int, upload_limit: int | None = None) -> None:
        self.app, self.limit = app, limit
        self.upload_limit = max(limit, upload_limit or limit)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        limit = self.upload_limit if scope["path"] in UPLOAD_PATHS else self.limit
        length = dict(scope["headers"]).get(b"content-length", b"")
        if length.isdigit() and int(length) > limit:
            exc = BodyTooLarge(limit)
            return await error(413, HTTP_ERRORS[413], exc.detail)(scope, receive, send)
        received = 0

        async def limited() -> ASGIMessage:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        started = False

        async def watched(message: ASGIMessage) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited, watched)
        except BodyTooLarge as exc:
            if started:
                raise
            await error(413, HTTP_ERRORS[413], exc.detail)(scope, receive, send)


def cookie_value(token: str) -> str:
    """What the UI cookie holds: an HMAC of the token, never the token itself."""
    return hmac.new(token.encode(), b"assistant-ui-cookie-v1", hashlib.sha256).hexdigest()


class RequireToken:
    """Every route needs `Authorization: Bearer <token>` (scheme in any case), the UI cookie,
    or `?token=<token>` (a browser opening the UI once; it then gets the cookie)."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app, self.token, self.cookie = app, token, cookie_value(token)

    def allowed(self, request: Request) -> bool:
        header = request.headers.get("authorization")
        if header is not None:
            parts = header.split(None, 1)
            return (
                len(parts) == 2
                and parts[0].lower() == "bearer"
                and hmac.compare_digest(parts[1].strip().encode(), self.token.encode())
            )
        cookie = request.cookies.get(TOKEN_COOKIE)
        if cookie is not None:
            return hmac.compare_digest(cookie.encode(), self.cookie.encode())
        given = request.query_params.get("token")
        return given is not None and hmac.compare_digest(given.encode(), self.token.encode())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            return await self.app(scope, receive, send)
        request = Request(scope)
        if not self.allowed(request):
            if scope["type"] == "websocket":
                return await send({"type": "websocket.close", "code": 1008})
            message = "missing or wrong bearer token (Authorization: Bearer <token>)"
            return await error(401, "unauthorized", message)(scope, receive, send)
        if "token" not in request.query_params:
            return await self.app(scope, receive, send)

        async def with_cookie(message: ASGIMessage) -> None:
            if message["type"] == "http.response.start":
                cookie = f"{TOKEN_COOKIE}={self.cookie}; Path=/; HttpOnly; SameSite=Strict"
                MutableHeaders(scope=message).append("set-cookie", cookie)
            await send(message)

        await self.app(scope, receive, with_cookie)


class CatchFailures:
    """A store outage is a clear 503 and any other failure a 500, both in the error body,
    never a traceback; pages also get the Content-Security-Policy header."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started = False

        async def watched(message: ASGIMessage) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                MutableHeaders(scope=message).setdefault(
                    "content-security-policy", CONTENT_SECURITY_POLICY
                )
            await send(message)

        try:
            await self.app(scope, receive, watched)
        except Exception as exc:
            if started:
                raise
            if is_store_failure(exc):
                response = error(
                    503, "store_unavailable", f"the vector store cannot be reached: {exc}"
                )
            else:
                log.exception("request failed")
                response = error(500, "internal_error", f"{type(exc).__name__}: {exc}")
            await response(scope, receive, send)


# -- the work queue and the warm-up ------------------------------------------------------------


class Shared:
    """One computation that identical requests arriving while it runs wait for."""

    def __init__(self) -> None:
        self.done = anyio.Event()
        self.result: Any = None
        self.error: BaseException | None = None


class WorkQueue:
    """First come, first served: at most `workers` requests compute at once and the others wait
    in arrival order (anyio's CapacityLimiter is FIFO). A request counts from the moment it
    arrives (`Admit`); past `limit` it is refused before its body is even read: a quick 503
    beats a minute in a queue, and cheap refusals keep an overloaded server responsive.

    Identical requests (same `key`) that arrive while one of them waits or computes share its
    result instead of computing it again: a burst of people asking the same thing costs one
    computation. Results are not kept afterwards."""

    PATHS = frozenset({"/v1/ask", "/v1/retrieve", "/v1/chat/completions"})

    def __init__(self, workers: int, limit: int) -> None:
        self.workers, self.limit = workers, limit
        self.pending = 0
        self.seconds = 0.1  # moving average of one request's compute time, for Retry-After
        self._limiter: anyio.CapacityLimiter | None = None
        self._running: dict[str, Shared] = {}

    def retry_after(self) -> int:
        return max(1, math.ceil(self.pending * self.seconds / self.workers))

    async def run(self, request: Request, work: Callable[[], T], key: str | None = None) -> T:
        """`work`'s result, computed in a worker thread when its turn comes (or shared with an
        identical request already in the queue); not computed if the client has gone."""
        shared = self._running.get(key) if key is not None else None
        if shared is not None:
            await shared.done.wait()
            if isinstance(shared.error, Exception) and not isinstance(shared.error, ClientGone):
                raise shared.error
            if shared.error is None:
                return shared.result  # type: ignore[no-any-return]
            return await self.run(request, work, key)  # its client left: compute it ourselves
        if key is None:
            return await self._compute(request, work)
        shared = self._running[key] = Shared()
        try:
            shared.result = await self._compute(request, work)
            return shared.result  # type: ignore[no-any-return]
        except BaseException as exc:
            shared.error = exc
            raise
        finally:
            del self._running[key]
            shared.done.set()

    async def _compute(self, request: Request, work: Callable[[], T]) -> T:
        if self._limiter is None:  # made in the event loop, on first use
            self._limiter = anyio.CapacityLimiter(self.workers)
        async with self._limiter:
            if await request.is_disconnected():
                raise ClientGone
            began = time.perf_counter()
            try:
                return await anyio.to_thread.run_sync(work)
            finally:
                self.seconds = 0.8 * self.seconds + 0.2 * (time.perf_counter() - began)


class Admit:
    """Counts the queued routes' requests against the queue's limit, from arrival to answer."""

    def __init__(self, app: ASGIApp, queue: WorkQueue) -> None:
        self.app, self.queue = app, queue

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] not in self.queue.PATHS:
            return await self.app(scope, receive, send)
        queue = self.queue
        if queue.pending >= queue.limit:
            wait = queue.retry_after()
            message = f"the service is busy ({queue.pending} requests queued); retry in {wait} s"
            busy = error(503, "overloaded", message, {"queue_limit": queue.limit},
                          headers={"Retry-After": str(wait)})  # fmt: skip
            return await busy(scope, receive, send)
        queue.pending += 1
        try:
            await self.app(scope, receive, send)
        finally:
            queue.pending -= 1


class Warmup:
    """Loads, in the background, what the first questions would otherwise wait for: the
    embedding model, the keyword index of the active version and the answerer. `ready` is set
    when one question has been answered (retrieved only, with an LLM answerer: readiness does
    not wait for, or spend, a model call); until then /healthz says "starting"."""

    def __init__(self, bot: Assistant) -> None:
        self.bot = bot
        self.ready = threading.Event()
        self.stopped = threading.Event()
        self.problem = ""

    def start(self) -> None:
        threading.Thread(target=self._run, name="warm-up", daemon=True).start()

    def stop(self) -> None:
        self.stopped.set()

    def _run(self) -> None:
        while not self.stopped.is_set():
            try:
                self.bot.search_index.keyword()
                self.bot.search_index.vectorstore()
                if self.bot.answerer.local:
                    self.bot.ask(WARM_QUESTION)
                else:
                    self.bot.retrieve(WARM_QUESTION)
            except Exception as exc:  # e.g. the store is not up yet: try again
                self.problem = f"{type(exc).__name__}: {' '.join(str(exc).split())}"
                self.stopped.wait(1.0)
            else:
                self.problem = ""
                self.ready.set()
                return


# -- the app -----------------------------------------------------------------------------------


def create_app(bot: Assistant, *, with_ui: bool = True, warm: bool = True) -> FastAPI:
    """The FastAPI app; the Gradio chat is mounted at / when `with_ui`. With `warm`, the models
    and the keyword index are loaded in the background at start (see `Warmup`)."""
    from fastapi_offline import FastAPIOffline

    settings = bot.settings
    queue = WorkQueue(settings.api_workers, settings.api_queue_limit)
    warmup = Warmup(bot)
    manager = DocumentManager(bot)  # one per server: the UI's Documents tab and the API share it
    # MCP over streamable HTTP at /mcp (assistant/mcp_server.py); its route is added below.
    from assistant.mcp_server import MCP_PATH, http_endpoint

    mcp_http = http_endpoint(bot, check_host=settings.api_token is None)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if warm:
            warmup.start()
        else:
            warmup.ready.set()
        async with mcp_http.running():  # the MCP session manager, for /mcp
            yield
        warmup.stop()

    app = FastAPIOffline(  # serves /docs with bundled Swagger UI assets: no CDN, works offline
        title="Policy assistant API",
        version="1",
        description="Cited answers and passage retrieval over the policy corpus. "
        "Every answer's citations point at exact character offsets in the source files.",
        lifespan=lifespan,
    )
    app.state.queue, app.state.warmup = queue, warmup
    # Added last = runs first: size limit, token, queue admission, failures as 503/500.
    app.add_middleware(CatchFailures)
    app.add_middleware(Admit, queue=queue)
    if settings.api_token is not None:
        app.add_middleware(RequireToken, token=settings.api_token.get_secret_value())
    app.add_middleware(LimitBody, limit=settings.api_max_body_bytes,
                       upload_limit=settings.upload_max_bytes + UPLOAD_FORM_BYTES)  # fmt: skip

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [
            {"where": ".".join(str(p) for p in e["loc"]), "problem": e["msg"]} for e in exc.errors()
        ]
        if any(e["type"] == "json_invalid" for e in exc.errors()):
            return error(400, "invalid_json", "the request body is not valid JSON", problems)
        summary = "; ".join(f"{p['where']}: {p['problem']}" for p in problems)
        return error(422, "invalid_request", summary, problems)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        if exc.status_code == 400 and "parsing the body" in str(exc.detail):
            return error(400, "invalid_json", "the request body is not valid JSON (UTF-8)")
        kind = HTTP_ERRORS.get(exc.status_code, "http_error")
        return error(exc.status_code, kind, str(exc.detail), headers=exc.headers)

    @app.exception_handler(InvalidQuestion)
    async def bad_question(request: Request, exc: InvalidQuestion) -> JSONResponse:
        return error(422, "invalid_request", str(exc))

    @app.exception_handler(UploadRejected)
    async def bad_upload(request: Request, exc: UploadRejected) -> JSONResponse:
        return error(422, "upload_rejected", str(exc))

    @app.exception_handler(IndexMissing)
    async def no_index(request: Request, exc: IndexMissing) -> JSONResponse:
        return error(503, "index_missing", str(exc))

    @app.exception_handler(ClientGone)
    async def gone(request: Request, exc: ClientGone) -> JSONResponse:
        # nobody reads it; 499 is the usual code for "client closed request"
        return error(499, "client_closed_request", "the client disconnected before its turn")

    @app.get("/healthz", tags=["service"])
    async def healthz() -> Any:
        """Ready (200) once the models and the keyword index are loaded: 503 {"status":
        "starting"} before. Each call checks the store itself: 503 when it cannot be reached."""
        if not warmup.ready.is_set():
            body = {"status": "starting", "error": {"type": "starting", "details": warmup.problem or None,
                    "message": "loading the models and the keyword index"}}  # fmt: skip
            return JSONResponse(status_code=503, content=body, headers={"Retry-After": "1"})
        version = await anyio.to_thread.run_sync(bot.store.active)
        if version is None:
            raise IndexMissing("no index yet: run `assistant index` first")
        return {"status": "ok", "index_version": version.collection, "built": version.created,
                "documents": len(version.documents), "chunks": version.chunk_count,
                "answerer": bot.answerer.name}  # fmt: skip

    def passages(body: RetrieveIn) -> dict[str, list[Passage]]:
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

    @app.post("/v1/retrieve", tags=["retrieval"])
    async def retrieve(body: RetrieveIn, request: Request) -> dict[str, list[Passage]]:
        """The k best passages (hybrid BM25 + dense search)."""
        return await queue.run(
            request, lambda: passages(body), f"retrieve {body.model_dump_json()}"
        )

    def answer_for(
        question: str, history: list[dict[str, str]], filters: FiltersIn | None
    ) -> Answer:
        return bot.ask(question, history=history, filters=filters.to_filters() if filters else None)

    @app.post("/v1/ask", tags=["answers"], response_model=AskOut)
    async def ask(body: AskIn, request: Request) -> Any:
        """A cited answer. With "stream": true, server-sent events: `delta` pieces of the
        answer, then `answer` (the whole AskOut with citations), then `done`."""
        history = [m.model_dump() for m in body.history]
        key = f"ask {body.model_dump_json(exclude={'stream'})}"
        answer = await queue.run(
            request, lambda: answer_for(body.question, history, body.filters), key
        )
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
    async def chat_completions(body: ChatIn, request: Request) -> Any:
        """OpenAI-compatible chat: the last user message is the question, earlier turns are the
        history. Citations come as a Sources list in the content and in `citations`."""
        turns = [
            {"role": m.role, "content": m.text()}
            for m in body.messages
            if m.role in ("user", "assistant")
        ]
        if not turns or turns[-1]["role"] != "user":
            raise InvalidQuestion("the last message must be a user message")
        key = f"ask {json.dumps({'question': turns[-1]['content'], 'history': turns[:-1]})}"
        answer = await queue.run(
            request, lambda: answer_for(turns[-1]["content"], turns[:-1], None), key
        )
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

    # Before the UI's mount at /, inside the middleware above (token, body limit, failures).
    app.add_route(MCP_PATH, mcp_http, include_in_schema=False)  # MCP, all methods
    app.include_router(documents_router(manager))  # /v1/documents, /v1/jobs: staff uploads

    _api_errors_before_the_ui(app)
    if with_ui:
        import gradio as gr

        from assistant.ui import build_app, ui_assets

        app = gr.mount_gradio_app(
            app, build_app(bot, manager).queue(default_concurrency_limit=4), path="/", **ui_assets()
        )
    return app


def _api_errors_before_the_ui(app: FastAPI) -> None:
    """With the chat mounted at /, a wrong method or an unknown path under /v1 would fall
    through to the UI's 404; answer them here instead, in the API's error body."""
    from fastapi.routing import APIRoute

    def refuse(allowed: list[str]) -> Callable[[], Any]:
        async def not_allowed() -> None:
            raise HTTPException(405, f"use {' or '.join(allowed)}", {"Allow": ", ".join(allowed)})

        return not_allowed

    routes = [
        r for r in app.routes if isinstance(r, APIRoute) and r.path.startswith(("/v1/", "/healthz"))
    ]
    for route in routes:
        allowed = sorted(route.methods | ({"HEAD"} if "GET" in route.methods else set()))
        others = [m for m in ALL_METHODS if m not in allowed]
        app.add_api_route(route.path, refuse(allowed), methods=others, include_in_schema=False)

    async def unknown(path: str) -> None:
        raise HTTPException(404, f"no such route: /v1/{path}")

    app.add_api_route(
        "/v1/{path:path}", unknown, methods=list(ALL_METHODS), include_in_schema=False
    )
