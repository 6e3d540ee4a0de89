"""The basic Gradio chat: layout and event wiring only."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from assistant.assistant import InvalidQuestion
from assistant.render import answer_markdown

if TYPE_CHECKING:
    import gradio as gr

    from assistant.assistant import Assistant

EXAMPLES = [
    "What is the broadband penetration target for 2025?",
    "What are the five major projects of Made in China 2025?",
    "How many provincial manufacturing innovation centres have been built?",
    "Who leads the National Manufacturing Power Building Leading Group?",
]


def build_app(bot: Assistant) -> gr.ChatInterface:
    import gradio as gr

    def respond(message: str, history: list[dict[str, Any]]) -> str:
        turns = [{"role": m["role"], "content": str(m.get("content", ""))} for m in history]
        try:
            return answer_markdown(bot.ask(message, history=turns))
        except InvalidQuestion as exc:
            return f"⚠ {exc}"

    return gr.ChatInterface(
        fn=respond,
        title="Policy assistant",
        description=f"Answers from the Made in China 2025 corpus, with exact citations. {bot.describe()}",
        examples=EXAMPLES,
        analytics_enabled=False,
        concurrency_limit=4,
        api_name="chat",
    )
