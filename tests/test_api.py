from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import anyio
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from assistant import Assistant
from assistant.search.store import ChromaStore, StoreUnavailable
from assistant.settings import Settings
from assistant.surfaces.api.app import create_app


@contextmanager
def started(app: FastAPI) -> Iterator[TestClient]:
    """A client for an app whose start-up (lifespan: the warm-up) has run and finished."""
    with TestClient(app) as client:
        assert app.state.warmup.ready.wait(60), app.state.warmup.problem
        yield client


@pytest.fixture
def client(hash_settings: Settings) -> Iterator[TestClient]:
    with started(create_app(Assistant(hash_settings), with_ui=False)) as client:
        yield client


def test_retrieve_returns_passages_with_offsets(
    client: TestClient, hash_settings: Settings
) -> None:
    response = client.post("/v1/retrieve", json={"query": "broadband penetration", "k": 3})
    assert response.status_code == 200
    passages = response.json()["passages"]
    assert len(passages) == 3
    first = passages[0]
    assert {
        "text",
        "score",
        "source",
        "title",
        "heading",
        "chunk_id",
        "start",
        "end",
    } <= first.keys()
    text = (hash_settings.corpus_dir / first["source"]).read_text(encoding="utf-8")
    assert first["end"] > first["start"] and text[first["start"] : first["end"]]


def test_retrieve_filters(client: TestClient) -> None:
    only = "miao-wei-liaowang-interview-2016.txt"
    body = {"query": "innovation centres", "k": 5, "filters": {"sources": [only]}}
    passages = client.post("/v1/retrieve", json=body).json()["passages"]
    assert passages and {p["source"] for p in passages} == {only}
    dated = {
        "query": "innovation centres",
        "filters": {"date_from": "2017-01", "date_to": "2017-12"},
    }
    assert all(
        p["date"].startswith("2017")
        for p in client.post("/v1/retrieve", json=dated).json()["passages"]
    )


def test_ask_and_stream(client: TestClient) -> None:
    body = {"question": "What is the broadband penetration target for 2025?"}
    answer = client.post("/v1/ask", json=body).json()
    assert {"answer", "abstained", "grounded", "citations", "related", "question"} <= answer.keys()
    assert answer["citations"] and answer["citations"][0]["number"] == 1

    with client.stream("POST", "/v1/ask", json=body | {"stream": True}) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        raw = "".join(response.iter_text())
    events = [block.split("\n", 1) for block in raw.strip().split("\n\n")]
    names = [e[0].removeprefix("event: ") for e in events]
    assert names[-2:] == ["answer", "done"] and set(names[:-2]) == {"delta"}
    streamed = "".join(json.loads(e[1].removeprefix("data: "))["text"] for e in events[:-2])
    final = json.loads(events[-2][1].removeprefix("data: "))
    assert streamed == final["answer"] == answer["answer"]


def test_openai_compatible_chat(client: TestClient) -> None:
    body = {"model": "policy-assistant", "temperature": 0,
            "messages": [{"role": "system", "content": "be nice"},
                         {"role": "user", "content": "What is the broadband penetration target for 2020?"},
                         {"role": "assistant", "content": "70 [1]"},
                         {"role": "user", "content": "And by 2025?"}]}  # fmt: skip
    reply = client.post("/v1/chat/completions", json=body).json()
    assert reply["object"] == "chat.completion"
    content = reply["choices"][0]["message"]["content"]
    assert "Sources:" in content and reply["citations"][0]["number"] == 1

    with client.stream("POST", "/v1/chat/completions", json=body | {"stream": True}) as response:
        lines = [line for line in response.iter_lines() if line.startswith("data: ")]
    assert lines[-1] == "data: [DONE]"
    chunks = [json.loads(line.removeprefix("data: ")) for line in lines[:-1]]
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    assert "".join(c["choices"][0]["delta"].get("content", "") for c in chunks) == content
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop" and chunks[-1]["citations"]


@pytest.mark.parametrize(
    ("path", "body", "status"),
    [
        ("/v1/retrieve", {"query": ""}, 422),
        ("/v1/retrieve", {"query": "   "}, 422),
        ("/v1/retrieve", {"query": "x" * 4001}, 422),
        ("/v1/retrieve", {"query": "ok", "k": 0}, 422),
        ("/v1/retrieve", {"query": "ok", "k": 51}, 422),
        ("/v1/retrieve", {"query": "ok", "filters": {"authors": ["x"]}}, 422),
        ("/v1/retrieve", {"query": "ok", "filters": {"date_from": "last year"}}, 422),
        ("/v1/retrieve", {"query": "ok", "colour": "red"}, 422),
        ("/v1/ask", {"question": ""}, 422),
        ("/v1/ask", {"question": "ok", "history": [{"role": "robot", "content": "x"}]}, 422),
        ("/v1/chat/completions", {"messages": []}, 422),
        ("/v1/chat/completions", {"messages": [{"role": "assistant", "content": "hi"}]}, 422),
    ],
)
def test_bad_requests_get_clear_4xx_json(
    client: TestClient, path: str, body: dict, status: int
) -> None:
    response = client.post(path, json=body)
    assert response.status_code == status
    assert response.json()["error"]["message"]


def test_malformed_json_is_a_400(client: TestClient) -> None:
    response = client.post(
        "/v1/ask", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert response.status_code == 400 and response.json()["error"]["type"] == "invalid_json"


def test_documents_health_and_openapi(client: TestClient) -> None:
    documents = client.get("/v1/documents").json()["documents"]
    assert len(documents) == 5 and all(d["chunks"] > 0 and d["title"] for d in documents)
    health = client.get("/healthz").json()
    assert health["status"] == "ok" and health["chunks"] == sum(d["chunks"] for d in documents)
    spec = client.get("/openapi.json").json()
    routes = {"/v1/retrieve", "/v1/ask", "/v1/chat/completions", "/v1/documents", "/healthz"}
    assert routes <= spec["paths"].keys()
    docs = client.get("/docs").text  # Swagger UI from the package, not a CDN: works offline
    assert "swagger" in docs.lower() and "cdn.jsdelivr" not in docs and "unpkg" not in docs
    assets = [
        src for src in re.findall(r'(?:src|href)="([^"]+)"', docs) if not src.startswith("data:")
    ]
    assert assets and all(src.startswith("/") for src in assets)
    assert all(client.get(src).status_code == 200 for src in assets)


def test_bearer_token_protects_every_route(hash_settings: Settings) -> None:
    from pydantic import SecretStr

    settings = hash_settings.model_copy(update={"api_token": SecretStr("s3cret")})
    with started(create_app(Assistant(settings), with_ui=True)) as client:
        for path in ("/healthz", "/v1/documents", "/", "/openapi.json"):
            assert client.get(path).status_code == 401, path
        assert client.post("/v1/retrieve", json={"query": "x"}).status_code == 401
        assert client.get("/healthz", headers={"Authorization": "Bearer nope"}).status_code == 401
        right = {"Authorization": "Bearer s3cret"}
        assert client.get("/healthz", headers=right).status_code == 200
        retrieved = client.post("/v1/retrieve", json={"query": "pilot cities"}, headers=right)
        assert retrieved.status_code == 200
        # the scheme is required, in any case; a bare token is refused
        for header in ("bearer s3cret", "BEARER  s3cret ", "Bearer\ts3cret"):
            assert client.get("/healthz", headers={"Authorization": header}).status_code == 200
        for header in ("s3cret", "Basic s3cret", "Bearer", "Token s3cret", "Bearers3cret"):
            refused = client.get("/healthz", headers={"Authorization": header})
            assert refused.status_code == 401, header
            assert refused.json()["error"]["type"] == "unauthorized"
        # a browser opens the UI once with ?token=, then the cookie carries it
        assert client.get("/?token=s3cret").status_code == 200
        cookie = client.cookies.get("assistant_token")
        assert cookie and "s3cret" not in cookie and len(cookie) == 64  # an HMAC, not the token
        assert client.get("/").status_code == 200
        assert client.get("/healthz").status_code == 200
        # the raw token as a cookie (what the UI used to store) is not accepted
        client.cookies.clear()
        client.cookies.set("assistant_token", "s3cret")
        assert client.get("/healthz").status_code == 401


# -- hardening: limits, errors, health, the queue ----------------------------------------------


class Gated(Assistant):
    """Records each question it computes, in order, and computes it only once `gate` is open."""

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self.gate = threading.Event()
        self.asked: list[str] = []

    def ask(self, question: str, history=None, filters=None):  # type: ignore[override]
        self.asked.append(question)
        assert self.gate.wait(30)
        return super().ask(question, history, filters)


class SwitchableStore(ChromaStore):
    """The real store, until `down` is set: then every call fails as an unreachable server."""

    down = False

    def active(self):  # type: ignore[override]
        if self.down:
            raise StoreUnavailable("cannot open the Chroma server at 127.0.0.1:9: refused")
        return super().active()


def test_unparsable_bodies_get_the_documented_error(client: TestClient) -> None:
    for content in (b"{not json", b'{"question": "x"', b'{"question": "\xc3\x28"}', b"\xff\xfe"):
        response = client.post(
            "/v1/ask", content=content, headers={"content-type": "application/json"}
        )
        assert response.status_code == 400, content
        assert response.json() == {
            "error": {"type": "invalid_json", "message": response.json()["error"]["message"],
                      "details": response.json()["error"]["details"]}
        }  # fmt: skip


def test_wrong_method_and_unknown_routes_get_the_error_body_with_the_ui_mounted(
    hash_settings: Settings,
) -> None:
    with started(create_app(Assistant(hash_settings), with_ui=True)) as client:
        for method, path in (("get", "/v1/ask"), ("put", "/v1/retrieve"), ("delete", "/healthz"),
                             ("get", "/v1/chat/completions")):  # fmt: skip
            response = getattr(client, method)(path)
            assert response.status_code == 405, path
            assert response.json()["error"]["type"] == "method_not_allowed"
            assert response.headers["allow"]
        assert client.get("/v1/ask").headers["allow"] == "POST"
        missing = client.post("/v1/asks", json={"question": "x"})
        assert missing.status_code == 404 and missing.json()["error"]["type"] == "not_found"
        assert client.get("/").status_code == 200  # the UI is still at /


def test_request_bodies_over_the_limit_get_a_413(hash_settings: Settings) -> None:
    big = {"question": "And by 2025?", "history": [{"role": "user", "content": "x" * 1_100_000}]}
    with started(create_app(Assistant(hash_settings), with_ui=False)) as client:  # default: 1 MB
        response = client.post("/v1/ask", json=big)
        assert response.status_code == 413
        assert response.json()["error"]["type"] == "request_too_large"
        assert "1,000,000 bytes" in response.json()["error"]["message"]
        # sent in chunks, without a Content-Length: refused once the bytes pass the limit
        chunks = iter([json.dumps(big).encode()[i : i + 65536] for i in range(0, 1_200_000, 65536)])
        response = client.post(
            "/v1/ask", content=chunks, headers={"content-type": "application/json"}
        )
        assert response.status_code == 413
        assert response.json()["error"]["type"] == "request_too_large"
        assert client.post("/v1/ask", json={"question": "pilot cities?"}).status_code == 200


def test_long_history_is_cut_and_the_standalone_question_stays_within_the_limit(
    client: TestClient,
) -> None:
    previous = "What is the broadband penetration target for 2020? " + "and more " * 90_000
    body = {"question": "And by 2025?", "history": [{"role": "user", "content": previous},
                                                    {"role": "assistant", "content": "70 [1]"}]}  # fmt: skip
    response = client.post("/v1/ask", json=body)
    assert response.status_code == 200
    assert len(response.json()["question"]) <= 4000
    assert "broadband" in response.json()["question"].lower()  # the history is still used


def test_healthz_says_starting_until_warm_then_checks_the_store_on_every_call(
    hash_settings: Settings,
) -> None:
    bot = Gated(hash_settings)
    bot.store = SwitchableStore(hash_settings)
    with TestClient(create_app(bot, with_ui=False)) as client:
        starting = client.get("/healthz")  # the warm-up's question waits for the gate
        assert starting.status_code == 503 and starting.json()["status"] == "starting"
        bot.gate.set()
        assert client.app.state.warmup.ready.wait(30)
        assert bot.asked  # the warm-up asked a question: models and BM25 are loaded
        assert client.get("/healthz").json()["status"] == "ok"
        bot.store.down = True  # at once, not a second later
        down = client.get("/healthz")
        assert down.status_code == 503 and down.json()["error"]["type"] == "store_unavailable"
        bot.store.down = False
        assert client.get("/healthz").status_code == 200


def test_queue_is_first_come_first_served_and_bounded(hash_settings: Settings) -> None:
    settings = hash_settings.model_copy(update={"api_workers": 1, "api_queue_limit": 3})
    bot = Gated(settings)
    app = create_app(bot, with_ui=False, warm=False)
    with started(app) as client:
        replies: dict[str, int] = {}

        def post(question: str) -> None:
            replies[question] = client.post("/v1/ask", json={"question": question}).status_code

        threads = []
        for n, question in enumerate(("first?", "second?", "third?")):
            threads.append(threading.Thread(target=post, args=(question,)))
            threads[-1].start()
            deadline = time.monotonic() + 10
            while app.state.queue.pending < n + 1 and time.monotonic() < deadline:
                time.sleep(0.01)
        refused = client.post("/v1/ask", json={"question": "fourth?"})  # at once, not queued
        assert refused.status_code == 503 and refused.json()["error"]["type"] == "overloaded"
        assert int(refused.headers["retry-after"]) >= 1
        bot.gate.set()
        for thread in threads:
            thread.join(30)
        assert replies == {"first?": 200, "second?": 200, "third?": 200}
        assert bot.asked == ["first?", "second?", "third?"]  # in arrival order


def test_identical_requests_in_the_queue_share_one_computation(hash_settings: Settings) -> None:
    settings = hash_settings.model_copy(update={"api_workers": 1})
    bot = Gated(settings)
    app = create_app(bot, with_ui=False, warm=False)
    with started(app) as client:
        replies: list[dict] = []
        body = {"question": "What is the broadband penetration target for 2025?"}

        def post(stream: bool) -> None:
            response = client.post("/v1/ask", json=body | {"stream": stream})
            replies.append(response.json() if not stream else {"streamed": response.text})

        threads = [threading.Thread(target=post, args=(n == 3,)) for n in range(4)]
        for n, thread in enumerate(threads):
            thread.start()
            while app.state.queue.pending < n + 1:
                time.sleep(0.01)
        bot.gate.set()
        for thread in threads:
            thread.join(30)
    assert bot.asked == [body["question"]]  # computed once for the four
    answers = [r for r in replies if "streamed" not in r]
    assert len(answers) == 3 and all(r == answers[0] for r in answers) and answers[0]["citations"]
    assert (
        answers[0]["answer"].split()[0] in next(r for r in replies if "streamed" in r)["streamed"]
    )


def test_a_queued_request_whose_client_has_gone_is_not_computed(hash_settings: Settings) -> None:
    settings = hash_settings.model_copy(update={"api_workers": 1})
    bot = Gated(settings)
    app = create_app(bot, with_ui=False, warm=False)

    async def call(question: str, gone: anyio.Event) -> int:
        body = json.dumps({"question": question}).encode()
        scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
                 "scheme": "http", "path": "/v1/ask", "raw_path": b"/v1/ask", "query_string": b"",
                 "root_path": "", "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 8000),
                 "headers": [(b"content-type", b"application/json"),
                             (b"content-length", str(len(body)).encode())]}  # fmt: skip
        sent, status = False, 0

        async def receive() -> dict:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            if not gone.is_set():
                await gone.wait()
            return {"type": "http.disconnect"}

        async def send(message: dict) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]

        await app(scope, receive, send)
        return status

    async def scenario() -> None:
        stays, leaves = anyio.Event(), anyio.Event()
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(call, "first?", stays)
            while bot.asked != ["first?"]:
                await anyio.sleep(0.01)
            tasks.start_soon(call, "gone?", leaves)  # waits behind "first?"
            while app.state.queue.pending < 2:
                await anyio.sleep(0.01)
            leaves.set()  # its client disconnects while it waits
            bot.gate.set()

    anyio.run(scenario)
    assert bot.asked == ["first?"]


def test_citations_say_their_kind(client: TestClient) -> None:
    question = "What is the broadband penetration target for 2025?"
    reply = client.post("/v1/ask", json={"question": question})
    assert reply.status_code == 200
    body = reply.json()
    kinds = {c["kind"] for c in body["citations"] + body["related"]}
    assert kinds and kinds <= {"text", "table_row", "list", "list_item"}
