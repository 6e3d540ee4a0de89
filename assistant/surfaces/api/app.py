"""The REST service: retrieval and answers for other tools, plus an OpenAI-compatible endpoint.

`create_app` wires it: the routers (`routes.py`: /healthz, POST /v1/retrieve, POST /v1/ask,
optionally as server-sent events; `openai_compat.py`: POST /v1/chat/completions and GET
/v1/models; `documents.py`: list, upload, remove, jobs), the MCP server at /mcp
(`surfaces/mcp_server.py`), the middleware (`middleware.py`) and the error handlers
(`errors.py`); OpenAPI at /openapi.json and /docs. Every error is a JSON body with a 4xx
status (503 when the vector store cannot be reached), never a bare 500 for bad input.

Streaming sends the answer after its citations have been validated, in small pieces: what a
client sees streamed is exactly the checked answer, never citation numbers that get dropped.

Limits (settings): request bodies over `api_max_body_bytes` get a 413 (uploads may carry
`upload_max_bytes`); questions over 4,000 characters a 422; only the last `history_turns`
history messages are used, each cut to `history_message_chars` characters. At most
`api_workers` requests compute at once and the rest wait first come, first served; past
`api_queue_limit` waiting or computing, a 503 with Retry-After. `/healthz` answers 503
{"status": "starting"} until the models and the keyword index are loaded, then checks the
store on every call.
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from fastapi import FastAPI

from assistant.documents import DocumentManager
from assistant.surfaces.api.documents import documents_router
from assistant.surfaces.api.errors import answer_unknown_routes, install_error_handlers
from assistant.surfaces.api.middleware import (
    UPLOAD_FORM_BYTES,
    Admit,
    CatchFailures,
    LimitBody,
    RequireToken,
    WorkQueue,
)

if TYPE_CHECKING:
    from assistant.assistant import Assistant


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
                self.bot.warm_up()
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

    from assistant.surfaces.api import openai_compat, routes
    from assistant.surfaces.mcp_server import MCP_PATH, http_endpoint

    settings = bot.settings
    warmup = Warmup(bot)
    mcp_http = http_endpoint(bot, check_host=settings.api_token is None)  # MCP at /mcp

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
    queue = WorkQueue(settings.api_workers, settings.api_queue_limit)
    manager = DocumentManager(bot)  # one per server: the UI's Documents tab and the API share it
    app.state.bot, app.state.queue, app.state.warmup, app.state.documents = (
        bot,
        queue,
        warmup,
        manager,
    )
    # Added last = runs first: size limit, token, queue admission, failures as 503/500.
    app.add_middleware(CatchFailures)
    app.add_middleware(Admit, queue=queue)
    if settings.api_token is not None:
        app.add_middleware(RequireToken, token=settings.api_token.get_secret_value())
    app.add_middleware(LimitBody, limit=settings.api_max_body_bytes,
                       upload_limit=settings.upload_max_bytes + UPLOAD_FORM_BYTES)  # fmt: skip
    install_error_handlers(app)
    for router in (routes.router, openai_compat.router, documents_router(manager)):
        app.include_router(router)
    # Before the UI's mount at /, inside the middleware above (token, body limit, failures).
    app.add_route(MCP_PATH, mcp_http, include_in_schema=False)  # MCP, all methods
    answer_unknown_routes(app)
    if with_ui:
        import gradio as gr

        from assistant.surfaces.ui import build_app, ui_assets

        app = gr.mount_gradio_app(
            app, build_app(bot, manager).queue(default_concurrency_limit=4), path="/", **ui_assets()
        )
    return app
