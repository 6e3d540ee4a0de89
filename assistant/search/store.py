"""Stage 4, store: Chroma, embedded (PersistentClient under index/) or a Chroma server.

Each index build writes a new collection; a small meta collection holds the pointer to the
active one, switched only when the build is complete. A killed build therefore leaves the
previous index untouched, and every process sharing one Chroma server sees the same version.

One index run at a time: embedded, a file lock in index/; with a Chroma server, a lease with an
expiry in the meta collection (a killed run blocks others only until its lease lapses).
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from dataclasses import asdict, dataclass, field, fields
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from chromadb.api import ClientAPI
    from chromadb.api.models.Collection import Collection
    from langchain_chroma import Chroma
    from langchain_core.embeddings import Embeddings

    from assistant.settings import Settings

ACTIVE_ID = "active"
LEASE_ID = "index-lease"
LOCK_FILE = "index.lock"
PAGE = 2000
BUSY = "another index run is in progress"
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")

log = logging.getLogger("assistant.search.store")


@dataclass(frozen=True)
class DocumentInfo:
    source: str
    title: str
    short_title: str
    publisher: str
    date: str
    url: str
    checksum: str
    chunks: int
    format: str = ""  # "txt", "md", "html", "pdf", "docx"
    indexed: str = ""  # when this version of the file was first indexed (ISO 8601, UTC)


@dataclass(frozen=True)
class IndexVersion:
    """What the active collection holds; stored as JSON in the meta collection."""

    collection: str
    created: str
    embedder: str
    documents: tuple[DocumentInfo, ...] = field(default_factory=tuple)
    # A hash of every chunk's id, text and metadata: chunk ids hash only the embedded text,
    # so a newer chunker may change a list record or a span under the same ids.
    digest: str = ""

    @property
    def chunk_count(self) -> int:
        return sum(d.chunks for d in self.documents)

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, raw: str) -> IndexVersion:
        """Fields this version does not know (written by another version) are ignored."""
        data = json.loads(raw)
        known = {f.name for f in fields(DocumentInfo)}
        data["documents"] = tuple(
            DocumentInfo(**{k: v for k, v in d.items() if k in known})
            for d in data.get("documents", [])
        )
        return cls(**{k: v for k, v in data.items() if k in {f.name for f in fields(cls)}})


class StoreUnavailable(RuntimeError):
    """The vector store cannot be reached (e.g. the Chroma server is down)."""


class IndexBusy(RuntimeError):
    """Another index run holds the store's index lock."""


def is_store_failure(exc: BaseException) -> bool:
    """Errors that mean the vector store is unreachable (e.g. the Chroma server restarts)."""
    if isinstance(exc, StoreUnavailable | ConnectionError | TimeoutError):
        return True
    module = type(exc).__module__
    if module.startswith(("httpx", "httpcore")):
        return True
    text = str(exc).lower()
    return module.startswith("chromadb") and any(
        w in text for w in ("connect", "unavailable", "timed out")
    )


class IndexLock:
    """Held by one index run; `confirm()` just before the switch checks it is still ours."""

    def __init__(self, store: ChromaStore, owner: str) -> None:
        self.store = store
        self.owner = owner

    def confirm(self) -> None:
        if self.store.settings.chroma_mode == "http" and not self.store.renew_lease(self.owner):
            raise IndexBusy(f"{BUSY}: this run's lease lapsed and another run took over")


class ChromaStore:
    """All Chroma access goes through here; the client is made on first use."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._client: ClientAPI | None = None

    @property
    def client(self) -> ClientAPI:
        if self._client is None:
            import chromadb
            from chromadb.config import Settings as ChromaSettings

            chroma_settings = ChromaSettings(anonymized_telemetry=False)
            s = self.settings
            try:
                if s.chroma_mode == "http":
                    self._client = chromadb.HttpClient(
                        host=s.chroma_host,
                        port=s.chroma_port,
                        ssl=s.chroma_ssl,
                        headers=dict(s.chroma_headers),
                        settings=chroma_settings,
                    )
                else:
                    path = s.index_dir / "chroma"
                    path.mkdir(parents=True, exist_ok=True)
                    self._client = chromadb.PersistentClient(
                        path=str(path), settings=chroma_settings
                    )
            except Exception as exc:  # chromadb raises plain Exceptions on connection failure
                where = (
                    f"the Chroma server at {s.chroma_host}:{s.chroma_port}"
                    if s.chroma_mode == "http"
                    else f"the Chroma store in {s.index_dir / 'chroma'}"
                )
                raise StoreUnavailable(f"cannot open {where}: {exc}") from exc
        return self._client

    @property
    def meta_name(self) -> str:
        return self.settings.collection_name("meta")

    def _meta(self) -> Collection:
        return self.client.get_or_create_collection(self.meta_name, embedding_function=None)

    def active(self) -> IndexVersion | None:
        """The active index version, or None if nothing was ever indexed."""
        got = self._meta().get(ids=[ACTIVE_ID], include=["documents"])
        documents = got.get("documents") or []
        if not got["ids"] or not documents or not documents[0]:
            return None
        return IndexVersion.from_json(documents[0])

    def activate(self, version: IndexVersion) -> None:
        """Point readers at a complete collection: one atomic upsert."""
        self._meta().upsert(
            ids=[ACTIVE_ID],
            documents=[version.to_json()],
            metadatas=[{"collection": version.collection}],
            embeddings=[[1.0]],
        )

    def create(self, name: str, embedder: str) -> Collection:
        return self.client.create_collection(
            name,
            embedding_function=None,
            metadata={"embedder": embedder, "hnsw:space": "cosine"},
        )

    def collection(self, name: str) -> Collection:
        return self.client.get_collection(name, embedding_function=None)

    def drop_inactive(self) -> list[str]:
        """Delete chunk collections other than the active one (old or half-built)."""
        active = self.active()
        keep = {self.meta_name, active.collection if active else ""}
        prefix = f"{self.settings.collection_prefix}-"
        dropped = []
        for collection in self.client.list_collections():
            name = collection if isinstance(collection, str) else collection.name
            if name.startswith(prefix) and name not in keep:
                self.client.delete_collection(name)
                dropped.append(name)
        return dropped

    # -- one index run at a time ----------------------------------------------------------

    @contextmanager
    def index_lock(self) -> Iterator[IndexLock]:
        """Hold the index lock for a whole run; IndexBusy if another run keeps it longer than
        `settings.index_lock_wait` seconds."""
        owner = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
        if self.settings.chroma_mode == "http":
            with self._lease(owner):
                yield IndexLock(self, owner)
        else:
            with self._file_lock(owner):
                yield IndexLock(self, owner)

    def _waiting(self, attempt: Callable[[], bool]) -> None:
        """Call `attempt()` until it succeeds or the wait runs out."""
        wait = self.settings.index_lock_wait
        deadline = time.monotonic() + wait
        if attempt():
            return
        if wait <= 0:
            raise IndexBusy(f"{BUSY} on this index; try again when it has finished")
        log.warning("%s; waiting up to %.0f s for it to finish", BUSY, wait)
        while time.monotonic() < deadline:
            time.sleep(min(0.5, max(0.0, deadline - time.monotonic())))
            if attempt():
                return
        raise IndexBusy(f"{BUSY} on this index; waited {wait:.0f} s")

    @contextmanager
    def _file_lock(self, owner: str) -> Iterator[None]:
        """An flock on index/index.lock: released by the kernel even when the run is killed."""
        import fcntl

        self.settings.index_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.settings.index_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
        try:

            def attempt() -> bool:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    return False
                return True

            self._waiting(attempt)
            os.ftruncate(fd, 0)
            os.write(fd, f"{owner}\n".encode())
            try:
                yield
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)

    @contextmanager
    def _lease(self, owner: str) -> Iterator[None]:
        """A lease record in the meta collection, renewed in the background while the run lasts.

        Chroma has no transactions, but `add` keeps an existing id, so whoever adds the record
        first holds the lease; a lapsed lease is deleted only if it is still that same lease."""
        self._waiting(lambda: self.take_lease(owner))
        stop = threading.Event()

        def renew() -> None:
            every = self.settings.index_lease_seconds / 3
            while not stop.wait(every):
                try:
                    if not self.renew_lease(owner):
                        log.warning("the index lease lapsed and another run took it over")
                        return
                except Exception as exc:  # the server may be restarting; try again later
                    log.warning("could not renew the index lease: %s", exc)

        renewer = threading.Thread(target=renew, name="index-lease", daemon=True)
        renewer.start()
        try:
            yield
        finally:
            stop.set()
            renewer.join(timeout=5)
            try:
                self.release_lease(owner)
            except Exception as exc:  # it lapses by itself
                log.warning("could not release the index lease: %s", exc)

    def _lease_holder(self) -> dict[str, Any] | None:
        got = self._meta().get(ids=[LEASE_ID], include=["metadatas"])
        metadatas = got.get("metadatas") or []
        return dict(metadatas[0] or {}) if got["ids"] else None

    def take_lease(self, owner: str) -> bool:
        """Take the index lease for `owner` if it is free or has lapsed; True if `owner` holds
        it afterwards."""
        meta = self._meta()
        held = self._lease_holder()
        if held is not None:
            if held.get("owner") == owner:
                return True
            if float(held.get("expires", 0)) > time.time():
                return False
            if isinstance(held.get("owner"), str) and isinstance(held.get("expires"), float):
                same = {"$and": [{"owner": held["owner"]}, {"expires": held["expires"]}]}
                meta.delete(ids=[LEASE_ID], where=same)
            else:  # not a lease we wrote
                meta.delete(ids=[LEASE_ID])
        expires = time.time() + self.settings.index_lease_seconds
        meta.add(ids=[LEASE_ID], embeddings=[[1.0]], metadatas=[{"owner": owner, "expires": expires}])  # fmt: skip
        held = self._lease_holder()
        return held is not None and held.get("owner") == owner

    def renew_lease(self, owner: str) -> bool:
        """Push the lease's expiry forward; False if `owner` no longer holds it."""
        held = self._lease_holder()
        if held is None or held.get("owner") != owner:
            return False
        expires = time.time() + self.settings.index_lease_seconds
        self._meta().update(ids=[LEASE_ID], metadatas=[{"owner": owner, "expires": expires}])
        return True

    def release_lease(self, owner: str) -> None:
        self._meta().delete(ids=[LEASE_ID], where={"owner": owner})

    # -- files Chroma leaves behind --------------------------------------------------------

    def remove_orphan_files(self) -> list[str]:
        """Delete segment folders of deleted collections (embedded store only).

        Chroma's delete_collection leaves each collection's vector segment folder on disk
        (chroma-core/chroma#5520), so every re-index would leave a full copy of the index
        behind. Only UUID-named folders that no segment in Chroma's catalogue names are
        removed, and nothing is removed unless the catalogue lists every collection the client
        sees. Call it while holding the index lock."""
        if self.settings.chroma_mode != "persistent":
            return []
        root = self.settings.index_dir / "chroma"
        catalogue = root / "chroma.sqlite3"
        if not catalogue.is_file():
            return []
        try:
            uri = f"{catalogue.resolve().as_uri()}?mode=ro"
            with closing(sqlite3.connect(uri, uri=True, timeout=10)) as db:
                segments = {str(row[0]) for row in db.execute("SELECT id FROM segments")}
                collections = {str(row[0]) for row in db.execute("SELECT id FROM collections")}
        except sqlite3.Error as exc:
            log.warning("left old index files in place: cannot read %s (%s)", catalogue, exc)
            return []
        live = {str(getattr(c, "id", "")) for c in self.client.list_collections()}
        if not live <= collections:
            log.warning("left old index files in place: %s does not match the store", catalogue)
            return []
        removed = []
        for folder in root.iterdir():
            if folder.is_dir() and _UUID.fullmatch(folder.name) and folder.name not in segments:
                shutil.rmtree(folder, ignore_errors=True)
                removed.append(folder.name)
        return removed

    def _pages(self, name: str, include: list[str]) -> Iterator[dict[str, Any]]:
        """A collection read in pages, so a large index is never fetched in one request."""
        collection = self.collection(name)
        offset = 0
        while True:
            page = collection.get(limit=PAGE, offset=offset, include=include)  # type: ignore[arg-type]
            if not page["ids"]:
                return
            yield page  # type: ignore[misc]
            offset += len(page["ids"])

    def records(self, name: str) -> Iterator[dict[str, Any]]:
        """Every record of a collection: id, document, metadata."""
        for page in self._pages(name, ["documents", "metadatas"]):
            for chunk_id, document, metadata in zip(
                page["ids"], page["documents"], page["metadatas"], strict=True
            ):
                yield {"id": chunk_id, "document": document, "metadata": metadata}

    def ids(self, name: str) -> set[str]:
        return {chunk_id for page in self._pages(name, []) for chunk_id in page["ids"]}

    def embeddings(self, name: str, ids: list[str]) -> dict[str, list[float]]:
        out: dict[str, list[float]] = {}
        collection = self.collection(name)
        for i in range(0, len(ids), PAGE):
            page = collection.get(ids=ids[i : i + PAGE], include=["embeddings"])
            for chunk_id, vector in zip(page["ids"], page["embeddings"], strict=True):  # type: ignore[arg-type]
                out[chunk_id] = list(vector)
        return out

    def vectorstore(self, name: str, embeddings: Embeddings) -> Chroma:
        """The active collection behind LangChain's VectorStore interface."""
        from langchain_chroma import Chroma

        return Chroma(
            client=self.client,
            collection_name=name,
            embedding_function=embeddings,
            create_collection_if_not_exists=False,
        )
