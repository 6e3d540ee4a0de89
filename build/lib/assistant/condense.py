"""Chain step 1, condense: turn a follow-up plus the chat history into a standalone question.

Without a model, a question is treated as a follow-up when it leans on the conversation
("And by 2025?", "What about Box 3?", "Who chairs it?"): it opens with a continuation word
or has almost no content words of its own. It is then merged with the previous question:
years in the follow-up replace the previous question's years, and other content is appended.
With an LLM answerer, the model rewrites the question with the `condense` prompt instead.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

from assistant.text import terms

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel

    from assistant.prompts import PromptLibrary

Message = dict[str, str]

_CONTINUATION = re.compile(
    r"^\s*(and|but|also|so|then|what about|how about|and what about|what of|same for|"
    r"likewise|as for|in that case|why|how so)\b",
    re.IGNORECASE,
)
_BACK_REFERENCE = re.compile(
    r"\b(it|its|they|them|their|this|that|these|those|there|he|she|his|her)\b", re.I
)
_YEAR = re.compile(r"\b(19|20)\d\d\b")


def user_questions(history: Sequence[Message]) -> list[str]:
    return [
        m["content"] for m in history if m.get("role") == "user" and m.get("content", "").strip()
    ]


def is_follow_up(question: str) -> bool:
    content = [t for t in terms(question) if not _YEAR.fullmatch(t)]
    if _CONTINUATION.match(question):
        return True
    if len(content) <= 1:
        return True
    return len(content) <= 3 and bool(_BACK_REFERENCE.search(question))


def merge(previous: str, follow_up: str) -> str:
    """Rewrite `previous` with what the follow-up changes."""
    years = [m.group(0) for m in _YEAR.finditer(follow_up)]
    base = previous.strip().rstrip("?").strip()
    if years and _YEAR.search(base):
        base = _YEAR.sub(years[0], base)
        rest = [w for w in terms(_YEAR.sub("", follow_up)) if w not in terms(base)]
        extra = " ".join(rest)
    else:
        extra = _CONTINUATION.sub("", follow_up).strip().rstrip("?").strip()
    return f"{base} {extra}".strip() + "?"


def condense(question: str, history: Sequence[Message]) -> str:
    """A standalone question, rule-based; follow-ups chain through the whole history."""
    standalone = ""
    for previous in user_questions(history):
        standalone = (
            merge(standalone, previous) if standalone and is_follow_up(previous) else previous
        )
    if standalone and is_follow_up(question):
        return merge(standalone, question)
    return question.strip()


def condense_with_model(
    question: str, history: Sequence[Message], model: BaseChatModel, prompts: PromptLibrary
) -> str:
    """Let the chat model rewrite a follow-up; fall back to the rules on an empty reply."""
    if not user_questions(history):
        return question.strip()
    transcript = "\n".join(f"{m['role']}: {m['content']}" for m in history[-8:])
    messages = prompts.messages("condense", history=transcript, question=question)
    reply = model.invoke(messages)
    text = str(reply.content).strip().strip('"')
    return text or condense(question, history)


_SPLIT = re.compile(
    r",?\s+and\s+(?=(?:how|what|which|who|when|where|why|on what|in what|by how)\b)", re.IGNORECASE
)


def decompose(question: str) -> list[str]:
    """Split a compound question ("How many X in A, and how many Y in B?") into its parts.

    Each part is searched and answered on its own, so that both documents of a comparison
    are found and quoted.
    """
    parts = [p.strip(" ,;") for p in _SPLIT.split(question) if p.strip(" ,;")]
    if len(parts) < 2 or any(len(terms(p)) < 2 for p in parts):
        return [question]
    return [p if p.endswith("?") else f"{p}?" for p in parts]
