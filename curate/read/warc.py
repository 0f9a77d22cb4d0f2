"""Read WARC (and ARC, WET) files record by record, without ever losing one.

Every record the reader can see comes out as a `WarcRecord`, and every failure
(truncated member, bad gzip, a Content-Length that does not fit, headers over their
caps, not an archive at all, an empty file) comes out as a `WarcRecord` with `error`
set, so the pipeline can write a provenance row for it. After a damaged stretch,
reading resumes at the next record (`curate.read.framing`); the error row names the
bytes skipped. warcio is the parser (the user's choice); a file warcio refuses
because its gzip members span several records is re-read through a plain gzip stream.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO
from urllib.parse import urlsplit

from warcio.exceptions import ArchiveLoadFailed

from curate.read.framing import CappedIterator, next_record_start, starts_with_record
from curate.read.fsio import open_input


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
    """WARC-Date is ISO 8601 (W3C profile); malformed ones (ClueWeb09) and ones outside the years
    1-9999 once in UTC (`9999-12-31T23:59:59-01:00`) give None, never an exception."""
    if not raw:
        return None
    text = raw.strip().replace("Z", "+00:00")
    try:
        value = datetime.fromisoformat(text)
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.astimezone(UTC)
    except (ValueError, OverflowError):
        return None


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


_STATUS = re.compile(r"[0-9]{3}")  # RFC 9110 status-code: three ASCII digits (str.isdigit takes "²00")


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
    try:
        _read_http(record, out, max_bytes)
    except Exception as exc:  # a broken chunked / gzip body, odd header values: this record only
        out.error = f"unreadable-payload: {type(exc).__name__}: {exc}".strip()[:300]
    return out


def _read_http(record, out: WarcRecord, max_bytes: int) -> None:  # noqa: ANN001
    headers, http = record.rec_headers, record.http_headers
    if http is not None and record.rec_type in ("response", "revisit"):
        out.http_headers = list(http.headers)
        status = (http.get_statuscode() or "").strip()
        out.http_status = int(status) if _STATUS.fullmatch(status) else None
        out.content_type = http.get_header("Content-Type")
    else:
        out.content_type = headers.get_header("Content-Type")
    if record.rec_type in ("response", "resource", "conversion"):
        out.payload, out.payload_bytes, out.too_large = _read_capped(record.content_stream(), max_bytes)
        remaining = getattr(record.raw_stream, "limit", 0)
        if remaining:
            out.error = f"truncated-record: {remaining} of {record.length} block bytes missing"


def _stretch(start: int, end: int | None) -> str:
    return f"bytes {start}-{'end' if end is None else end - 1}"


def _segment(f: IO[bytes], pos: int, index: int, gzipped: bool, max_bytes: int,
             skipped: list[int | None]) -> Iterator[WarcRecord]:
    """Records from `pos` until the end or the first damage; then `skipped` holds where reading resumes
    (None: the end of the file) and the last record yielded is an error row naming the damaged bytes."""
    f.seek(pos)
    it = CappedIterator(f)
    last = pos - 1
    try:
        for record in it:
            rec = _convert(record, index, max_bytes)
            rec.offset = last = it.offset  # start of this record (before read_to_end moves it)
            damage = _finish(it)
            if damage:
                resume = next_record_start(f, rec.offset + 1, gzipped)
                rec.error = rec.error or f"unreadable-record: {damage}; {_stretch(rec.offset, resume)}"[:300]
                skipped.append(resume)
                yield rec
                return
            yield rec
            index += 1
    except ArchiveLoadFailed as exc:
        if "non-chunked gzip" in str(exc):
            raise
        damage = " ".join(str(exc).split())
    except Exception as exc:  # noqa: BLE001 - truncated gzip, EOF inside a record, caps, ...
        damage = f"{type(exc).__name__}: {exc}"
    else:
        skipped.append(None)
        return
    start = max(it.offset, last + 1)
    resume = next_record_start(f, start + 1, gzipped)
    skipped.append(resume)
    error = f"unreadable-archive: {damage}; {_stretch(start, resume)}"
    yield WarcRecord(index=index, offset=start, error=error[:300])


def _finish(it: CappedIterator) -> str | None:
    """Read to the end of the current record; what is wrong with its framing, if anything."""
    try:
        it.read_to_end()
    except Exception as exc:  # noqa: BLE001
        return f"{type(exc).__name__}: {exc}"
    return "Content-Length does not match the record" if it.length_mismatch else None


def read_warc(path: str | Path, source_sha256: str, max_bytes: int = 5 << 20) -> Iterator[WarcRecord]:
    """Yield every record of a WARC/ARC/WET file; each damaged stretch is one error record naming its
    bytes, and reading resumes at the next record (or gzip member) after it."""
    path = str(path)
    with open_input(path) as f:  # plain open() for local paths, fsspec for URLs
        head = f.read(2)
        if not head:
            yield WarcRecord(index=0, offset=0, error="empty-file: 0 bytes")
            return
        gzipped = head == b"\x1f\x8b"
        if not starts_with_record(f, gzipped):
            yield WarcRecord(index=0, offset=0, error="not-an-archive: the file does not start with a "
                                                      "WARC or ARC record")
            return
        emitted, pos = 0, 0
        try:
            while pos is not None:
                skipped: list[int | None] = []
                for rec in _segment(f, pos, emitted, gzipped, max_bytes, skipped):
                    emitted += 1
                    yield rec
                pos = skipped[0]
            return
        except ArchiveLoadFailed:  # one gzip member holds several records: read it as one stream below
            pass
    yield from _gzip_stream(path, max_bytes, emitted)


def _gzip_stream(path: str, max_bytes: int, skip: int) -> Iterator[WarcRecord]:
    """A gzip member holding several records (warcio refuses it): the file as one decompressed stream
    (offsets of these records are then positions in the decompressed stream)."""
    emitted, last_offset = skip, 0
    try:
        with open_input(path) as raw, gzip.open(raw, "rb") as f:
            it = CappedIterator(f)
            for index, record in enumerate(it):
                if index >= skip:
                    rec = _convert(record, index, max_bytes)
                    rec.offset = last_offset = it.offset
                    emitted += 1
                    yield rec
    except Exception as exc:  # noqa: BLE001
        yield WarcRecord(
            index=emitted, offset=last_offset + 1,
            error=f"unreadable-archive: {type(exc).__name__}: {exc}"[:300])


_ARCHIVE_NAME = re.compile(r"\.(?:warc|arc|wet)(?:\.gz)?(?:\.[^.]+)?$", re.IGNORECASE)


def is_warc_path(path: str | Path) -> bool:
    """Files a directory scan picks up: names ending like a web archive (`.warc.gz`, `.arc`, `.wet`...),
    also with one more suffix (a `.bad` copy then yields error rows rather than being silently ignored);
    `project.architecture.md` is not one."""
    return bool(_ARCHIVE_NAME.search(Path(path).name))
