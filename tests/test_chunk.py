from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from assistant.ingest.chunk import Chunk, ChunkingConfig, chunk_document
from assistant.ingest.load import SourceDocument, load_corpus
from assistant.offline import go_offline

CORPUS = Path(__file__).resolve().parent.parent / "corpus"


def words(text: str) -> int:
    return len(text.split())


def doc(text: str, source: str = "doc.txt") -> SourceDocument:
    return SourceDocument(source, text, "Doc", "Doc", "", "2020", "", "txt", "x")


@pytest.fixture(scope="module")
def corpus_chunks(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[Chunk]]:
    go_offline(tmp_path_factory.mktemp("cache"))
    import tiktoken

    encoding = tiktoken.get_encoding("cl100k_base")

    def count(text: str) -> int:
        return len(encoding.encode(text))

    loaded = load_corpus(CORPUS, ("README*", "metadata.toml"))
    return {
        d.source: chunk_document(d, ChunkingConfig(), count, count, 256) for d in loaded.documents
    }


def test_offsets_are_exact_and_ids_stable(corpus_chunks: dict[str, list[Chunk]]) -> None:
    for source, chunks in corpus_chunks.items():
        text = (CORPUS / source).read_bytes().decode("utf-8")
        for chunk in chunks:
            assert text[chunk.start : chunk.end] == chunk.text
            if chunk.kind == "text":
                assert chunk.passage == chunk.text
        assert len({c.id for c in chunks}) == len(chunks)


def test_ids_do_not_change_between_runs(corpus_chunks: dict[str, list[Chunk]]) -> None:
    loaded = load_corpus(CORPUS, ("README*", "metadata.toml"))
    again = {
        d.source: chunk_document(d, ChunkingConfig(), words, words, 10_000)
        for d in loaded.documents
    }
    first = {
        d.source: chunk_document(d, ChunkingConfig(), words, words, 10_000)
        for d in loaded.documents
    }
    assert [c.id for cs in again.values() for c in cs] == [
        c.id for cs in first.values() for c in cs
    ]


def test_headings_are_detected(corpus_chunks: dict[str, list[Chunk]]) -> None:
    headings = {" > ".join(c.heading) for cs in corpus_chunks.values() for c in cs}

    def has(*parts: str) -> bool:
        return any(all(p in h for p in parts) for h in headings)

    assert has("3. Strategic tasks and priorities", "(6) Energetically promote breakthrough")
    assert has("(6) Energetically promote", "1. New generation IT industry")  # nested list
    assert has("(2) Promote the deep integration", "Box 2 Smart Manufacturing Projects")
    assert has("4. Strategic support and assurance", "(8) Improve organization")  # list ended
    assert has("The initial effect is obvious", "Liao Wang: What are the obvious progress")
    assert has(
        "I. Progress of Main Activities", "3. Implementation of pilot projects has taken root"
    )
    # the heading path is part of what is embedded
    deep = next(c for cs in corpus_chunks.values() for c in cs if "Box 2" in " ".join(c.heading))
    assert "Box 2 Smart Manufacturing Projects" in deep.embed_text


def test_table_rows_are_rendered_with_headers_and_title(
    corpus_chunks: dict[str, list[Chunk]],
) -> None:
    rows = [
        c
        for c in corpus_chunks["state-council-made-in-china-2025-2015.txt"]
        if c.kind == "table_row"
    ]
    assert len(rows) == 12
    broadband = next(c for c in rows if "Broadband" in c.passage)
    assert broadband.passage == (
        "Key Manufacturing Indicators for 2020 and 2025 — Integration of information technology "
        "and industrializatio — Broadband penetration (%): 2013: 37; 2015: 50; 2020: 70; 2025: 82"
    )
    assert broadband.text == "Integration of\tBroadband penetration ⁵ (%)\t37\t50\t70\t82"
    assert all(c.passage.startswith("Key Manufacturing Indicators") for c in rows)
    waste = next(c for c in rows if "solid waste" in c.passage)
    assert waste.passage.endswith("(%): 2013: 62; 2015: 65; 2020: 73; 2025: 79")
    rd = next(c for c in rows if "R&D expenditure" in c.passage)
    assert "2013: not given; 2015: 0.95; 2020: 1.26; 2025: 1.68" in rd.passage


def test_lists_become_chunks_with_exact_item_spans(corpus_chunks: dict[str, list[Chunk]]) -> None:
    import json

    text = (CORPUS / "state-council-made-in-china-2025-2015.txt").read_text(encoding="utf-8")
    lists = [
        c for c in corpus_chunks["state-council-made-in-china-2025-2015.txt"] if c.kind == "list"
    ]
    tasks = next(c for c in lists if c.heading[-1:] == ("3. Strategic tasks and priorities",))
    items = json.loads(tasks.record)["items"]
    assert len(items) == 9 and items[0]["label"].startswith("(1) Improve national manufacturing")
    assert all(text[i["start"] : i["end"]] == i["raw"] for i in items)
    assert "nine items" in tasks.passage


def test_sizes_respect_chunk_size_and_embedder_limit(corpus_chunks: dict[str, list[Chunk]]) -> None:
    import tiktoken

    encoding = tiktoken.get_encoding("cl100k_base")
    config = ChunkingConfig()
    for chunks in corpus_chunks.values():
        for chunk in chunks:
            assert len(encoding.encode(chunk.embed_text)) <= 256
            # prose packs to chunk_size (the heading path comes on top)
            if chunk.kind == "text":
                assert len(encoding.encode(chunk.text)) <= config.chunk_size + 8


def test_hard_limit_splits_instead_of_truncating() -> None:
    text = "# Title\n\n" + " ".join(f"word{i}." for i in range(300)) + "\n"
    chunks = chunk_document(
        doc(text), ChunkingConfig(chunk_size=400, chunk_overlap=0), words, words, 40
    )
    assert all(words(c.embed_text) <= 40 for c in chunks)
    covered = " ".join(c.text for c in chunks)
    assert all(f"word{i}." in covered for i in range(300))  # nothing lost


def test_overlap_repeats_trailing_sentences() -> None:
    sentences = " ".join(f"Sentence number {i} is here." for i in range(40))
    chunks = chunk_document(
        doc(sentences), ChunkingConfig(chunk_size=30, chunk_overlap=12), words, words, 512
    )
    assert len(chunks) > 3
    for left, right in itertools.pairwise(chunks):
        assert right.start < left.end  # overlapping spans


def test_markdown_headings_nest() -> None:
    text = (
        "# A\n\nIntro text here for A.\n\n## B\n\nText under B is here.\n\n# C\n\nText under C.\n"
    )
    chunks = chunk_document(doc(text), ChunkingConfig(), words, words, 512)
    assert [c.heading for c in chunks if c.kind == "text"] == [("A",), ("A", "B"), ("C",)]


@pytest.mark.parametrize(
    ("line", "is_heading"),
    [
        ("Updated: Oct 21,2017 7:15 AM China Daily", False),  # a dateline is text to quote
        ("Source: Harbour Authority press office", False),
        ("Interview by Jonas Whitcombe for Harvest Quarterly, published 6 October 2026", False),
        ("By Ana Ruiz, harbour correspondent", False),
        ("Words and photos by Lee Okoro", False),
        ("By the old harbour wall", True),  # no name after "By": a title
        ("Standing by the harbour plan", True),
        ("Fresh impetus for the harbour plan", True),
        ("Harbour plan: what changes in 2026", True),
    ],
)
def test_a_short_line_before_a_paragraph_is_a_title_unless_it_is_a_label(
    line: str, is_heading: bool
) -> None:
    text = f"{line}\n\nThe harbour authority will renew the sea wall and dredge the channel before the ferries return.\n"
    chunks = chunk_document(doc(text), ChunkingConfig(), words, words, 512)
    body = " ".join(c.text for c in chunks if c.kind == "text")
    assert (line in body) is not is_heading
    assert any(line in c.heading for c in chunks) is is_heading


HOSTILE = {
    "long markdown heading": "# "
    + " ".join(f"heading{i}" for i in range(400))
    + "\n\nBody text.\n",
    "token without spaces": "Intro. " + "x" * 6000 + " end.\n",
    "long url": "See https://example.com/" + "a/b-c_d" * 137 + " for more.\n",
    "base64": "Data: " + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo0NTY3ODk=" * 14 + "\n",
    "chinese commas only": "，".join(["中国制造二零二五年计划"] * 36) + "\n",
    "interview line": "Name: " + " ".join(f"word{i}" for i in range(400)) + "?\n",
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_text_becomes_more_chunks_never_an_error(name: str) -> None:
    from assistant.search.embed import MiniLMEmbeddings

    tokenizer = MiniLMEmbeddings()  # counts with the real tokenizer.json; no model load
    text = HOSTILE[name]
    chunks = chunk_document(
        doc(text), ChunkingConfig(), words, tokenizer.count_tokens, tokenizer.max_tokens
    )
    assert chunks
    for chunk in chunks:
        assert tokenizer.count_tokens(chunk.embed_text) <= tokenizer.max_tokens
        assert text[chunk.start : chunk.end] == chunk.text
