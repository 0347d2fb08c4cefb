"""``npgpt serve`` in a real browser: headless Chromium (Debian's, driven by Playwright) chats with a
tiny model, watches the reply stream in, opens a token's alternatives and attention, continues
from an alternative, shows the special tokens, changes the temperature, and finds no console error,
failed request or request to anywhere but the server.

The screenshot in the README (docs/serve.png) is made by this test: ``python tools/serve_screenshot.py``
runs it with NPGPT_SERVE_SCREENSHOT=docs/serve.png and NPGPT_SERVE_CHECKPOINT=<a chat model>.
Locally a missing browser or Playwright skips it; in CI (CI=true) it fails.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from serve_fixtures import make_checkpoints, running

pytestmark = pytest.mark.slow
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]
QUESTION = "Who says: To be, or not to be"


def unavailable(reason):
    """Skip on a developer's machine; fail in CI, where the browser test must run."""
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"{reason} (CI=true: the browser test must run)")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def browser():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("playwright is not installed: pip install -e '.[site]'")
    if not os.path.exists(CHROMIUM):
        unavailable("chromium is not installed: apt-get install chromium")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield b
        b.close()


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    given = os.environ.get("NPGPT_SERVE_CHECKPOINT")  # the screenshot tool's better model
    return Path(given) if given else make_checkpoints(tmp_path_factory.mktemp("serve"))[0]


def watch(page, host):
    """Problems seen while the page runs: console errors, page errors, failed or outside requests."""
    problems, posted = [], []

    def request(r):  # seen, not intercepted: Playwright's routing reports a streamed reply as aborted
        if urlsplit(r.url).netloc != host and not r.url.startswith("data:"):  # the page must work offline
            problems.append(f"external request: {r.url}")
        if r.method == "POST":
            posted.append(json.loads(r.post_data))

    page.on("request", request)
    page.on("console", lambda m: m.type == "error" and problems.append(f"console error: {m.text}"))
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.on("requestfailed", lambda r: known_abort(r) or problems.append(f"request failed: {r.url} ({r.failure})"))
    page.on("response", lambda r: r.status >= 400 and problems.append(f"HTTP {r.status}: {r.url}"))
    return problems, posted


def known_abort(r):
    """Chromium reports a fetch stream read to its end with getReader() as ERR_ABORTED now and then
    (microsoft/playwright#42742); the page itself sees every reply end, which the test checks."""
    return r.url.endswith("/api/generate") and r.failure == "net::ERR_ABORTED"


def send_and_wait(page, text):
    """Send a message and wait until its reply has finished streaming; returns the reply's locator."""
    before = page.locator(".msg.assistant").count()
    page.fill("#input", text)
    page.press("#input", "Enter")
    page.wait_for_function(f"document.querySelectorAll('.msg.assistant').length > {before}")
    page.wait_for_function("!document.getElementById('send').disabled", timeout=120_000)
    assert page.inner_text("#status") == ""  # the page saw no error
    reply = page.locator(".msg.assistant").nth(before)
    assert reply.get_attribute("data-end") in ("end", "length")  # and the stream's end event
    return reply


def test_chat_page_in_chromium(browser, checkpoint, tmp_path):
    shot = Path(os.environ.get("NPGPT_SERVE_SCREENSHOT") or tmp_path / "serve.png")
    with running(checkpoint) as server:
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        page = context.new_page()
        problems, posted = watch(page, urlsplit(server.url).netloc)
        try:
            page.goto(server.url, wait_until="load")
            page.wait_for_function("document.getElementById('model').textContent.includes('chat')")
            info = page.evaluate("fetch('/api/info').then(r => r.json())")

            # the reply streams in: one DOM insertion per token, as the events arrive
            page.evaluate(
                """() => { window.inserted = 0; new MutationObserver(rs => rs.forEach(r =>
                window.inserted += [...r.addedNodes].filter(n => n.classList && n.classList.contains('tok')).length))
                .observe(document.getElementById('log'), {childList: true, subtree: true}); }"""
            )
            page.fill("#temperature", "0.8")
            page.fill("#seed", "1")
            reply = send_and_wait(page, QUESTION)
            n = reply.locator(".tok").count()
            assert n >= 1 and page.evaluate("window.inserted") >= n
            assert page.locator(".msg.user").first.inner_text().strip() == QUESTION

            # a token's alternatives and the attention behind it (a visible one: not a hidden <|end|>)
            token = reply.locator(".tok:not(.special)").first
            step = token.get_attribute("data-step")
            token.click()
            page.wait_for_selector("#inspector:not([hidden])")
            assert page.locator("#alternatives tbody tr").count() == min(10, info["vocab_size"])
            page.wait_for_selector("#attention-grid canvas")
            assert page.locator("#attention-grid canvas").count() == info["n_layer"] * info["n_head"]
            context_len = page.locator("#attention-context span").count()
            assert context_len == len(posted[-1]["ids"]) > 0
            page.locator("#attention-grid canvas").first.click()
            assert "layer 0, head 0" in page.inner_text("#attention-label")

            # continue from the second most likely token at that step
            alt = page.locator("#alternatives tbody tr").nth(1)
            alt_text = alt.locator("td").first.inner_text()
            alt.locator("button").click()
            page.wait_for_function("!document.getElementById('send').disabled", timeout=120_000)
            assert reply.get_attribute("data-end") in ("end", "length")
            assert len(posted[-1]["prefix"]) == int(step) + 1
            shown = reply.locator(f'.tok[data-step="{step}"]').inner_text()
            assert shown.replace(" ", "\u2423").replace("\n", "\u23ce") == alt_text or shown == alt_text

            # the template's special tokens, hidden until asked for
            assert not page.locator(".msg.user .special").first.is_visible()
            page.check("#show-special")
            assert page.locator(".msg.user .special").first.is_visible()
            assert page.locator(".msg.assistant .special").first.inner_text() == "<|assistant|>"

            # a new temperature goes with the next request
            page.fill("#temperature", "0")
            second = send_and_wait(page, "First word: Now is the winter")
            assert posted[-1]["temperature"] == 0 and second.locator(".tok").count() >= 1
            visible = second.locator(".tok:not(.special)")
            visible.nth(min(2, visible.count() - 1)).click()
            page.wait_for_selector("#attention-context span")
            page.locator("#attention-context").scroll_into_view_if_needed()
            page.screenshot(path=str(shot))
            assert shot.stat().st_size > 10_000

            # reset empties the conversation
            page.click("#reset")
            assert page.locator(".msg").count() == 0
            assert not problems, "\n".join(problems)
        finally:
            context.close()


def test_completion_page_for_a_base_model(browser, tmp_path):
    base = make_checkpoints(tmp_path)[1]
    with running(base) as server:
        context = browser.new_context()
        page = context.new_page()
        problems, _ = watch(page, urlsplit(server.url).netloc)
        try:
            page.goto(server.url, wait_until="load")
            page.wait_for_function("document.getElementById('model').textContent.includes('completion')")
            assert page.inner_text("#send") == "Continue"
            page.fill("#max_tokens", "12")
            page.fill("#input", "To be, or not")
            page.press("#input", "Enter")
            page.wait_for_function("document.querySelectorAll('.msg.completion .tok').length > 0")
            page.wait_for_function("!document.getElementById('send').disabled", timeout=120_000)
            reply = page.locator(".msg.completion").first
            assert reply.locator(".prompt").inner_text() == "To be, or not"
            assert reply.locator(".tok").count() == 12 and reply.get_attribute("data-end") == "length"
            assert not problems, "\n".join(problems)
        finally:
            context.close()
