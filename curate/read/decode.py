"""Turn an HTML payload into text: charset from the HTTP header, then <meta>, then detection.

Labels are read the way browsers read them (WHATWG Encoding Standard, "names and labels", through
the `webencodings` table): a page labelled iso-8859-1 is decoded as windows-1252, gb2312 as
gb18030, and so on, because that is what the page's author saw. A label browsers do not know
(`utf-7`, `punycode`, Python-only codec names) is ignored, as a browser ignores it: besides
being wrong, some of those codecs are quadratic on hostile input (punycode: 55 s for 1 MB).
"""

from __future__ import annotations

import codecs
import re

import webencodings
from charset_normalizer import from_bytes

# Decoders browsers use for these WHATWG encodings: supersets (the standard's gbk decoder is gb18030;
# shift_jis, euc-kr and big5 are decoded with the Windows / HKSCS extensions in practice).
_SUPERSETS = {"gbk": "gb18030", "shift_jis": "cp932", "euc-kr": "cp949", "big5": "big5hkscs",
              "iso-8859-8-i": "iso8859-8", "windows-874": "cp874"}
# Encodings the standard decodes as "replacement" (they smuggle markup past filters) or as
# x-user-defined (no text meaning): refused.
_REFUSED = {"hz-gb-2312", "iso-2022-kr", "x-user-defined"}
# Python codecs the detector may name, mapped as the labels are (latin-1 is windows-1252 on the web).
_DETECTED = {"gbk": "gb18030", "gb2312": "gb18030", "shift_jis": "cp932", "euc_kr": "cp949",
             "big5": "big5hkscs", "latin-1": "cp1252", "iso8859-1": "cp1252", "ascii": "cp1252"}


def _web_codec(name: str) -> str:
    enc = webencodings.lookup(name)
    return codecs.lookup(_SUPERSETS.get(enc.name, enc.codec_info.name)).name


# Every Python codec a page may be decoded with: those of the standard's encodings.
WEB_CODECS = frozenset(_web_codec(n) for n in set(webencodings.LABELS.values()) if n not in _REFUSED)

_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([a-zA-Z0-9_.:\-]+)""", re.I)
_HEADER_CHARSET = re.compile(r"""charset\s*=\s*["']?\s*([a-zA-Z0-9_.:\-]+)""", re.I)

# How far into the page to look for <meta charset> (HTML spec "prescan": the first 1024 bytes;
# real pages put it later, so look a little further).
META_PRESCAN_BYTES = 4096


def normalize_charset(label: str | None) -> str | None:
    """The Python codec browsers decode a charset label with, or None when browsers do not know it."""
    if not label:
        return None
    enc = webencodings.lookup(label.strip().strip("\"'"))
    if enc is None or enc.name in _REFUSED:
        return None
    return _web_codec(enc.name)


def detected_codec(name: str | None) -> str | None:
    """The codec for a detector's guess, when it is one of the web's encodings."""
    try:
        codec = codecs.lookup(name or "").name
    except LookupError:
        return None
    codec = codecs.lookup(_DETECTED.get(codec, codec)).name
    return codec if codec in WEB_CODECS else None


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
        codec = detected_codec(best.encoding) or "utf-8"
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
