"""The chat UI in a real browser: Debian's Chromium, headless, driven by Playwright.

Screenshots of every step go to tests/artifacts/ui/ (gitignored). In CI (CI=true) these tests
must run: `make test` installs Chromium when it is missing. Elsewhere they skip, saying why,
when Chromium cannot be found.
"""

from __future__ import annotations

import json
import os
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
    process = subprocess.Popen([sys.executable, "-m", "assistant.cli", "chat", "--port", str(port)], env=env,
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
