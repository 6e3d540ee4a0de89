"""The real model, a real Chroma and the real corpus (also run in CI)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from assistant import Assistant
from assistant.ingest.chunk import ChunkingConfig, chunk_document
from assistant.ingest.load import load_corpus
from assistant.offline import go_offline
from assistant.search.embed import MiniLMEmbeddings
from assistant.search.store import ChromaStore
from assistant.settings import Settings
from assistant.testing import free_port, wait_for
from tests.conftest import CORPUS, ROOT

pytestmark = pytest.mark.integration

# A dozen questions written from the documents, with the string a right answer contains.
KNOWN = [
    ("What broadband penetration does the plan target for 2025?", "82"),
    ("What was the manufacturing quality competitiveness index in 2015?", "83.5"),
    ("By 2020, by how much should pilot demonstration projects cut operating costs?", "30%"),
    ("What share of core basic components should be independently assured by 2020?", "40%"),
    ("Which cities were approved as the first pilot cities?", "Ningbo"),
    ("Who presided over the State Council executive meeting on smart manufacturing?", "Li Keqiang"),
    ("How many intelligent manufacturing pilot projects did the ministry unveil on Oct 16?", "97"),
    ("Which Vice Premier heads the National Manufacturing Power Building Leading Group?", "Ma Kai"),
    ("How many key milestone projects were fully implemented?", "7"),
    ("What does the X in the 1+X plan refer to?", "11 guidelines"),
    ("When did the passenger jet C919 take its first test flight?", "earlier this month"),
    (
        "What is the target for the comprehensive utilization rate of industrial solid waste by 2025?",
        "79",
    ),
]
NOT_IN_CORPUS = [
    "What broadband penetration rate does the plan set for 2035?",
    "How much did the European Union invest in Chinese robotics in 2016?",
    "What is the recipe for sourdough bread?",
]


def test_no_chunk_exceeds_the_embedders_limit_on_the_real_corpus(real_settings: Settings) -> None:
    go_offline(real_settings.cache_dir)
    embeddings = MiniLMEmbeddings()
    import tiktoken

    encoding = tiktoken.get_encoding("cl100k_base")
    loaded = load_corpus(CORPUS, real_settings.corpus_exclude)
    config = ChunkingConfig(real_settings.chunk_size, real_settings.chunk_overlap)
    total = 0
    for doc in loaded.documents:
        chunks = chunk_document(doc, config, lambda t: len(encoding.encode(t)), embeddings.count_tokens,
                                embeddings.max_tokens)  # fmt: skip
        total += len(chunks)
        for chunk in chunks:
            assert embeddings.count_tokens(chunk.embed_text) <= embeddings.max_tokens == 256
    assert total > 150
    # the counter reads tokenizer.json directly; it must agree with the loaded model's tokenizer
    tokenizer = embeddings.model.tokenizer
    for chunk in chunks[:20]:
        pieces = tokenizer(chunk.embed_text, add_special_tokens=True, truncation=False)["input_ids"]
        assert embeddings.count_tokens(chunk.embed_text) == len(pieces)
    # and a text over the limit really is longer than what the model would keep
    assert embeddings.count_tokens("word " * 400) > 256


def test_real_index_answers_known_questions_with_exact_citations(real_bot: Assistant) -> None:
    right = 0
    for question, expected in KNOWN:
        answer = real_bot.ask(question)
        right += (not answer.abstained) and expected.lower() in answer.text.lower()
        for c in answer.citations:
            text = (CORPUS / c.source).read_text(encoding="utf-8")
            assert text[c.start : c.end] == c.quote
    assert right >= 10, f"only {right}/{len(KNOWN)} known questions answered right"


def test_real_index_abstains_when_the_answer_is_not_there(real_bot: Assistant) -> None:
    abstained = sum(real_bot.ask(q).abstained for q in NOT_IN_CORPUS)
    assert abstained >= 2


def test_follow_up_uses_the_conversation(real_bot: Assistant) -> None:
    history = [
        {"role": "user", "content": "What is the broadband penetration target for 2020?"},
        {"role": "assistant", "content": "70 [1]"},
    ]
    answer = real_bot.ask("And by 2025?", history=history)
    assert not answer.abstained and "82" in answer.text
    assert "broadband" in answer.question.lower() and "2025" in answer.question


def test_documents_can_be_filtered(real_bot: Assistant) -> None:
    only = "china-daily-fresh-impetus-2017.txt"
    answer = real_bot.ask(
        "How many provincial manufacturing innovation centers are there?",
        filters={"sources": [only]},
    )
    assert answer.citations and {c.source for c in answer.citations} == {only}
    assert "35" in answer.text


def test_no_change_reindex_is_a_no_op(real_bot: Assistant) -> None:
    report = real_bot.index()
    assert not report.changed and report.added == 0 and report.removed == 0


def _env(settings: Settings) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        ASSISTANT_CORPUS_DIR=str(settings.corpus_dir),
        ASSISTANT_INDEX_DIR=str(settings.index_dir),
        ASSISTANT_CACHE_DIR=str(settings.cache_dir),
        ASSISTANT_EMBEDDINGS=settings.embeddings,
    )
    return env


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "assistant.surfaces.cli", *args]


def test_killing_an_index_run_leaves_the_previous_index_usable(
    tmp_path: Path, cache_dir: Path
) -> None:
    corpus = tmp_path / "corpus"
    shutil.copytree(CORPUS, corpus)
    settings = Settings(corpus_dir=corpus, index_dir=tmp_path / "index", cache_dir=cache_dir,
                        embedding_batch_size=8)  # fmt: skip
    env = _env(settings) | {"ASSISTANT_EMBEDDING_BATCH_SIZE": "8"}
    subprocess.run(_cli("index"), env=env, check=True, capture_output=True, timeout=600)
    before = ChromaStore(settings).active()
    assert before is not None

    process = subprocess.Popen(
        _cli("index", "--rebuild"), env=env, stderr=subprocess.PIPE, text=True
    )
    deadline = time.monotonic() + 300
    seen = ""
    assert process.stderr is not None
    while "Embedding chunks" not in seen and time.monotonic() < deadline:
        seen += process.stderr.read(1) or ""
    time.sleep(2)  # let it write part of the new collection
    assert process.poll() is None, "the index run finished before it could be killed"
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)

    store = ChromaStore(settings)
    assert store.active().collection == before.collection
    ask = subprocess.run(_cli("ask", "What is the broadband penetration target for 2025?", "--json"),
                         env=env, capture_output=True, text=True, timeout=300)  # fmt: skip
    assert ask.returncode == 0, ask.stderr
    assert "82" in json.loads(ask.stdout)["text"]
    # the next run drops the half-built collection and leaves exactly one
    subprocess.run(_cli("index"), env=env, check=True, capture_output=True, timeout=600)
    names = {c.name for c in ChromaStore(settings).client.list_collections()}
    assert len(names) == 2  # the active chunks collection and the meta collection


def test_cli_json_commands(real_bot: Assistant, real_settings: Settings) -> None:
    env = _env(real_settings)
    ask = subprocess.run(_cli("ask", "Who presided over the executive meeting?", "--json"),
                         env=env, capture_output=True, text=True, timeout=300)  # fmt: skip
    assert ask.returncode == 0, ask.stderr
    payload = json.loads(ask.stdout)
    assert {"text", "abstained", "citations", "related", "question", "grounded"} <= payload.keys()
    assert payload["citations"][0]["number"] == 1 and "Li Keqiang" in payload["text"]

    found = subprocess.run(_cli("retrieve", "pilot cities", "-k", "3", "--json", "--source",
                                "miit-implementation-of-made-in-china-2025-2017.txt"),
                           env=env, capture_output=True, text=True, timeout=300)  # fmt: skip
    assert found.returncode == 0, found.stderr
    docs = json.loads(found.stdout)
    assert len(docs) == 3
    assert {d["metadata"]["source"] for d in docs} == {
        "miit-implementation-of-made-in-china-2025-2017.txt"
    }

    bad = subprocess.run(_cli("ask", "   "), env=env, capture_output=True, text=True, timeout=300)
    assert bad.returncode == 2 and "empty" in bad.stderr


def test_chat_command_serves_the_ui(real_bot: Assistant, real_settings: Settings) -> None:
    """The last step of `make chat`: the UI comes up on 127.0.0.1."""
    port = free_port()
    process = subprocess.Popen(_cli("chat", "--port", str(port)), env=_env(real_settings),
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # fmt: skip
    try:
        wait_for(f"http://127.0.0.1:{port}/", process, seconds=120)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as response:
            page = response.read().decode()
        assert "Policy assistant" in page
        # asking through the page is covered by tests/integration/test_ui_browser.py
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_makefile_has_the_two_readme_commands() -> None:
    makefile = (ROOT / "Makefile").read_text()
    readme = (ROOT / "README.md").read_text()
    assert "\nchat: install" in makefile and "\ntest: install" in makefile
    assert readme.index("make chat") < 400 and readme.index("make test") < 400
    assert (ROOT / ".ci" / "run").read_text().strip().endswith("make test")
