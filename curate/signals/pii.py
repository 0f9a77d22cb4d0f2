"""Personal information in text: find, count and redact emails, phone numbers, IPs, cards, SSNs, IBANs.

Detection is candidate regex -> validator, tuned against false positives in
documentation pages (version numbers, dates, ids):
- phone: NANP or `+CC` shaped candidates, validated by libphonenumber (`phonenumbers`);
- IP: dotted/colon candidates validated by `ipaddress`, public (global) addresses only;
- card: 13-19 digits, issuer prefix (ISO/IEC 7812 IIN ranges) and Luhn (`stdnum.luhn`);
- SSN: dashed form only, SSA rules (no 000/666/9xx area, 00 group, 0000 serial; `stdnum.us.ssn`);
- IBAN: ISO 13616 country length/format and mod-97 (`stdnum.iban`).
"""

from __future__ import annotations

import bisect
import ipaddress
import re
from collections.abc import Callable, Iterable, Iterator

import phonenumbers
from stdnum import iban as _iban
from stdnum import luhn as _luhn
from stdnum.us import ssn as _ssn

from provenance.errors import ConfigError
from provenance.schema import PII_TYPES

# Placeholders in the style of Presidio / the BigScience PII pipeline ("<EMAIL>").
DEFAULT_PLACEHOLDERS: dict[str, str] = {
    "email": "<EMAIL>",
    "phone": "<PHONE>",
    "ip": "<IP_ADDRESS>",
    "credit_card": "<CREDIT_CARD>",
    "ssn": "<US_SSN>",
    "iban": "<IBAN>",
}

# --- candidates -------------------------------------------------------------------------------------

# RFC 5322 "dot-atom" local part, a dotted host with an alphabetic TLD.
_EMAIL = re.compile(
    r"[A-Za-z0-9](?<![\w.%+-].)[A-Za-z0-9._%+-]{0,63}@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+"
    r"([A-Za-z]{2,24})(?![\w-])"
)
# "logo@2x.png" is a retina image name, not an address.
_FILE_TLDS = {"png", "jpg", "jpeg", "gif", "svg", "webp", "css", "js", "ico", "avif", "bmp", "tif", "tiff"}

# North American Numbering Plan: (NXX) NXX-XXXX / NXX-NXX-XXXX with one consistent separator,
# optional +1 / 1 prefix. Digits glued to other digits, dots or dashes (ids, versions) don't match,
# nor a run inside a longer space-separated number sequence ("377 610 987 1597").
_NANP = re.compile(
    r"(?<![\w.+/-])(?<!\d )(?:\+?1[ .-]?)?"
    r"(?:\(\d{3}\)[ ]?\d{3}[ .-]\d{4}|\d{3}([ .-])\d{3}\1\d{4})(?![\w.-]?\d| \d)"
)
# International form (E.164 with separators): "+CC" then groups; libphonenumber checks the rest.
_INTL = re.compile(r"\+(?<![\w+]\+)\d{1,3}(?:[ .-]?\(?\d{1,5}\)?){2,6}(?![\w.-]?\d)")

# A trailing "." is refused too: "12.2.1.1." is a section number in documentation, far more often
# than an address that ends a sentence.
_IPV4 = re.compile(r"\d(?<![\w.]\d)\d{0,2}\.(?:\d{1,3}\.){2}\d{1,3}(?![\w.])")
# "version 1.2.3.4", "v1.2.3.4", "release 2.6.32.1": four-part version numbers, not addresses.
# Likewise "Section 6.2.4.3", "OID 1.3.101.110", "RFC 7540 8.1.2.4" (section numbers and OIDs of the
# documentation WARCs, in several languages).
_VERSION_BEFORE = re.compile(
    r"(?i)(?:\bversions?|\brelease|\bv|\bbuild|\bupdate|\bsections?|\bsecci[oó]n|\babschnitt|\bchapitre"
    r"|\bchapters?|\bkapitel|\bcap[ií]tulo|\bраздел|§|第|\boid|\brfc\s*\d+)[\s\xa0:.(]*$"
)
_IPV6 = re.compile(r"(?<![\w:.])(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{0,4}(?![\w:])")
# Global unicast space actually allocated by IANA (RFC 4291 / 3587); rules out "dead::beef"-like tokens.
_IPV6_GLOBAL_UNICAST = ipaddress.ip_network("2000::/3")

_CARD = re.compile(r"\d(?<![\w.-]\d)(?:[ -]?\d){12,18}(?![\w]|[.-]\d)")
_SSN = re.compile(r"\d(?<![\w.-]\d)\d{2}-\d{2}-\d{4}(?![\w]|[.-]\d)")
_IBAN = re.compile(r"[A-Z](?<!\w.)[A-Z]\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?(?![\w])")


def _card_issuer_ok(digits: str) -> bool:
    """Issuer prefix and length (ISO/IEC 7812 IINs of the major networks)."""
    n = len(digits)
    p2, p3, p4, p6 = int(digits[:2]), int(digits[:3]), int(digits[:4]), int(digits[:6])
    if digits[0] == "4":  # Visa
        return n in (13, 16, 19)
    if 51 <= p2 <= 55 or 2221 <= p4 <= 2720:  # Mastercard
        return n == 16
    if p2 in (34, 37):  # American Express
        return n == 15
    if p4 == 6011 or p2 == 65 or 644 <= p3 <= 649 or 622126 <= p6 <= 622925:  # Discover
        return 16 <= n <= 19
    if 3528 <= p4 <= 3589:  # JCB
        return 16 <= n <= 19
    if 300 <= p3 <= 305 or p2 in (36, 38, 39) or p4 == 3095:  # Diners Club
        return 14 <= n <= 19
    if p2 == 62:  # UnionPay
        return 16 <= n <= 19
    return False


def _valid_card(s: str) -> bool:
    digits = re.sub(r"[ -]", "", s)
    groups = re.split(r"[ -]", s)
    # Printed cards are grouped 4-4-4-4 (or Amex 4-6-5); other groupings are ids / phone-like runs.
    printed = all(len(g) == 4 for g in groups[:-1]) or [len(g) for g in groups] == [4, 6, 5]
    if len(groups) > 1 and not printed:
        return False
    return 13 <= len(digits) <= 19 and _card_issuer_ok(digits) and _luhn.is_valid(digits)


def _valid_phone(s: str) -> bool:
    try:
        number = phonenumbers.parse(s, "US")
    except phonenumbers.NumberParseException:
        return False
    return phonenumbers.is_valid_number(number)


def _valid_ip(s: str) -> bool:
    try:
        addr = ipaddress.ip_address(s)
    except ValueError:
        return False
    if addr.version == 6:
        if s.count(":") < 2 or addr.ipv4_mapped is not None or addr not in _IPV6_GLOBAL_UNICAST:
            return False
    # is_global excludes private, loopback, link-local, shared, reserved and documentation ranges.
    return addr.is_global and not addr.is_multicast


def _valid_ipv4(m: re.Match[str]) -> bool:
    """A public IPv4 address not preceded by a word that makes it a version or section number."""
    return _valid_ip(m.group(0)) and not _VERSION_BEFORE.search(m.string[max(0, m.start() - 24):m.start()])


def _valid_email(m: re.Match[str]) -> bool:
    return m.group(1).lower() not in _FILE_TLDS


def _shrinking(valid):
    """Validator that also tries the candidate cut back at separators (a greedy regex may have
    swallowed a following word or number: "GB82 WEST 1234 5698 7654 32 AND")."""

    def check(m: re.Match[str]) -> int:
        cand = m.group(0)
        while True:
            if valid(cand):
                return len(cand)
            cut = max(cand.rfind(" "), cand.rfind("-"), cand.rfind("."))
            if cut <= 4:
                return 0
            cand = cand[:cut].rstrip(" .-(")

    return check


def _whole(valid):
    return lambda m: len(m.group(0)) if valid(m) else 0


# Order matters: longer, more specific shapes claim their span first (an IBAN or card is not a phone).
_DETECTORS: tuple[tuple[str, re.Pattern[str], Callable[[re.Match[str]], int]], ...] = (
    ("email", _EMAIL, _whole(_valid_email)),
    ("iban", _IBAN, _shrinking(_iban.is_valid)),
    ("credit_card", _CARD, _whole(lambda m: _valid_card(m.group(0)))),
    ("ssn", _SSN, _whole(lambda m: _ssn.is_valid(m.group(0)))),
    ("phone", _INTL, _shrinking(_valid_phone)),
    ("phone", _NANP, _whole(lambda m: _valid_phone(m.group(0)))),
    ("ip", _IPV6, _whole(lambda m: _valid_ip(m.group(0)))),
    ("ip", _IPV4, _whole(_valid_ipv4)),
)

# A character every match of the pattern contains: a text without it is not scanned.
_NEEDS: dict[re.Pattern[str], str] = {_EMAIL: "@", _INTL: "+", _SSN: "-", _IPV6: ":", _IPV4: "."}

# Where a pattern can match at all. `re` cannot skip ahead to the first character of a pattern that
# begins with a look-behind, and one that begins with a class as common as a digit it tries at every
# such position (NANP and IPv6 were two thirds of find_pii's time on the documentation
# pages; then cards, IBANs and NANP three quarters). Every match contains one of its core's matches
# and lies within `before` characters before it and `after` after it, so scanning only those
# windows finds the same matches. (core, before, after), the cores as regexes:
_REGEX_CORES: dict[re.Pattern[str], tuple[re.Pattern[str], int, int]] = {
    # the "@" and the host after it; the local part is at most 64 characters.
    _EMAIL: (re.compile(r"@[A-Za-z0-9.-]*"), 64, 0),
    # an IBAN begins with two capitals and two digits, and is at most 43 characters long.
    _IBAN: (re.compile(r"[A-Z](?=[A-Z]\d\d)"), 0, 42),
    # 13 to 19 digits joined by single spaces or dashes: inside a maximal such chain of 13 or more.
    _CARD: (re.compile(r"\d(?:[ -]?\d){12,}"), 0, 0),
    # "(NXX) NXX-XXXX" / "NXX-NXX-XXXX" end with NXX[ .-]XXXX; "+1 (NXX) " is at most 9 before it.
    _NANP: (re.compile(r"\d(?=\d\d[ .-]\d{4})"), 9, 7),
    # two colons with at most 4 hex digits between; a match has at most 7 groups of 5 and 4 more.
    _IPV6: (re.compile(r":(?=[0-9A-Fa-f]{0,4}:)"), 39, 39),
    _SSN: (re.compile(r"-(?=\d\d-\d{4})"), 3, 7),  # AAA-GG-SSSS: the first dash
    _IPV4: (re.compile(r"\.(?=\d{1,3}\.\d{1,3}\.\d)"), 3, 11),  # the first of its three dots
}
_LOOK_AHEAD = 8  # characters past a window the patterns' look-aheads may read

CoreSpans = Callable[[str], Iterable[tuple[int, int]]]


def _spans_of(core: re.Pattern[str]) -> CoreSpans:
    return lambda text: map(re.Match.span, core.finditer(text))


# The cores' (start, end) spans, from the regexes or, for the three `re` is slowest at, from one pass
# in C (signals/_pii_cores.pyx, built by `make install`): the same spans. On the 1,961 benchmark
# pages find_pii takes 0.3 s instead of 0.95 s.
_CORES: dict[re.Pattern[str], tuple[CoreSpans, int, int]] = {
    p: (_spans_of(core), before, after) for p, (core, before, after) in _REGEX_CORES.items()
}
try:
    from curate.signals import _pii_cores

    for _pattern, _spans in ((_CARD, _pii_cores.digit_chains), (_IBAN, _pii_cores.iban_starts),
                             (_NANP, _pii_cores.nanp_cores)):
        _CORES[_pattern] = (_spans, *_REGEX_CORES[_pattern][1:])
except ImportError:  # a source tree run without building it
    pass


def _matches(pattern: re.Pattern[str], text: str) -> Iterator[re.Match[str]]:
    """pattern.finditer(text), scanning only the windows around its core where it has one.

    Look-behinds read the text before a window's start (`re` looks behind `pos`), and each window
    ends `_LOOK_AHEAD` past the last place a match can end, so the same matches are found."""
    if pattern not in _CORES:
        yield from pattern.finditer(text)
        return
    spans, before, after = _CORES[pattern]
    start = end = -1
    for lo, hi in spans(text):
        lo, hi = max(0, lo - before), hi + after
        if lo > end:  # a new window: scan the last one
            if end >= 0:
                yield from pattern.finditer(text, start, end + _LOOK_AHEAD)
            start = lo
        end = max(end, hi)
    if end >= 0:
        yield from pattern.finditer(text, start, end + _LOOK_AHEAD)


def find_pii(text: str) -> list[tuple[int, int, str]]:
    """Non-overlapping (start, end, type) spans of personal information, sorted by start.

    Each detector's candidates are checked against the spans earlier detectors took with a binary
    search (O(log n) a candidate: a page with 48,000 addresses took 56 s with a linear scan)."""
    taken: list[tuple[int, int, str]] = []  # sorted, non-overlapping: ends increase with starts
    for kind, pattern, valid in _DETECTORS:
        if pattern in _NEEDS and _NEEDS[pattern] not in text:
            continue
        starts = [s for s, _, _ in taken]
        found = []
        for m in _matches(pattern, text):  # one pattern's matches never overlap each other
            i = bisect.bisect_left(starts, m.end())  # taken spans that start before this match ends
            if (i == 0 or taken[i - 1][1] <= m.start()) and (n := valid(m)):
                found.append((m.start(), m.start() + n, kind))
        if found:
            taken = sorted(taken + found)
    return taken


def detect_pii(text: str) -> dict[str, int]:
    """Counts per PII type (keys exactly provenance.schema.PII_TYPES)."""
    counts = {t: 0 for t in PII_TYPES}
    for _, _, kind in find_pii(text or ""):
        counts[kind] += 1
    return counts


def redact_pii(text: str, placeholders: dict[str, str] | None = None) -> tuple[str, dict[str, int]]:
    """Replace each PII span with its placeholder; returns (text, counts redacted).

    `placeholders` overrides DEFAULT_PLACEHOLDERS per type; a type mapped to None is left in place.
    """
    table = {**DEFAULT_PLACEHOLDERS, **(placeholders or {})}
    unknown = set(table) - set(PII_TYPES)
    if unknown:
        raise ConfigError(f"unknown PII type(s) in placeholders: {sorted(unknown)}; known: {list(PII_TYPES)}")
    counts = {t: 0 for t in PII_TYPES}
    out, pos = [], 0
    for start, end, kind in find_pii(text or ""):
        if table[kind] is None:
            continue
        out += [text[pos:start], table[kind]]
        pos = end
        counts[kind] += 1
    out.append((text or "")[pos:])
    return "".join(out), counts
