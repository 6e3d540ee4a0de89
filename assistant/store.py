"""Stage 4, store: Chroma, embedded (PersistentClient under index/) or a Chroma server.

Each index build writes a new collection; a small meta collection holds the pointer to the
active one, switched only when the build is complete. A killed build therefore leaves the
previous index untouched, and every process sharing one Chroma server sees the same version.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from chromadb.api import ClientAPI
    from chromadb.api.models.Collection import Collection
    from langchain_chroma import Chroma
    from langchain_core.embeddings import Embeddings

    from assistant.settings import Settings

ACTIVE_ID = "active"
PAGE = 2000


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


@dataclass(frozen=True)
class IndexVersion:
    """What the active collection holds; stored as JSON in the meta collection."""

    collection: str
    created: str
    embedder: str
    chunking: str
    documents: tuple[DocumentInfo, ...] = field(default_factory=tuple)

    @property
    def chunk_count(self) -> int:
        return sum(d.chunks for d in self.documents)

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, raw: str) -> IndexVersion:
        data = json.loads(raw)
        data["documents"] = tuple(DocumentInfo(**d) for d in data.get("documents", []))
        return cls(**data)


class StoreUnavailable(RuntimeError):
    """The vector store cannot be reached (e.g. the Chroma server is down)."""


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
                raise StoreUnavailable(f"cannot open the Chroma store: {exc}") from exc
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
