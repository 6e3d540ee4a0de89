"""One settings class for the whole assistant.

Values come, highest priority first, from keyword arguments, `ASSISTANT_*` environment
variables, a TOML config file (given to `Settings.load`, else `ASSISTANT_CONFIG`, else
`assistant.toml` in the working directory; optional), then the defaults below. Tests pass
settings explicitly.
"""

from __future__ import annotations

import os
from contextvars import ContextVar
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

CONFIG_ENV = "ASSISTANT_CONFIG"
DEFAULT_CONFIG_FILE = "assistant.toml"
_CONFIG_FILE: ContextVar[Path | None] = ContextVar("config_file", default=None)  # see Settings.load


class Settings(BaseSettings):
    """Everything that can be configured; read once where the assistant is wired."""

    model_config = SettingsConfigDict(
        env_prefix="ASSISTANT_", extra="forbid", frozen=True, validate_default=True
    )

    # Where things live.
    corpus_dir: Path = Path("corpus")
    index_dir: Path = Path("index")
    data_dir: Path = Path("data")
    prompts_dir: Path | None = Field(
        default=None, description="Folder of prompt files; default: the repo's prompts/."
    )
    corpus_exclude: tuple[str, ...] = ("README*", "metadata.toml", ".*")
    uploads_dir: str = Field(
        default="uploads",
        pattern=r"^[\w\-]+$",
        description="Folder inside corpus_dir where documents uploaded from the UI or the API "
        "are saved, with their metadata in its metadata.toml.",
    )
    upload_max_bytes: int = Field(
        default=50_000_000, ge=1024, description="Larger uploaded files are refused."
    )

    # Embeddings: "minilm" (bundled all-MiniLM-L6-v2) or "hash" (deterministic, for tests).
    embeddings: Literal["minilm", "hash"] = "minilm"  # names: registry.EMBEDDINGS
    embedding_model_path: Path | None = None
    embedding_batch_size: int = Field(default=32, ge=1)
    hash_dimensions: int = Field(default=256, ge=8)

    # Vector store: Chroma, embedded ("persistent") or a Chroma server ("http").
    store: Literal["chroma"] = "chroma"  # names: registry.STORES
    chroma_mode: Literal["persistent", "http"] = "persistent"
    chroma_host: str = "127.0.0.1"
    chroma_port: int = 8000
    chroma_ssl: bool = False
    chroma_headers: dict[str, str] = Field(default_factory=dict)
    collection_prefix: str = "assistant"

    # Chunking, measured in tiktoken tokens; the embedder's own limit is enforced on top.
    tiktoken_encoding: str = "cl100k_base"
    chunk_size: int = Field(default=220, ge=16)
    chunk_overlap: int = Field(default=32, ge=0)
    heading_in_embedding: bool = True

    # Retrieval.
    retrieval_mode: Literal["hybrid", "dense", "bm25"] = "hybrid"
    k: int = Field(default=5, ge=1, le=50)
    candidates: int = Field(default=30, ge=1, description="Per-retriever depth before fusion.")
    rrf_k: int = Field(default=60, ge=1)
    dense_weight: float = Field(default=1.0, ge=0, description="Weight of dense ranks in fusion.")
    bm25_weight: float = Field(default=2.0, ge=0, description="Weight of BM25 ranks in fusion.")
    keyword_kept: int = Field(
        default=2, ge=0, description="The best BM25 matches always retrieved, fusion or not."
    )
    rows_per_table: int = Field(
        default=3, ge=1, description="Most rows of one table among the passages retrieved."
    )

    # Answering.
    answerer: Literal["extractive", "openai"] = "extractive"  # names: registry.ANSWERERS
    chat_model: Literal["openai"] = Field(
        default="openai",
        description="The chat model behind the openai answerer: any OpenAI-compatible endpoint "
        "(Ollama, vLLM, llama.cpp server, OpenAI); names: registry.CHAT_MODELS.",
    )
    answer_passages: int = Field(default=6, ge=1, description="Passages the answerer reads.")
    max_answer_sentences: int = Field(default=3, ge=1)
    sentence_candidates: int = Field(
        default=10, ge=1, description="Sentences per question scored by meaning (embedded)."
    )
    abstain_threshold: float | None = Field(
        default=None,
        description="Minimum confidence to answer; default: the threshold fitted on the evals "
        "dev split, stored with the weights (see evals/calibrate.py).",
    )
    openai_base_url: str = "http://127.0.0.1:11434/v1"
    openai_model: str = "llama3.1"
    openai_api_key: SecretStr = SecretStr("not-needed")
    openai_temperature: float = 0.0
    openai_timeout: float = 60.0

    # The REST service.
    api_workers: int = Field(
        default=4, ge=1, description="Requests computed at once; the rest queue."
    )
    api_token: SecretStr | None = Field(
        default=None, description="When set, every API route and the UI need this bearer token."
    )

    # Limits on input, so that no request can make the service do unbounded work.
    api_max_body_bytes: int = Field(
        default=1_000_000, ge=1024, description="Larger request bodies are refused with a 413."
    )
    api_queue_limit: int = Field(
        default=64,
        ge=1,
        description="Requests computing or waiting at once; past it, 503 with Retry-After.",
    )
    api_shutdown_seconds: float = Field(
        default=3.0, ge=0, description="On SIGTERM, how long in-flight requests may finish."
    )
    history_turns: int = Field(
        default=20, ge=0, description="Only the last N history messages are used."
    )
    history_message_chars: int = Field(
        default=4000,
        ge=1,
        description="History messages are cut to this many characters (not refused: chat "
        "clients send back long answers with their Sources lists).",
    )

    # Index runs: one at a time per store.
    index_lock_wait: float = Field(
        default=0.0,
        ge=0,
        description="Seconds an index run waits for another to finish; 0: give up at once.",
    )
    index_lease_seconds: float = Field(
        default=60.0,
        gt=0,
        description="Chroma server mode: an index run's lease lapses this long after its last "
        "renewal, so a killed run blocks others at most this long.",
    )

    # Caches that must be filled before first use (offline).
    cache_dir: Path = Path(".cache")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Insert the TOML file below the environment; read only when settings are built."""
        config_file = _CONFIG_FILE.get() or os.environ.get(CONFIG_ENV, DEFAULT_CONFIG_FILE)
        toml = TomlConfigSettingsSource(settings_cls, toml_file=config_file)
        return (init_settings, env_settings, toml, file_secret_settings)

    @classmethod
    def load(cls, config_file: Path | None = None, **values: object) -> Settings:
        """Settings read with `config_file` as the TOML file (None: the usual one). The file
        is an argument, not an environment variable the caller must set and restore."""
        token = _CONFIG_FILE.set(config_file)
        try:
            return cls(**values)  # type: ignore[arg-type]
        finally:
            _CONFIG_FILE.reset(token)

    def collection_name(self, suffix: str) -> str:
        return f"{self.collection_prefix}-{suffix}"
