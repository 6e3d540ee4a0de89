"""REST routes for staff documents: list, upload (multipart), remove, and follow the index job.

Uploads and removals answer 202 with a job at once; `GET /v1/jobs/{id}` follows the index
run (state, chunks embedded so far). The checks and the indexing are `assistant/documents.py`.
"""

from __future__ import annotations

from typing import Annotated, Any

import anyio.to_thread
from fastapi import APIRouter, File, Form, UploadFile
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from assistant.documents import DocumentManager, Job, Metadata, Upload

UPLOAD_PATH = "/v1/documents"


def accepted(job: Job) -> JSONResponse:
    return JSONResponse(
        status_code=202, content={"job": job.to_dict()}, headers={"Location": f"/v1/jobs/{job.id}"}
    )


def documents_router(manager: DocumentManager) -> APIRouter:
    """The routes, bound to one manager (the UI shares it, so jobs are seen by both)."""
    router = APIRouter(tags=["documents"])

    @router.get("/v1/documents")
    def documents() -> dict[str, Any]:
        """The indexed documents with their metadata, chunk counts, file type and the time
        each was indexed; `removable` marks the ones uploaded through the UI or the API."""
        return {"documents": manager.documents()}

    @router.post("/v1/documents", status_code=202)
    async def upload(
        files: Annotated[
            list[UploadFile], File(description="One or more .txt .md .html .pdf .docx files.")
        ],
        title: Annotated[
            str, Form(description="Title (default: the first heading or the file name).")
        ] = "",
        publisher: Annotated[str, Form()] = "",
        date: Annotated[str, Form(description="YYYY, YYYY-MM or YYYY-MM-DD.")] = "",
    ) -> JSONResponse:
        """Upload documents. Every file is checked before any is saved (type, size, name,
        readable, not a duplicate); then they are indexed in the background: 202 with the
        job, whose `Location` is `/v1/jobs/{id}`. A refused upload is a 422 that changes nothing."""
        uploads = [Upload(f.filename or "", await f.read()) for f in files]
        job = await anyio.to_thread.run_sync(
            lambda: manager.add(uploads, Metadata(title, publisher, date))
        )
        return accepted(job)

    @router.delete("/v1/documents/{source:path}", status_code=202)
    async def remove(source: str) -> JSONResponse:
        """Remove an uploaded document (its file, its metadata, then its chunks from the
        index); documents of the base corpus cannot be removed here."""
        return accepted(await anyio.to_thread.run_sync(lambda: manager.remove(source)))

    @router.get("/v1/jobs/{job_id}")
    def job(job_id: str) -> dict[str, Any]:
        """An upload's or removal's index job: state (queued, running, done, failed), chunks
        embedded so far (`done` of `total`) and a message."""
        found = manager.job(job_id)
        if found is None:
            raise HTTPException(404, f"no such job: {job_id} (jobs are kept while the server runs)")
        return {"job": found.to_dict()}

    return router
