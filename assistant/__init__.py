"""The policy assistant: cited answers from a corpus of policy documents, offline.

Imports are lazy, so `import assistant` and `assistant --help` stay instant.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from assistant.answer.validate import Answer, Citation
    from assistant.assistant import Assistant
    from assistant.search.retrieve import Filters
    from assistant.settings import Settings

__all__ = ["Answer", "Assistant", "Citation", "Filters", "Settings"]

_HOMES = {
    "Assistant": "assistant.assistant",
    "Answer": "assistant.answer.validate",
    "Citation": "assistant.answer.validate",
    "Filters": "assistant.search.retrieve",
    "Settings": "assistant.settings",
}


def __getattr__(name: str) -> Any:
    if name in _HOMES:
        import importlib

        return getattr(importlib.import_module(_HOMES[name]), name)
    raise AttributeError(f"module 'assistant' has no attribute {name!r}")
