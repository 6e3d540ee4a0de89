"""The chat UI in a real browser: Debian's Chromium, headless, driven by Playwright.

Screenshots of every step go to tests/artifacts/ui/ (gitignored). In CI (CI=true) these tests
must run: `make test` installs Chromium when it is missing. Elsewhere they skip, saying why,
when Chromium cannot be found.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from assistant import Assistant
from assistant.settings import Settings
from tests.conftest import ROOT
from tests.integration.test_service import free_port, wait_for

pytestmark = pytest.mark.integration

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = ROOT / "tests" / "artifacts" / "ui"
# Without the background-networking switches Chromium tries Google's hosts at start.
ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--disable-default-apps", "--disable-extensions"]  # fmt: skip


def _need_chromium() -> None:
    if Path(CHROMIUM).exists():
        return
    if os.environ.get("CI") == "true":
        pytest.fail(
            "Chromium is missing in CI; `make test` should have installed it (apt-get install chromium)"
        )
    pytest.skip("Chromium is not installed (apt-get install chromium); browser tests skipped")


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("ui-data")


@pytest.fixture(scope="module")
def ui_url(real_bot: Assistant, real_settings: Settings, data_dir: Path) -> Iterator[str]:
    _need_chromium()
    yield from _chat_server(real_settings.corpus_dir, real_settings.index_dir,
                            real_settings.cache_dir, data_dir)  # fmt: skip


def _chat_server(corpus: Path, index: Path, cache: Path, data: Path) -> Iterator[str]:
    """`assistant chat` in a subprocess over the given folders; its URL while it runs."""
    port = free_port()
    env = dict(os.environ, ASSISTANT_CORPUS_DIR=str(corpus), ASSISTANT_INDEX_DIR=str(index),
               ASSISTANT_CACHE_DIR=str(cache), ASSISTANT_DATA_DIR=str(data))  # fmt: skip
    process = subprocess.Popen([sys.executable, "-m", "assistant.surfaces.cli", "chat", "--port", str(port)], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        wait_for(f"http://127.0.0.1:{port}/", process)
        yield f"http://127.0.0.1:{port}/"
    finally:
        process.terminate()
        process.wait(timeout=30)


@pytest.fixture(scope="module")
def browser(ui_url: str):
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser, ui_url: str):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.requests = []  # every URL the page asks for
    page.on("request", lambda request: page.requests.append(request.url))
    page.goto(ui_url)
    page.wait_for_selector("#question textarea")
    yield page
    context.close()


def ask(page, question: str) -> None:
    before = page.locator("#chat .message-row").count()
    page.fill("#question textarea", question)
    page.click("#ask")
    page.wait_for_function(
        "n => document.querySelectorAll('#chat .message-row').length >= n + 2",
        arg=before,
        timeout=60000,
    )
    page.wait_for_function(  # the streamed answer is complete when its sources (or a notice) show
        "() => { const rows = document.querySelectorAll('#chat .message-row');"
        " const last = rows[rows.length - 1]; return last && (last.querySelector('.sources, .abstained, .answer')"
        " || last.textContent.includes('⚠')); }",
        timeout=60000,
    )
    time.sleep(0.3)


def last_message(page):
    return page.locator("#chat .message-row").last


def shot(page, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def test_answer_streams_with_a_citation_and_opens_the_exact_span(page, real_bot: Assistant) -> None:
    question = "What is the broadband penetration target for 2025?"
    # record how the last message grows, to see the answer stream in
    page.evaluate("""() => { window.sizes = []; new MutationObserver(() => {
        const rows = document.querySelectorAll('#chat .message-row');
        const last = rows[rows.length - 1]; if (last) window.sizes.push(last.textContent.length);
      }).observe(document.querySelector('#chat'), {subtree: true, childList: true, characterData: true}); }""")
    shot(page, "00-empty")
    ask(page, question)
    shot(page, "01-answer")
    assert len(set(page.evaluate("window.sizes"))) > 3, "the answer did not stream"
    last = last_message(page)
    assert "[1]" in last.inner_text() and "82" in last.inner_text()

    expected = real_bot.ask(question).citations[0]
    last.locator("a.cite").first.click()
    page.wait_for_selector("#assistant-highlight", timeout=30000)
    time.sleep(0.5)  # the page scrolls the viewer to the highlight
    shot(page, "02-source-viewer")
    assert page.locator("#assistant-highlight").text_content() == expected.quote
    # scrolled: the highlight is inside the viewer's visible box
    inside = page.evaluate("""() => { const m = document.getElementById('assistant-highlight').getBoundingClientRect();
        const v = document.querySelector('#source-viewer .viewer-body').getBoundingClientRect();
        return m.top >= v.top && m.bottom <= v.bottom + 1; }""")
    assert inside
    # clicking a source card opens the same span
    page.evaluate("document.querySelector('#source-viewer .viewer-body').scrollTop = 0")
    last.locator(".source-card").first.click()
    time.sleep(1)
    assert page.locator("#assistant-highlight").text_content() == expected.quote


def test_follow_up_is_answered_in_context(page) -> None:
    ask(page, "What is the broadband penetration target for 2020?")
    ask(page, "And by 2025?")
    shot(page, "03-follow-up")
    assert "82" in last_message(page).inner_text()


def test_unanswerable_question_abstains(page) -> None:
    ask(page, "What is the recipe for sourdough bread?")
    shot(page, "04-abstained")
    text = last_message(page).inner_text()
    assert "Not found in the documents" in text and "Related, but not an answer" in text


def test_document_filter_limits_citations(page) -> None:
    page.click("#filters")  # open the accordion
    page.click("#filter-documents input")
    page.keyboard.type("China Daily")
    page.keyboard.press("Enter")
    page.keyboard.press("Escape")
    ask(page, "How many provincial manufacturing innovation centers are there?")
    shot(page, "05-filtered")
    titles = last_message(page).locator(".source-card .card-head b").all_inner_texts()
    assert titles and all("Fresh impetus for Made in China 2025 plan" in t for t in titles)
    assert "35" in last_message(page).inner_text()


def test_bad_input_gets_a_message_and_the_app_keeps_working(page) -> None:
    page.fill("#question textarea", "   ")
    page.click("#ask")
    page.wait_for_function("() => document.querySelector('#chat').textContent.includes('question is empty')",
                           timeout=60000)  # fmt: skip
    page.fill("#question textarea", "x" * 100_000)
    page.click("#ask")
    page.wait_for_function("() => document.querySelector('#chat').textContent.includes('characters long')",
                           timeout=60000)  # fmt: skip
    shot(page, "06-too-long")
    ask(page, "Who presided over the State Council executive meeting?")
    assert "Li Keqiang" in last_message(page).inner_text()


def test_feedback_is_saved(page, data_dir: Path) -> None:
    ask(page, "Which cities were approved as pilot cities?")
    page.fill("#feedback-comment textarea", "useful list")
    page.locator("#chat button[aria-label='Like']").last.click()
    page.wait_for_function(
        "() => document.querySelector('#notice').textContent.includes('saved')", timeout=30000
    )
    shot(page, "07-feedback")
    records = [json.loads(line) for line in (data_dir / "feedback.jsonl").read_text().splitlines()]
    record = records[-1]
    assert record["rating"] == "up" and record["comment"] == "useful list"
    assert record["question"] == "Which cities were approved as pilot cities?"
    assert record["citations"] and record["answer"] and record["time"]


def test_two_sessions_do_not_see_each_other(browser, ui_url: str) -> None:
    contexts = [browser.new_context() for _ in range(2)]
    pages = [c.new_page() for c in contexts]
    for p in pages:
        p.goto(ui_url)
        p.wait_for_selector("#question textarea")
    questions = [
        "Who presided over the State Council executive meeting?",
        "What is the broadband target for 2025?",
    ]
    for p, q in zip(pages, questions, strict=True):  # both asked before either answer arrives
        p.fill("#question textarea", q)
        p.click("#ask")
    for p, q in zip(pages, questions, strict=True):
        p.wait_for_selector("#chat .sources", timeout=60000)
        chat = p.locator("#chat").inner_text()
        other = questions[1 - questions.index(q)]
        assert q in chat and other not in chat
    for i, p in enumerate(pages):
        p.screenshot(path=str(ARTIFACTS / f"08-session-{i}.png"))
    for c in contexts:
        c.close()


def test_page_only_talks_to_127_0_0_1(page) -> None:
    ask(page, "What is the broadband penetration target for 2020?")
    page.reload()
    page.wait_for_selector("#question textarea")
    time.sleep(1)
    hosts = {url.split("/")[2] for url in page.requests if url.startswith("http")}
    assert hosts and all(h.startswith("127.0.0.1") for h in hosts), hosts
    assert requests.get(page.url, timeout=10).status_code == 200


HOSTILE_DOCUMENT = """Zorblax plant layout

The zorblax plant layout is shown in the diagram ![diagram](http://example.com/diagram.png) drawn by the zorblax engineers in 2024.

The zorblax plant also has <img src="http://example.com/pixel.png"> a marker, a [manual](javascript:alert(1)) link, <a href="http://example.com/a">an anchor</a>, http://example.com/page and www.example.com too.
"""
# Every element the chat gets that could fetch or link, while the answer streams in.
WATCH_ELEMENTS = """() => { window.risky = []; const note = (el) => {
    for (const e of [el, ...el.querySelectorAll('*')]) {
      const url = e.getAttribute && (e.getAttribute('src') || e.getAttribute('href') || e.getAttribute('srcset'));
      if (['IMG', 'IFRAME', 'VIDEO', 'AUDIO', 'SOURCE', 'OBJECT', 'EMBED', 'LINK', 'SCRIPT'].includes(e.tagName) || url)
        window.risky.push(e.outerHTML.slice(0, 200));
    } };
  new MutationObserver((records) => records.forEach((r) => r.addedNodes.forEach((n) => n.nodeType === 1 && note(n))))
    .observe(document.querySelector('#chat'), {subtree: true, childList: true}); }"""


@pytest.fixture(scope="module")
def hostile_ui_url(
    tmp_path_factory: pytest.TempPathFactory, real_settings: Settings
) -> Iterator[str]:
    """The chat over a corpus with a document full of Markdown images, HTML and links."""
    _need_chromium()
    tmp = tmp_path_factory.mktemp("hostile")
    (tmp / "corpus").mkdir()
    (tmp / "corpus" / "zorblax-plant.txt").write_text(HOSTILE_DOCUMENT, encoding="utf-8")
    shutil.copy(real_settings.corpus_dir / "china-daily-fresh-impetus-2017.txt", tmp / "corpus")
    yield from _chat_server(tmp / "corpus", tmp / "index", real_settings.cache_dir, tmp / "data")


def test_document_text_cannot_make_the_browser_fetch_anything(browser, hostile_ui_url: str) -> None:
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    page.goto(hostile_ui_url)
    page.wait_for_selector("#question textarea")
    page.evaluate(WATCH_ELEMENTS)
    # the question carries a Markdown image too: questions are shown as text as well
    ask(
        page,
        "![q](http://example.com/question.png) What does the zorblax plant layout diagram show?",
    )
    shot(page, "09-hostile-document")
    shown = last_message(page).inner_text()
    assert "![diagram](http://example.com/diagram.png)" in shown  # the document's text, as text
    assert "![q](http://example.com/question.png)" in page.locator("#chat").inner_text()
    last_message(page).locator(".source-card").first.click()  # the source viewer, too
    page.wait_for_selector("#assistant-highlight", timeout=30000)
    time.sleep(1)
    assert "http://example.com/pixel.png" in page.locator("#source-viewer").inner_text()
    shot(page, "10-hostile-source")
    assert page.evaluate("window.risky") == []
    links = page.eval_on_selector_all(
        "#chat a[href], #source-viewer a[href]", "els => els.map(e => e.href)"
    )
    assert all(link.startswith(("http://127.0.0.1", "https://127.0.0.1")) for link in links), links
    images = page.eval_on_selector_all(
        "#chat img, #source-viewer img", "els => els.map(e => e.src)"
    )
    assert all(src.startswith(("http://127.0.0.1", "data:", "blob:")) for src in images), images
    hosts = {url.split("/")[2] for url in requested if url.startswith(("http:", "https:", "ws:"))}
    assert hosts == {hostile_ui_url.split("/")[2]}, hosts
    assert not [
        url for url in requested if not url.startswith(("http://127.0.0.1", "data:", "blob:"))
    ]
    context.close()


# -- conversations kept in the browser ---------------------------------------------------------


def conversation_titles(page) -> list[str]:
    return page.locator("#conversations label").all_inner_texts()


def wait_for_title(page, text: str) -> None:
    """The conversation is in the sidebar, so it is saved in the browser too."""
    page.locator("#conversations label", has_text=text).wait_for(timeout=30000)


def test_conversations_are_kept_in_the_browser(page, real_bot: Assistant) -> None:
    first = "What is the broadband penetration target for 2025?"
    second = "Who presided over the State Council executive meeting?"
    ask(page, first)
    wait_for_title(page, first)
    page.click("#new-chat")
    page.wait_for_function("() => !document.querySelector('#chat .message-row')", timeout=30000)
    ask(page, second)
    wait_for_title(page, second)

    page.reload()
    page.wait_for_selector("#question textarea")
    wait_for_title(page, first)
    assert conversation_titles(page) == [second, first]  # newest first
    assert page.locator("#chat .message-row").count() == 0  # a reload starts a new chat
    page.locator("#conversations label", has_text=first).click()
    page.wait_for_selector("#chat .source-card", timeout=30000)
    shot(page, "11-conversation-restored")
    restored = last_message(page)
    assert "82" in restored.inner_text() and first in page.locator("#chat").inner_text()
    expected = real_bot.ask(first).citations[0]
    restored.locator("a.cite").first.click()  # citations work as before the reload
    page.wait_for_selector("#assistant-highlight", timeout=30000)
    assert page.locator("#assistant-highlight").text_content() == expected.quote
    shot(page, "12-restored-citation")

    page.click("#delete-chat")
    page.wait_for_function("() => !document.querySelector('#chat .message-row')", timeout=30000)
    page.wait_for_function(
        "t => ![...document.querySelectorAll('#conversations label')].some(l => l.textContent.includes(t))",
        arg=first, timeout=30000,
    )  # fmt: skip
    page.reload()
    page.wait_for_selector("#question textarea")
    wait_for_title(page, second)
    assert conversation_titles(page) == [second]


# -- the Documents tab: upload, ask, cite, remove ----------------------------------------------

HARBOUR_TITLE = "Eastport harbour dredging plan"
HARBOUR_QUOTE = (
    "The Eastport harbour authority will dredge the north channel to a depth of 17 metres by 2027."
)
HARBOUR_QUESTION = (
    "When will the Eastport harbour dredging be finished?"  # the base corpus has no answer
)
DOCS_SCREENSHOT = ROOT / "docs" / "documents-tab.png"


def harbour_docx(path: Path) -> Path:
    """A fact no document of the corpus states, in words none of them uses."""
    from docx import Document

    document = Document()
    document.add_heading(HARBOUR_TITLE, level=1)
    document.add_paragraph(
        f"{HARBOUR_QUOTE} The dredging works are funded with 340 million euros from the regional port fund."
    )
    document.save(str(path))
    return path


@pytest.fixture(scope="module")
def docs_ui_url(
    tmp_path_factory: pytest.TempPathFactory, real_bot: Assistant, real_settings: Settings
) -> Iterator[str]:
    """The chat over private copies of the corpus and of its index: uploads and removals here
    leave the shared index alone. The copied index is current, so only uploads are embedded."""
    _need_chromium()
    tmp = tmp_path_factory.mktemp("documents")
    real_bot.documents()  # the shared index is built
    shutil.copytree(real_settings.corpus_dir, tmp / "corpus")
    shutil.copytree(
        real_settings.index_dir, tmp / "index", ignore=shutil.ignore_patterns("index.lock")
    )
    yield from _chat_server(tmp / "corpus", tmp / "index", real_settings.cache_dir, tmp / "data")


@pytest.fixture
def docs_page(browser, docs_ui_url: str):
    context = browser.new_context(viewport={"width": 1400, "height": 1150}, accept_downloads=True)
    page = context.new_page()
    page.goto(docs_ui_url)
    page.wait_for_selector("#question textarea")
    yield page
    context.close()


def open_tab(page, name: str) -> None:
    page.get_by_role("tab", name=name).click()
    page.wait_for_selector("#upload-files" if name == "Documents" else "#question textarea")
    time.sleep(0.3)


def table_text(page) -> str:
    return page.locator("#documents-table").inner_text()


def upload(page, *files: Path) -> None:
    """Put files in the upload area and wait until the browser has sent them."""
    clear = page.locator("#upload-files button[aria-label='Clear']")
    if clear.count():
        clear.first.click()
    page.set_input_files("#upload-files input[type=file]", [str(f) for f in files])
    for f in files:
        page.locator("#upload-files", has_text=f.stem).wait_for(timeout=30000)  # name, type apart


def test_an_uploaded_docx_answers_with_a_citation_until_it_is_removed(
    docs_page, tmp_path: Path
) -> None:
    page = docs_page
    open_tab(page, "Documents")
    page.locator("#documents-table", has_text="Fresh impetus").wait_for(timeout=30000)
    assert HARBOUR_TITLE not in table_text(page)
    page.evaluate("""() => { window.states = []; new MutationObserver(() => {
        window.states.push(document.querySelector('#documents-status').innerText); })
      .observe(document.querySelector('#documents-status'), {subtree: true, childList: true, characterData: true}); }""")
    upload(page, harbour_docx(tmp_path / "eastport-dredging.docx"))
    page.fill("#upload-title textarea", HARBOUR_TITLE)
    page.fill("#upload-publisher textarea", "Eastport Port Authority")
    page.fill("#upload-date textarea", "2024-03")
    page.click("#upload")
    page.wait_for_selector("#documents-status .done", timeout=120000)
    shot(page, "13-uploaded")
    progress = " ".join(page.evaluate("window.states"))
    assert any(s in progress for s in ("Embedding", "Updating the index", "waiting")), progress
    assert "1 document(s) added" in page.locator("#documents-status").inner_text()
    rows = table_text(page)
    assert (
        HARBOUR_TITLE in rows
        and "uploads/eastport-dredging.docx" in rows
        and "Eastport Port Authority" in rows
    )
    assert page.input_value("#upload-title textarea") == ""  # the form is cleared for the next one

    open_tab(page, "Chat")
    page.click("#filters")  # the chat's document filter offers the new document
    page.click("#filter-documents input")
    page.locator("[role=option]", has_text=HARBOUR_TITLE).wait_for(timeout=10000)
    page.keyboard.press("Escape")
    ask(page, HARBOUR_QUESTION)
    answer = last_message(page)
    assert "17 metres" in answer.inner_text() and "2027" in answer.inner_text()
    assert HARBOUR_TITLE in " ".join(answer.locator(".source-card .card-head b").all_inner_texts())
    answer.locator("a.cite").first.click()
    page.wait_for_selector("#assistant-highlight", timeout=30000)
    time.sleep(0.5)
    assert page.locator("#assistant-highlight").text_content() == HARBOUR_QUOTE
    assert "uploads/eastport-dredging.docx" in page.locator("#source-viewer").inner_text()
    shot(page, "14-uploaded-document-cited")

    # the answer as Markdown: copied from the answer, and the conversation as a file
    page.evaluate(
        "() => { navigator.clipboard.writeText = async (text) => { window.copied = text; }; }"
    )
    answer.locator(".copy-md").click()
    page.wait_for_function("() => window.copied", timeout=10000)
    copied = page.evaluate("window.copied")
    assert copied.startswith(f"## {HARBOUR_QUESTION}\n") and f"\n> {HARBOUR_QUOTE}\n" in copied
    assert re.search(
        rf"\[1\] \*\*{HARBOUR_TITLE}\*\* · 2024-03 · uploads/eastport-dredging\.docx chars \d+–\d+",
        copied,
    )
    with page.expect_download() as download:
        page.click("#export")
    exported = Path(download.value.path()).read_text(encoding="utf-8")
    assert download.value.suggested_filename.endswith(".md")
    assert exported.startswith("# Policy assistant conversation") and copied in exported

    open_tab(page, "Documents")  # the README's picture: the upload listed with the corpus
    DOCS_SCREENSHOT.parent.mkdir(exist_ok=True)
    page.screenshot(path=str(DOCS_SCREENSHOT), full_page=True)
    page.click("#remove-document input")
    page.locator("[role=option]", has_text="eastport-dredging.docx").click()
    page.click("#remove")
    page.locator("#documents-status .done", has_text="removed").wait_for(timeout=120000)
    shot(page, "15-removed")
    assert HARBOUR_TITLE not in table_text(page) and "Fresh impetus" in table_text(page)

    open_tab(page, "Chat")
    page.click("#new-chat")
    page.wait_for_function("() => !document.querySelector('#chat .message-row')", timeout=30000)
    ask(page, HARBOUR_QUESTION)
    shot(page, "16-removed-document-refused")
    assert "Not found in the documents" in last_message(page).inner_text()


def test_a_rejected_upload_says_why_and_changes_nothing(docs_page, tmp_path: Path) -> None:
    page = docs_page
    open_tab(page, "Documents")
    page.locator("#documents-table", has_text="Fresh impetus").wait_for(timeout=30000)
    before = table_text(page)
    good = tmp_path / "pier-notes.md"
    good.write_text("# Pier notes\n\nThe west pier gets nine new bollards.\n", encoding="utf-8")
    tool = tmp_path / "tool.exe"
    tool.write_bytes(b"MZ\x90\x00 not a document")
    upload(page, good, tool)  # one bad file: none of the batch is saved
    page.click("#upload")
    page.wait_for_selector("#documents-status .error", timeout=30000)
    message = page.locator("#documents-status").inner_text()
    assert "tool.exe: unsupported file type '.exe'" in message and "Nothing was changed" in message
    shot(page, "17-rejected-upload")
    empty = tmp_path / "empty.txt"
    empty.write_text("  \n", encoding="utf-8")
    upload(page, empty)
    page.click("#upload")
    page.locator("#documents-status .error", has_text="empty.txt: the file is empty").wait_for(
        timeout=30000
    )
    open_tab(page, "Chat")
    open_tab(page, "Documents")  # the table is read again from the index
    time.sleep(1)
    assert table_text(page) == before and "pier-notes" not in table_text(page)
