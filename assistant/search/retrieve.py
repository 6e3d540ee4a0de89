"""Stage 6, retrieve: BM25 and dense results fused by reciprocal rank fusion.

BM25 is built once per index version from the store itself (so replicas sharing a Chroma
server agree), and rebuilt only when the active version changes. Dense search goes through
LangChain's Chroma VectorStore. Both honour the same filters (source documents, date range).
"""

from __future__ import annotations

import logging
import math
import re
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import BaseModel, ConfigDict, field_validator

from assistant.cache import LRUCache
from assistant.search.index import date_range
from assistant.text import term_pairs, terms

if TYPE_CHECKING:
    from langchain_core.embeddings import Embeddings

    from assistant.search.store import ChromaStore, IndexVersion
    from assistant.settings import Settings

Mode = Literal["hybrid", "dense", "bm25"]


class IndexMissing(RuntimeError):
    """Nothing has been indexed yet."""


class Filters(BaseModel):
    """Limit retrieval to some documents and/or a date range (ISO dates, may be partial)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    sources: tuple[str, ...] = ()
    date_from: str | None = None
    date_to: str | None = None

    @field_validator("date_from", "date_to")
    @classmethod
    def _valid_date(cls, value: str | None) -> str | None:
        if value and not re.fullmatch(r"\d{4}(-(0[1-9]|1[0-2])(-(0[1-9]|[12]\d|3[01]))?)?", value):
            raise ValueError(f"not a date: {value!r} (use YYYY, YYYY-MM or YYYY-MM-DD)")
        return value or None

    @property
    def active(self) -> bool:
        return bool(self.sources or self.date_from or self.date_to)

    def where(self) -> dict[str, Any] | None:
        """The same filter as a Chroma `where` clause."""
        clauses: list[dict[str, Any]] = []
        if self.sources:
            clauses.append({"source": {"$in": list(self.sources)}})
        if self.date_from:
            clauses.append({"date_end": {"$gte": date_range(self.date_from)[0]}})
        if self.date_to:
            clauses.append({"date_start": {"$lte": date_range(self.date_to)[1]}})
            clauses.append({"date_start": {"$gte": 0}})
        if not clauses:
            return None
        return clauses[0] if len(clauses) == 1 else {"$and": clauses}

    def allows(self, metadata: dict[str, Any]) -> bool:
        if self.sources and metadata.get("source") not in self.sources:
            return False
        start, end = int(metadata.get("date_start", -1)), int(metadata.get("date_end", -1))
        if self.date_from and end < date_range(self.date_from)[0]:
            return False
        return not (self.date_to and (start < 0 or start > date_range(self.date_to)[1]))


@dataclass
class KeywordIndex:
    """BM25 over the embedded texts of one index version, plus the records themselves."""

    version: str
    ids: list[str]
    passages: list[str]
    metadatas: list[dict[str, Any]]
    bm25: Any
    idf: dict[str, float]
    position: dict[str, int]

    @classmethod
    def build(cls, version: str, records: list[dict[str, Any]]) -> KeywordIndex:
        """`embed_text` is dropped from the kept metadata once tokenised: it repeats the text."""
        import bm25s

        logging.getLogger("bm25s").setLevel(logging.ERROR)  # it logs every build at DEBUG
        pairs = [term_pairs(r["metadata"].pop("embed_text", None) or r["document"]) for r in records]
        tokens = [[plain for plain, _ in doc] or ["_"] for doc in pairs]
        model = bm25s.BM25()
        model.index(tokens, show_progress=False)
        n = len(records)
        df: dict[str, int] = {}
        for doc in pairs:
            for token in {read for _, read in doc}:  # the answerer's terms
                df[token] = df.get(token, 0) + 1
        idf = {t: math.log(1 + (n - c + 0.5) / (c + 0.5)) for t, c in df.items()}
        return cls(
            version=version,
            ids=[r["id"] for r in records],
            passages=[r["document"] for r in records],
            metadatas=[r["metadata"] for r in records],
            bm25=model,
            idf=idf,
            position={r["id"]: i for i, r in enumerate(records)},
        )

    def scores(self, query: str) -> np.ndarray:
        vocab = self.bm25.vocab_dict
        known = [t for t in terms(query, synonyms=False) if t in vocab]
        if not known:
            return np.zeros(len(self.ids), dtype=np.float32)
        return np.asarray(self.bm25.get_scores(known), dtype=np.float32)


class SearchIndex:
    """Hybrid search over the active index version; safe to share between threads."""

    def __init__(self, settings: Settings, store: ChromaStore, embeddings: Embeddings) -> None:
        self.settings = settings
        self.store = store
        self.embeddings = embeddings
        self._lock = threading.Lock()
        self._version: IndexVersion | None = None
        self._checked = 0.0
        self._keyword: KeywordIndex | None = None
        self._vectorstore: Any = None
        self._query_vectors: LRUCache[str, list[float]] = LRUCache(512)

    VERSION_CHECK_SECONDS = 1.0

    def version(self) -> IndexVersion:
        """The active version, re-read from the store at most once a second."""
        now = time.monotonic()
        if self._version is None or now - self._checked > self.VERSION_CHECK_SECONDS:
            version = self.store.active()
            if version is None:
                raise IndexMissing("no index yet: run `assistant index` first")
            with self._lock:
                if self._version is None or version.collection != self._version.collection:
                    self._keyword = None
                    self._vectorstore = None
                self._version, self._checked = version, now
        assert self._version is not None
        return self._version

    def refresh(self) -> None:
        """Forget the cached version, e.g. after its collection was replaced under us."""
        with self._lock:
            self._checked = 0.0
            self._version = None

    def keyword(self) -> KeywordIndex:
        version = self.version()
        with self._lock:
            if self._keyword is None or self._keyword.version != version.collection:
                # In document order, whatever order the collection was written in (a fresh and
                # an incremental build then rank ties alike).
                records = sorted(self.store.records(version.collection),
                                 key=lambda r: (r["metadata"].get("source", ""), int(r["metadata"].get("start", 0)), r["id"]))  # fmt: skip
                self._keyword = KeywordIndex.build(version.collection, records)
            return self._keyword

    def vectorstore(self) -> Any:
        version = self.version()
        with self._lock:
            if self._vectorstore is None:
                self._vectorstore = self.store.vectorstore(version.collection, self.embeddings)
            return self._vectorstore

    def embed_query(self, text: str) -> list[float]:
        """Query vectors are cached, so a question is embedded once however often it is used."""
        return self._query_vectors.get(text, self.embeddings.embed_query)

    def _dense(self, query: str, n: int, filters: Filters) -> list[tuple[str, float]]:
        pairs = self.vectorstore().similarity_search_by_vector_with_relevance_scores(
            self.embed_query(query), k=n, filter=filters.where()
        )
        return [(doc.metadata["chunk_id"], 1.0 - float(distance)) for doc, distance in pairs]

    def _bm25(self, query: str, n: int, filters: Filters) -> list[tuple[str, float]]:
        index = self.keyword()
        scores = index.scores(query)
        if filters.active:
            mask = np.array([filters.allows(m) for m in index.metadatas], dtype=bool)
            scores = np.where(mask, scores, 0.0)
        top = np.argsort(-scores, kind="stable")[:n]
        return [(index.ids[i], float(scores[i])) for i in top if scores[i] > 0]

    def search(
        self, query: str, k: int, filters: Filters | None = None, mode: Mode = "hybrid"
    ) -> list[Document]:
        """Top-k passages; metadata carries the fused, dense and BM25 scores."""
        filters = filters or Filters()
        n = max(self.settings.candidates, k)
        dense = self._dense(query, n, filters) if mode in ("hybrid", "dense") else []
        keyword = self._bm25(query, n, filters) if mode in ("hybrid", "bm25") else []
        fused: dict[str, float] = {}
        weights = (self.settings.dense_weight, self.settings.bm25_weight)
        for weight, ranking in zip(weights, (dense, keyword), strict=True):
            for rank, (chunk_id, _) in enumerate(ranking):
                fused[chunk_id] = fused.get(chunk_id, 0.0) + weight / (
                    self.settings.rrf_k + rank + 1
                )
        index = self.keyword()
        ranked = sorted(
            fused, key=lambda cid: (-fused[cid], index.position[cid])
        )  # ties: doc order
        top = _capped(ranked, k, [index.metadatas[index.position[c]] for c in ranked],
                      self.settings.rows_per_table)  # fmt: skip
        # Rank fusion favours passages both rankings hold; the best keyword matches (a rare
        # name the question gives, say) may be in only one, so they take the last places.
        best = [chunk_id for chunk_id, _ in keyword[: min(self.settings.keyword_kept, k)]]
        for chunk_id in best if dense else []:
            if chunk_id in top:
                continue
            if len(top) == k:  # the lowest-ranked passage that is not one of them gives way
                top.remove(next(c for c in reversed(top) if c not in best))
            top.append(chunk_id)
        dense_scores = dict(dense)
        missing = [cid for cid in top if cid not in dense_scores]
        if missing:
            query_vector = np.asarray(self.embed_query(query))
            stored = self.store.embeddings(self.version().collection, missing)
            for cid, vector in stored.items():
                dense_scores[cid] = float(np.dot(query_vector, np.asarray(vector)))
        bm25_scores = dict(keyword)
        out = []
        for rank, cid in enumerate(top):
            i = index.position[cid]
            metadata = dict(index.metadatas[i])
            metadata.update(
                rank=rank + 1,
                score=fused[cid],
                dense_score=dense_scores.get(cid, 0.0),
                bm25_score=bm25_scores.get(cid, 0.0),
            )
            out.append(Document(page_content=index.passages[i], metadata=metadata, id=cid))
        return out


def _table_of(metadata: dict[str, Any]) -> str | None:
    if metadata.get("kind") != "table_row":
        return None
    return f"{metadata.get('source')}\x00{metadata.get('heading')}"


def _capped(ranked: list[str], k: int, metadatas: list[dict[str, Any]], cap: int) -> list[str]:
    """The first k ids, with at most `cap` rows of any one table while other passages are
    left: a table's many rows all share its caption and column names, and would otherwise
    crowd out the prose that a question using those words is about."""
    top: list[str] = []
    passed: list[str] = []
    seen: dict[str, int] = {}
    for chunk_id, metadata in zip(ranked, metadatas, strict=True):
        table = _table_of(metadata)
        if table is not None:
            if seen.get(table, 0) >= cap:
                passed.append(chunk_id)
                continue
            seen[table] = seen.get(table, 0) + 1
        top.append(chunk_id)
        if len(top) == k:
            return top
    return top + passed[: k - len(top)]


class HybridRetriever(BaseRetriever):
    """LangChain retriever over the assistant's index: `bot.retriever.invoke("question")`."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    index: SearchIndex
    k: int = 5
    mode: Mode = "hybrid"
    filters: Filters | None = None

    def _get_relevant_documents(
        self,
        query: str,
        *,
        run_manager: CallbackManagerForRetrieverRun,
        k: int | None = None,
        filters: Filters | None = None,
    ) -> list[Document]:
        return self.index.search(query, k or self.k, filters or self.filters, self.mode)
