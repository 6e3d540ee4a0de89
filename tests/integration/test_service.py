"""Client/server mode: a real `chroma run`, `assistant index` into it, two `assistant serve`
replicas sharing it, and the README's three library examples against them."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from assistant.testing import free_port, wait_for
from tests.conftest import CORPUS, ROOT

pytestmark = pytest.mark.integration
BIN = Path(sys.executable).parent


@pytest.fixture(scope="module")
def chroma_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    tmp = tmp_path_factory.mktemp("chroma-server")
    port = free_port()
    server = subprocess.Popen([str(BIN / "chroma"), "run", "--path", str(tmp / "data"), "--host", "127.0.0.1",
                               "--port", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        wait_for(f"http://127.0.0.1:{port}/api/v2/heartbeat", server, 60)
        env = dict(os.environ)
        env.update(ASSISTANT_CHROMA_MODE="http", ASSISTANT_CHROMA_HOST="127.0.0.1",
                   ASSISTANT_CHROMA_PORT=str(port), ASSISTANT_CORPUS_DIR=str(CORPUS),
                   ASSISTANT_INDEX_DIR=str(tmp / "unused-local-index"),
                   ASSISTANT_CACHE_DIR=str(tmp / "cache"))  # fmt: skip
        done = subprocess.run([sys.executable, "-m", "assistant.surfaces.cli", "index"], env=env,
                              capture_output=True, text=True, timeout=900)  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert "Index updated" in done.stderr
        assert not (
            tmp / "unused-local-index" / "chroma"
        ).exists()  # nothing went to the local folder
        yield env
    finally:
        server.terminate()
        server.wait(timeout=30)


@pytest.fixture(scope="module")
def replicas(chroma_env: dict[str, str]) -> Iterator[list[str]]:
    processes, urls = [], []
    try:
        for _ in range(2):
            port = free_port()
            processes.append(subprocess.Popen(
                [sys.executable, "-m", "assistant.surfaces.cli", "serve", "--port", str(port), "--no-ui"],
                env=chroma_env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))  # fmt: skip
            urls.append(f"http://127.0.0.1:{port}")
        for url, process in zip(urls, processes, strict=True):
            wait_for(f"{url}/healthz", process)
        yield urls
    finally:
        for process in processes:
            process.terminate()
            process.wait(timeout=30)


QUESTIONS = [
    "What broadband penetration does the plan target for 2025?",
    "Who presided over the State Council executive meeting on smart manufacturing?",
    "How many provincial manufacturing innovation centers were built?",
]


def test_replicas_sharing_one_chroma_server_answer_the_same(replicas: list[str]) -> None:
    first, second = replicas
    health = [requests.get(f"{url}/healthz", timeout=30).json() for url in replicas]
    assert health[0]["index_version"] == health[1]["index_version"] and health[0]["chunks"] > 100
    for question in QUESTIONS:
        answers = [requests.post(f"{url}/v1/ask", json={"question": question}, timeout=120).json()
                   for url in replicas]  # fmt: skip
        assert answers[0] == answers[1]
        assert answers[0]["citations"] and not answers[0]["abstained"]
    assert (
        "82"
        in requests.post(f"{first}/v1/ask", json={"question": QUESTIONS[0]}, timeout=120).json()[
            "answer"
        ]
    )
    passages = [requests.post(f"{url}/v1/retrieve", json={"query": "pilot cities", "k": 5}, timeout=120).json()
                for url in (first, second)]  # fmt: skip
    assert passages[0] == passages[1] and len(passages[0]["passages"]) == 5


def readme_example(name: str) -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(# example: (\S+).*?)```", readme, flags=re.S)
    return next(code for code, label in blocks if label == name)


@pytest.mark.parametrize("name", ["retriever-chain", "requests", "openai-sdk"])
def test_readme_library_examples_run(
    name: str, replicas: list[str], chroma_env: dict[str, str]
) -> None:
    code = readme_example(name).replace("http://127.0.0.1:8000", replicas[0])
    done = subprocess.run([sys.executable, "-c", code], env=chroma_env, capture_output=True, text=True,
                          timeout=300, cwd=ROOT)  # fmt: skip
    assert done.returncode == 0, done.stderr
    expected = {"retriever-chain": "30%", "requests": "miit-implementation", "openai-sdk": "82"}[
        name
    ]
    assert expected in done.stdout
