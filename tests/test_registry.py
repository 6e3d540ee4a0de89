from __future__ import annotations

import re

import pytest

from assistant.registry import ANSWERERS, EMBEDDINGS, STORES, make
from assistant.settings import Settings
from tests.conftest import ROOT


def test_parts_are_made_by_name_and_unknown_names_list_the_known(tmp_path) -> None:
    settings = Settings(embeddings="hash", hash_dimensions=32, index_dir=tmp_path)
    assert len(make(EMBEDDINGS, "hash", settings).embed_query("pilot cities")) == 32
    assert type(make(STORES, "chroma", settings)).__name__ == "ChromaStore"
    with pytest.raises(ValueError, match="known: extractive, openai"):
        make(ANSWERERS, "gpt-from-memory", None)


def test_settings_name_only_registered_parts() -> None:
    """Each Literal in Settings names exactly the registry's factories."""
    fields = Settings.model_fields
    for name, parts in (("embeddings", EMBEDDINGS), ("answerer", ANSWERERS), ("store", STORES)):
        assert set(fields[name].annotation.__args__) == set(parts), name  # type: ignore[union-attr]


def test_no_code_outside_the_registry_branches_on_a_part_name() -> None:
    pattern = re.compile(r"settings\.(answerer|embeddings|store|chat_model)\s*[!=]=")
    offenders = [
        f"{path.name}:{n}"
        for path in sorted((ROOT / "assistant").rglob("*.py"))
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
        if pattern.search(line)
    ]
    assert offenders == []
