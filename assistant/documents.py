"""Staff documents: list, upload and remove documents from the chat UI or the REST API.

An upload is checked whole before anything is written (type, size, name, that it can be
read, that its content is not indexed already), so a bad file changes nothing. Good files
are saved under `corpus/<uploads_dir>/`, their title, publisher and date in that folder's
`metadata.toml`, so that `assistant index` and the UI agree on what the corpus is. Then the
same incremental, atomic run as `assistant index` embeds only the new document's chunks and
switches to the new index at the very end: questions are answered from the previous version
until then. Jobs run one at a time, in the order they came, so two uploads at once both land.
"""

from __future__ import annotations

import hashlib
import json
import os
import queue
import re
import tempfile
import threading
import uuid
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from assistant.ingest.load import LOADERS, METADATA_FILE, LoadError, load_file, read_metadata
from assistant.search.retrieve import IndexMissing

if TYPE_CHECKING:
    from assistant.assistant import Assistant

SAFE_NAME = re.compile(r"^[\w][\w .()+,'&\-]{0,150}$")
DATE = re.compile(r"^(19|20)\d\d(-(0[1-9]|1[0-2])(-(0[1-9]|[12]\d|3[01]))?)?$")
META_CHARS = 300  # title and publisher
KEEP_JOBS = 100
JobState = Literal["queued", "running", "done", "failed"]


class UploadRejected(ValueError):
    """An upload or a removal that cannot be done; the message says why, for people."""


@dataclass(frozen=True)
class Upload:
    filename: str  # as the client sent it: checked, never trusted
    data: bytes


@dataclass(frozen=True)
class Metadata:
    title: str = ""
    publisher: str = ""
    date: str = ""  # YYYY[-MM[-DD]]

    def checked(self) -> Metadata:
        clean = Metadata(*(" ".join(v.split()) for v in (self.title, self.publisher, self.date)))
        if clean.date and not DATE.fullmatch(clean.date):
            raise UploadRejected(f"date {clean.date!r} is not YYYY, YYYY-MM or YYYY-MM-DD")
        if max(len(clean.title), len(clean.publisher)) > META_CHARS:
            raise UploadRejected(f"title and publisher are limited to {META_CHARS} characters")
        return clean


@dataclass
class Job:
    """One upload or removal and the index run that follows it."""

    id: str
    action: Literal["upload", "remove"]
    sources: tuple[str, ...]
    state: JobState = "queued"
    done: int = 0  # chunks embedded so far
    total: int = 0
    message: str = ""
    created: str = field(default_factory=lambda: _now())
    finished: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class DocumentManager:
    """Uploads and removals for one assistant; share one per process (the UI and the API do)."""

    def __init__(self, bot: Assistant) -> None:
        self.bot = bot
        self._jobs: dict[str, Job] = {}
        self._todo: queue.Queue[Job] = queue.Queue()
        self._files = threading.Lock()  # checks and writes of uploads, one batch at a time
        self._jobs_lock = threading.Lock()
        self._worker: threading.Thread | None = None
        self._idle = threading.Condition(self._jobs_lock)

    @property
    def folder(self) -> Path:
        return self.bot.settings.corpus_dir / self.bot.settings.uploads_dir

    @property
    def prefix(self) -> str:
        return f"{self.bot.settings.uploads_dir}/"

    # -- what is there --------------------------------------------------------------------

    def documents(self) -> list[dict[str, Any]]:
        """The indexed documents; `removable` for the ones uploaded here."""
        try:
            infos = self.bot.documents()
        except IndexMissing:
            return []
        return [asdict(d) | {"removable": d.source.startswith(self.prefix)} for d in infos]

    def job(self, job_id: str) -> Job | None:
        with self._jobs_lock:
            job = self._jobs.get(job_id)
            return replace(job) if job else None

    def wait(self, job_id: str, timeout: float | None = None) -> Job:
        """Block until the job has finished (or `timeout` seconds passed); its last state."""
        with self._idle:
            self._idle.wait_for(lambda: self._jobs[job_id].state in ("done", "failed"), timeout)
            return replace(self._jobs[job_id])

    # -- changes --------------------------------------------------------------------------

    def add(self, uploads: Sequence[Upload], meta: Metadata = Metadata()) -> Job:
        """Check every file, save them all, and queue the index run. Raises UploadRejected
        (nothing written) if any file is refused."""
        if not uploads:
            raise UploadRejected("no file was uploaded")
        meta = meta.checked()
        with self._files:
            names = self._check_all(uploads)
            self.folder.mkdir(parents=True, exist_ok=True)
            entries = read_metadata(self.folder)
            for name, upload in zip(names, uploads, strict=True):
                _write_atomic(self.folder / name, upload.data)
                entry = {k: v for k, v in asdict(meta).items() if v}
                entry["uploaded"] = _now()
                entries[name] = entry
            self._write_metadata(entries)
        return self._queue("upload", tuple(f"{self.prefix}{n}" for n in names))

    def remove(self, source: str) -> Job:
        """Delete an uploaded document's file and metadata and queue the index run."""
        name = source.removeprefix(self.prefix)
        if not source.startswith(self.prefix) or not SAFE_NAME.fullmatch(name):
            raise UploadRejected(
                f"{source!r} is not an uploaded document: documents of the base corpus are "
                "removed from the corpus folder on disk, then `assistant index`"
            )
        with self._files:
            path = self.folder / name
            if not path.is_file() or path.is_symlink():
                raise UploadRejected(f"no uploaded document {source!r}")
            path.unlink()
            entries = read_metadata(self.folder)
            entries.pop(name, None)
            self._write_metadata(entries)
        return self._queue("remove", (source,))

    # -- checks ---------------------------------------------------------------------------

    def _check_all(self, uploads: Sequence[Upload]) -> list[str]:
        try:
            indexed = {d.checksum: d.source for d in self.bot.documents()}
        except IndexMissing:
            indexed = {}
        names: list[str] = []
        for upload in uploads:
            name = self._check(upload, indexed)
            if name in names:
                raise UploadRejected(f"{name}: the same file name twice in one upload")
            indexed[hashlib.sha256(upload.data).hexdigest()] = f"{self.prefix}{name}"
            names.append(name)
        return names

    def _check(self, upload: Upload, indexed: dict[str, str]) -> str:
        """The file's name in the uploads folder, or UploadRejected saying what is wrong."""
        name = upload.filename
        shown = name if len(name) <= 80 else f"{name[:80]}…"
        if not name or "/" in name or "\\" in name or "\x00" in name or name in (".", ".."):
            raise UploadRejected(f"{shown!r}: give a plain file name, not a path")
        if name.startswith(".") or not SAFE_NAME.fullmatch(name):
            raise UploadRejected(
                f"{shown!r}: file names may hold letters, digits, spaces and . _ - ( ) + , ' & "
                "and must not start with a dot"
            )
        suffix = Path(name).suffix.lower()
        if suffix not in LOADERS:
            kinds = ", ".join(sorted({s for s in LOADERS if s not in (".htm", ".markdown")}))
            raise UploadRejected(
                f"{name}: unsupported file type {suffix or '(none)'!r}; use {kinds}"
            )
        limit = self.bot.settings.upload_max_bytes
        if not upload.data.strip():
            raise UploadRejected(f"{name}: the file is empty")
        if len(upload.data) > limit:
            raise UploadRejected(
                f"{name}: {len(upload.data):,} bytes, over the {limit:,}-byte limit"
            )
        if self.folder.is_symlink() or (self.folder.exists() and not self.folder.is_dir()):
            raise UploadRejected(f"the uploads folder {self.folder} is not a plain folder")
        target = self.folder / name
        if target.exists() or target.is_symlink():
            raise UploadRejected(f"{name}: an uploaded document has this name; remove it first")
        checksum = hashlib.sha256(upload.data).hexdigest()
        if checksum in indexed:
            raise UploadRejected(
                f"{name}: the same content is already indexed as {indexed[checksum]}"
            )
        with tempfile.TemporaryDirectory() as tmp:  # parse it where the corpus cannot see it
            probe = Path(tmp) / name
            probe.write_bytes(upload.data)
            try:
                load_file(probe, name, {})
            except LoadError as exc:
                raise UploadRejected(f"{name}: cannot be read ({exc})") from exc
        return name

    # -- metadata file --------------------------------------------------------------------

    def _write_metadata(self, entries: dict[str, dict[str, str]]) -> None:
        lines = ["# Documents uploaded from the chat UI or the API; written by the assistant.\n"]
        for name in sorted(entries):
            lines.append(f"\n[{json.dumps(name, ensure_ascii=False)}]\n")
            lines += [
                f"{k} = {json.dumps(v, ensure_ascii=False)}\n" for k, v in entries[name].items()
            ]
        _write_atomic(self.folder / METADATA_FILE, "".join(lines).encode("utf-8"))

    # -- the index runs -------------------------------------------------------------------

    def _queue(self, action: Literal["upload", "remove"], sources: tuple[str, ...]) -> Job:
        job = Job(uuid.uuid4().hex[:12], action, sources)
        with self._jobs_lock:
            self._jobs[job.id] = job
            while len(self._jobs) > KEEP_JOBS:
                oldest = next(iter(self._jobs))
                if self._jobs[oldest].state not in ("done", "failed"):
                    break
                del self._jobs[oldest]
            if self._worker is None or not self._worker.is_alive():
                self._worker = threading.Thread(target=self._run, name="documents", daemon=True)
                self._worker.start()
        self._todo.put(job)
        return replace(job)

    def _update(self, job: Job, **changes: Any) -> None:
        with self._idle:
            for key, value in changes.items():
                setattr(job, key, value)
            self._idle.notify_all()

    def _progress(self, job: Job) -> Callable[[int, int], None]:
        return lambda done, total: self._update(job, done=done, total=total)

    def _run(self) -> None:
        while True:
            job = self._todo.get()
            self._update(job, state="running")
            try:
                report = self.bot.index(progress=self._progress(job))
                self.bot.search_index.refresh()
                what = "added" if job.action == "upload" else "removed"
                self._update(
                    job,
                    state="done",
                    finished=_now(),
                    message=f"{len(job.sources)} document(s) {what}; {report.added} new chunks embedded, "
                    f"{report.chunks} in the index",
                )
            except Exception as exc:  # the job says why; the worker goes on with the next
                self._update(
                    job, state="failed", finished=_now(), message=f"indexing failed: {exc}"
                )


def _write_atomic(path: Path, data: bytes) -> None:
    """Write a sibling temp file, then rename: a reader sees the old file or the new one."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".upload-")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
