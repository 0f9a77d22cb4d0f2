"""Hand-built WARC bytes for hostile-input tests: any header value, any length, one gzip member each.

warcio's writer refuses or repairs odd values (a non-ASCII status line, a wrong Content-Length), so the
tests that need them write records byte by byte here. The pages are real: paragraphs of a Python
documentation page from ../shared/data, so that a record that is read gets kept.
"""

from __future__ import annotations

import gzip
import uuid
from functools import cache

from warcio.archiveiterator import ArchiveIterator

from conftest import warc


@cache
def real_page(name: str = "tutorial/appetite.html") -> bytes:
    """The HTML of a real documentation page that the default chain keeps (a tutorial page)."""
    with open(warc("python-3.11-docs.warc.gz"), "rb") as f:
        for rec in ArchiveIterator(f):
            url = rec.rec_headers.get_header("WARC-Target-URI") or ""
            if rec.rec_type == "response" and url.endswith("/" + name):
                return rec.content_stream().read()
    raise AssertionError(f"{name} not in python-3.11-docs.warc.gz")


def http_block(body: bytes, status: bytes = b"200 OK", content_type: bytes = b"text/html; charset=utf-8",
               extra: bytes = b"") -> bytes:
    return (b"HTTP/1.1 " + status + b"\r\nContent-Type: " + content_type + b"\r\n" + extra
            + b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)


def record(url: bytes, block: bytes, date: bytes = b"2024-01-01T00:00:00Z", length: bytes | None = None,
           warc_type: bytes = b"response", extra: bytes = b"",
           content_type: bytes = b"application/http; msgtype=response") -> bytes:
    """One WARC/1.0 record; `length` overrides the true Content-Length."""
    rid = f"<urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, repr((url, date, len(block))))}>".encode()
    length = str(len(block)).encode() if length is None else length
    return (b"WARC/1.0\r\nWARC-Type: " + warc_type + b"\r\nWARC-Record-ID: " + rid + b"\r\nWARC-Date: " + date
            + b"\r\nWARC-Target-URI: " + url + b"\r\nContent-Type: " + content_type + b"\r\n"
            + extra + b"Content-Length: " + length + b"\r\n\r\n" + block + b"\r\n\r\n")


def page_record(i: int, **kw: bytes) -> bytes:
    """Record i: the real page at its own URL (so each is a distinct document)."""
    body = real_page().replace(b"<title>", f"<title>copy {i} ".encode(), 1)
    return record(f"https://docs.example/{i}".encode(), http_block(body), **kw)


def warc_gz(records: list[bytes]) -> bytes:
    """One gzip member per record (WARC 1.1 annex D), fixed mtime: the same bytes every time."""
    return b"".join(gzip.compress(r, mtime=0) for r in records)


def arc_file(pages: list[tuple[bytes, bytes]]) -> bytes:
    """An ARC v1 file (the Internet Archive's format before WARC): a filedesc record, then one
    `<url> <ip> <date> <content-type> <length>` record per (url, HTTP response block), gzipped per record."""
    head = b"1 0 assay tests\nURL IP-address Archive-date Content-type Archive-length\n"
    records = [b"filedesc://tests.arc 0.0.0.0 20240101000000 text/plain " + str(len(head)).encode() + b"\n"
               + head]
    for url, block in pages:
        records.append(url + b" 93.184.216.34 20240101000000 text/html " + str(len(block)).encode() + b"\n"
                       + block)
    return b"".join(gzip.compress(r + b"\n", mtime=0) for r in records)
