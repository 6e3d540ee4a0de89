"""The Gradio chat: layout and event wiring only; what is shown comes from `chatview`.

The Chatbot renders messages as (sanitised) HTML with Markdown and LaTeX off: every message is
built by `chatview`, which escapes all document and user text (see its docstring).

Three parts: the chat (with "Export as Markdown" and a "Copy as Markdown" link per answer), a
sidebar of the person's conversations, kept in their browser (`gr.BrowserState`, bounded by
`chatview.MAX_CONVERSATIONS` and `chatview.MAX_STORED_BYTES`), and a Documents tab to list,
upload and remove documents through a `DocumentManager`."""

from __future__ import annotations

import os
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import gradio as gr  # this module is imported only when a UI is started
from pydantic import ValidationError

from assistant.assistant import InvalidQuestion
from assistant.documents import DocumentManager, Job, Metadata, Upload, UploadRejected
from assistant.ingest.load import LoadError, document_text, read_examples
from assistant.search.retrieve import Filters, IndexMissing
from assistant.surfaces import chatview

if TYPE_CHECKING:
    from assistant.assistant import Assistant

STREAM_DELAY = 0.02  # seconds between streamed pieces, so the answer visibly streams
JOB_POLL = 0.3  # seconds between looks at a running upload or removal
UPLOAD_TYPES = (".txt", ".md", ".html", ".pdf", ".docx")  # DocumentManager checks them; shown only
# The conversations' place in localStorage. Fixed, so they survive a server restart; the page
# is sent this secret to decrypt them, so it hides nothing: stored data is checked on return.
STORAGE_KEY = "policy-assistant-conversations"
STORAGE_SECRET = "policy-assistant-conversations-v1"
VIEWER_EMPTY = (
    "<div class='viewer-empty'>Click a [n] or a source card to open the document here, "
    "scrolled to the quoted sentence.</div>"
)

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
#chat .answer-md { display: none; }
#chat .answer-tools { margin-top: 6px; text-align: right; font-size: 0.85em; }
#chat a.copy-md { cursor: pointer; color: var(--body-text-color-subdued); text-decoration: underline dotted; }
#conversations .wrap { flex-direction: column; flex-wrap: nowrap; gap: 4px; }
#conversations label { width: 100%; overflow: hidden; }
#conversations label span { white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
#documents-status .doc-status { padding: 6px 10px; border-radius: 8px; margin-top: 6px;
  background: var(--background-fill-secondary); }
#documents-status .doc-status.error { color: var(--error-text-color); border: 1px solid var(--error-border-color); }
#documents-status .doc-status.done { border: 1px solid var(--color-accent); }
#documents-status progress { display: block; width: 100%; margin-top: 4px; }
#documents-table table, #documents-table .cell-wrap, #documents-table th * { font-family: var(--font);
  font-size: var(--text-md); }
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
// "Copy as Markdown": the answer's Markdown is in the message (hidden); copied in the click.
document.addEventListener('click', (event) => {
  const link = event.target.closest('#chat .copy-md');
  if (!link) return;
  event.preventDefault();
  const text = link.parentElement.querySelector('.answer-md')?.textContent || '';
  const done = () => { link.textContent = 'Copied'; setTimeout(() => { link.textContent = 'Copy as Markdown'; }, 1500); };
  const fallback = () => {  // plain http on another host has no navigator.clipboard
    const area = document.createElement('textarea');
    area.value = text; area.style.position = 'fixed'; area.style.opacity = '0';
    document.body.appendChild(area); area.select();
    try { if (document.execCommand('copy')) done(); } finally { area.remove(); }
  };
  if (navigator.clipboard && window.isSecureContext) navigator.clipboard.writeText(text).then(done, fallback);
  else fallback();
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
    # Gradio's run history would copy every event's inputs and outputs (whole conversations)
    # into localStorage next to the kept conversations, and offers to upload them elsewhere.
    return {"theme": theme, "css": CSS, "head": HEAD, "run_history": False}


def build_app(bot: Assistant, documents: DocumentManager | None = None) -> gr.Blocks:
    """The chat, the Documents tab and the kept conversations. Pass `documents` to share one
    DocumentManager with the REST API (its jobs run one at a time per manager)."""
    manager = documents or DocumentManager(bot)
    h = ChatHandlers(bot, manager)

    with gr.Blocks(title="Policy assistant", fill_height=True) as demo:
        answers = gr.State([])
        conversation_id = gr.State(None)
        saved = gr.BrowserState([], storage_key=STORAGE_KEY, secret=STORAGE_SECRET)
        with gr.Sidebar(label="Conversations", elem_id="history", width=300):
            new = gr.Button("New chat", elem_id="new-chat", variant="primary", size="md")
            conversations = gr.Radio(
                [], label="Conversations", elem_id="conversations",
                info=f"Kept in this browser only (the latest {chatview.MAX_CONVERSATIONS}).",
            )  # fmt: skip
            with gr.Row():
                export = gr.DownloadButton("Export as Markdown", interactive=False, size="sm",
                                           elem_id="export", min_width=120)  # fmt: skip
                delete = gr.Button("Delete", elem_id="delete-chat", size="sm", variant="stop",
                                   min_width=80)  # fmt: skip
        gr.Markdown(
            "## Policy assistant\nAnswers from the policy documents, quoting the exact sentences."
        )
        status = gr.Markdown(elem_id="status")
        with gr.Tabs(elem_id="tabs"):
            with gr.Tab("Chat", id="chat-tab", elem_id="chat-tab"), gr.Row():
                with gr.Column(scale=3):
                    chatbot = gr.Chatbot(
                        elem_id="chat", height=560, label="Conversation",
                        examples=[{"text": q} for q in read_examples(bot.settings.corpus_dir)] or None,
                        placeholder="Ask a question about the documents, or pick an example.",
                        feedback_options=("Like", "Dislike"),
                        render_markdown=False, latex_delimiters=[], sanitize_html=True,
                        buttons=[],  # its copy buttons copy the message HTML: see "Copy as Markdown"
                    )  # fmt: skip
                    with gr.Row():
                        box = gr.Textbox(placeholder="Ask about the documents…", show_label=False,
                                         scale=5, elem_id="question", max_lines=6, autofocus=True)  # fmt: skip
                        ask = gr.Button("Ask", variant="primary", scale=1, elem_id="ask")
                    comment = gr.Textbox(
                        label="Comment sent with your like or dislike (optional)",
                        elem_id="feedback-comment",
                        max_lines=3,
                    )
                    notice = gr.Markdown(elem_id="notice")
                with gr.Column(scale=2):
                    with gr.Accordion("Filters", open=False, elem_id="filters"):
                        sources = gr.Dropdown(h.filter_choices(manager.documents()), multiselect=True,
                                              label="Only these documents", elem_id="filter-documents")  # fmt: skip
                        with gr.Row():
                            date_from = gr.Textbox(
                                label="From", placeholder="YYYY[-MM[-DD]]", elem_id="date-from"
                            )
                            date_to = gr.Textbox(
                                label="To", placeholder="YYYY[-MM[-DD]]", elem_id="date-to"
                            )
                    viewer = gr.HTML(VIEWER_EMPTY, elem_id="source-viewer")
            with gr.Tab("Documents", id="documents-tab", elem_id="documents-tab") as documents_tab:
                table = gr.Dataframe(
                    headers=chatview.DOCUMENT_COLUMNS,
                    datatype=["str", "str", "str", "str", "number", "str", "str"],
                    interactive=False, wrap=True, elem_id="documents-table", label="Indexed documents",
                    column_widths=["28%", "21%", "9%", "6%", "8%", "10%", "18%"], max_height=640,
                )  # fmt: skip
                with gr.Row(equal_height=False):
                    with gr.Column(scale=3):
                        files = gr.File(
                            label=f"Add documents: {', '.join(UPLOAD_TYPES)} (up to "
                            f"{bot.settings.upload_max_bytes / 1e6:g} MB each)",
                            file_count="multiple", elem_id="upload-files", height=140,
                        )  # fmt: skip
                        with gr.Row():
                            title = gr.Textbox(label="Title (optional)", elem_id="upload-title",
                                               placeholder="from the document if empty")  # fmt: skip
                            publisher = gr.Textbox(
                                label="Publisher (optional)", elem_id="upload-publisher"
                            )
                            date = gr.Textbox(label="Date (optional)", elem_id="upload-date",
                                              placeholder="YYYY[-MM[-DD]]")  # fmt: skip
                        upload = gr.Button("Upload and index", variant="primary", elem_id="upload")
                    with gr.Column(scale=2):
                        removable = gr.Dropdown([], label="Uploaded documents", elem_id="remove-document",
                                                info="Only uploaded documents can be removed here.")  # fmt: skip
                        remove = gr.Button("Remove", variant="stop", elem_id="remove")
                documents_status = gr.HTML(elem_id="documents-status")
        cite_key = gr.Textbox(visible="hidden", elem_id="cite-key")
        cite_open = gr.Button(visible="hidden", elem_id="cite-open")

        inputs = [box, chatbot, answers, sources, date_from, date_to]
        outputs = [chatbot, answers, box]
        saving = ([conversation_id, answers, saved],
                  [conversation_id, saved, conversations, export])  # fmt: skip
        box.submit(h.respond, inputs, outputs, concurrency_limit=4).then(h.save_chat, *saving)
        ask.click(h.respond, inputs, outputs, concurrency_limit=4).then(h.save_chat, *saving)
        chatbot.example_select(h.pick_example, None, box).then(h.respond, inputs, outputs).then(
            h.save_chat, *saving
        )
        fresh = [chatbot, answers, conversation_id, box, viewer, conversations, export]
        new.click(h.new_chat, None, fresh)
        chatbot.clear(h.new_chat, None, fresh)  # the chat's own trash button: a new chat too
        delete.click(h.delete_chat, [conversation_id, saved], [*fresh, saved])
        conversations.input(h.open_chat, [conversations, saved],
                            [chatbot, answers, conversation_id, export, viewer])  # fmt: skip
        cite_open.click(h.open_source, [cite_key, answers], viewer).then(
            None, None, None, js=SCROLL_TO_HIGHLIGHT
        )
        chatbot.like(h.rate, [answers, comment], [notice, comment])

        views = [table, removable, sources, status]
        upload.click(h.upload_documents, [files, title, publisher, date, sources],
                     [documents_status, *views, files, title, publisher, date],
                     show_progress="hidden")  # fmt: skip
        remove.click(h.remove_document, [removable, sources], [documents_status, *views],
                     show_progress="hidden")  # fmt: skip
        documents_tab.select(h.document_views, [sources], views, show_progress="hidden")
        demo.load(h.list_chats, [saved], conversations)
        demo.load(h.document_views, [sources], views)
    return demo


class ChatHandlers:
    """What the chat, the kept conversations and the Documents tab do; `build_app` lays them
    out and wires their events."""

    def __init__(self, bot: Assistant, manager: DocumentManager) -> None:
        self.bot, self.manager, self.exports = bot, manager, _Exports()

    def filter_choices(self, docs: list[dict[str, Any]]) -> list[tuple[str, str]]:
        return [(f"{d['short_title']} ({d['date']})", d["source"]) for d in docs]

    def plain_history(self, answers: list[dict[str, Any]]) -> list[dict[str, str]]:
        turns: list[dict[str, str]] = []
        for a in answers:
            turns += [
                {"role": "user", "content": a["asked"]},
                {"role": "assistant", "content": a["text"]},
            ]
        return turns

    # -- the chat -------------------------------------------------------------------------

    def respond(self, message: str, history: list[dict[str, Any]], answers: list[dict[str, Any]],
                sources: list[str], date_from: str, date_to: str):  # fmt: skip
        history = [*history, {"role": "user", "content": chatview.question_html(message)}]
        try:
            filters = Filters(
                sources=tuple(sources or ()), date_from=date_from or None, date_to=date_to or None
            )
            answer = self.bot.ask(
                message,
                history=self.plain_history(answers),
                filters=filters if filters.active else None,
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
        for piece in chatview.streamed(answer, len(answers) - 1, question=message):
            history[-1] = {"role": "assistant", "content": piece}
            yield history, answers, ""
            time.sleep(STREAM_DELAY)

    def open_source(self, key: str, answers: list[dict[str, Any]]) -> str:
        citation = chatview.find_citation(answers, key)
        if citation is None:
            return "<div class='viewer-error'>That source is not part of this conversation.</div>"
        try:
            return chatview.viewer_html(
                citation, document_text(self.bot.settings.corpus_dir, citation.source)
            )
        except (OSError, LoadError) as exc:
            problem = chatview.text_html(f"Cannot open {citation.source}: {exc}")
            return f"<div class='viewer-error'>{problem}</div>"

    def pick_example(self, event: gr.SelectData) -> str:
        return str(event.value["text"])

    def rate(
        self, data: gr.LikeData, answers: list[dict[str, Any]], comment: str
    ) -> tuple[str, str]:
        record = next((a for a in answers if a["message_index"] == data.index), None)
        if record is None:
            return "Only answers can be rated.", comment
        rating = "up" if data.liked is True else "down" if data.liked is False else str(data.liked)
        path = self.bot.settings.data_dir / "feedback.jsonl"
        chatview.append_feedback(
            path, chatview.feedback_record(record["asked"], record, rating, comment)
        )
        return f"Thanks: your {'like' if rating == 'up' else 'dislike'} was saved.", ""

    # -- kept conversations (in the browser) ----------------------------------------------

    def chat_list(self, kept: list[dict[str, Any]], selected: str | None) -> Any:
        return gr.Radio(choices=[(c["title"], c["id"]) for c in kept], value=selected)

    def export_button(self, conversation_id: str | None, answers: list[dict[str, Any]]) -> Any:
        if not conversation_id or not answers:
            return gr.DownloadButton(value=None, interactive=False)
        return gr.DownloadButton(
            value=self.exports.write(conversation_id, answers), interactive=True
        )

    def save_chat(self, conversation_id: str | None, answers: list[dict[str, Any]], saved: Any):
        """Put the open conversation first in the browser's list, within the bounds."""
        if not answers:
            return gr.skip(), gr.skip(), gr.skip(), gr.skip()
        conversation_id = conversation_id or uuid.uuid4().hex[:16]
        others = [c for c in chatview.stored_conversations(saved) if c["id"] != conversation_id]
        kept = chatview.keep_conversations(
            [chatview.conversation(conversation_id, answers), *others]
        )
        return (conversation_id, kept, self.chat_list(kept, conversation_id),
                self.export_button(conversation_id, answers))  # fmt: skip

    def list_chats(self, saved: Any) -> Any:
        return self.chat_list(chatview.stored_conversations(saved), None)

    def open_chat(self, selected: str | None, saved: Any):
        """Bring a kept conversation back: its chat, citations and source viewer work again."""
        found = next((c for c in chatview.stored_conversations(saved) if c["id"] == selected), None)
        if found is None:
            return gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip()
        answers = chatview.restore_answers(found["answers"])
        return (chatview.conversation_messages(answers), answers, found["id"],
                self.export_button(found["id"], answers), VIEWER_EMPTY)  # fmt: skip

    def new_chat(self):
        return ([], [], None, "", VIEWER_EMPTY, gr.Radio(value=None),
                gr.DownloadButton(value=None, interactive=False))  # fmt: skip

    def delete_chat(self, conversation_id: str | None, saved: Any):
        """Forget the open conversation in this browser, then start a new one."""
        kept = [c for c in chatview.stored_conversations(saved) if c["id"] != conversation_id]
        self.exports.forget(conversation_id)
        return ([], [], None, "", VIEWER_EMPTY, self.chat_list(kept, None),
                gr.DownloadButton(value=None, interactive=False), kept)  # fmt: skip

    # -- documents ------------------------------------------------------------------------

    def document_views(self, selected: list[str] | None = None) -> tuple[Any, Any, Any, str]:
        """The table, the removable list, the chat's filter and the status line, as the
        index is now."""
        docs = self.manager.documents()
        choices = self.filter_choices(docs)
        known = {source for _, source in choices}
        removable = [(f"{d['title']} ({d['source']})", d["source"]) for d in docs if d["removable"]]
        return (
            chatview.document_rows(docs),
            gr.Dropdown(choices=removable, value=None),
            gr.Dropdown(choices=choices, value=[s for s in selected or [] if s in known]),
            self.bot.describe(),
        )

    def follow(self, job: Job, selected: list[str] | None) -> Iterator[tuple[Any, ...]]:
        """Progress while the job runs (questions are still answered meanwhile), then the
        refreshed table and lists."""
        shown = ""
        while True:
            current = self.manager.job(job.id)
            if current is None:
                yield (chatview.status_html("The job is no longer known.", "error"),
                       *self.document_views(selected))  # fmt: skip
                return
            page = chatview.job_html(current.to_dict())
            if current.state in ("done", "failed"):
                yield (page, *self.document_views(selected))
                return
            if page != shown:
                shown = page
                yield page, gr.skip(), gr.skip(), gr.skip(), gr.skip()
            time.sleep(JOB_POLL)

    def upload_documents(self, paths: list[str] | None, title: str, publisher: str, date: str,
                         selected: list[str] | None):  # fmt: skip
        unchanged = (gr.skip(),) * 8
        if not paths:
            yield chatview.status_html("Choose one or more files first.", "error"), *unchanged
            return
        uploads = [Upload(Path(p).name, Path(p).read_bytes()) for p in paths]
        try:
            job = self.manager.add(uploads, Metadata(title, publisher, date))
        except UploadRejected as exc:
            yield (
                chatview.status_html(f"Not uploaded: {exc}. Nothing was changed.", "error"),
                *unchanged,
            )
            return
        cleared = (None, "", "", "")
        for views in self.follow(job, selected):
            yield *views, *cleared
            cleared = (gr.skip(),) * 4

    def remove_document(self, source: str | None, selected: list[str] | None):
        if not source:
            yield (
                chatview.status_html("Pick an uploaded document to remove.", "error"),
                *(gr.skip(),) * 4,
            )
            return
        try:
            job = self.manager.remove(source)
        except UploadRejected as exc:
            yield chatview.status_html(f"Not removed: {exc}", "error"), *(gr.skip(),) * 4
            return
        yield from self.follow(job, selected)


class _Exports:
    """Markdown exports of conversations, one file per conversation (rewritten as it grows),
    in a temporary folder made on first use; Gradio serves a copy from its cache."""

    def __init__(self) -> None:
        self._folder: Path | None = None

    def write(self, conversation_id: str, answers: list[dict[str, Any]]) -> str:
        if self._folder is None:
            self._folder = Path(tempfile.mkdtemp(prefix="assistant-exports-"))
        path = self._folder / f"policy-assistant-chat-{conversation_id}.md"
        fd, tmp = tempfile.mkstemp(dir=self._folder, prefix=".export-")
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(chatview.markdown_export(answers))
        os.replace(tmp, path)
        return str(path)

    def forget(self, conversation_id: str | None) -> None:
        if self._folder is not None and conversation_id:
            (self._folder / f"policy-assistant-chat-{conversation_id}.md").unlink(missing_ok=True)
