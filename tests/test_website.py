"""The course website, built once per session and checked in a real browser (headless Chromium).

The site renders the lesson notebooks as this test session executed them (the ``executed_notebook``
fixture of the root conftest.py: each notebook runs once per session, for its own test and for the
site, whichever comes first), through ``python website/build.py --executed``; here Chromium, driven
by Playwright, opens every page over HTTP on 127.0.0.1 and checks that it loads without console
errors or failed requests, that every figure has loaded and is visible, that no cell shows an
error, that the math is typeset, and that every internal link (and its #anchor) resolves.

The browser is Debian's ``chromium`` (``apt-get install chromium``; Playwright drives it, its own
browser downloads are not used). Locally a missing browser or missing ``site`` extra skips these
tests; in CI (CI=true) it fails them. ``NPGPT_WEBSITE_HTML=website/_build/html`` checks a site
built before instead of building one.
"""

from __future__ import annotations

import functools
import http.server
import os
import re
import shutil
import subprocess
import sys
import threading
from pathlib import Path
from urllib.parse import unquote, urljoin, urlsplit

import nbformat
import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
LESSONS = sorted(p.stem for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
PAGES = ["index", "readme", "lessons", "GUIDE", "notebooks/index"] + [f"notebooks/{n}" for n in LESSONS]


def unavailable(reason):
    """Skip on a developer's machine; fail in CI, where the browser test must run."""
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"{reason} (CI=true: the website test must run; see .ci/run)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def site(tmp_path_factory, request):
    """Build the website once (all notebooks executed); returns the folder holding index.html.

    NPGPT_WEBSITE_HTML=<folder> tests a site built before (``python website/build.py``) instead.
    """
    prebuilt = os.environ.get("NPGPT_WEBSITE_HTML")
    if prebuilt:
        return Path(prebuilt).resolve()
    for module in ("sphinx", "myst_nb", "sphinx_book_theme"):
        try:
            __import__(module)
        except ImportError:
            unavailable(f"{module} is not installed: pip install -e '.[site]'")
    out = tmp_path_factory.mktemp("website")
    executed = out / "executed"
    executed.mkdir()
    run = request.getfixturevalue("executed_notebook")  # fails here, naming the cell, if a notebook raises
    for name, nb in zip(LESSONS, run.all([ROOT / "notebooks" / f"{name}.ipynb" for name in LESSONS])):
        nbformat.write(nb, executed / f"{name}.ipynb")
    proc = subprocess.run(
        [sys.executable, str(ROOT / "website" / "build.py"), "--out", str(out), "--executed", str(executed)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    if proc.returncode:
        pytest.fail(f"website/build.py failed (exit {proc.returncode}):\n{(proc.stdout + proc.stderr)[-6000:]}")
    return out / "html"


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="session")
def server(site):
    """The built site served over HTTP on a free port of 127.0.0.1."""
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_QuietHandler, directory=str(site)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(scope="module")  # closed with this file: another file's sync_playwright() may follow in this worker
def browser():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("playwright is not installed: pip install -e '.[site]'")
    if not os.path.exists(CHROMIUM):
        unavailable("chromium is not installed: apt-get install chromium")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)  # a fresh temporary profile
        yield b
        b.close()


def test_every_lesson_has_a_page(site):
    for page in PAGES:
        assert (site / f"{page}.html").is_file(), f"{page}.html was not built"
    assert len(LESSONS) >= 13


def _visit(browser, url):
    """Load ``url``; returns (page, problems): console errors, page errors, failed or external requests."""
    problems = []
    context = browser.new_context()
    page = context.new_page()
    host = urlsplit(url).netloc

    def route(r):
        if urlsplit(r.request.url).netloc not in (host, ""):  # the site must not need the network
            problems.append(f"external request: {r.request.url}")
            return r.abort()
        return r.continue_()

    context.route("**/*", route)
    page.on("console", lambda m: m.type == "error" and problems.append(f"console error: {m.text}"))
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.on("requestfailed", lambda r: problems.append(f"request failed: {r.url} ({r.failure})"))
    page.on("response", lambda r: r.status >= 400 and problems.append(f"HTTP {r.status}: {r.url}"))
    page.goto(url, wait_until="load")
    page.wait_for_load_state("networkidle")
    return page, problems


IMAGES_JS = """() => Array.from(document.images).map(img => {
    const r = img.getBoundingClientRect();
    const s = getComputedStyle(img);
    return {src: img.currentSrc || img.src, complete: img.complete, w: img.naturalWidth,
            shown: r.width > 0 && r.height > 0 && s.visibility !== 'hidden' && s.display !== 'none',
            output: !!img.closest('.cell_output')};
})"""


@pytest.mark.parametrize("name", PAGES)
def test_page_in_browser(browser, server, site, name):
    page, problems = _visit(browser, urljoin(server, f"{name}.html"))
    try:
        for img in page.evaluate(IMAGES_JS):
            assert img["complete"] and img["w"] > 0, f"{name}: image did not load: {img['src']}"
            if img["output"]:
                assert img["shown"], f"{name}: figure is not visible: {img['src']}"
        errors = page.locator(".cell_output .traceback, .cell_output .output.error, div.output.traceback")
        assert errors.count() == 0, f"{name}: a cell shows an error:\n{errors.first.inner_text()[:2000]}"
        body = page.inner_text("body")
        assert "Traceback (most recent call last)" not in body, f"{name}: a traceback is shown"
        leaked = re.findall(r"site-packages/\S+: \w*Warning: [^\n]*", body)  # a library's warning in an output
        assert not leaked, f"{name}: a cell shows a warning from an installed package: {leaked[0]}"
        if page.locator(".math").count():  # MathJax (served by the site itself) typesets every formula
            page.wait_for_selector("mjx-container", state="attached", timeout=20_000)
        hrefs = page.eval_on_selector_all("a[href]", "els => els.map(a => a.href)")
        assert not problems, f"{name}: " + "\n".join(problems)
    finally:
        page.context.close()
    broken = [h for h in hrefs if urlsplit(h).netloc == urlsplit(server).netloc and not _resolves(site, server, h)]
    assert not broken, f"{name}: internal links that resolve to nothing: {broken}"


@functools.cache
def _ids(path: Path) -> frozenset:
    return frozenset(re.findall(r'\bid="([^"]+)"', path.read_text(encoding="utf-8", errors="replace")))


def _resolves(site: Path, base: str, href: str) -> bool:
    """An internal link names a file of the site, and its #anchor an element id on that page."""
    parts = urlsplit(href)
    rel = unquote(parts.path)[len(urlsplit(base).path) :]
    target = site / rel
    if target.is_dir():
        target = target / "index.html"
    if not target.is_file():
        return False
    if parts.fragment and target.suffix == ".html":
        return unquote(parts.fragment) in _ids(target)
    return True


def test_lessons_show_their_figures(site):
    """Every lesson's page shows at least one figure produced by executing its cells."""
    missing = []
    for name in LESSONS:
        html = (site / "notebooks" / f"{name}.html").read_text(encoding="utf-8")
        if not re.search(r'class="cell_output[^"]*"[\s\S]*?<img ', html):
            missing.append(name)
    assert not missing, f"lessons without a figure: {missing}"
