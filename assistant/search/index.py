"""Stage 5, index: load → chunk → embed what is new → write a new collection → switch.

Incremental: a chunk id is a hash of its source and content, so chunks whose id is already in
the active collection keep their embedding; only new chunks are embedded. Chunks of changed
or deleted documents simply are not copied. The switch happens at the very end, so an
interrupted run leaves the previous index fully usable; its half-built collection is dropped
by the next run.
"""

from __future__ import annotations

import calendar
import hashlib
import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from assistant.ingest.chunk import Chunk, ChunkingConfig, chunk_document
from assistant.ingest.load import LoadResult, SkippedFile, SourceDocument, load_corpus
from assistant.search.store import ChromaStore, DocumentInfo, IndexLock, IndexVersion

if TYPE_CHECKING:
    from assistant.search.embed import TokenAwareEmbeddings
    from assistant.settings import Settings

Progress = Callable[[int, int], None]
WRITE_BATCH = 256


@dataclass(frozen=True)
class IndexReport:
    documents: int
    chunks: int
    added: int
    removed: int
    reused: int
    skipped: tuple[SkippedFile, ...]
    seconds: float
    collection: str
    changed: bool


def date_range(date: str) -> tuple[int, int]:
    """'2017-05' -> (20170501, 20170531); '' -> (-1, -1), so date filters exclude it."""
    parts = [int(p) for p in date.split("-") if p.isdigit()] if date else []
    if not parts:
        return -1, -1
    year = parts[0]
    if len(parts) == 1:
        return year * 10000 + 101, year * 10000 + 1231
    month = parts[1]
    if len(parts) == 2:
        last = calendar.monthrange(year, month)[1]
        return year * 10000 + month * 100 + 1, year * 10000 + month * 100 + last
    day = year * 10000 + month * 100 + parts[2]
    return day, day


def chunk_metadata(chunk: Chunk, document: SourceDocument) -> dict[str, Any]:
    """What Chroma stores beside each chunk; the Document metadata callers see."""
    start, end = date_range(document.date)
    metadata: dict[str, Any] = {
        "chunk_id": chunk.id,
        "source": chunk.source,
        "title": document.title,
        "short_title": document.short_title,
        "publisher": document.publisher,
        "date": document.date,
        "date_start": start,
        "date_end": end,
        "heading": " > ".join(chunk.heading),
        "start": chunk.start,
        "end": chunk.end,
        "kind": chunk.kind,
        "embed_text": chunk.embed_text,
    }
    if chunk.text != chunk.passage:
        metadata["text"] = chunk.text
    if chunk.record:
        metadata["record"] = chunk.record
    return metadata


def chunks_digest(chunks: list[Chunk], docs: dict[str, SourceDocument]) -> str:
    """What the collection holds beside the vectors. An index whose chunk ids all match but
    whose digest does not (built by an older chunker: a list record or a span changed, the
    embedded text did not) is rewritten, reusing every vector."""
    digest = hashlib.sha256()
    for c in chunks:
        entry = [c.id, c.passage, chunk_metadata(c, docs[c.source])]
        digest.update(json.dumps(entry, sort_keys=True, ensure_ascii=False).encode())
    return digest.hexdigest()[:32]


def chunk_corpus(
    loaded: LoadResult, settings: Settings, embeddings: TokenAwareEmbeddings
) -> tuple[dict[str, list[Chunk]], tuple[SkippedFile, ...]]:
    """Chunks per document source, sized with tiktoken and bounded by the embedder. A
    document that cannot be chunked is skipped with its reason; the others go on."""
    import tiktoken

    encoding = tiktoken.get_encoding(settings.tiktoken_encoding)
    config = ChunkingConfig(
        settings.chunk_size, settings.chunk_overlap, settings.heading_in_embedding
    )

    def count(text: str) -> int:
        return len(encoding.encode(text, disallowed_special=()))

    per_doc: dict[str, list[Chunk]] = {}
    skipped: list[SkippedFile] = []
    for doc in loaded.documents:
        try:
            per_doc[doc.source] = chunk_document(
                doc, config, count, embeddings.count_tokens, embeddings.max_tokens
            )
        except Exception as exc:  # one bad document never stops the run
            skipped.append(SkippedFile(doc.source, f"could not be chunked ({_brief(exc)})"))
    return per_doc, tuple(skipped)


def _brief(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {str(exc)[:200]}"


def _infos(
    docs: dict[str, SourceDocument],
    per_doc: dict[str, list[Chunk]],
    previous: IndexVersion | None = None,
) -> tuple[DocumentInfo, ...]:
    """What the index says of each document; a file indexed before, unchanged, keeps the
    time it was first indexed."""
    now = datetime.now(UTC).isoformat(timespec="seconds")
    before = {d.source: d for d in previous.documents} if previous else {}
    infos = []
    for d in docs.values():
        old = before.get(d.source)
        indexed = old.indexed if old and old.checksum == d.checksum and old.indexed else now
        infos.append(DocumentInfo(d.source, d.title, d.short_title, d.publisher, d.date, d.url,
                                  d.checksum, len(per_doc[d.source]), d.format, indexed))  # fmt: skip
    return tuple(infos)


def build_index(
    settings: Settings,
    embeddings: TokenAwareEmbeddings,
    store: ChromaStore,
    *,
    rebuild: bool = False,
    progress: Progress | None = None,
) -> IndexReport:
    """Bring the index in line with the corpus; see the module docstring. One run at a time
    per store: IndexBusy if another run holds the index lock (see `ChromaStore.index_lock`)."""
    with store.index_lock() as lock:
        return _build(settings, embeddings, store, lock, rebuild=rebuild, progress=progress)


def _build(
    settings: Settings,
    embeddings: TokenAwareEmbeddings,
    store: ChromaStore,
    lock: IndexLock,
    *,
    rebuild: bool,
    progress: Progress | None,
) -> IndexReport:
    began = time.perf_counter()
    loaded = load_corpus(settings.corpus_dir, settings.corpus_exclude)
    per_doc, unchunked = chunk_corpus(loaded, settings, embeddings)
    skipped = [*loaded.skipped, *unchunked]
    docs = {d.source: d for d in loaded.documents if d.source in per_doc}
    chunks = [c for source in sorted(per_doc) for c in per_doc[source]]

    store.drop_inactive()  # leftovers of an interrupted run
    store.remove_orphan_files()  # and the files Chroma leaves behind (chroma-core/chroma#5520)
    active = store.active()
    old_ids: set[str] = set()
    if active is not None and active.embedder == embeddings.name and not rebuild:
        old_ids = store.ids(active.collection)
    new_ids = {c.id for c in chunks}
    infos = _infos(docs, per_doc, active)
    digest = chunks_digest(chunks, docs)
    if (active is not None and not rebuild and old_ids == new_ids and active.documents == infos
            and active.digest == digest):  # fmt: skip
        return IndexReport(len(docs), len(chunks), 0, 0, len(chunks), tuple(skipped),
                           time.perf_counter() - began, active.collection, changed=False)  # fmt: skip

    reuse = sorted(new_ids & old_ids)
    cached = store.embeddings(active.collection, reuse) if active and reuse else {}
    name = settings.collection_name(
        datetime.now(UTC).strftime("%Y%m%d%H%M%S-") + uuid.uuid4().hex[:6]
    )
    writer = _Writer(store.create(name, embeddings.name), docs)
    reused = [c for c in chunks if c.id in cached]
    for i in range(0, len(reused), WRITE_BATCH):
        writer.write(
            reused[i : i + WRITE_BATCH], [cached[c.id] for c in reused[i : i + WRITE_BATCH]]
        )
    # Embedding texts of similar length together wastes less padding: about 20% faster.
    todo = sorted((c for c in chunks if c.id not in cached), key=lambda c: len(c.embed_text))
    failed = _embed_new(todo, embeddings, writer, settings.embedding_batch_size, progress)
    if failed:  # drop what was written of them before they failed
        writer.collection.delete(ids=[c.id for c in chunks if c.source in failed])
        skipped += [SkippedFile(source, reason) for source, reason in failed.items()]
        chunks = [c for c in chunks if c.source not in failed]
        docs = {k: v for k, v in docs.items() if k not in failed}
        infos = _infos(docs, per_doc, active)
        digest = chunks_digest(chunks, docs)

    lock.confirm()
    store.activate(IndexVersion(collection=name, created=datetime.now(UTC).isoformat(timespec="seconds"),
                                embedder=embeddings.name, documents=infos, digest=digest))  # fmt: skip
    store.drop_inactive()
    store.remove_orphan_files()
    return IndexReport(
        documents=len(docs),
        chunks=len(chunks),
        added=len([c for c in todo if c.source not in failed]),
        removed=len(old_ids - new_ids),
        reused=len(reused),
        skipped=tuple(skipped),
        seconds=time.perf_counter() - began,
        collection=name,
        changed=True,
    )


@dataclass(frozen=True)
class _Writer:
    """Adds chunks with their vectors to the collection being built."""

    collection: Any
    docs: dict[str, SourceDocument]

    def write(self, batch: list[Chunk], vectors: list[list[float]]) -> None:
        self.collection.add(
            ids=[c.id for c in batch],
            embeddings=vectors,
            documents=[c.passage for c in batch],
            metadatas=[chunk_metadata(c, self.docs[c.source]) for c in batch],
        )


def _embed_new(todo: list[Chunk], embeddings: TokenAwareEmbeddings, writer: _Writer,
               batch_size: int, progress: Progress | None) -> dict[str, str]:  # fmt: skip
    """Embed and write the new chunks in batches. A batch that fails is retried document by
    document, so one bad document is skipped (returned with the reason) and the rest land."""
    if progress:
        progress(0, len(todo))
    failed: dict[str, str] = {}
    for i in range(0, len(todo), batch_size):
        batch = [c for c in todo[i : i + batch_size] if c.source not in failed]
        try:
            writer.write(batch, embeddings.embed_documents([c.embed_text for c in batch]))
        except Exception:  # find the document at fault; the others are embedded one by one
            for source in dict.fromkeys(c.source for c in batch):
                own = [c for c in batch if c.source == source]
                try:
                    writer.write(own, embeddings.embed_documents([c.embed_text for c in own]))
                except Exception as exc:
                    failed[source] = f"could not be embedded ({_brief(exc)})"
        if progress:
            progress(min(i + batch_size, len(todo)), len(todo))
    return failed
