from __future__ import annotations

import json
import re

import pytest
from fastapi.testclient import TestClient

from assistant import Assistant
from assistant.api import create_app
from assistant.settings import Settings


@pytest.fixture
def client(hash_settings: Settings) -> TestClient:
    return TestClient(create_app(Assistant(hash_settings), with_ui=False))


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
    app = create_app(Assistant(settings), with_ui=True)
    client = TestClient(app)
    for method, path in (
        ("get", "/healthz"),
        ("get", "/v1/documents"),
        ("get", "/"),
        ("get", "/openapi.json"),
    ):
        assert getattr(client, method)(path).status_code == 401, path
    assert client.post("/v1/retrieve", json={"query": "x"}).status_code == 401
    wrong = {"Authorization": "Bearer nope"}
    assert client.get("/healthz", headers=wrong).status_code == 401
    right = {"Authorization": "Bearer s3cret"}
    assert client.get("/healthz", headers=right).status_code == 200
    assert (
        client.post("/v1/retrieve", json={"query": "pilot cities"}, headers=right).status_code
        == 200
    )
    # a browser opens the UI once with ?token=, then the cookie carries it
    assert client.get("/?token=s3cret").status_code == 200
    assert client.get("/").status_code == 200
