from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from assistant.answer.prompts import PromptError, PromptLibrary, parse_prompt
from assistant.offline import TIKTOKEN_URL, go_offline, tiktoken_cache_path
from assistant.settings import Settings


def test_settings_env_prefix_and_config_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "assistant.toml"
    config.write_text('k = 7\nchunk_size = 120\nanswerer = "openai"\n')
    monkeypatch.setenv("ASSISTANT_CONFIG", str(config))
    monkeypatch.setenv("ASSISTANT_CHUNK_SIZE", "140")
    settings = Settings(k=9)
    assert settings.k == 9  # explicit beats everything
    assert settings.chunk_size == 140  # environment beats the file
    assert settings.answerer == "openai"  # the file beats defaults


def test_a_config_file_is_an_argument(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`Settings.load(path)` reads that file, above ASSISTANT_CONFIG, and leaves no trace."""
    given, other = tmp_path / "given.toml", tmp_path / "other.toml"
    given.write_text("k = 3\n")
    other.write_text("k = 11\n")
    monkeypatch.setenv("ASSISTANT_CONFIG", str(other))
    assert Settings.load(given).k == 3
    assert Settings.load(given, k=4).k == 4
    assert Settings().k == 11 and Settings.load().k == 11  # the file argument did not stick


def test_settings_reject_unknown_names() -> None:
    with pytest.raises(ValueError):
        Settings(embeddings="word2vec")  # type: ignore[arg-type]


def test_tiktoken_encodings_are_installed_for_offline_use(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TIKTOKEN_CACHE_DIR", raising=False)
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path / "tk"))
    go_offline(tmp_path)
    path = tiktoken_cache_path("cl100k_base", tmp_path / "tk")
    key = hashlib.sha1(TIKTOKEN_URL.format(name="cl100k_base").encode()).hexdigest()
    assert path.name == key and path.stat().st_size > 1_000_000
    import tiktoken

    # tiktoken checks the file's hash; a wrong file would make it try the network and fail
    encoding = tiktoken.get_encoding("cl100k_base")
    assert encoding.decode(encoding.encode("Made in China 2025")) == "Made in China 2025"


def test_prompt_variables_are_checked(tmp_path: Path) -> None:
    (tmp_path / "greet.txt").write_text(
        "--- system ---\nBe brief.\n--- user ---\nHello {name}, {{literal}}\n"
    )
    library = PromptLibrary(tmp_path)
    messages = library.messages("greet", name="Ann")
    assert [m.type for m in messages] == ["system", "human"]
    assert messages[1].content == "Hello Ann, {literal}"
    with pytest.raises(PromptError, match="missing variables \\['name'\\]"):
        library.messages("greet")
    with pytest.raises(PromptError, match="unexpected"):
        library.messages("greet", name="Ann", extra=1)
    with pytest.raises(PromptError, match="no prompt named"):
        library.get("absent")
    with pytest.raises(PromptError):
        parse_prompt("bad", "no header here {x}")


def test_repo_prompts_parse() -> None:
    library = PromptLibrary()
    assert library.get("answer").variables == {"passages", "question"}
    assert library.get("condense").variables == {"history", "question"}
    assert library.get("passage").variables == {"number", "title", "date", "heading", "text"}


def test_importing_the_pipeline_does_no_work() -> None:
    """No stemmer, model, tokenizer or store is loaded just by importing the stages."""
    import subprocess
    import sys

    code = (
        "import sys, assistant, assistant.answer.question, assistant.answer.evidence, assistant.answer.compose, "
        "assistant.answer.extractive, assistant.ingest.tables, assistant.ingest.outline, assistant.ingest.chunk, "
        "assistant.ingest.load, assistant.search.index, assistant.search.retrieve; "
        "print(sorted(m for m in ('Stemmer', 'torch', 'sentence_transformers', 'chromadb', "
        "'tiktoken', 'sklearn') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
