"""What the crawler said about itself: the `warcinfo` records of the WARC files a corpus read.

A warcinfo record (ISO 28500, WARC 1.1 section 6.4) carries `application/warc-fields` such as
`software` (the crawler, e.g. "Wget/1.21.4" or "Apache Nutch 1.17"), `robots` (its robots.txt
policy), `isPartOf` and `publisher` (a published crawl, e.g. "CC-MAIN-2020-34", "Common Crawl").
curate keeps one provenance row per warcinfo record with the file and byte offset, so the
disclosure reads each record back from where the row says it is, and checks the WARC-Record-ID.
A file that moved or changed is reported as unavailable; nothing is guessed in its place.
"""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import Any

import polars as pl

# Fields the disclosures use (WARC 1.1 section 6.4 names; `http-header-user-agent` is Heritrix's).
FIELDS = ("software", "http-header-user-agent", "robots", "isPartOf", "publisher", "operator", "description")
MAX_VALUE_CHARS = 300  # crawled text: bounded before it reaches any report


def parse_fields(payload: bytes) -> dict[str, str]:
    """`name: value` lines of an application/warc-fields block; the first of a repeated name wins."""
    out: dict[str, str] = {}
    wanted = {f.lower(): f for f in FIELDS}
    for line in payload.decode("utf-8", "replace").splitlines():
        name, sep, value = line.partition(":")
        key = wanted.get(name.strip().lower())
        if sep and key and key not in out and value.strip():
            out[key] = value.strip()[:MAX_VALUE_CHARS]
    return out


def _record_at(stream: Any, record_id: str | None) -> dict[str, str] | None:
    from warcio.archiveiterator import ArchiveIterator

    record = next(iter(ArchiveIterator(stream)), None)
    if record is None or record.rec_type != "warcinfo":
        return None
    found = (record.rec_headers.get_header("WARC-Record-ID") or "").strip().strip("<>")
    if record_id is not None and found != record_id:
        return None
    return parse_fields(record.content_stream().read())


def read_warcinfo(path: str, offset: int, record_id: str | None) -> dict[str, Any]:
    """The fields of the warcinfo record at `offset` of `path`, or the reason it cannot be read.

    Offsets are positions in the compressed file (one gzip member per record), or in the
    decompressed stream when curate had to read the file as one gzip member: both are tried.
    """
    entry: dict[str, Any] = {"file": Path(path).name, "path": path, "offset": offset, "record_id": record_id}
    if not Path(path).is_file():
        return {**entry, "fields": {}, "unavailable": "WARC file not found at the recorded path"}
    for opener in (open, gzip.open):
        try:
            with opener(path, "rb") as f:
                f.seek(offset)
                fields = _record_at(f, record_id)
        except Exception:  # noqa: BLE001 - a changed or unreadable file: try the other reading, then say so
            continue
        if fields is not None:
            return {**entry, "fields": fields}
    return {**entry, "fields": {}, "unavailable": "no warcinfo record with the recorded WARC-Record-ID there"}


def warcinfo_of(prov: pl.DataFrame) -> list[dict[str, Any]]:
    """Every warcinfo record the provenance lists, read back from its WARC file, in file order."""
    if "warc_type" not in prov.columns:
        return []
    rows = (prov.filter(pl.col("warc_type") == "warcinfo")
            .select("source_file", "source_sha256", "offset", "warc_record_id")
            .unique().sort(["source_file", "offset"]))
    return [{**read_warcinfo(r["source_file"], r["offset"], r["warc_record_id"]),
             "sha256": r["source_sha256"]} for r in rows.iter_rows(named=True)]


def published_as(fields: dict[str, str]) -> str | None:
    """The published crawl a WARC file belongs to (`isPartOf` / `publisher`), e.g. Common Crawl's."""
    parts = [fields[k] for k in ("publisher", "isPartOf") if fields.get(k)]
    return " ".join(parts) or None


def crawler_name(fields: dict[str, str]) -> str | None:
    return fields.get("software") or fields.get("http-header-user-agent")
