"""The one error body of the API, {"error": {"type", "message", "details"}}, and the
handlers that turn exceptions into it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from assistant.assistant import InvalidQuestion
from assistant.documents import UploadRejected
from assistant.search.retrieve import IndexMissing

if TYPE_CHECKING:
    pass


ALL_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


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


def install_error_handlers(app: FastAPI) -> None:
    """Every failure a client can cause becomes the one error body, with a 4xx status."""

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

    simple = ((InvalidQuestion, 422, "invalid_request"), (UploadRejected, 422, "upload_rejected"),
              (IndexMissing, 503, "index_missing"))  # fmt: skip
    for kind_of, status, name in simple:
        app.add_exception_handler(kind_of, _plain(status, name))

    @app.exception_handler(ClientGone)
    async def gone(request: Request, exc: ClientGone) -> JSONResponse:
        # nobody reads it; 499 is the usual code for "client closed request"
        return error(499, "client_closed_request", "the client disconnected before its turn")


def _plain(status: int, kind: str) -> Callable[[Request, Exception], Awaitable[JSONResponse]]:
    async def handle(request: Request, exc: Exception) -> JSONResponse:
        return error(status, kind, str(exc))

    return handle


def answer_unknown_routes(app: FastAPI) -> None:
    """With the chat mounted at /, a wrong method or an unknown path under /v1 would fall
    through to the UI's 404; answer them here instead, in the API's error body."""
    from fastapi.routing import APIRoute

    def refuse(allowed: list[str]) -> Callable[[], Any]:
        async def not_allowed() -> None:
            raise HTTPException(405, f"use {' or '.join(allowed)}", {"Allow": ", ".join(allowed)})

        return not_allowed

    def flat(items: list[Any]) -> list[Any]:  # an included router is kept whole, not copied
        out = []
        for item in items:
            inner = getattr(item, "original_router", None)
            out += flat(inner.routes) if inner is not None else [item]
        return out

    routes = [
        r
        for r in flat(app.routes)
        if isinstance(r, APIRoute) and r.path.startswith(("/v1/", "/healthz"))
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
