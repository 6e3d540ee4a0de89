"""Conformance suites every swappable part passes: LangChain's standard tests for the
embeddings and the retriever (`langchain-tests`), and our own contract for answerers.

A new part is done when it passes its suite: subclass the suite, name the class, done.
"""

from __future__ import annotations

import functools
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any

import pytest
from langchain_core.documents import Document
from langchain_tests.integration_tests import EmbeddingsIntegrationTests, RetrieversIntegrationTests
from langchain_tests.unit_tests import EmbeddingsUnitTests

from assistant import Assistant
from assistant.answer.evidence import Weights
from assistant.answer.extractive import ExtractiveAnswerer
from assistant.answer.llm import LLMAnswerer
from assistant.answer.prompts import PromptLibrary
from assistant.answer.validate import Answerer, finalize
from assistant.search.embed import HashEmbeddings, MiniLMEmbeddings
from assistant.search.retrieve import HybridRetriever, SearchIndex
from tests.conftest import CORPUS, ROOT, make_settings
from tests.fakes import ScriptedChatModel

# -- embeddings -------------------------------------------------------------------------------


class HashParams:
    @property
    def embeddings_class(self) -> type[HashEmbeddings]:
        return HashEmbeddings

    @property
    def embedding_model_params(self) -> dict[str, Any]:
        return {"dimensions": 64}


class MiniLMParams:
    @property
    def embeddings_class(self) -> type[MiniLMEmbeddings]:
        return MiniLMEmbeddings

    @property
    def embedding_model_params(self) -> dict[str, Any]:
        return {"batch_size": 8}


class TestHashEmbeddingsUnit(HashParams, EmbeddingsUnitTests):
    pass


class TestHashEmbeddingsStandard(HashParams, EmbeddingsIntegrationTests):
    """Cheap enough to run as a unit test: the standard calls, sync and async."""


class TestMiniLMEmbeddingsUnit(MiniLMParams, EmbeddingsUnitTests):
    pass


@pytest.mark.integration
class TestMiniLMEmbeddingsStandard(MiniLMParams, EmbeddingsIntegrationTests):
    """The real bundled model (loaded from site-packages, offline)."""


# -- the retriever ----------------------------------------------------------------------------


@functools.cache
def _indexed() -> Assistant:
    """One hash-embedded index of a corpus copy for the suites below (built on first use)."""
    tmp = Path(tempfile.mkdtemp(prefix="conformance-"))
    shutil.copytree(CORPUS, tmp / "corpus")
    bot = Assistant(make_settings(tmp, tmp / "cache"), build_if_missing=False)
    bot.index()
    return bot


@pytest.fixture(scope="module", autouse=True)
def _cleanup() -> Any:
    yield
    if _indexed.cache_info().currsize:
        shutil.rmtree(_indexed().settings.corpus_dir.parent, ignore_errors=True)
        _indexed.cache_clear()


class TestHybridRetrieverStandard(RetrieversIntegrationTests):
    @property
    def retriever_constructor(self) -> type[HybridRetriever]:
        return HybridRetriever

    @property
    def retriever_constructor_params(self) -> dict[str, SearchIndex]:
        return {"index": _indexed().search_index}

    @property
    def retriever_query_example(self) -> str:
        return "broadband penetration target"


# -- answerers: our own contract --------------------------------------------------------------

MARKER = re.compile(r"\[(\d+)\]")


class AnswererContract:
    """What every answerer must do, whatever it is: abstain when there are no passages, never
    raise on empty input, and (after the validation every answer goes through) cite only
    passages it was given, with quotes that lie inside them."""

    question = "What is the broadband penetration target for 2025?"

    def make(self, bot: Assistant) -> Answerer:
        raise NotImplementedError

    @pytest.fixture
    def answerer(self) -> Answerer:
        return self.make(_indexed())

    def test_abstains_on_no_passages(self, answerer: Answerer) -> None:
        assert answerer.answer(self.question, []).abstained

    @pytest.mark.parametrize("question", ["", "   ", "?"])
    def test_never_raises_on_empty_input(self, answerer: Answerer, question: str) -> None:
        passages = _indexed().evidence(self.question)
        answerer.answer(question, passages)
        answerer.answer(question, [])

    def test_markers_in_range_and_quotes_inside_their_passage(self, answerer: Answerer) -> None:
        bot = _indexed()
        passages = bot.evidence(self.question)
        answer = finalize(
            answerer.answer(self.question, passages), passages, self.question, answerer.name
        )
        assert not answer.abstained and answer.citations
        markers = {int(n) for n in MARKER.findall(answer.text)}
        assert markers == set(range(1, len(answer.citations) + 1))
        for c in answer.citations:
            text = (bot.settings.corpus_dir / c.source).read_text(encoding="utf-8")
            assert text[c.start : c.end] == c.quote
            assert any(
                d.metadata["source"] == c.source
                and d.metadata["start"] <= c.start
                and c.end <= d.metadata["end"]
                for d in passages
            ), f"quote {c.start}-{c.end} of {c.source} is not inside a passage it was given"

    def test_a_draft_names_its_answerer(self, answerer: Answerer) -> None:
        assert isinstance(answerer.name, str) and answerer.name


class TestExtractiveAnswerer(AnswererContract):
    def make(self, bot: Assistant) -> Answerer:
        return ExtractiveAnswerer(embed=bot.embeddings.embed_documents, idf=bot.idf, weights=Weights.load(),
                                  threshold=0.0)  # fmt: skip


class TestLLMAnswerer(AnswererContract):
    """A scripted model that cites one passage that exists and one that does not."""

    def make(self, bot: Assistant) -> Answerer:
        model = ScriptedChatModel(
            replies=["The broadband penetration target for 2025 is 82% [1]. See also [9]."]
        )
        return LLMAnswerer(model, PromptLibrary(ROOT / "prompts"), "scripted")


def test_every_passage_given_is_a_document() -> None:
    """The suites above see real retrieved passages with the metadata contract."""
    passages = _indexed().evidence("pilot cities")
    assert passages and all(
        isinstance(d, Document) and {"source", "start", "end"} <= d.metadata.keys()
        for d in passages
    )
