"""The chat UI's logic, without a browser."""

from __future__ import annotations

import html
import itertools
import json
import re
from dataclasses import asdict
from html.parser import HTMLParser
from pathlib import Path

from assistant import Assistant
from assistant.answer.validate import Answer, Citation
from assistant.ingest.load import document_text
from assistant.settings import Settings
from assistant.surfaces import chatview as cv


def citation(
    n: int = 1, text: str = "Cats sleep. Dogs <bark> loudly.", start: int = 112
) -> Citation:
    return Citation(n, "a.txt", "Doc & Co", f"c{n}", text, "Dogs <bark> loudly.", start, start + 19,
                    heading="S > (2) Pets", date="2017", passage_start=100, passage_end=100 + len(text))  # fmt: skip


def test_answer_html_links_markers_to_cards_and_escapes() -> None:
    answer = Answer("Dogs <bark> [1].\nSecond line [1].", False, (citation(),))
    page = cv.answer_html(answer, turn=3)
    assert page.count("class='cite cite-3-1'") == 2 and "class='source-card cite-3-1'" in page
    assert "&lt;bark&gt;" in page and "<bark>" not in page and "Doc &amp; Co" in page
    assert "<mark class='quote'>Dogs &lt;bark&gt; loudly.</mark>" in page and "<br>" in page


def test_abstention_shows_related_passages_not_sources() -> None:
    answer = Answer("Not found in the documents.", True, (), (citation(),))
    page = cv.answer_html(answer, turn=0)
    assert (
        "class='abstained'" in page
        and "Related, but not an answer" in page
        and "Sources" not in page
    )
    assert "cite-0-r1" in page


def test_table_row_quote_highlights_the_whole_rendered_passage() -> None:
    row = Citation(1, "a.txt", "T", "c", "Table — Broadband (%): 2025: 82", "Broadband\t82", 50, 62,
                   passage_start=50, passage_end=62)  # fmt: skip
    assert cv.passage_html(row) == "<mark class='quote'>Table — Broadband (%): 2025: 82</mark>"


def test_streaming_grows_then_ends_with_the_cards() -> None:
    answer = Answer(" ".join(f"word{i}" for i in range(60)) + " [1]", False, (citation(),))
    pieces = list(cv.streamed(answer, turn=0))
    assert len(pieces) > 10
    assert all(len(a) < len(b) for a, b in itertools.pairwise(pieces[:-1]))
    assert pieces[-1] == cv.answer_html(answer, 0)


def test_find_citation_and_viewer(tmp_path: Path) -> None:
    text = "x" * 112 + "Dogs <bark> loudly." + " tail"
    (tmp_path / "a.txt").write_text(text)
    c = citation()
    answers = [asdict(Answer("a [1]", False, (c,), (citation(2),)))]
    assert (
        cv.find_citation(answers, "0-1") == c and cv.find_citation(answers, "cite-0-r2").number == 2
    )
    assert cv.find_citation(answers, "5-1") is None and cv.find_citation(answers, "junk") is None
    viewer = cv.viewer_html(c, document_text(tmp_path, "a.txt"))
    match = re.search(rf"<mark id='{cv.HIGHLIGHT_ID}' class='quote'>(.*?)</mark>", viewer)
    assert match and match.group(1) == "Dogs &lt;bark&gt; loudly."
    assert "changed since it was indexed" in cv.viewer_html(c, "different text")


def test_feedback_is_appended_as_json_lines(tmp_path: Path) -> None:
    answer = cv.answer_state(Answer("a [1]", False, (citation(),)), "why?")
    path = tmp_path / "data" / "feedback.jsonl"
    for rating in ("up", "down"):
        cv.append_feedback(path, cv.feedback_record("why?", answer, rating, " ok "))
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert [r["rating"] for r in lines] == ["up", "down"]
    assert (
        lines[0]["comment"] == "ok" and lines[0]["citations"][0]["quote"] == "Dogs <bark> loudly."
    )
    assert {"time", "question", "answer", "citations", "rating", "comment"} == lines[0].keys()


def test_questions_keep_working_while_the_index_is_rebuilt(
    hash_settings: Settings, corpus_copy: Path
) -> None:
    reader = Assistant(hash_settings)
    before = reader.ask("What is the broadband penetration target for 2025?")
    (corpus_copy / "extra.md").write_text("# Extra\n\nShipbuilding yards are mentioned here.\n")
    Assistant(hash_settings, build_if_missing=False).index()  # another process re-indexes
    # the reader still points at the dropped collection; it must recover, not fail
    after = reader.ask("What is the broadband penetration target for 2025?")
    assert after.text == before.text
    assert reader.retrieve("shipbuilding yards", k=3)


HOSTILE = (
    "The plant layout ![diagram](http://example.com/diagram.png) and <img src=http://example.com/x.png>"
    " [docs](javascript:alert(1)) <a href='http://example.com/'>here</a> http://example.com/page"
    " www.example.com $$\\href{http://example.com}{x}$$ <iframe src=//example.com></iframe>\n\nend."
)


class Elements(HTMLParser):
    """The elements and attributes a browser would build from a piece of HTML, and its text."""

    def __init__(self, markup: str) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, dict[str, str | None]]] = []
        self.text = ""
        self.feed(markup)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text += data


def test_document_text_cannot_make_the_chat_fetch_anything() -> None:
    """Chat messages are HTML built from escaped text: no element, link or image can come from
    a document or a question, in the streamed pieces as in the final message."""
    passage = Citation(1, "a.txt", "Doc", "c1", HOSTILE, HOSTILE[4:40], 104, 140,
                       passage_start=100, passage_end=100 + len(HOSTILE))  # fmt: skip
    answer = Answer(f"{HOSTILE} [1]", False, (passage,))
    pages = [*cv.streamed(answer, turn=0), cv.text_html(HOSTILE)]
    assert len(pages) > 2
    for page in pages:
        parsed = Elements(page)
        assert {tag for tag, _ in parsed.elements} <= {"div", "a", "mark", "b", "span", "br"}
        assert all(set(attrs) <= {"class", "title"} for _, attrs in parsed.elements), page
    image = "![diagram](http://example.com/diagram.png)"  # shown as text, while streaming too
    assert any(image in Elements(page).text for page in pages[:-2])
    assert HOSTILE.replace("\n", "") in Elements(pages[-2]).text.replace("\n", "")
    assert Elements(pages[-1]).text.replace("\n", "") == HOSTILE.replace("\n", "")


def test_the_chat_renders_messages_as_html_without_markdown(hash_settings: Settings) -> None:
    import gradio as gr

    from assistant.surfaces.ui import build_app, ui_assets

    demo = build_app(Assistant(hash_settings))
    chat = next(b for b in demo.blocks.values() if isinstance(b, gr.Chatbot))
    assert chat.render_markdown is False and chat.latex_delimiters == [] and chat.sanitize_html
    assert chat.buttons == []  # Gradio's copy buttons would copy the message HTML
    assert "Content-Security-Policy" in ui_assets()["head"]
    assert ui_assets()["run_history"] is False  # no copies of conversations in Gradio's run history
    assert "img-src 'self' data: blob:" in cv.CONTENT_SECURITY_POLICY


def test_build_app_shares_a_document_manager(hash_settings: Settings) -> None:
    import gradio as gr

    from assistant.documents import DocumentManager
    from assistant.surfaces.ui import STORAGE_KEY, build_app

    bot = Assistant(hash_settings)
    demo = build_app(bot, DocumentManager(bot))
    kinds = {type(b) for b in demo.blocks.values()}
    assert {gr.BrowserState, gr.Sidebar, gr.Tab, gr.File, gr.DownloadButton, gr.Dataframe} <= kinds
    state = next(b for b in demo.blocks.values() if isinstance(b, gr.BrowserState))
    assert state.storage_key == STORAGE_KEY and state.default_value == []


def record(answer: Answer, question: str) -> dict:
    """An answer as the browser keeps it: through JSON and back."""
    return json.loads(json.dumps(cv.answer_state(answer, question)))


def test_markdown_export_numbers_sources_with_exact_quotes_and_locations() -> None:
    import pytest

    markdown_it = pytest.importorskip("markdown_it")
    cited = Answer(
        "Dogs <bark> [1]. See ![x](http://example.com/x.png) too [1].", False, (citation(),)
    )
    refused = Answer("Not found in the documents.", True, (), (citation(2),))
    records = [record(cited, "Why do *dogs* bark?"), record(refused, "[q](javascript:x) Cats?")]
    text = cv.markdown_export(records)
    assert text.startswith("# Policy assistant conversation\n") and "· 2 answers" in text
    assert "## Why do \\*dogs\\* bark?" in text
    assert "Dogs \\<bark> [1]. See !\\[x\\](http://example.com/x.png) too [1]." in text
    assert "[1] **Doc & Co** · 2017 · a.txt chars 112–131\n\n> Dogs \\<bark> loudly.\n" in text
    assert "**Related passages (not an answer)**" in text and "· **Doc & Co**" in text
    assert text.index("## Why") < text.index("## \\[q\\]")  # in the order asked
    page = markdown_it.MarkdownIt("commonmark").render(text)
    assert "<img" not in page and "<a " not in page and "<bark>" not in page
    assert "<blockquote>\n<p>Dogs &lt;bark&gt; loudly.</p>" in page  # renders as the exact quote
    assert cv.answer_markdown(cited, "q") in html.unescape(cv.answer_html(cited, 0, "q"))
    assert "Copy as Markdown" in cv.answer_html(cited, 0)


def test_md_text_renders_as_the_text_itself() -> None:
    import pytest

    markdown_it = pytest.importorskip("markdown_it")
    nasty = "# Head\n- item\n1. one\n> quote\n<b>x</b> &amp; `code` *em* _u_ [l](u) \\n"
    rendered = markdown_it.MarkdownIt("commonmark").render(cv.md_text(nasty))
    assert rendered.count("<p>") == 1 and not re.search(
        r"<(h1|li|ol|ul|blockquote|b|code|em|a)\b", rendered
    )
    assert html.unescape(re.sub(r"</?p>", "", rendered)).strip() == nasty.strip()


def test_kept_conversations_are_checked_rebuilt_and_bounded() -> None:
    answers = [
        record(Answer("a [1]", False, (citation(),)), "first?"),
        record(Answer("b", False), "second?"),
    ]
    kept = cv.conversation("abc123", cv.restore_answers(answers))
    assert kept["title"] == "first?" and "message_index" not in kept["answers"][0]
    forged = [
        kept,
        {"id": "../x", "answers": answers},  # not an id
        {"id": "abc123", "answers": answers},  # the same id twice
        {
            "id": "def",
            "answers": [{"asked": "q", "text": 5, "abstained": "no"}, "junk"],
        },  # nothing valid
        {
            "id": "fed",
            "answers": [answers[0] | {"citations": [{"number": "x"}]}, answers[1] | {"evil": 1}],
        },
        "junk",
    ]
    stored = cv.stored_conversations(forged)
    assert [c["id"] for c in stored] == ["abc123", "fed"]
    assert [a["asked"] for a in stored[1]["answers"]] == ["second?"] and "evil" not in stored[1][
        "answers"
    ][0]
    assert cv.stored_conversations("not a list") == []

    restored = cv.restore_answers(stored[0]["answers"])
    assert [a["message_index"] for a in restored] == [1, 3]
    messages = cv.conversation_messages(restored)
    assert [m["role"] for m in messages] == ["user", "assistant"] * 2
    assert messages[1]["content"] == cv.answer_html(
        Answer("a [1]", False, (citation(),)), 0, "first?"
    )
    assert cv.find_citation(restored, "0-1") == citation()  # clicking [1] opens the viewer again
    long = cv.question_html("<b>" + "x" * 700)
    assert long.startswith("&lt;b&gt;") and long.endswith("… (703 characters)")

    many = [cv.conversation(f"{i:x}", restored) for i in range(60)]
    assert [c["id"] for c in cv.keep_conversations(many)] == [
        f"{i:x}" for i in range(cv.MAX_CONVERSATIONS)
    ]
    size = len(json.dumps(many[0]).encode())
    assert len(cv.keep_conversations(many, budget=3 * size + 10)) == 3
    big = cv.keep_conversations(
        many, budget=size - 10
    )  # the newest alone is too big: its oldest answers go
    assert len(big) == 1 and [a["asked"] for a in big[0]["answers"]] == ["second?"]


def test_documents_table_and_job_status() -> None:
    doc = {"source": "uploads/a.docx", "title": "<b>A</b>", "short_title": "A", "publisher": "P", "date": "2024",
           "url": "", "checksum": "c", "chunks": 3, "format": "docx", "indexed": "2025-01-02T03:04:05+00:00",
           "removable": True}  # fmt: skip
    assert cv.document_rows([doc]) == [
        ["<b>A</b>", "P", "2024", "docx", 3, "2025-01-02 03:04", "uploads/a.docx"]
    ]
    assert len(cv.DOCUMENT_COLUMNS) == 7
    job = {"state": "running", "done": 12, "total": 40, "message": ""}
    assert "Embedding 12/40 chunks" in cv.job_html(
        job
    ) and "<progress value='12' max='40'>" in cv.job_html(job)
    assert "waiting" in cv.job_html(job | {"state": "queued"})
    assert "✓ 1 added" in cv.job_html(job | {"state": "done", "message": "1 added"})
    failed = cv.job_html(job | {"state": "failed", "message": "indexing failed: <disk>"})
    assert (
        "class='doc-status error'" in failed and "&lt;disk&gt;" in failed and "<disk>" not in failed
    )
