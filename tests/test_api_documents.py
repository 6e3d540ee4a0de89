"""The documents routes of the REST API: upload, follow the job, ask, remove; bad uploads."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from assistant import Assistant
from assistant.settings import Settings
from assistant.surfaces.api.app import create_app
from tests.test_api import started

PLAN = b"# Tram extension\n\nThe Northgate tram line will gain 9 stops by 2029 at a cost of 410 million euros.\n"


@pytest.fixture
def client(hash_settings: Settings) -> Iterator[TestClient]:
    settings = hash_settings.model_copy(
        update={"upload_max_bytes": 4096, "api_max_body_bytes": 2048}
    )
    with started(create_app(Assistant(settings), with_ui=False)) as client:
        yield client


def finished(client: TestClient, location: str, seconds: float = 120) -> dict:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        job = client.get(location).json()["job"]
        if job["state"] in ("done", "failed"):
            return job
        time.sleep(0.2)
    raise AssertionError(f"job {location} did not finish")


def test_upload_ask_remove(client: TestClient, hash_settings: Settings) -> None:
    response = client.post(
        "/v1/documents",
        files=[("files", ("tram.md", PLAN, "text/markdown"))],
        data={
            "title": "Tram extension plan",
            "publisher": "Northgate Transit",
            "date": "2025-01-15",
        },
    )
    assert response.status_code == 202, response.text
    job = finished(client, response.headers["location"])
    assert job["state"] == "done" and job["sources"] == ["uploads/tram.md"], job
    listed = {d["source"]: d for d in client.get("/v1/documents").json()["documents"]}
    assert listed["uploads/tram.md"]["title"] == "Tram extension plan"
    assert listed["uploads/tram.md"]["removable"] and listed["uploads/tram.md"]["format"] == "md"

    answer = client.post(
        "/v1/ask", json={"question": "How many stops will the Northgate tram line gain?"}
    ).json()
    cited = [c for c in answer["citations"] if c["source"] == "uploads/tram.md"]
    assert cited, answer
    text = (hash_settings.corpus_dir / "uploads" / "tram.md").read_text(encoding="utf-8")
    assert text[cited[0]["start"] : cited[0]["end"]] == cited[0]["quote"]

    gone = client.delete("/v1/documents/uploads/tram.md")
    assert gone.status_code == 202
    assert finished(client, gone.headers["location"])["state"] == "done"
    assert "uploads/tram.md" not in {
        d["source"] for d in client.get("/v1/documents").json()["documents"]
    }


@pytest.mark.parametrize(
    ("name", "data", "status", "kind"),
    [
        ("../../etc/evil.md", b"# evil", 422, "upload_rejected"),
        ("evil.sh", b"rm -rf /", 422, "upload_rejected"),
        ("empty.md", b"", 422, "upload_rejected"),
        ("big.md", b"x" * 4500, 422, "upload_rejected"),  # over the file limit, under the body limit
        ("huge.md", b"x" * 1_100_000, 413, "request_too_large"),  # over the file limit + the form's 1 MB
    ],
)  # fmt: skip
def test_bad_uploads_get_a_clear_error(
    client: TestClient, name: str, data: bytes, status: int, kind: str
) -> None:
    before = client.get("/v1/documents").json()["documents"]
    response = client.post("/v1/documents", files=[("files", (name, data, "text/plain"))])
    assert response.status_code == status, response.text
    assert response.json()["error"]["type"] == kind and response.json()["error"]["message"]
    assert client.get("/v1/documents").json()["documents"] == before


def test_uploads_may_be_larger_than_other_bodies(client: TestClient) -> None:
    """The body limit for questions (2 KB here) does not cap uploads (4 KB files)."""
    body = b"# Depot\n\n" + b"The depot has room for forty trams. " * 80
    assert 2048 < len(body) < 4096
    response = client.post("/v1/documents", files=[("files", ("depot.md", body, "text/markdown"))])
    assert response.status_code == 202, response.text
    assert client.post("/v1/ask", json={"question": "x" * 3000}).status_code == 413


def test_unknown_job_and_base_documents(client: TestClient) -> None:
    assert client.get("/v1/jobs/nope").status_code == 404
    base = client.get("/v1/documents").json()["documents"][0]["source"]
    refused = client.delete(f"/v1/documents/{base}")
    assert (
        refused.status_code == 422
        and "not an uploaded document" in refused.json()["error"]["message"]
    )
