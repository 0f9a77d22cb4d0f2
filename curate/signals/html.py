"""The lenient HTML parse the licence and opt-out detectors share, and the test that skips it.

Most pages carry no licence or opt-out marking at all, and parsing a page with lxml costs more than
extracting its text with resiliparse. So each detector first asks `may_hold`: whether the words
its rules compare against could appear in the parsed page at all. When they cannot, the page is
not parsed and the answer is the same "nothing found" the parse would have given. When two
detectors both need the tree, `parse_html` caches it (the same page object: one parse).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache

import lxml.etree
import lxml.html

_HTML_PARSER = lxml.html.HTMLParser(encoding="utf-8", recover=True)
# A numeric character reference, in the UTF-8 markup. libxml2 decodes them in attribute values (its
# HTML 4 named entities spell no ASCII letter, digit or "-", so only numeric ones can hide a word).
_CHARREF = re.compile(rb"&#(?:[xX]0*([0-9a-fA-F]{1,8})|0*(\d{1,9}))")
# The only characters past ASCII that str.lower() maps to ASCII: U+0130 (to "i" + U+0307) and the
# Kelvin sign U+212A (to "k"). bytes.lower() maps ASCII alone, so a page holding either is lowered as text.
_LOWER_TO_ASCII = ("\u0130", "\u212a")


@lru_cache(maxsize=1)  # licence and opt-out ask for the same page back to back
def parse_html(html: str) -> lxml.html.HtmlElement | None:
    if not html or not html.strip():
        return None
    data = html.encode("utf-8", "surrogatepass") if isinstance(html, str) else html
    try:  # bytes + a fixed parser encoding: a str with an XML encoding declaration would raise
        return lxml.html.document_fromstring(data, parser=_HTML_PARSER)
    except (ValueError, lxml.etree.ParserError, lxml.etree.XMLSyntaxError):
        return None


@lru_cache(maxsize=1)  # licence and opt-out ask about the same page back to back
def _lowered(markup: str) -> bytes:
    """The markup lower-cased as the detectors compare (str.lower), in UTF-8, without NUL bytes.

    Bytes, not str: an ASCII word is in the lower-cased text exactly when its bytes are in these
    (every other character lowers to one past ASCII, UTF-8 bytes >= 0x80), and bytes.lower() and the
    searches below run 3x faster than on a str (1.4 -> 0.6 s on the 1,961 benchmark pages).
    """
    if any(c in markup for c in _LOWER_TO_ASCII):
        markup = markup.lower()
    low = markup.encode("utf-8", "surrogatepass").lower()
    return low.replace(b"\x00", b"") if b"\x00" in low else low


@lru_cache(maxsize=8)
def _searches(words: tuple[str, ...]) -> tuple[Callable[[bytes], object], ...]:
    """Searches that together find any of `words`: one per first letter. `re` scans for an
    alternation's common literal prefix with its fast substring search, so words sharing a first
    letter are one scan (the licence's four "c..." words over the 96 MB of the 1,961 benchmark
    pages: 0.08 s, four substring searches 0.17 s); an alternation without one is tried at every
    byte (opt-out's three words: 0.85 s against 0.15 s), so the letters stay apart."""
    groups: dict[str, list[bytes]] = {}
    for w in words:
        groups.setdefault(w[:1], []).append(w.encode())
    return tuple(re.compile(b"|".join(map(re.escape, group))).search if len(group) > 1
                 else _contains(group[0]) for group in groups.values())


def _contains(word: bytes) -> Callable[[bytes], bool]:
    return lambda low: word in low


def may_hold(markup: str, words: tuple[str, ...], dropped: str = "") -> bool:
    """False only when no attribute of the parsed page can contain any of `words` (lower-case ASCII).

    An attribute value is the markup's characters, so a word in it (compared lower-cased, as the
    detectors do) is in the lower-cased markup, unless a NUL byte (which libxml2 drops) splits it
    or a numeric character reference spells one of its characters: a reference to any character
    of the words (or to an out-of-range code point) sends the page to the parser. `dropped`: the
    characters a detector removes before comparing (urlsplit drops tab, CR and LF), which may
    split a word too: they are removed first (a word found without them is found with them too).
    The lower-cased markup is shared by the detectors of one page.
    """
    low = _lowered(markup)  # lower() maps no character to "&", "#" or a digit: the same references
    if dropped:
        low = low.translate(None, dropped.encode())
    if any(search(low) for search in _searches(words)):
        return True
    if b"&#" not in low:  # no reference at all (two pages in three)
        return False
    chars = set("".join(words))
    for hex_digits, digits in set(_CHARREF.findall(low)):  # a page repeats its few references
        code = int(hex_digits, 16) if hex_digits else int(digits)
        if code >= 0x110000 or chr(code).lower() in chars:
            return True
    return False
