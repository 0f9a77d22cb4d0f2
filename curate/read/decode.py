"""Turn an HTML payload into text: charset from the HTTP header, then <meta>, then detection.

Labels are mapped the way browsers map them (WHATWG Encoding Standard): a page
labelled iso-8859-1 is decoded as windows-1252, gb2312 as gb18030, and so on,
because that is what the page's author saw.
"""

from __future__ import annotations

import codecs
import re

from charset_normalizer import from_bytes

# WHATWG Encoding Standard, "labels" table: legacy labels browsers decode with a superset.
_WHATWG_SUPERSETS = {
    "iso-8859-1": "cp1252", "latin1": "cp1252", "latin-1": "cp1252", "l1": "cp1252", "ascii": "cp1252",
    "us-ascii": "cp1252", "iso8859-1": "cp1252", "iso_8859-1": "cp1252", "windows-1252": "cp1252",
    "gb2312": "gb18030", "gbk": "gb18030", "gb_2312-80": "gb18030", "x-gbk": "gb18030", "cp936": "gb18030",
    "iso-8859-9": "cp1254", "latin5": "cp1254", "tis-620": "cp874", "iso-8859-11": "cp874",
    "ks_c_5601-1987": "cp949", "euc-kr": "cp949", "shift_jis": "cp932", "sjis": "cp932", "x-sjis": "cp932",
    "ms_kanji": "cp932", "big5": "big5hkscs", "utf8": "utf-8", "unicode-1-1-utf-8": "utf-8",
}

_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([a-zA-Z0-9_.:\-]+)""", re.I)
_HEADER_CHARSET = re.compile(r"""charset\s*=\s*["']?\s*([a-zA-Z0-9_.:\-]+)""", re.I)

# How far into the page to look for <meta charset> (HTML spec "prescan": the first 1024 bytes;
# real pages put it later, so look a little further).
META_PRESCAN_BYTES = 4096


def normalize_charset(label: str | None) -> str | None:
    """A Python codec name for a charset label, or None when Python does not know it."""
    if not label:
        return None
    label = label.strip().strip("\"'").lower()
    label = _WHATWG_SUPERSETS.get(label, label)
    try:
        return codecs.lookup(label).name
    except LookupError:
        return None


def charset_from_content_type(content_type: str | None) -> str | None:
    if not content_type:
        return None
    m = _HEADER_CHARSET.search(content_type)
    return m.group(1) if m else None


def charset_from_meta(payload: bytes) -> str | None:
    m = _META_CHARSET.search(payload[:META_PRESCAN_BYTES])
    return m.group(1).decode("ascii", "ignore") if m else None


def decode_html(payload: bytes, content_type: str | None) -> tuple[str, str, str]:
    """Decode bytes to str. Returns (text, codec, source) with source in
    http | meta | bom | detected | fallback; undecodable bytes become U+FFFD, never an exception."""
    if payload.startswith(codecs.BOM_UTF8):
        return payload[3:].decode("utf-8", "replace"), "utf-8", "bom"
    labels = (("http", charset_from_content_type(content_type)), ("meta", charset_from_meta(payload)))
    for source, label in labels:
        codec = normalize_charset(label)
        if codec is None:
            continue
        try:
            return payload.decode(codec), codec, source
        except (UnicodeDecodeError, LookupError):
            continue  # the label lies: try the next source
    try:
        return payload.decode("utf-8"), "utf-8", "detected"
    except UnicodeDecodeError:
        pass
    best = from_bytes(payload[:200_000]).best()
    if best is not None:
        codec = normalize_charset(best.encoding) or "utf-8"
        return payload.decode(codec, "replace"), codec, "detected"
    return payload.decode("utf-8", "replace"), "utf-8", "fallback"


def looks_like_html(content_type: str | None, payload: bytes) -> bool:
    """An HTML page by its Content-Type, or, when that is generic or missing, by its first bytes."""
    if content_type:
        ct = content_type.lower()
        if "html" in ct:
            return True
        if not any(generic in ct for generic in ("octet-stream", "unknown", "text/plain")):
            return False
    head = payload[:1024].lstrip().lower()
    return head.startswith((b"<!doctype html", b"<html", b"<?xml")) and b"<html" in payload[:4096].lower()
