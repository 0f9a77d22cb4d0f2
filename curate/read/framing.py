"""Where records begin and end in a web-archive file, with caps, and where reading resumes after damage.

warcio parses each record; this module bounds what it may read and finds the next record when a
record cannot be read:

- `CappedIterator`: warcio's `ArchiveIterator` whose header lines are at most `LINE_CAP` bytes and
  whose record (WARC + HTTP) header block is at most `HEADER_CAP` bytes, so a header line without a
  newline cannot take unbounded memory; it notes when a record is not followed by its blank lines
  (a Content-Length that does not fit the record).
- `next_record_start`: the next byte offset, after a damaged stretch, where a record can be read: the
  next gzip member that decompresses to a record header (`.warc.gz` with one member per record, as the
  WARC standard recommends, annex D), or the next line that starts a record in an uncompressed file.
"""

from __future__ import annotations

import re
import zlib
from typing import IO

from warcio.archiveiterator import ArchiveIterator
from warcio.bufferedreaders import DecompressingBufferedReader
from warcio.recordloader import ARC2WARCHeadersParser

# Caps on what a record's headers may hold. Servers refuse far smaller request headers (Apache's
# LimitRequestFieldSize: 8 KiB a line, nginx: 8 KiB buffers); archived responses carry long CSP and
# Set-Cookie lines, so allow 64 KiB a line and 1 MiB for a record's WARC + HTTP header block.
LINE_CAP = 64 << 10
HEADER_CAP = 1 << 20
SCAN_CHUNK = 1 << 20  # bytes read at a time while looking for the next record
GZIP_MAGIC = b"\x1f\x8b\x08"  # RFC 1952: ID1 ID2 CM=deflate
# The first line of a record: "WARC/1.0" (WARC, WET), or an ARC v1 URL record line
# "<url> <ip> <14-digit date> <content-type> <length>" / the "filedesc://" line that opens an ARC file.
_RECORD_LINE = re.compile(rb"^(?:WARC/\d\.\d+\s*$|filedesc://|\S+ \S+ \d{12,14} \S+ -?\d+\s*$)")
# The same line, just after a newline (to find one in a stretch of an uncompressed file).
_LINE_RECORD = re.compile(rb"\n(?:WARC/\d\.\d+\r?\n|filedesc://|\S+ \S+ \d{12,14} \S+ -?\d+\r?\n)")
LINE_TAIL = 4096  # bytes kept from one chunk to the next, so a record line cut in two is still found


class HeaderTooLarge(Exception):
    """A header line or a record's header block is over its cap (LINE_CAP, HEADER_CAP)."""


class _CappedReader(DecompressingBufferedReader):
    """warcio's reader with every line capped at LINE_CAP and, while a record's headers are parsed,
    the header block capped at HEADER_CAP (`header_budget`)."""

    header_budget: int | None = None

    def readline(self, length: int | None = None) -> bytes:
        cap = LINE_CAP + 1 if not length or length > LINE_CAP + 1 else length
        line = super().readline(cap)
        if len(line) > LINE_CAP:
            raise HeaderTooLarge(f"a header line over {LINE_CAP} bytes")
        if self.header_budget is not None:
            self.header_budget -= len(line)
            if self.header_budget < 0:
                raise HeaderTooLarge(f"record headers over {HEADER_CAP} bytes")
        return line


class _ArcHeaders(ARC2WARCHeadersParser):
    """warcio's ARC -> WARC conversion without the WARC-Record-ID it invents (a random uuid4 per record):
    an ARC record has no id, so its doc_id is the stable hash of (file sha256, offset)
    (read/warc.fallback_doc_id) and reruns over ARC files are byte-identical."""

    def _get_protocol_and_headers(self, headerline, parts):  # noqa: ANN001, ANN202 (warcio's types)
        protocol, headers = super()._get_protocol_and_headers(headerline, parts)
        return protocol, [(k, v) for k, v in headers if k != "WARC-Record-ID"]


class CappedIterator(ArchiveIterator):
    """ArchiveIterator with capped headers; `length_mismatch` is set when the record just finished was
    not followed by its blank lines (its Content-Length does not match the bytes that follow)."""

    INC_RECORD = ""  # warcio prints a warning to stderr for that case; the row carries it instead

    def __init__(self, fileobj: IO[bytes], **kwargs: object) -> None:
        super().__init__(fileobj, arc2warc=True, **kwargs)
        self.loader.arc_parser = _ArcHeaders()
        self.reader = _CappedReader(self.fh, block_size=self.reader.block_size)
        self.length_mismatch = False

    def _iterate_records(self):  # noqa: ANN202
        """Skip blank lines first: a gzip member found by `next_record_start` may open with the blank
        lines that end the record before it (warcio would read them as an empty record)."""
        line = self.reader.readline()
        while line and not line.strip():
            line = self.reader.readline()
        if not line:
            return
        self.next_line = line
        yield from super()._iterate_records()

    def _next_record(self, next_line):  # noqa: ANN001, ANN202 (warcio's signature)
        self.reader.header_budget = HEADER_CAP
        try:
            return super()._next_record(next_line)
        finally:
            self.reader.header_budget = None

    def _consume_blanklines(self):  # noqa: ANN202
        errors = self.err_count
        self.reader.header_budget = HEADER_CAP  # blank lines between records: capped like headers
        try:
            result = super()._consume_blanklines()
        finally:
            self.reader.header_budget = None
        self.length_mismatch = self.err_count > errors
        return result


def starts_with_record(f: IO[bytes], gzipped: bool) -> bool:
    """Does the file open with a record (after blank lines), rather than being, say, plain text?"""
    if gzipped:
        return _member_starts_record(f, 0)
    return bool(_RECORD_LINE.match(_peek(f, 0, 4096).lstrip(b"\r\n").split(b"\n", 1)[0]))


def next_record_start(f: IO[bytes], after: int, gzipped: bool) -> int | None:
    """The first offset >= `after` where a record can be read, or None (end of file)."""
    return _next_member(f, after) if gzipped else _next_line(f, after)


def _scan(f: IO[bytes], after: int, needle: bytes):  # noqa: ANN202 (a generator of offsets)
    """Offsets >= `after` where `needle` occurs, reading SCAN_CHUNK bytes at a time."""
    pos, tail = after, b""
    f.seek(after)
    while chunk := f.read(SCAN_CHUNK):
        data = tail + chunk
        base = pos - len(tail)
        i = data.find(needle)
        while i >= 0:
            if base + i >= after:
                yield base + i
            i = data.find(needle, i + 1)
        tail = data[-(len(needle) - 1):] if len(needle) > 1 else b""
        pos += len(chunk)


def _next_member(f: IO[bytes], after: int) -> int | None:
    for offset in _scan(f, after, GZIP_MAGIC):
        if _member_starts_record(f, offset):
            return offset
    return None


def _peek(f: IO[bytes], offset: int, n: int) -> bytes:
    """n bytes at `offset`, leaving the file where it was (a scan is reading it)."""
    here = f.tell()
    f.seek(offset)
    data = f.read(n)
    f.seek(here)
    return data


def _member_starts_record(f: IO[bytes], offset: int) -> bool:
    """Does a gzip member start at `offset` and decompress to a record's first line?"""
    head = _peek(f, offset, 4096)
    try:
        text = zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(head, 1024)
    except zlib.error:
        return False
    return bool(_RECORD_LINE.match(text.lstrip(b"\r\n").split(b"\n", 1)[0]))


def _next_line(f: IO[bytes], after: int) -> int | None:
    """The first line start >= `after` that opens a record (one regex pass over each chunk)."""
    pos = max(after - 1, 0)  # the newline just before `after` may end the previous line
    tail = b""
    f.seek(pos)
    while chunk := f.read(SCAN_CHUNK):
        data, base = tail + chunk, pos - len(tail)
        for m in _LINE_RECORD.finditer(data):
            if base + m.start() + 1 >= after:
                return base + m.start() + 1
        tail, pos = data[-LINE_TAIL:], pos + len(chunk)  # a record line cut by the chunk's end
    return None
