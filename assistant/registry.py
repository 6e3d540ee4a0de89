"""The one registry of swappable parts: each chosen by name in settings, made by a factory that
imports its code only when called.

To add a part, write it behind its LangChain interface (`Embeddings`, `VectorStore` through
`ChromaStore`, `BaseChatModel`) or the `Answerer` protocol, add a factory here, add its name
to the settings' Literal, and make it pass its suite in tests/test_conformance.py.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel

    from assistant.answer.validate import Answerer
    from assistant.assistant import Assistant
    from assistant.search.embed import TokenAwareEmbeddings
    from assistant.search.store import ChromaStore
    from assistant.settings import Settings

T = TypeVar("T")


def _minilm(settings: Settings) -> TokenAwareEmbeddings:
    from assistant.search.embed import MiniLMEmbeddings

    return MiniLMEmbeddings(settings.embedding_model_path, settings.embedding_batch_size)


def _hash(settings: Settings) -> TokenAwareEmbeddings:
    from assistant.search.embed import HashEmbeddings

    return HashEmbeddings(settings.hash_dimensions)


def _chroma(settings: Settings) -> ChromaStore:
    from assistant.search.store import ChromaStore

    return ChromaStore(settings)  # embedded or a Chroma server: settings.chroma_mode


def _openai_chat(settings: Settings) -> BaseChatModel:
    from langchain_openai import ChatOpenAI

    return ChatOpenAI(
        base_url=settings.openai_base_url,
        model=settings.openai_model,
        api_key=settings.openai_api_key,
        temperature=settings.openai_temperature,
        timeout=settings.openai_timeout,
        max_retries=1,
    )


def _extractive(bot: Assistant) -> Answerer:
    from assistant.answer.evidence import Weights
    from assistant.answer.extractive import ExtractiveAnswerer

    s = bot.settings
    return ExtractiveAnswerer(embed=bot.embeddings.embed_documents, idf=bot.idf, weights=Weights.load(),
                              threshold=s.abstain_threshold, max_sentences=s.max_answer_sentences,
                              sentence_candidates=s.sentence_candidates)  # fmt: skip


def _llm(bot: Assistant) -> Answerer:
    from assistant.answer.llm import LLMAnswerer

    s = bot.settings
    return LLMAnswerer(bot.chat_model, bot.prompts, s.openai_model, s.openai_base_url)


EMBEDDINGS: dict[str, Callable[[Settings], TokenAwareEmbeddings]] = {
    "minilm": _minilm,
    "hash": _hash,
}
STORES: dict[str, Callable[[Settings], ChromaStore]] = {"chroma": _chroma}
CHAT_MODELS: dict[str, Callable[[Settings], BaseChatModel]] = {"openai": _openai_chat}
ANSWERERS: dict[str, Callable[[Assistant], Answerer]] = {"extractive": _extractive, "openai": _llm}


def make(parts: dict[str, Callable[..., T]], name: str, *args: object) -> T:
    """The part called `name`; a name no factory has is an error that lists the known ones."""
    try:
        factory = parts[name]
    except KeyError:
        raise ValueError(f"unknown part {name!r}; known: {', '.join(sorted(parts))}") from None
    return factory(*args)
