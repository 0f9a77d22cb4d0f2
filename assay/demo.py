"""`assay demo`: the whole loop on a sample crawl that every Python installation can build.

The sample is made of the HTML pages `pydoc` renders for standard-library modules,
packed into a WARC by our own writer (warcio) with fixed dates and record ids, so
the demo ships no third-party text and gives the same crawl on every run.
"""

from __future__ import annotations

import io
import pydoc
import uuid
from pathlib import Path

from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

# Pure-Python stdlib modules with substantial docstrings (documentation-like prose).
SAMPLE_MODULES = (
    "abc", "argparse", "base64", "bisect", "calendar", "cmd", "codecs", "collections", "colorsys",
    "configparser", "contextlib", "copy", "csv", "dataclasses", "datetime", "decimal", "difflib",
    "email.message", "enum", "fileinput", "fnmatch", "fractions", "functools", "getopt", "gettext",
    "glob", "graphlib", "gzip", "hashlib", "heapq", "hmac", "html", "http.client", "imaplib",
    "ipaddress", "json", "keyword", "linecache", "locale", "logging", "mailbox", "mimetypes",
    "netrc", "numbers", "operator", "optparse", "pathlib", "pickle", "pprint", "queue", "quopri",
    "random", "re", "sched", "secrets", "selectors", "shelve", "shlex", "shutil", "smtplib",
    "socketserver", "statistics", "string", "struct", "subprocess", "tarfile", "tempfile",
    "textwrap", "threading", "timeit", "tokenize", "trace", "traceback", "turtle", "typing",
    "unittest", "urllib.parse", "uuid", "warnings", "wave", "weakref", "webbrowser", "zipfile",
)
SAMPLE_DATE = "2024-01-15T12:00:00Z"
SAMPLE_HOST = "https://docs.sample.invalid"


def _page(module_name: str) -> bytes | None:
    try:
        obj, name = pydoc.resolve(module_name)
    except (ImportError, pydoc.ErrorDuringImport):
        return None
    text = pydoc.html.page(pydoc.describe(obj), pydoc.html.document(obj, name))
    return text.encode("utf-8")


def _record_id(key: str) -> str:
    return f"<urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, 'assay-demo:' + key)}>"


def _write_response(writer: WARCWriter, url: str, body: bytes, content_type: str, key: str) -> None:
    http = StatusAndHeaders("200 OK", [("Content-Type", content_type), ("Content-Length", str(len(body)))],
                            protocol="HTTP/1.1")
    rec = writer.create_warc_record(
        url, "response", payload=io.BytesIO(body), http_headers=http,
        warc_headers_dict={"WARC-Date": SAMPLE_DATE, "WARC-Record-ID": _record_id(key)},
    )
    writer.write_record(rec)


def build_sample_crawl(path: str | Path, modules: tuple[str, ...] = SAMPLE_MODULES) -> Path:
    """Write a gzipped WARC of pydoc pages (+ a mirrored copy, a robots.txt and a request record,
    so the funnel shows duplicates and non-HTML records too). Deterministic bytes."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        writer = WARCWriter(f, gzip=True)
        info = writer.create_warcinfo_record(path.name, {"software": "assay demo", "format": "WARC/1.1"})
        info.rec_headers.replace_header("WARC-Date", SAMPLE_DATE)
        info.rec_headers.replace_header("WARC-Record-ID", _record_id("warcinfo"))
        writer.write_record(info)
        _write_response(writer, f"{SAMPLE_HOST}/robots.txt", b"User-agent: *\nAllow: /\n", "text/plain", "robots")
        for i, name in enumerate(modules):
            body = _page(name)
            if body is None:
                continue
            url = f"{SAMPLE_HOST}/library/{name}.html"
            _write_response(writer, url, body, "text/html; charset=utf-8", url)
            if i % 10 == 0:  # a mirror serving the same page: an exact duplicate for the demo
                mirror = f"https://mirror.sample.invalid/library/{name}.html"
                _write_response(writer, mirror, body, "text/html; charset=utf-8", mirror)
    return path


def run_demo(out: str | Path, warcs: list[str] | None = None, small: bool = False) -> Path:
    """Curate (and, as the other stages land, tokenize, train, generate, validate, disclose).
    Returns the path of the report."""
    from curate.config import load_config
    from curate.pipeline import curate

    out = Path(out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    if warcs is None:
        modules = SAMPLE_MODULES[:30] if small else SAMPLE_MODULES
        warcs = [str(build_sample_crawl(out / "sample-crawl" / "pydoc-sample.warc.gz", modules))]
    cfg = load_config(overrides={"workers": 2})
    corpus = out / "corpus"
    curate(warcs, corpus, cfg, overwrite=True, progress=True)
    return corpus / "report.html"
