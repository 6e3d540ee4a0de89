"""Hardening with real processes: `assistant serve` warms up before it says it is ready and
stops within seconds of SIGTERM; index runs against a real Chroma server take turns."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator

import pytest
import requests

from assistant import Assistant
from assistant.search.store import ChromaStore
from assistant.settings import Settings
from tests.conftest import ROOT
from tests.integration.test_service import chroma_env, free_port  # noqa: F401  (a fixture)

pytestmark = pytest.mark.integration


@pytest.fixture
def serve(real_bot: Assistant, real_settings: Settings) -> Iterator[tuple[subprocess.Popen, str]]:
    """`assistant serve` with the chat UI, on the session's real index, just started."""
    port = free_port()
    env = dict(os.environ, ASSISTANT_CORPUS_DIR=str(real_settings.corpus_dir),
               ASSISTANT_INDEX_DIR=str(real_settings.index_dir), ASSISTANT_CACHE_DIR=str(real_settings.cache_dir))  # fmt: skip
    process = subprocess.Popen([sys.executable, "-m", "assistant.surfaces.cli", "serve", "--port", str(port)], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        yield process, f"http://127.0.0.1:{port}"
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(30)


def wait_until_listening(url: str, process: subprocess.Popen) -> requests.Response:
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        assert process.poll() is None
        try:
            return requests.get(f"{url}/healthz", timeout=10)
        except requests.ConnectionError:
            time.sleep(0.05)
    raise AssertionError("serve did not start")


def test_healthz_is_ready_only_when_warm(serve: tuple[subprocess.Popen, str]) -> None:
    process, url = serve
    first = wait_until_listening(url, process)
    assert first.status_code == 503 and first.json()["status"] == "starting"
    assert first.headers["retry-after"]
    deadline = time.monotonic() + 120
    while requests.get(f"{url}/healthz", timeout=10).status_code != 200:
        assert time.monotonic() < deadline, "never became ready"
        time.sleep(0.2)
    began = time.perf_counter()  # ready means warm: the first question pays no loading
    answer = requests.post(f"{url}/v1/ask", json={"question": "Which cities were approved as pilot cities?"},
                           timeout=60)  # fmt: skip
    assert answer.status_code == 200 and answer.json()["citations"]
    assert time.perf_counter() - began < 2.0


def test_sigterm_stops_serve_within_seconds_with_open_streams(
    serve: tuple[subprocess.Popen, str],
) -> None:
    process, url = serve
    wait_until_listening(url, process)
    stop = threading.Event()

    def heartbeat() -> None:  # what an open browser tab keeps: a stream that never ends
        try:
            with requests.get(
                f"{url}/gradio_api/heartbeat/{uuid.uuid4().hex}", stream=True, timeout=60
            ) as r:
                for _ in r.iter_content(64):
                    if stop.is_set():
                        return
        except requests.RequestException:
            return

    def questions() -> None:
        while not stop.is_set():
            try:
                requests.post(f"{url}/v1/ask", json={"question": "What is the target for 2025?", "stream": True},
                              timeout=30)  # fmt: skip
            except requests.RequestException:
                return

    workers = [threading.Thread(target=heartbeat, daemon=True) for _ in range(2)]
    workers += [threading.Thread(target=questions, daemon=True) for _ in range(8)]
    for worker in workers:
        worker.start()
    time.sleep(3)
    began = time.monotonic()
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=15)
    finally:
        stop.set()
    took = time.monotonic() - began
    assert took < 6, f"serve took {took:.1f} s to stop"


def test_index_runs_against_a_chroma_server_take_turns(chroma_env: dict[str, str]) -> None:  # noqa: F811
    settings = Settings(chroma_mode="http", chroma_port=int(chroma_env["ASSISTANT_CHROMA_PORT"]),
                        corpus_dir=chroma_env["ASSISTANT_CORPUS_DIR"], cache_dir=chroma_env["ASSISTANT_CACHE_DIR"],
                        index_lease_seconds=10)  # fmt: skip

    def index(**extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "assistant.surfaces.cli", "index"], env=chroma_env | extra,
                              capture_output=True, text=True, timeout=300, cwd=ROOT)  # fmt: skip

    with ChromaStore(settings).index_lock():  # a run in progress, holding the lease
        busy = index()
    assert busy.returncode == 1 and "Traceback" not in busy.stderr
    assert busy.stderr.strip().splitlines() == [
        "error: another index run is in progress on this index; try again when it has finished"
    ]
    killed = ChromaStore(settings)
    assert killed.take_lease("a run that was killed")  # and so never renews or releases it
    assert index().returncode == 1
    began = time.monotonic()
    waited = index(ASSISTANT_INDEX_LOCK_WAIT="30")  # the lease lapses after 10 s
    assert waited.returncode == 0, waited.stderr
    assert "waiting" in waited.stderr and "Index already up to date" in waited.stderr
    assert time.monotonic() - began < 30
