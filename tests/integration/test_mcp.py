"""The MCP server through the SDK's own clients: `assistant mcp` over stdio, and the /mcp
endpoint of `assistant serve` (behind its bearer token) over streamable HTTP. Both run as real
subprocesses on one index of the real corpus; every offset is checked against the files."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import anyio
import pytest
import requests

from assistant.testing import free_port
from tests.conftest import CORPUS, ROOT

pytestmark = pytest.mark.integration
TOKEN = "mcp-test-token"
TOOLS = {"search_documents", "ask", "list_documents"}
INITIALIZE = {"jsonrpc": "2.0", "id": 1, "method": "initialize",
              "params": {"protocolVersion": "2025-06-18", "capabilities": {},
                         "clientInfo": {"name": "test", "version": "1"}}}  # fmt: skip


def file_text(source: str) -> str:
    return (CORPUS / source).read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """One index of the real corpus, built by the CLI into a temporary folder."""
    tmp = tmp_path_factory.mktemp("mcp")
    env = {k: v for k, v in os.environ.items() if not k.startswith("ASSISTANT_")}
    env.update(ASSISTANT_CORPUS_DIR=str(CORPUS), ASSISTANT_INDEX_DIR=str(tmp / "index"),
               ASSISTANT_CACHE_DIR=str(tmp / "cache"), ASSISTANT_DATA_DIR=str(tmp / "data"))  # fmt: skip
    done = subprocess.run([sys.executable, "-m", "assistant.surfaces.cli", "index"], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=900)  # fmt: skip
    assert done.returncode == 0, done.stderr
    return env


@pytest.fixture(scope="module")
def served(env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`assistant serve` with the chat UI at / and a bearer token; its base URL once warm."""
    port = free_port()
    log = tmp_path_factory.mktemp("serve") / "stderr.txt"
    with log.open("w") as errors:
        process = subprocess.Popen(
            [sys.executable, "-m", "assistant.surfaces.cli", "serve", "--port", str(port)],
            env=env | {"ASSISTANT_API_TOKEN": TOKEN}, cwd=ROOT,
            stdout=subprocess.DEVNULL, stderr=errors,
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            assert process.poll() is None, f"serve exited: {log.read_text()}"
            assert time.monotonic() < deadline, f"serve did not come up: {log.read_text()}"
            try:
                auth = {"Authorization": f"Bearer {TOKEN}"}
                if requests.get(f"{url}/healthz", headers=auth, timeout=5).status_code == 200:
                    break
            except requests.RequestException:
                pass
            time.sleep(0.5)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)


# -- what both transports must do --------------------------------------------------------------


async def call(session: Any, tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
    result = await session.call_tool(tool, arguments)
    assert not result.is_error, result.content
    assert result.structured_content is not None
    # the text content is the same result as JSON, for clients that only read text
    assert json.loads(result.content[0].text) == result.structured_content
    return result.structured_content


def check_citations(citations: list[dict[str, Any]]) -> None:
    for c in citations:
        assert file_text(c["source"])[c["start"] : c["end"]] == c["quote"], c


async def exercise(session: Any) -> None:
    """List the tools, call each, and check every offset against the source files."""
    await session.initialize()
    listed = (await session.list_tools()).tools
    assert {t.name for t in listed} == TOOLS
    for tool in listed:
        assert tool.description and len(tool.description) > 150, tool.name
        assert tool.output_schema and tool.output_schema["type"] == "object", tool.name
        assert tool.annotations and tool.annotations.read_only_hint

    documents = (await call(session, "list_documents", {}))["documents"]
    sources = {d["source"] for d in documents}
    assert sources == {p.name for p in CORPUS.glob("*.txt")}
    assert all(d["chunks"] > 0 and d["title"] for d in documents)

    found = await call(session, "search_documents", {"query": "pilot cities", "k": 3})
    assert len(found["passages"]) == 3
    for p in found["passages"]:
        exact = file_text(p["source"])[p["start"] : p["end"]]
        assert exact == (p["source_text"] or p["text"]), p
        assert p["title"] and p["date"] and p["score"] > 0
    only = "miit-implementation-of-made-in-china-2025-2017.txt"
    narrowed = await call(session, "search_documents",
                          {"query": "smart manufacturing", "k": 4, "sources": [only], "date_from": "2017"})  # fmt: skip
    assert narrowed["passages"] and {p["source"] for p in narrowed["passages"]} == {only}

    asked = await call(session, "ask", {"question": "What is the broadband penetration target for 2025?"})  # fmt: skip
    assert not asked["abstained"] and "82" in asked["answer"] and asked["citations"]
    assert asked["confidence"] > 0 and "[1]" in asked["answer"]
    check_citations(asked["citations"])
    history = [{"role": "user", "content": "What is the broadband penetration target for 2025?"},
               {"role": "assistant", "content": asked["answer"]}]  # fmt: skip
    follow_up = await call(session, "ask", {"question": "And by 2020?", "history": history})
    assert not follow_up["abstained"] and "70" in follow_up["answer"]
    check_citations(follow_up["citations"])

    refused = await call(session, "ask", {"question": "How much funding did the National Power Battery Innovation Center receive?"})  # fmt: skip
    assert refused["abstained"] and refused["answer"].startswith("Not found in the documents")
    assert refused["related"] and not refused["citations"]
    check_citations(refused["related"])

    wrong = await session.call_tool("search_documents", {"query": "x", "sources": ["nope.txt"]})
    assert wrong.is_error and "list_documents" in wrong.content[0].text


# -- stdio -------------------------------------------------------------------------------------


def test_stdio_server_through_the_sdk_client(env: dict[str, str], tmp_path: Path) -> None:
    from mcp import ClientSession, StdioServerParameters, stdio_client

    params = StdioServerParameters(command=sys.executable, args=["-m", "assistant.surfaces.cli", "mcp"],
                                   env=env, cwd=ROOT)  # fmt: skip
    faults: list[Exception] = []

    async def on_message(message: Any) -> None:
        if isinstance(message, Exception):  # e.g. a stdout line that is not a protocol message
            faults.append(message)

    async def scenario() -> None:
        async with AsyncExitStack() as stack:
            errlog = stack.enter_context((tmp_path / "stderr.txt").open("w"))
            read, write = await stack.enter_async_context(stdio_client(params, errlog=errlog))
            session = await stack.enter_async_context(
                ClientSession(read, write, message_handler=on_message)
            )
            with anyio.fail_after(240):
                await exercise(session)

    anyio.run(scenario)
    assert not faults, (faults, (tmp_path / "stderr.txt").read_text())


# -- streamable HTTP at /mcp -------------------------------------------------------------------


def test_http_endpoint_through_the_sdk_client(served: str) -> None:
    import httpx2
    from mcp import ClientSession
    from mcp.client.streamable_http import streamable_http_client

    async def scenario() -> None:
        headers = {"Authorization": f"Bearer {TOKEN}"}
        async with AsyncExitStack() as stack:
            http = await stack.enter_async_context(
                httpx2.AsyncClient(headers=headers, timeout=httpx2.Timeout(30, read=300))
            )
            read, write = await stack.enter_async_context(
                streamable_http_client(f"{served}/mcp", http_client=http)
            )
            session = await stack.enter_async_context(ClientSession(read, write))
            with anyio.fail_after(240):
                await exercise(session)

    anyio.run(scenario)


def test_http_endpoint_needs_the_token(served: str) -> None:
    accept = {"Accept": "application/json, text/event-stream"}
    for auth in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}):
        refused = requests.post(f"{served}/mcp", json=INITIALIZE, headers=accept | auth, timeout=30)
        assert refused.status_code == 401, auth
        assert refused.json()["error"]["type"] == "unauthorized"
    right = {"Authorization": f"bearer {TOKEN}"}  # the scheme in any case, as on every route
    answered = requests.post(f"{served}/mcp", json=INITIALIZE, headers=accept | right, timeout=30)
    assert answered.status_code == 200 and answered.json()["result"]["serverInfo"]["name"]
    assert requests.get(f"{served}/", headers=right, timeout=30).status_code == 200  # the UI
