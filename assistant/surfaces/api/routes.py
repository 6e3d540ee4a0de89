"""Retrieval and answers: /healthz, POST /v1/retrieve and POST /v1/ask. Each route takes the
assistant, the work queue and the warm-up from `app.state` (set by `create_app`)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import anyio.to_thread
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, StreamingResponse

from assistant.answer.validate import Answer
from assistant.search.retrieve import IndexMissing
from assistant.surfaces.api.schemas import (
    AskIn,
    AskOut,
    FiltersIn,
    Passage,
    RetrieveIn,
    ask_out,
    pieces,
    sse,
)

router = APIRouter()


@router.get("/healthz", tags=["service"])
async def healthz(request: Request) -> Any:
    """Ready (200) once the models and the keyword index are loaded: 503 {"status":
    "starting"} before. Each call checks the store itself: 503 when it cannot be reached."""
    bot, warmup = request.app.state.bot, request.app.state.warmup
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


def passages(bot: Any, body: RetrieveIn) -> dict[str, list[Passage]]:
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


@router.post("/v1/retrieve", tags=["retrieval"])
async def retrieve(body: RetrieveIn, request: Request) -> dict[str, list[Passage]]:
    """The k best passages (hybrid BM25 + dense search)."""
    bot = request.app.state.bot
    return await request.app.state.queue.run(
        request, lambda: passages(bot, body), f"retrieve {body.model_dump_json()}"
    )


def answer_for(
    bot: Any, question: str, history: list[dict[str, str]], filters: FiltersIn | None
) -> Answer:
    return bot.ask(question, history=history, filters=filters.to_filters() if filters else None)  # type: ignore[no-any-return]


@router.post("/v1/ask", tags=["answers"], response_model=AskOut)
async def ask(body: AskIn, request: Request) -> Any:
    """A cited answer. With "stream": true, server-sent events: `delta` pieces of the
    answer, then `answer` (the whole AskOut with citations), then `done`."""
    bot = request.app.state.bot
    history = [m.model_dump() for m in body.history]
    key = f"ask {body.model_dump_json(exclude={'stream'})}"
    answer = await request.app.state.queue.run(
        request, lambda: answer_for(bot, body.question, history, body.filters), key
    )
    if not body.stream:
        return ask_out(answer)

    def events() -> Iterator[str]:
        for piece in pieces(answer.text):
            yield sse("delta", {"text": piece})
        yield sse("answer", ask_out(answer).model_dump())
        yield sse("done", {})

    return StreamingResponse(events(), media_type="text/event-stream")
