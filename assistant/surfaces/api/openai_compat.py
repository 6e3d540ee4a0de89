"""The OpenAI-compatible endpoint: the assistant as a "model" for Open WebUI, editors or the
`openai` SDK. Responses are the `openai` package's own `ChatCompletion` and
`ChatCompletionChunk` types, with two extra fields: `citations` and `abstained`."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse
from openai.types.chat import ChatCompletion, ChatCompletionChunk

from assistant.answer.validate import Answer
from assistant.assistant import InvalidQuestion
from assistant.surfaces.api.routes import answer_for
from assistant.surfaces.api.schemas import ChatIn, citation_out, pieces

MODEL_NAME = "policy-assistant"
router = APIRouter(tags=["openai"])


def with_sources(answer: Answer) -> str:
    """The answer with a Sources list, for chat clients that only show message content."""
    if not answer.citations:
        return answer.text
    lines = [f"[{c.number}] {c.title} ({c.date}) — {c.source}, chars {c.start}–{c.end}: “{' '.join(c.quote.split())}”"
             for c in answer.citations]  # fmt: skip
    return answer.text + "\n\nSources:\n" + "\n".join(lines)


@router.get("/v1/models")
def models() -> dict[str, Any]:
    return {
        "object": "list",
        "data": [{"id": MODEL_NAME, "object": "model", "owned_by": "assistant"}],
    }


@router.post("/v1/chat/completions")
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
    bot = request.app.state.bot
    key = f"ask {json.dumps({'question': turns[-1]['content'], 'history': turns[:-1]})}"
    answer = await request.app.state.queue.run(
        request, lambda: answer_for(bot, turns[-1]["content"], turns[:-1], None), key
    )
    reply = Reply(answer, body.model or MODEL_NAME)
    if not body.stream:
        return reply.completion()
    return StreamingResponse(reply.chunks(), media_type="text/event-stream")


class Reply:
    """One answer as an OpenAI chat completion, whole or as stream chunks."""

    def __init__(self, answer: Answer, model: str) -> None:
        self.answer, self.model = answer, model
        self.content = with_sources(answer)
        self.extra = {"citations": [citation_out(c).model_dump() for c in answer.citations],
                      "abstained": answer.abstained}  # fmt: skip
        self.id, self.created = f"chatcmpl-{uuid.uuid4().hex[:24]}", int(time.time())

    def completion(self) -> dict[str, Any]:
        completion = ChatCompletion(
            id=self.id, object="chat.completion", created=self.created, model=self.model,
            choices=[{"index": 0, "message": {"role": "assistant", "content": self.content},
                      "finish_reason": "stop"}],
            usage={"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}, **self.extra,
        )  # type: ignore[arg-type]  # fmt: skip
        return completion.model_dump(mode="json", exclude_none=True)

    def chunks(self) -> Iterator[str]:
        yield self._chunk({"role": "assistant", "content": ""})
        for piece in pieces(self.content):
            yield self._chunk({"content": piece})
        yield self._chunk({}, "stop", **self.extra)
        yield "data: [DONE]\n\n"

    def _chunk(self, delta: dict[str, Any], finish: str | None = None, **extra: Any) -> str:
        chunk = ChatCompletionChunk(
            id=self.id, object="chat.completion.chunk", created=self.created, model=self.model,
            choices=[{"index": 0, "delta": delta, "finish_reason": finish}], **extra,
        )  # type: ignore[arg-type]  # fmt: skip
        payload = chunk.model_dump(mode="json", exclude_none=True)
        payload["choices"][0]["finish_reason"] = (
            finish  # null until the last chunk, as OpenAI sends
        )
        return f"data: {json.dumps(payload, ensure_ascii=False)}\n\n"
