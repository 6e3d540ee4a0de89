"""Helpers for the tests and the benchmarks that start real servers on this machine: a free
port, and waiting for a URL to answer (failing fast when the server process died)."""

from __future__ import annotations

import socket
import subprocess
import time


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(url: str, process: subprocess.Popen | None = None, seconds: float = 180) -> None:
    """Return once GET `url` answers 200; raise if `process` exits or time runs out."""
    import httpx

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"the process for {url} exited with {process.returncode}")
        try:
            if httpx.get(url, timeout=5).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise TimeoutError(f"{url} did not come up in {seconds:.0f} s")
