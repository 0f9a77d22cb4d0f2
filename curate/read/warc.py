"""Read WARC (and ARC, WET) files record by record, without ever losing one.

Every record the reader can see comes out as a `WarcRecord`, and every failure
(truncated member, bad gzip, not an archive at all) comes out as a `WarcRecord`
with `error` set, so the pipeline can write a provenance row for it. warcio is
the reader (the user's choice); a file warcio refuses because its gzip members
span several records is re-read through a plain gzip stream.
"""

from __future__ import annotations

import gzip
import hashlib
import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

from warcio.archiveiterator import ArchiveIterator
from warcio.exceptions import ArchiveLoadFailed

from curate.read.fsio import open_input

WARC_SUFFIXES = (".warc", ".warc.gz", ".arc", ".arc.gz", ".wet", ".wet.gz", ".warc.wet.gz")


@dataclass
class WarcRecord:
    """One record as the pipeline needs it. `payload` is the HTTP body (dechunked, decoded
    Content-Encoding) capped at `max_bytes`; `payload_bytes` is its true size when known."""

    index: int
    offset: int
    warc_type: str | None = None
    record_id: str | None = None
    date_raw: str | None = None
    url: str | None = None
    http_status: int | None = None
    http_headers: list[tuple[str, str]] = field(default_factory=list)
    content_type: str | None = None
    payload: bytes = b""
    payload_bytes: int = 0
    too_large: bool = False
    error: str | None = None  # set when the record (or the rest of the file) could not be read

    @property
    def date(self) -> datetime | None:
        return parse_warc_date(self.date_raw)

    @property
    def domain(self) -> str | None:
        return url_domain(self.url)


def parse_warc_date(raw: str | None) -> datetime | None:
    """WARC-Date is ISO 8601 (W3C profile); ClueWeb09 files carry malformed ones: those give None."""
    if not raw:
        return None
    text = raw.strip().replace("Z", "+00:00")
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def url_domain(url: str | None) -> str | None:
    if not url:
        return None
    try:
        host = urlsplit(url.strip()).hostname
    except ValueError:
        return None
    return host.lower().removeprefix("www.") if host else None


def fallback_doc_id(source_sha256: str, offset: int) -> str:
    """doc_id for a record without WARC-Record-ID: stable hash of (file sha256, byte offset)."""
    return "sha256:" + hashlib.sha256(f"{source_sha256}:{offset}".encode()).hexdigest()[:32]


def _clean_record_id(raw: str | None) -> str | None:
    if not raw:
        return None
    return raw.strip().strip("<>") or None


def _read_capped(stream: io.IOBase, max_bytes: int) -> tuple[bytes, int, bool]:
    """Read at most max_bytes, then count (and discard) the rest."""
    data = stream.read(max_bytes + 1)
    if len(data) <= max_bytes:
        return data, len(data), False
    total = len(data)
    while chunk := stream.read(1 << 20):
        total += len(chunk)
    return data[:max_bytes], total, True


def _convert(record, index: int, max_bytes: int) -> WarcRecord:  # noqa: ANN001 (warcio type)
    """Read what the pipeline needs from a warcio record (the caller fills in the offset)."""
    headers = record.rec_headers
    out = WarcRecord(
        index=index,
        offset=-1,
        warc_type=record.rec_type,
        record_id=_clean_record_id(headers.get_header("WARC-Record-ID")),
        date_raw=headers.get_header("WARC-Date"),
        url=headers.get_header("WARC-Target-URI"),
    )
    http = record.http_headers
    if http is not None and record.rec_type in ("response", "revisit"):
        out.http_headers = list(http.headers)
        status = (http.get_statuscode() or "").strip()
        out.http_status = int(status) if status.isdigit() else None
        out.content_type = http.get_header("Content-Type")
    else:
        out.content_type = headers.get_header("Content-Type")
    if record.rec_type in ("response", "resource", "conversion"):
        try:
            out.payload, out.payload_bytes, out.too_large = _read_capped(record.content_stream(), max_bytes)
        except Exception as exc:  # a broken chunked / gzip body: this record only
            out.error = f"unreadable-payload: {type(exc).__name__}: {exc}".strip()[:300]
            return out
        remaining = getattr(record.raw_stream, "limit", 0)
        if remaining:
            out.error = f"truncated-record: {remaining} of {record.length} block bytes missing"
    return out


def _iterate(stream, path: str, max_bytes: int, skip: int = 0) -> Iterator[WarcRecord]:  # noqa: ANN001
    it = ArchiveIterator(stream, arc2warc=True)
    index = 0
    for record in it:
        if index >= skip:
            offset = it.offset  # start of this record (warcio's get_record_offset() would consume it)
            rec = _convert(record, index, max_bytes)
            rec.offset = offset
            yield rec
        index += 1


def read_warc(path: str | Path, source_sha256: str, max_bytes: int = 5 << 20) -> Iterator[WarcRecord]:
    """Yield every record of a WARC/ARC/WET file, then one error record if reading stopped early."""
    path = str(path)
    emitted = 0
    last_offset = 0
    try:
        with open_input(path) as f:  # plain open() for local paths, fsspec for URLs
            for rec in _iterate(f, path, max_bytes):
                emitted += 1
                last_offset = rec.offset
                yield rec
        return
    except ArchiveLoadFailed as exc:
        message = " ".join(str(exc).split())
        if "non-chunked gzip" not in message:
            yield WarcRecord(index=emitted, offset=last_offset, error=f"unreadable-archive: {message}"[:300])
            return
    except Exception as exc:  # truncated gzip, EOF inside a record, ...
        yield WarcRecord(
            index=emitted, offset=last_offset, error=f"unreadable-archive: {type(exc).__name__}: {exc}"[:300]
        )
        return
    # One gzip member holds several records: warcio refuses it; read it as one decompressed stream
    # (offsets of these records are then positions in the decompressed stream).
    try:
        with open_input(path) as raw, gzip.open(raw, "rb") as f:
            for rec in _iterate(f, path, max_bytes, skip=emitted):
                emitted += 1
                yield rec
    except Exception as exc:
        yield WarcRecord(
            index=emitted, offset=last_offset, error=f"unreadable-archive: {type(exc).__name__}: {exc}"[:300]
        )


def is_warc_path(path: str | Path) -> bool:
    """Files a directory scan picks up: anything named like a web archive (even a `.bad` copy,
    which then yields error rows rather than being silently ignored)."""
    name = Path(path).name.lower()
    return any(tag in name for tag in (".warc", ".arc", ".wet"))
