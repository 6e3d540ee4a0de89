"""The Gradio chat: layout and event wiring only; what is shown comes from `chatview`.

The Chatbot renders messages as (sanitised) HTML with Markdown and LaTeX off: every message is
built by `chatview`, which escapes all document and user text (see its docstring)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import gradio as gr  # this module is imported only when a UI is started
from pydantic import ValidationError

from assistant import chatview
from assistant.assistant import InvalidQuestion
from assistant.retrieve import Filters, IndexMissing

if TYPE_CHECKING:
    from assistant.assistant import Assistant

EXAMPLES = [
    "What is the broadband penetration target for 2025?",
    "What are the targets of the smart manufacturing projects in Box 2?",
    "How many provincial manufacturing innovation centres have been built?",
    "Which cities were approved as Made in China 2025 pilot cities?",
]
SHOWN_QUESTION_CHARS = 600
STREAM_DELAY = 0.02  # seconds between streamed pieces, so the answer visibly streams

CSS = """
#chat .source-card { border: 1px solid var(--border-color-primary); border-radius: 8px; padding: 6px 10px;
  margin: 6px 0; cursor: pointer; background: var(--background-fill-secondary); }
#chat .source-card:hover { border-color: var(--color-accent); }
#chat .sources-title { font-weight: 600; margin-top: 8px; }
#chat .card-meta { color: var(--body-text-color-subdued); font-size: 0.9em; }
#chat .card-passage { font-size: 0.92em; white-space: pre-wrap; }
#chat .abstained { font-weight: 600; }
#chat a.cite { cursor: pointer; color: var(--link-text-color); font-weight: 600; }
mark.quote { background: #ffe58a; color: inherit; padding: 0 1px; }
#source-viewer .viewer-body { white-space: pre-wrap; max-height: 560px; overflow-y: auto;
  font-size: 0.9em; border: 1px solid var(--border-color-primary); padding: 8px; border-radius: 8px; }
#source-viewer .viewer-head { margin-bottom: 6px; }
"""

# Clicking [n] or a source card asks the server for the document (through a hidden textbox
# and button), then scrolls the viewer to the highlighted span. The policy <meta> keeps the
# page from loading anything from elsewhere even under `assistant chat` (no header there).
HEAD = (
    f'<meta http-equiv="Content-Security-Policy" content="{chatview.CONTENT_SECURITY_POLICY}">'
    + r"""
<script>
document.addEventListener('click', (event) => {
  const target = event.target.closest('#chat .cite, #chat .source-card');
  const key = target && [...target.classList].find((c) => /^cite-\d+-r?\d+$/.test(c));
  if (!key) return;
  event.preventDefault();
  const box = document.querySelector('#cite-key textarea, #cite-key input');
  if (!box) return;
  box.value = key;
  box.dispatchEvent(new Event('input', {bubbles: true}));
  setTimeout(() => document.querySelector('#cite-open')?.click(), 60);
}, true);
</script>
"""
)
SCROLL_TO_HIGHLIGHT = """
() => { setTimeout(() => { const m = document.getElementById('assistant-highlight');
  if (m) m.scrollIntoView({block: 'center'}); }, 100); }
"""


def ui_assets() -> dict[str, Any]:
    """Theme, CSS and script; given to launch() or mount_gradio_app(). System fonts only, so
    the page loads nothing from outside."""
    theme = gr.themes.Default(
        font=["ui-sans-serif", "system-ui", "sans-serif"], font_mono=["ui-monospace", "monospace"]
    )
    return {"theme": theme, "css": CSS, "head": HEAD}


def build_app(bot: Assistant) -> gr.Blocks:
    documents = [(f"{d.short_title} ({d.date})", d.source) for d in bot.documents()]

    def plain_history(answers: list[dict[str, Any]]) -> list[dict[str, str]]:
        turns: list[dict[str, str]] = []
        for a in answers:
            turns += [
                {"role": "user", "content": a["asked"]},
                {"role": "assistant", "content": a["text"]},
            ]
        return turns

    def respond(message: str, history: list[dict[str, Any]], answers: list[dict[str, Any]],
                sources: list[str], date_from: str, date_to: str):  # fmt: skip
        shown = message if len(message) <= SHOWN_QUESTION_CHARS else (
            f"{message[:SHOWN_QUESTION_CHARS]}… ({len(message):,} characters)"
        )  # fmt: skip
        history = [*history, {"role": "user", "content": chatview.text_html(shown)}]
        try:
            filters = Filters(
                sources=tuple(sources or ()), date_from=date_from or None, date_to=date_to or None
            )
            answer = bot.ask(
                message, history=plain_history(answers), filters=filters if filters.active else None
            )
        except InvalidQuestion as exc:
            note = chatview.text_html(f"⚠ {exc}")
            yield [*history, {"role": "assistant", "content": note}], answers, ""
            return
        except ValidationError as exc:
            problem = exc.errors()[0]["msg"].removeprefix("Value error, ")
            note = chatview.text_html(f"⚠ Filter: {problem}")
            yield [*history, {"role": "assistant", "content": note}], answers, message
            return
        except IndexMissing:
            note = "⚠ The index is being built right now; please ask again in a moment."
            yield [*history, {"role": "assistant", "content": note}], answers, message
            return
        record = chatview.answer_state(answer, message) | {"message_index": len(history)}
        answers = [*answers, record]
        history = [*history, {"role": "assistant", "content": ""}]
        for piece in chatview.streamed(answer, len(answers) - 1):
            history[-1] = {"role": "assistant", "content": piece}
            yield history, answers, ""
            time.sleep(STREAM_DELAY)

    def open_source(key: str, answers: list[dict[str, Any]]) -> str:
        citation = chatview.find_citation(answers, key)
        if citation is None:
            return "<div class='viewer-error'>That source is not part of this conversation.</div>"
        try:
            return chatview.viewer_html(
                citation, chatview.document_text(bot.settings.corpus_dir, citation.source)
            )
        except (OSError, chatview.LoadError) as exc:
            problem = chatview.text_html(f"Cannot open {citation.source}: {exc}")
            return f"<div class='viewer-error'>{problem}</div>"

    def pick_example(event: gr.SelectData) -> str:
        return str(event.value["text"])

    def rate(data: gr.LikeData, answers: list[dict[str, Any]], comment: str) -> tuple[str, str]:
        record = next((a for a in answers if a["message_index"] == data.index), None)
        if record is None:
            return "Only answers can be rated.", comment
        rating = "up" if data.liked is True else "down" if data.liked is False else str(data.liked)
        path = bot.settings.data_dir / "feedback.jsonl"
        chatview.append_feedback(
            path, chatview.feedback_record(record["asked"], record, rating, comment)
        )
        return f"Thanks: your {'like' if rating == 'up' else 'dislike'} was saved.", ""

    with gr.Blocks(title="Policy assistant", fill_height=True) as demo:
        answers = gr.State([])
        gr.Markdown(
            "## Policy assistant\nAnswers from the policy documents, quoting the exact sentences."
        )
        status = gr.Markdown(elem_id="status")
        with gr.Row():
            with gr.Column(scale=3):
                chatbot = gr.Chatbot(
                    elem_id="chat", height=560, label="Conversation",
                    examples=[{"text": q} for q in EXAMPLES],
                    placeholder="Ask a question about the documents, or pick an example.",
                    feedback_options=("Like", "Dislike"),
                    render_markdown=False, latex_delimiters=[], sanitize_html=True,
                )  # fmt: skip
                with gr.Row():
                    box = gr.Textbox(placeholder="Ask about the documents…", show_label=False, scale=5,
                                     elem_id="question", max_lines=6, autofocus=True)  # fmt: skip
                    ask = gr.Button("Ask", variant="primary", scale=1, elem_id="ask")
                    new = gr.Button("New chat", scale=1, elem_id="new-chat")
                comment = gr.Textbox(
                    label="Comment sent with your like or dislike (optional)",
                    elem_id="feedback-comment",
                    max_lines=3,
                )
                notice = gr.Markdown(elem_id="notice")
            with gr.Column(scale=2):
                with gr.Accordion("Filters", open=False, elem_id="filters"):
                    sources = gr.Dropdown(documents, multiselect=True, label="Only these documents",
                                          elem_id="filter-documents")  # fmt: skip
                    with gr.Row():
                        date_from = gr.Textbox(
                            label="From", placeholder="YYYY[-MM[-DD]]", elem_id="date-from"
                        )
                        date_to = gr.Textbox(
                            label="To", placeholder="YYYY[-MM[-DD]]", elem_id="date-to"
                        )
                viewer = gr.HTML("<div class='viewer-empty'>Click a [n] or a source card to open the "
                                 "document here, scrolled to the quoted sentence.</div>", elem_id="source-viewer")  # fmt: skip
        cite_key = gr.Textbox(visible="hidden", elem_id="cite-key")
        cite_open = gr.Button(visible="hidden", elem_id="cite-open")

        inputs = [box, chatbot, answers, sources, date_from, date_to]
        outputs = [chatbot, answers, box]
        box.submit(respond, inputs, outputs, concurrency_limit=4)
        ask.click(respond, inputs, outputs, concurrency_limit=4)
        chatbot.example_select(pick_example, None, box).then(respond, inputs, outputs)
        new.click(lambda: ([], [], "", "<div class='viewer-empty'>New conversation.</div>"), None,
                  [chatbot, answers, box, viewer])  # fmt: skip
        cite_open.click(open_source, [cite_key, answers], viewer).then(
            None, None, None, js=SCROLL_TO_HIGHLIGHT
        )
        chatbot.like(rate, [answers, comment], [notice, comment])
        demo.load(bot.describe, None, status)
    return demo
