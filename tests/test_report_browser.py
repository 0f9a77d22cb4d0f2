"""The run report in a real headless browser (Debian's chromium via playwright; `make browser`).

No console errors, no request that is not file:/data:, images decoded, a screenshot that is
not blank, and crawled text that reads `<script>` shows as text and never runs.
"""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import pytest
from demo_run import small_demo

pytestmark = pytest.mark.slow

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]

PAYLOAD = "<script>window.__pwned = 1</script>"
PROSE = [
    "The archive keeps every page that the crawler fetched, together with the headers that the server "
    "sent back.",
    "Readers who study the history of a site can compare two captures and see which paragraphs changed "
    "over time.",
    "Each capture is stored as a record with a date, an address and a digest, so that nothing is lost or "
    "mixed up.",
    "Librarians decide which sites to collect first, and they write down the reasons so that others can "
    "follow them.",
    "Researchers often need a stable copy of a page, because the live version may disappear without any "
    "warning.",
    "A good collection policy explains what is kept, for how long, and who may ask for a page to be "
    "removed again.",
    "Small institutions share their crawls with larger ones, which have the storage and the staff to "
    "keep them safe.",
    "Some pages change every minute, so the crawler visits them often and stores only the versions that "
    "differ.",
    "Scholars cite archived pages in their papers, and the citation points to the exact capture they "
    "have read.",
    "When a site closes down, its archived copy may be the only place where its words can still be found "
    "at all.",
]


def _xss_warc(path: Path) -> Path:
    """A WARC with one long page whose visible text quotes a script tag (escaped in the HTML, so the
    extracted text holds a literal `<script>`), plus a real script element that extraction must drop."""
    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    paras = "".join(f"<p>{p}</p>" for p in PROSE)
    quoted = PAYLOAD.replace("<", "&lt;").replace(">", "&gt;")
    body = (f"<html><head><title>Web archive notes</title><script>window.__pwned2 = 1</script></head><body>"
            f"<article><h1>Notes on keeping web archives</h1>"
            f"<p>A page may quote markup such as {quoted} in its text, and a report must show it as text.</p>"
            f"{paras}</article></body></html>").encode()
    with open(path, "wb") as f:
        w = WARCWriter(f, gzip=True)
        http = StatusAndHeaders("200 OK", [("Content-Type", "text/html; charset=utf-8")], protocol="HTTP/1.1")
        rec = w.create_warc_record("https://archive.example.org/notes.html", "response",
                                   payload=io.BytesIO(body), http_headers=http,
                                   warc_headers_dict={"WARC-Date": "2024-05-01T00:00:00Z"})
        w.write_record(rec)
    return path


def _open(report: Path, shot: Path) -> dict:
    """Load the report; return console errors, non-file/data requests, the page text and image sizes."""
    from playwright.sync_api import sync_playwright

    errors: list[str] = []
    external: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 900})
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on("request",
                    lambda r: None if r.url.startswith(("file:", "data:")) else external.append(r.url))
            page.goto(report.as_uri(), wait_until="load")
            page.screenshot(path=str(shot), full_page=True)
            result = {
                "errors": errors, "external": external, "text": page.inner_text("body"),
                "pwned": page.evaluate("typeof window.__pwned + '/' + typeof window.__pwned2"),
                "images": page.eval_on_selector_all("img",
                                                    "els => els.map(e => [e.naturalWidth, e.complete])"),
                "scripts": page.eval_on_selector_all("script", "els => els.length"),
            }
        finally:
            browser.close()
    return result


def _check_screenshot(shot: Path) -> None:
    from PIL import Image

    assert shot.stat().st_size > 20_000
    with Image.open(shot) as im:
        assert im.width >= 1000 and im.height >= 900
        colors = im.convert("RGB").getcolors(maxcolors=1 << 20)
        assert colors is None or len(colors) > 50  # text and plots, not a blank page


@pytest.fixture(scope="module")
def chromium():
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} missing: `make browser` installs Debian's chromium "
                    "(the `test` target runs it)")
    return CHROMIUM


def test_script_text_from_a_crawl_shows_as_text(chromium, tmp_path):
    from assay.report import write_report
    from curate import curate, load_config

    warc = _xss_warc(tmp_path / "xss.warc.gz")
    corpus = tmp_path / "run" / "corpus"
    curate([str(warc)], corpus, load_config(overrides={"workers": 1, "tokenize.enabled": True,
                                                       "tokenize.vocab_size": 300}))
    report = write_report(tmp_path / "run", {"corpus": corpus})
    html = report.read_text()
    assert PAYLOAD not in html and "&lt;script&gt;window.__pwned = 1&lt;/script&gt;" in html
    r = _open(report, tmp_path / "xss.png")
    assert PAYLOAD in r["text"]  # shown as text ...
    assert r["pwned"] == "undefined/undefined" and r["scripts"] == 0  # ... and nothing ran
    assert r["errors"] == [] and r["external"] == []
    _check_screenshot(tmp_path / "xss.png")


def test_demo_report_in_a_browser(chromium, tmp_path_factory, tmp_path):
    demo = small_demo(tmp_path_factory)
    r = _open(demo["report"], tmp_path / "demo.png")
    assert r["errors"] == [], r["errors"]
    assert r["external"] == [], r["external"]
    assert len(r["images"]) >= 5 and all(w > 0 and done for w, done in r["images"])
    for heading in ("Curation", "Training the tiny model", "Synthetic set and its gates", "AB 2013"):
        assert heading in r["text"]
    _check_screenshot(tmp_path / "demo.png")
    shutil.copy(tmp_path / "demo.png", demo["out"] / "report-screenshot.png")  # kept beside the report
