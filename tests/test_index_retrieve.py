from __future__ import annotations

from pathlib import Path

import pytest

from assistant import Assistant, Filters
from assistant.search.embed import HashEmbeddings
from assistant.search.index import build_index, date_range
from assistant.search.store import ChromaStore
from assistant.settings import Settings


class FailingEmbeddings(HashEmbeddings):
    """Embeds a few batches, then fails like a crash or Ctrl-C partway through indexing."""

    def __init__(self, batches_before_failure: int) -> None:
        super().__init__(256)
        self.left = batches_before_failure

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        if self.left == 0:
            raise KeyboardInterrupt("interrupted")
        self.left -= 1
        return super().embed_documents(texts)


def test_index_is_incremental_and_idempotent(hash_settings: Settings, corpus_copy: Path) -> None:
    bot = Assistant(hash_settings, build_if_missing=False)
    first = bot.index()
    assert first.changed and first.documents == 5 and first.added == first.chunks > 100
    assert first.removed == 0 and first.reused == 0

    again = bot.index()
    assert not again.changed and again.added == 0 and again.removed == 0
    assert again.collection == first.collection

    news = corpus_copy / "china-daily-fresh-impetus-2017.txt"
    news.write_text(
        news.read_text(encoding="utf-8") + "\nA new closing paragraph about robots.\n",
        encoding="utf-8",
    )
    (corpus_copy / "state-council-smart-manufacturing-meeting-2017.txt").unlink()
    changed = bot.index()
    assert changed.changed and changed.documents == 4
    assert 1 <= changed.added <= 3  # only the edited document's affected chunks
    assert changed.removed >= 5  # the deleted document's chunks (and the replaced ones)
    assert changed.reused == changed.chunks - changed.added
    assert "state-council-smart-manufacturing-meeting-2017.txt" not in {
        d.source for d in bot.documents()
    }
    sources = {
        d.metadata["source"] for d in bot.retrieve("Premier Li Keqiang executive meeting", k=20)
    }
    assert "state-council-smart-manufacturing-meeting-2017.txt" not in sources
    # only the active collection is left in the store
    names = {c.name for c in bot.store.client.list_collections()}
    assert names == {changed.collection, bot.store.meta_name}


def test_interrupted_index_leaves_previous_index_usable(
    hash_settings: Settings, corpus_copy: Path
) -> None:
    bot = Assistant(hash_settings, build_if_missing=False)
    before = bot.index()
    answer_before = bot.ask("What is the broadband penetration target for 2025?")

    (corpus_copy / "extra.md").write_text("# Extra\n\n" + "More text about factories. " * 400)
    store = ChromaStore(hash_settings)
    with pytest.raises(KeyboardInterrupt):
        build_index(hash_settings, FailingEmbeddings(1), store, rebuild=True)

    assert ChromaStore(hash_settings).active().collection == before.collection
    assert bot.ask("What is the broadband penetration target for 2025?").text == answer_before.text
    # the next run cleans up the half-built collection and completes
    after = bot.index()
    assert after.changed and after.documents == 6
    assert {c.name for c in bot.store.client.list_collections()} == {
        after.collection,
        bot.store.meta_name,
    }


def test_bm25_is_built_once_per_index_version(hash_settings: Settings, corpus_copy: Path) -> None:
    bot = Assistant(hash_settings)
    bot.retrieve("smart manufacturing")
    keyword = bot.search_index.keyword()
    bot.retrieve("innovation centres")
    bot.ask("pilot cities")
    assert bot.search_index.keyword() is keyword
    (corpus_copy / "extra.md").write_text("# Extra\n\nA paragraph about shipbuilding yards.\n")
    bot.index()
    bot.search_index.VERSION_CHECK_SECONDS = 0
    assert bot.search_index.keyword() is not keyword
    assert any("shipbuilding" in d.page_content for d in bot.retrieve("shipbuilding yards"))


def test_filters_by_source_and_date(hash_settings: Settings) -> None:
    bot = Assistant(hash_settings)
    question = "How many pilot cities and innovation centres are there?"
    only = "miao-wei-liaowang-interview-2016.txt"
    docs = bot.retrieve(question, k=8, filters={"sources": [only]})
    assert docs and {d.metadata["source"] for d in docs} == {only}
    dated = bot.retrieve(question, k=10, filters=Filters(date_from="2017-01", date_to="2017-06"))
    assert dated and {d.metadata["source"] for d in dated} <= {
        "miit-implementation-of-made-in-china-2025-2017.txt",
        "state-council-smart-manufacturing-meeting-2017.txt",
    }
    for mode in ("dense", "bm25"):
        bot.retriever.mode = mode
        docs = bot.retriever.invoke(question, filters=Filters(sources=(only,)))
        assert {d.metadata["source"] for d in docs} == {only}
    with pytest.raises(ValueError, match="not a date"):
        Filters(date_from="May 2017")


def test_a_question_naming_its_document_is_answered_from_it(hash_settings: Settings) -> None:
    """ "In the Liaowang interview, ...": the evidence comes from that document alone, unless
    the caller chose the documents."""
    bot = Assistant(hash_settings)
    bot.index()
    question = "In the Liaowang interview, how many pilot cities are there?"
    sources = {d.metadata["source"] for d in bot.evidence(question)}
    assert sources == {"miao-wei-liaowang-interview-2016.txt"}
    assert len({d.metadata["source"] for d in bot.evidence("How many pilot cities are there?")}) > 1
    chosen = Filters(sources=("china-daily-fresh-impetus-2017.txt",))
    assert {d.metadata["source"] for d in bot.evidence(question, chosen)} == set(chosen.sources)


def test_retrieved_documents_carry_the_contract_metadata(hash_settings: Settings) -> None:
    bot = Assistant(hash_settings)
    docs = bot.retrieve("broadband penetration", k=5)
    assert len(docs) == 5
    for d in docs:
        for key in ("source", "title", "chunk_id", "start", "end", "heading", "score", "rank"):
            assert key in d.metadata
        text = (hash_settings.corpus_dir / d.metadata["source"]).read_text(encoding="utf-8")
        assert text[d.metadata["start"] : d.metadata["end"]] == d.metadata.get(
            "text", d.page_content
        )
    assert [d.metadata["rank"] for d in docs] == [1, 2, 3, 4, 5]


def test_date_ranges() -> None:
    assert date_range("2017-05") == (20170501, 20170531)
    assert date_range("2016") == (20160101, 20161231)
    assert date_range("2015-05-08") == (20150508, 20150508)
    assert date_range("") == (-1, -1)


def test_a_document_that_cannot_be_embedded_is_skipped_and_the_rest_indexed(
    hash_settings: Settings,
) -> None:
    class Refuses(HashEmbeddings):
        """Deterministic embeddings that fail on one poisoned text, as a broken model might."""

        def embed_documents(self, texts: list[str]) -> list[list[float]]:
            if any("POISON" in t for t in texts):
                raise RuntimeError("cannot embed this")
            return super().embed_documents(texts)

    (hash_settings.corpus_dir / "bad.txt").write_text("POISON in a document.\n", encoding="utf-8")
    report = build_index(hash_settings, Refuses(), ChromaStore(hash_settings))
    assert [(s.source, s.reason.split(" (")[0]) for s in report.skipped] == [
        ("bad.txt", "could not be embedded")
    ]
    assert report.documents == 5 and report.changed
    active = ChromaStore(hash_settings).active()
    assert active is not None and "bad.txt" not in {d.source for d in active.documents}


def test_a_query_survives_a_reindex_by_another_process(
    hash_settings: Settings, corpus_copy: Path
) -> None:
    """Another Assistant (another process, in real use) swaps the collection and drops the old
    one while this one still holds it: Chroma's NotFoundError, then a retry on the new one."""
    reader = Assistant(hash_settings, build_if_missing=False)
    reader.index()
    assert reader.retrieve("broadband penetration", k=2)
    (corpus_copy / "extra.md").write_text(
        "# Extra\n\nThe ferry pier opens in 2031.\n", encoding="utf-8"
    )
    writer = Assistant(hash_settings, build_if_missing=False)
    assert writer.index().changed
    docs = reader.retrieve("ferry pier opens", k=3)  # within the second the old version is cached
    assert any(d.metadata["source"] == "extra.md" for d in docs)


def test_an_index_version_written_by_another_release_still_reads() -> None:
    """Unknown fields (an older release wrote `chunking`; a newer one may add others) are
    ignored, and missing ones take their defaults."""
    from assistant.search.store import IndexVersion

    raw = ('{"collection": "c1", "created": "2026-01-01", "embedder": "hash-256", "chunking": "x", '
           '"documents": [{"source": "a.txt", "title": "A", "short_title": "A", "publisher": "", '
           '"date": "", "url": "", "checksum": "0", "chunks": 3, "colour": "red"}]}')  # fmt: skip
    version = IndexVersion.from_json(raw)
    assert version.collection == "c1" and version.chunk_count == 3
    assert (
        version.documents[0].format == "" and IndexVersion.from_json(version.to_json()) == version
    )


def test_the_best_keyword_match_is_always_retrieved(hash_settings: Settings) -> None:
    """A rare name the question gives ("Roland Berger") may rank high in only one of the two
    rankings; rank fusion alone then drops it for passages both rankings hold."""
    bot = Assistant(hash_settings)
    question = (
        "Which Roland Berger executive is quoted in the China Daily piece on Made in China "
        "2025 and manufacturing industry development?"
    )
    for k in (1, 3, 5):
        assert any("Roland Berger" in d.page_content for d in bot.retrieve(question, k=k))


@pytest.mark.parametrize(
    ("ranked", "k", "cap", "top"),
    [
        # rows of table A crowd the ranking: the fourth gives way to the prose after it
        (["a1", "a2", "a3", "a4", "p1", "b1"], 5, 3, ["a1", "a2", "a3", "p1", "b1"]),
        (["a1", "a2", "a3", "a4", "p1"], 5, 4, ["a1", "a2", "a3", "a4", "p1"]),
        (["p1", "a1", "b1", "a2", "b2"], 3, 1, ["p1", "a1", "b1"]),
        (["a1", "a2", "a3", "p1"], 3, 1, ["a1", "p1", "a2"]),  # the cap gives way when
        (["a1", "a2", "a3"], 5, 1, ["a1", "a2", "a3"]),  # nothing else is left
    ],
)  # fmt: skip
def test_rows_of_one_table_are_capped(ranked: list[str], k: int, cap: int, top: list[str]) -> None:
    from assistant.search.retrieve import _capped

    def metadata(chunk_id: str) -> dict[str, str]:
        if chunk_id.startswith("p"):
            return {"kind": "text", "source": "r.txt", "heading": "1. Aims"}
        return {"kind": "table_row", "source": "r.txt", "heading": f"Table {chunk_id[0]}"}

    assert _capped(ranked, k, [metadata(c) for c in ranked], cap) == top


def test_an_index_from_an_older_chunker_is_rewritten_without_embedding(
    hash_settings: Settings,
) -> None:
    """Chunk ids hash the embedded text only: an older chunker's list record or span under the
    same id must not be kept because every id matches. Its index has no digest (or another
    one); the next run rewrites the records and reuses every vector."""
    from dataclasses import replace

    bot = Assistant(hash_settings, build_if_missing=False)
    first = bot.index()
    active = bot.store.active()
    assert active is not None and active.digest
    collection = bot.store.collection(active.collection)
    stored = collection.get(where={"kind": "list"}, include=["metadatas"])
    chunk_id, metadata = stored["ids"][0], stored["metadatas"][0]
    collection.update(ids=[chunk_id], metadatas=[{**metadata, "record": '{"items": []}'}])
    bot.store.activate(replace(active, digest=""))  # as an older release wrote it

    again = bot.index()
    assert again.changed and again.added == 0 and again.reused == first.chunks
    fresh = bot.store.collection(again.collection).get(ids=[chunk_id], include=["metadatas"])
    assert fresh["metadatas"][0]["record"] == metadata["record"]
    assert not bot.index().changed  # and then it is up to date
