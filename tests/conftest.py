"""Shared fixtures. Unit tests use hash embeddings and a temporary Chroma; integration tests
(marked `integration`) use the real model, a real Chroma and the real corpus."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from assistant.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "corpus"


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("cache")


def make_settings(tmp: Path, cache: Path, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "corpus_dir": tmp / "corpus",
        "index_dir": tmp / "index",
        "data_dir": tmp / "data",
        "cache_dir": cache,
        "embeddings": "hash",
        "prompts_dir": ROOT / "prompts",
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


@pytest.fixture
def corpus_copy(tmp_path: Path) -> Path:
    target = tmp_path / "corpus"
    shutil.copytree(CORPUS, target)
    return target


@pytest.fixture
def hash_settings(tmp_path: Path, cache_dir: Path, corpus_copy: Path) -> Settings:
    """Settings for a private copy of the corpus, hash embeddings, a fresh index folder."""
    return make_settings(tmp_path, cache_dir, abstain_threshold=0.35)  # hash vectors score lower


@pytest.fixture(scope="session")
def real_settings(tmp_path_factory: pytest.TempPathFactory, cache_dir: Path) -> Settings:
    """The real model on the real corpus, indexed once per test session."""
    tmp = tmp_path_factory.mktemp("real")
    return make_settings(tmp, cache_dir, corpus_dir=CORPUS, embeddings="minilm")


@pytest.fixture(scope="session")
def real_bot(real_settings: Settings):
    from assistant import Assistant

    return Assistant(real_settings)
