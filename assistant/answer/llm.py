"""The `openai` answerer: any OpenAI-compatible endpoint (Ollama, vLLM, llama.cpp, OpenAI).

Passages go to the model as quoted data inside <passage> tags, which are escaped inside the
passage text so that a document cannot close the tag and speak as the user. The model's
citations are checked afterwards by `answer.finalize`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from langchain_core.documents import Document

from assistant.answer.validate import Draft

if TYPE_CHECKING:
    from collections.abc import Sequence

    from langchain_core.language_models import BaseChatModel

    from assistant.answer.condense import Message
    from assistant.answer.prompts import PromptLibrary

NOT_FOUND = "NOT_FOUND"


def quote_data(text: str) -> str:
    """Neutralise tags inside passage text so it cannot break out of its <passage> block."""
    return text.replace("<", "‹").replace(">", "›")


def quote_attribute(text: str) -> str:
    """Like quote_data, and a double quote cannot end the attribute early."""
    return quote_data(text).replace('"', "'")


class LLMAnswerer:
    """Answers with a chat model from the `answer` prompt."""

    local = False  # every call goes to the model's endpoint

    def __init__(self, model: BaseChatModel, prompts: PromptLibrary, model_name: str,
                 base_url: str = "") -> None:  # fmt: skip
        self.model = model
        self.prompts = prompts
        self.name = f"openai:{model_name}"
        self.description = f"LLM answerer: {model_name}" + (f" at {base_url}" if base_url else "")

    def condense(self, question: str, history: Sequence[Message]) -> str:
        """The model rewrites a follow-up; the rewrite is bounded like any question."""
        from assistant.answer.condense import condense_with_model
        from assistant.assistant import MAX_QUESTION_CHARS

        return condense_with_model(question, history, self.model, self.prompts)[:MAX_QUESTION_CHARS]

    def format_passages(self, passages: list[Document]) -> str:
        return "\n\n".join(
            self.prompts.render(
                "passage",
                number=i,
                title=quote_attribute(doc.metadata.get("title", "")),
                date=quote_attribute(doc.metadata.get("date", "")),
                heading=quote_attribute(doc.metadata.get("heading", "")),
                text=quote_data(doc.page_content),
            )
            for i, doc in enumerate(passages, start=1)
        )

    def answer(self, question: str, passages: list[Document]) -> Draft:
        if not passages:
            return Draft("", abstained=True)
        messages = self.prompts.messages(
            "answer", passages=self.format_passages(passages), question=question
        )
        reply = str(self.model.invoke(messages).content).strip()
        if not reply or reply.upper().startswith(NOT_FOUND):
            return Draft("", abstained=True)
        return Draft(reply)
