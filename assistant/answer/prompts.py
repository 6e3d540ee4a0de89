"""Prompts are files in prompts/, loaded by name; a missing or unknown variable is an error.

A prompt file holds one or more parts, each opened by a line `--- system ---`, `--- user ---`
or `--- assistant ---`. Variables are `{name}`; literal braces are written `{{` and `}}`.
"""

from __future__ import annotations

import re
import string
import sys
from dataclasses import dataclass
from pathlib import Path

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage

_PART = re.compile(r"^--- (system|user|assistant) ---[ \t]*$", re.MULTILINE)
_MESSAGE = {"system": SystemMessage, "user": HumanMessage, "assistant": AIMessage}


class PromptError(ValueError):
    """A prompt is missing, malformed, or was given the wrong variables."""


def default_prompts_dir() -> Path:
    """The repo's prompts/ in a checkout; the installed copy after a non-editable install."""
    checkout = Path(__file__).resolve().parents[2] / "prompts"
    installed = Path(sys.prefix) / "share" / "assistant" / "prompts"
    return checkout if checkout.is_dir() or not installed.is_dir() else installed


@dataclass(frozen=True)
class Prompt:
    name: str
    parts: tuple[tuple[str, str], ...]  # (role, template)

    @property
    def variables(self) -> set[str]:
        return {
            field for _, template in self.parts
            for _, field, _, _ in string.Formatter().parse(template) if field
        }  # fmt: skip

    def render(self, **values: object) -> list[tuple[str, str]]:
        missing = self.variables - values.keys()
        unknown = values.keys() - self.variables
        if missing or unknown:
            raise PromptError(
                f"prompt '{self.name}': missing variables {sorted(missing)}, "
                f"unexpected variables {sorted(unknown)}"
            )
        return [(role, template.format(**values).strip()) for role, template in self.parts]


class PromptLibrary:
    """Named prompts from a folder; files are read when first asked for."""

    def __init__(self, folder: Path | None = None) -> None:
        self.folder = folder or default_prompts_dir()
        self._cache: dict[str, Prompt] = {}

    def get(self, name: str, /) -> Prompt:
        if name not in self._cache:
            path = self.folder / f"{name}.txt"
            if not path.is_file():
                raise PromptError(f"no prompt named '{name}' (looked for {path})")
            self._cache[name] = parse_prompt(name, path.read_text(encoding="utf-8"))
        return self._cache[name]

    def render(self, name: str, /, **values: object) -> str:
        """A one-part prompt as plain text (e.g. a passage block)."""
        return "\n\n".join(text for _, text in self.get(name).render(**values))

    def messages(self, name: str, /, **values: object) -> list[BaseMessage]:
        return [_MESSAGE[role](content=text) for role, text in self.get(name).render(**values)]


def parse_prompt(name: str, raw: str) -> Prompt:
    pieces = _PART.split(raw)
    if len(pieces) < 3 or pieces[0].strip():
        raise PromptError(
            f"prompt '{name}' must start with a '--- system ---' or '--- user ---' line"
        )
    parts = tuple((pieces[i], pieces[i + 1].strip("\n")) for i in range(1, len(pieces), 2))
    return Prompt(name, parts)
