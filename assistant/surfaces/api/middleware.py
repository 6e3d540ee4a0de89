"""Plain ASGI middleware (so that streaming and disconnects pass through untouched): the body
limit, the token, failures of the store as 503, and the work queue that admits requests."""

from __future__ import annotations

import hashlib
import hmac
import logging
import math
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import anyio
import anyio.to_thread
from fastapi import Request
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.types import Message as ASGIMessage

from assistant.search.store import is_store_failure
from assistant.surfaces.api.errors import HTTP_ERRORS, BodyTooLarge, ClientGone, error
from assistant.surfaces.chatview import CONTENT_SECURITY_POLICY

if TYPE_CHECKING:
    pass


TOKEN_COOKIE = "assistant_token"
log = logging.getLogger("assistant.api")
T = TypeVar("T")


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
