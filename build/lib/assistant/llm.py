"""The `openai` answerer: any OpenAI-compatible endpoint (Ollama, vLLM, llama.cpp, OpenAI).

Passages go to the model as quoted data inside <passage> tags, which are escaped inside the
passage text so that a document cannot close the tag and speak as the user. The model's
citations are checked afterwards by `answer.finalize`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from langchain_core.documents import Document

from assistant.answer import Draft

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel

    from assistant.prompts import PromptLibrary
    from assistant.settings import Settings

NOT_FOUND = "NOT_FOUND"


def make_chat_model(settings: Settings) -> BaseChatModel:
    from langchain_openai import ChatOpenAI

    return ChatOpenAI(
        base_url=settings.openai_base_url,
        model=settings.openai_model,
        api_key=settings.openai_api_key,
        temperature=settings.openai_temperature,
        timeout=settings.openai_timeout,
        max_retries=1,
    )


def quote_data(text: str) -> str:
    """Neutralise tags inside passage text so it cannot break out of its <passage> block."""
    return text.replace("<", "‹").replace(">", "›")


def quote_attribute(text: str) -> str:
    """Like quote_data, and a double quote cannot end the attribute early."""
    return quote_data(text).replace('"', "'")


class LLMAnswerer:
    """Answers with a chat model from the `answer` prompt."""

    def __init__(self, model: BaseChatModel, prompts: PromptLibrary, model_name: str) -> None:
        self.model = model
        self.prompts = prompts
        self.name = f"openai:{model_name}"

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
