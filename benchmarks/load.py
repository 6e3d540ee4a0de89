"""Load and fault benchmark for `assistant serve` (prints figures; not a test).

1. Starts a Chroma server and `assistant serve` on 127.0.0.1 (free ports), indexes the corpus.
   Cold start: the clock starts with the `serve` process; the load starts as soon as
   /healthz says ready (the service warms its models and keyword index before that).
2. Steady load: 50 concurrent clients x 20 requests, alternating POST /v1/ask and
   /v1/retrieve. Prints throughput, p50/p95/p99 latency and the error count.
3. Overload: 3x more clients than the request queue holds (api_queue_limit, 64). Those past
   the limit must get a quick 503 with Retry-After instead of waiting.
4. Fault: clients keep sending while the Chroma server is stopped and restarted. Prints how
   the API answered over time (status codes per second), the longest request (no hang) and
   the time from the restart to the first success.

Bounded: a fixed number of requests, a per-request timeout, and an overall deadline. All
traffic goes to 127.0.0.1 only.

With --varied, every request's question is different (a request number is appended), so
nothing is shared or cached between requests: the server's worst case. By default the clients
repeat 8 questions, as many users asking the same things would.

Usage:  .venv/bin/python benchmarks/load.py [--clients 50] [--requests 20] [--varied]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import httpx

from assistant.testing import free_port, wait_for

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
QUESTIONS = [
    "What is the broadband penetration target for 2025?",
    "How many provincial manufacturing innovation centers were built?",
    "Who presided over the State Council executive meeting?",
    "What are the targets of the smart manufacturing projects?",
    "Which cities were approved as pilot cities?",
    "What is the comprehensive utilization rate of industrial solid waste in 2020?",
    "How did industrial profits change in 2015?",
    "What does the 1+X plan refer to?",
]


def start_chroma(path: Path, port: int) -> subprocess.Popen:
    return subprocess.Popen([str(BIN / "chroma"), "run", "--path", str(path), "--host", "127.0.0.1",
                             "--port", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))] if ordered else 0.0


VARIED = False


async def one(client: httpx.AsyncClient, base: str, i: int) -> tuple[int, float, float]:
    """(status, seconds, finished at); status 0 for a timeout or connection error."""
    question = QUESTIONS[i % len(QUESTIONS)]
    if VARIED:
        question = f"{question} (request {i})"
    began = time.perf_counter()
    try:
        if i % 2:
            response = await client.post(f"{base}/v1/retrieve", json={"query": question, "k": 5})
        else:
            response = await client.post(f"{base}/v1/ask", json={"question": question})
        status = response.status_code
    except httpx.HTTPError:
        status = 0
    now = time.perf_counter()
    return status, now - began, now


async def steady(base: str, clients: int, requests: int) -> None:
    async with httpx.AsyncClient(timeout=120) as client:

        async def worker(w: int) -> list[tuple[int, float, float]]:
            return [await one(client, base, w * requests + r) for r in range(requests)]

        began = time.perf_counter()
        results = [
            r for batch in await asyncio.gather(*(worker(w) for w in range(clients))) for r in batch
        ]
        elapsed = time.perf_counter() - began
    latencies = [s for _, s, _ in results]
    statuses = Counter(code for code, _, _ in results)
    errors = sum(n for code, n in statuses.items() if code != 200)
    print(f"steady: {len(results)} requests from {clients} clients in {elapsed:.1f} s "
          f"-> {len(results) / elapsed:.1f} req/s")  # fmt: skip
    print(f"  latency p50 {percentile(latencies, 50) * 1000:.0f} ms, p95 {percentile(latencies, 95) * 1000:.0f} ms, "
          f"p99 {percentile(latencies, 99) * 1000:.0f} ms, max {max(latencies) * 1000:.0f} ms")  # fmt: skip
    print(f"  status codes {dict(statuses)}; errors: {errors}")


async def overload(base: str, clients: int, requests: int) -> None:
    """`clients` x `requests` questions at once; past the queue limit: 503 + Retry-After, which
    the clients honour (as the openai SDK does) before their next request."""
    results: list[tuple[int, float, bool]] = []
    limits = httpx.Limits(max_connections=None, max_keepalive_connections=None)
    async with httpx.AsyncClient(timeout=120, limits=limits) as client:

        async def worker(w: int) -> None:
            for r in range(requests):
                began = time.perf_counter()
                try:
                    response = await client.post(
                        f"{base}/v1/ask", json={"question": QUESTIONS[(w + r) % len(QUESTIONS)]}
                    )
                    status, retry = response.status_code, "retry-after" in response.headers
                except httpx.HTTPError:
                    status, retry = 0, False
                results.append((status, time.perf_counter() - began, retry))
                if retry:
                    await asyncio.sleep(min(2.0, float(response.headers["retry-after"])))

        began = time.perf_counter()
        await asyncio.gather(*(worker(w) for w in range(clients)))
        elapsed = time.perf_counter() - began
    statuses = Counter(code for code, _, _ in results)
    busy = [s for code, s, _ in results if code == 503]
    served = [s for code, s, _ in results if code == 200]
    print(f"overload: {len(results)} requests from {clients} clients in {elapsed:.1f} s; "
          f"status codes {dict(statuses)}")  # fmt: skip
    if busy:
        print(f"  503s: {sum(retry for code, _, retry in results if code == 503)}/{len(busy)} with Retry-After, "
              f"p50 {percentile(busy, 50) * 1000:.0f} ms, max {max(busy) * 1000:.0f} ms")  # fmt: skip
    if served:
        print(f"  200s: p50 {percentile(served, 50) * 1000:.0f} ms, p99 {percentile(served, 99) * 1000:.0f} ms, "
              f"max {max(served) * 1000:.0f} ms")  # fmt: skip


async def fault(base: str, chroma: list[subprocess.Popen], restart: callable, clients: int) -> None:
    """Keep `clients` workers busy for ~25 s; stop Chroma at 5 s, start it again at 12 s."""
    stop_at, start_at, end_at = 5.0, 12.0, 25.0
    t0 = time.perf_counter()
    results: list[tuple[int, float, float]] = []
    async with httpx.AsyncClient(timeout=30) as client:

        async def worker(w: int) -> None:
            i = 0
            while time.perf_counter() - t0 < end_at:
                results.append(await one(client, base, w * 1000 + i))
                i += 1

        async def chaos() -> None:
            await asyncio.sleep(stop_at)
            chroma[0].terminate()
            chroma[0].wait(timeout=30)
            await asyncio.sleep(start_at - stop_at)
            chroma[0] = restart()

        await asyncio.gather(chaos(), *(worker(w) for w in range(clients)))
    by_second: dict[int, Counter] = {}
    for code, _, finished in results:
        by_second.setdefault(int(finished - t0), Counter())[code] += 1
    print(
        f"fault: Chroma stopped at {stop_at:.0f} s, restarted at {start_at:.0f} s; {len(results)} requests"
    )
    for second in sorted(by_second):
        print(f"  t={second:2d}s  {dict(sorted(by_second[second].items()))}")
    after = [
        finished - t0 for code, _, finished in results if code == 200 and finished - t0 > start_at
    ]
    others = Counter(code for code, _, _ in results if code not in (200, 503))
    print(
        f"  longest request {max(s for _, s, _ in results) * 1000:.0f} ms; "
        f"first success {min(after) - start_at:.1f} s after the restart; "
        f"responses other than 200/503: {dict(others) or 'none'}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--requests", type=int, default=20)
    parser.add_argument("--varied", action="store_true", help="A different question each time.")
    parser.add_argument(
        "--overload-clients", type=int, default=192, help="0 skips the overload phase."
    )
    args = parser.parse_args()
    global VARIED
    VARIED = args.varied

    tmp = Path(tempfile.mkdtemp(prefix="assistant-load-"))
    chroma_port, api_port = free_port(), free_port()
    chroma = [start_chroma(tmp / "chroma", chroma_port)]
    env = dict(os.environ, ASSISTANT_CHROMA_MODE="http", ASSISTANT_CHROMA_PORT=str(chroma_port),
               ASSISTANT_CORPUS_DIR=str(ROOT / "corpus"), ASSISTANT_CACHE_DIR=str(ROOT / ".cache"))  # fmt: skip
    server = None
    try:
        wait_for(f"http://127.0.0.1:{chroma_port}/api/v2/heartbeat", seconds=60)
        subprocess.run([sys.executable, "-m", "assistant.surfaces.cli", "index"], env=env, check=True,
                       capture_output=True, timeout=900)  # fmt: skip
        started = time.perf_counter()
        server = subprocess.Popen([sys.executable, "-m", "assistant.surfaces.cli", "serve", "--port", str(api_port),
                                   "--no-ui"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
        base = f"http://127.0.0.1:{api_port}"
        wait_for(f"{base}/healthz")
        print(
            f"machine: {os.cpu_count()} cores; assistant serve (1 process) + chroma run on 127.0.0.1"
        )
        print(
            f"cold start: /healthz ready {time.perf_counter() - started:.1f} s after `serve` started"
        )
        asyncio.run(steady(base, args.clients, args.requests))
        if args.overload_clients:
            asyncio.run(overload(base, args.overload_clients, 4))
        asyncio.run(
            fault(
                base,
                chroma,
                lambda: start_chroma(tmp / "chroma", chroma_port),
                min(args.clients, 10),
            )
        )
    finally:
        if server:
            server.terminate()
            server.wait(timeout=30)
        chroma[0].terminate()
        chroma[0].wait(timeout=30)


if __name__ == "__main__":
    main()
