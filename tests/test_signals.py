"""PII, licence and opt-out signals: positive and negative cases per type, and the real wget-crawl pages."""

from __future__ import annotations

import pytest
from warcio.archiveiterator import ArchiveIterator

from conftest import warc
from curate.signals import detect_license, detect_opt_out, detect_pii, redact_pii
from provenance.errors import ConfigError
from provenance.schema import PII_TYPES


def only(kind: str, text: str) -> int:
    counts = detect_pii(text)
    assert set(counts) == set(PII_TYPES)
    others = {k: v for k, v in counts.items() if k != kind and v}
    assert not others, f"unexpected {others} in {text!r}"
    return counts[kind]


@pytest.mark.parametrize(
    ("kind", "positive", "negative"),
    [
        ("email", "write to jane.doe+list@mail.example.co.uk or ops@example.org.",
         "logo@2x.png, user at example dot com, @handle"),
        ("phone", "call (212) 555-1234 or +44 20 7946 0958", "Python 3.11.7 on 2024-04-25, build 1234567890"),
        ("phone", "NANP 650-253-0000, intl +33 1 42 68 53 00",
         "ISBN 978-3-16-148410-0; 21 34 55 89 144 233 377 610 987 1597"),
        ("ip", "server 8.8.8.8 and 2607:f8b0:4005:80a::200e",
         "10.0.0.1 192.168.1.1 127.0.0.1 203.0.113.5 2001:db8::1 ::1 12:30:45"),
        ("ip", "ping 130.89.148.77 ok, dns 2001:4860:4860::8888",
         "Section 6.2.4.3, version 1.2.3.4, OID 1.3.101.110, see 12.2.1.1. Next"),
        ("credit_card", "card 4111 1111 1111 1111, amex 378282246310005",
         "4111 1111 1111 1112 (bad Luhn), 1234567812345670 (no issuer)"),
        ("ssn", "SSN 536-22-1234 or 123-45-6780",
         "000-12-3456 666-12-1234 912-12-1234 536-00-1234 536-22-0000"),
        ("iban", "pay GB82 WEST 1234 5698 7654 32 AND DE89370400440532013000",
         "GB82 WEST 1234 5698 7654 33, XX82WEST12345698765432"),
    ],
)
def test_pii_positive_and_negative(kind: str, positive: str, negative: str) -> None:
    assert only(kind, positive) == 2
    assert sum(detect_pii(negative).values()) == 0, detect_pii(negative)


def test_redaction_replaces_spans_and_counts() -> None:
    text = "Mail a@example.com, call (212) 555-1234, card 4111-1111-1111-1111, ip 8.8.8.8 (dns)."
    out, counts = redact_pii(text)
    assert out == "Mail <EMAIL>, call <PHONE>, card <CREDIT_CARD>, ip <IP_ADDRESS> (dns)."
    assert counts == {**dict.fromkeys(PII_TYPES, 0), "email": 1, "phone": 1, "credit_card": 1, "ip": 1}
    custom, _ = redact_pii(text, {"email": "[e]", "ip": None})
    assert "[e]" in custom and "8.8.8.8" in custom and "<PHONE>" in custom
    assert redact_pii("nothing here")[0] == "nothing here"
    with pytest.raises(ConfigError, match="unknown PII type"):
        redact_pii(text, {"mail": "x"})


@pytest.mark.parametrize(
    ("html", "expected"),
    [
        ('<a rel="license noopener" href="http://creativecommons.org/licenses/by/4.0/?ref=x">CC</a>',
         ("cc-by-4.0", "a[rel=license]")),
        ('<head><link rel="license" href="https://creativecommons.org/licenses/by-sa/4.0/deed.de"></head>',
         ("cc-by-sa-4.0", "link[rel=license]")),
        ('<meta name="license" content="https://creativecommons.org/publicdomain/zero/1.0/">',
         ("cc0-1.0", "meta[name=license]")),
        ('<p><a href="https://creativecommons.org/publicdomain/mark/1.0/">PDM</a></p>',
         ("cc-pdm-1.0", "a[href]")),
        ('<a href="https://creativecommons.org/licenses/by-nc-nd/3.0/us/legalcode">x</a>',
         ("cc-by-nc-nd-3.0-us", "a[href]")),
        # mere mentions, the cc: namespace, CC's home page or an unrelated rel=license: no licence
        ("<p>We love Creative Commons and creativecommons.org/licenses!</p>", (None, None)),
        ('<p xmlns:cc="http://creativecommons.org/ns#">Made with '
         '<a href="https://creativecommons.org/">CC</a></p>', (None, None)),
        ('<a rel="license" href="https://opensource.org/licenses/MIT">MIT</a>', (None, None)),
        ("", (None, None)),
        ("<<<not html at all", (None, None)),
    ],
)
def test_detect_license_cases(html: str, expected: tuple[str | None, str | None]) -> None:
    assert detect_license(html) == expected


def test_opt_out_signals() -> None:
    html = ('<head><meta name="tdm-reservation" content="1">'
            '<meta name="robots" content="index, noimageai"></head>')
    assert detect_opt_out(html, []) == {
        "tdm_reserved": True, "noai": True,
        "sources": ["meta[name=robots]:noimageai", "meta[name=tdm-reservation]"],
    }
    hdr = detect_opt_out("<p>x</p>", [("X-Robots-Tag", "googlebot: noai"), ("TDM-Reservation", "1")])
    assert hdr["tdm_reserved"] and hdr["noai"] and "http:x-robots-tag:noai" in hdr["sources"]
    # content="0" means rights NOT reserved; ordinary robots values are not an AI opt-out
    none = detect_opt_out('<meta name="tdm-reservation" content="0">'
                          '<meta name="robots" content="noindex, nofollow">',
                          [("X-Robots-Tag", "noarchive")])
    assert none == {"tdm_reserved": False, "noai": False, "sources": []}


def _responses(name: str):
    with open(warc(name), "rb") as f:
        for rec in ArchiveIterator(f):
            if rec.rec_type == "response":
                yield (rec.rec_headers.get_header("WARC-Target-URI"),
                       rec.content_stream().read().decode("utf-8", "replace"))


def test_licences_on_real_wget_crawl_pages() -> None:
    """The wget crawl links to creativecommons.org: pages that carry a licence get its id; mentions don't
    count."""
    found: dict[str, tuple[str | None, str | None]] = {}
    mentions = []
    for name in ("wget-crawl-2024-a.warc.gz", "wget-crawl-2024-b.warc.gz"):
        for url, html in _responses(name):
            found[url] = detect_license(html, base_url=url)
            if "creativecommons" in html.lower():
                mentions.append(url)
    # soldaini.net marks itself with CC's chooser snippet: <a rel="license" href=".../by/4.0/?ref=chooser-v1">
    assert found["https://soldaini.net/"] == ("cc-by-4.0", "a[rel=license]")
    # creativecommons.org pages: site footer "licensed under a <a href="/licenses/by/4.0/">" (the last deed
    # link; earlier links credit images under CC BY 2.0 / 3.0 / BY-NC-SA / PDM)
    cc_pages = [u for u in found if u.startswith("https://creativecommons.org/")]
    assert len(cc_pages) == 4
    assert all(found[u] == ("cc-by-4.0", "a[href]") for u in cc_pages)
    # everything else, including soldaini.net/facts (cc: namespace-free) and pages merely mentioning it: none
    licensed = {u for u, v in found.items() if v[0]}
    assert licensed == {"https://soldaini.net/", *cc_pages}
    assert len(found) >= 30 and set(mentions) >= licensed
    # without the page URL, CC's relative footer link can't be resolved, so image credits decide
    # (still a CC id)
    _, cc_home = next((u, h) for u, h in _responses("wget-crawl-2024-b.warc.gz") if u == "https://creativecommons.org/")
    assert detect_license(cc_home)[0].startswith("cc-")


def test_real_pages_pii_and_no_opt_out() -> None:
    counts = dict.fromkeys(PII_TYPES, 0)
    for name in ("wget-crawl-2024-a.warc.gz", "wget-crawl-2024-b.warc.gz"):
        for _, html in _responses(name):
            for k, v in detect_pii(html).items():
                counts[k] += v
            assert detect_opt_out(html, [])["sources"] == []  # no page of this crawl opts out
    # contact pages: info@creativecommons.org, +1-415-429-6753, (206) 543-1695 ...; no cards/SSNs/IBANs
    assert counts["email"] > 0 and counts["phone"] > 0
    assert counts["credit_card"] == counts["ssn"] == counts["iban"] == 0


# Markings a plain substring test on the markup would miss: the parser decodes character references
# (in a host, a meta name, a directive), urlsplit drops a tab or newline inside a host; an SPDX id
# in a meta; CC's own site footer (a relative link, resolved against the page URL).
HIDDEN_MARKINGS = [
    ('<a href="https://creativ&#101;commons.org/licenses/by/4.0/">x</a>', None),
    ('<a href="https://creative\tcommons.org/licenses/by-sa/4.0/">x</a>', None),
    ('<a href="https://creativecom&#x6d;ons.org/licenses/by-nc/3.0/de/">x</a>', None),
    ('<meta name="LICENSE" content="&#67;C-BY-SA-4.0">', None),
    ('<meta name="robots" content="&#110;oai">', None),
    ('<meta name="tdm&#45;reservation" content="1">', None),
    ('<a href="/licenses/by/4.0/">x</a>', "https://creativecommons.org/about/"),
]


@pytest.mark.parametrize(("html", "url"), HIDDEN_MARKINGS)
def test_skipping_the_parse_never_changes_a_signal(html: str, url: str | None,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """A page is parsed only when a marking could be in it (curate/signals/html.py `may_hold`); forcing
    the parse on every page gives the same licence and opt-out, on hidden markings and real pages."""
    import curate.signals.licence as licence
    import curate.signals.opt_out as opt_out

    pages = [(url, html)] + [(u, h) for u, h in _responses("wget-crawl-2024-b.warc.gz")][:40]
    skipped = [(detect_license(h, base_url=u), detect_opt_out(h)) for u, h in pages]
    for module in (licence, opt_out):
        monkeypatch.setattr(module, "may_hold", lambda *args: True)
    parsed = [(detect_license(h, base_url=u), detect_opt_out(h)) for u, h in pages]
    assert skipped == parsed
    assert skipped[0] != ((None, None), {"tdm_reserved": False, "noai": False, "sources": []})


def _may_hold_on_text(markup: str, words: tuple[str, ...], dropped: str = "") -> bool:
    """`may_hold` as first written, on the lower-cased str (the definition the bytes version keeps)."""
    import re

    low = markup.lower().replace("\x00", "")
    for c in dropped:
        low = low.replace(c, "")
    if any(w in low for w in words):
        return True
    chars = set("".join(words))
    for m in re.finditer(r"&#(?:[xX]0*([0-9a-fA-F]{1,8})|0*(\d{1,9}))", low):
        code = int(m.group(1), 16) if m.group(1) is not None else int(m.group(2))
        if code >= 0x110000 or chr(code).lower() in chars:
            return True
    return False


def test_may_hold_on_bytes_answers_as_on_the_lowered_text() -> None:
    """`may_hold` searches the UTF-8 bytes (3x faster): the same answers as on str.lower()'s text, also
    where a character past ASCII lowers to an ASCII letter (U+0130 to "i" + U+0307, Kelvin to "k")."""
    from curate.signals import html
    from curate.signals.licence import _LICENCE_WORDS, _URL_REMOVED
    from curate.signals.opt_out import _OPT_OUT_WORDS

    edges = ["NOA\u0130", "NO\u0130MAGEAI", "<meta content='\u212a noai'>", "cc-\u212aby", "CC\x00-BY-SA",
             "creative\tcommons\r\n", "creative&#x43;ommons", "&#x110000;", "&#78;OAI",
             "tdm-R\u00e9servation", "\ud800 creativecommons", "", "\u0130\u212a"]
    pages = edges + [h for _, h in _responses("wget-crawl-2024-b.warc.gz")][:60]
    for words, dropped in ((_LICENCE_WORDS, _URL_REMOVED), (_OPT_OUT_WORDS, "")):
        got = [html.may_hold(h, words, dropped) for h in pages]
        assert got == [_may_hold_on_text(h, words, dropped) for h in pages]
        assert True in got[:len(edges)] and False in got[:len(edges)]
    assert html.may_hold("NOA\u0130", _OPT_OUT_WORDS)  # "noai" + U+0307 holds "noai": sent to the parser


# The candidate patterns as first written (the boundary look-behind first); pii.py consumes the first
# character before the look-behind, so `re` can skip ahead to a possible first character (2x faster).
REFERENCE_CANDIDATES = {
    "_EMAIL": r"(?<![\w.%+-])[A-Za-z0-9][A-Za-z0-9._%+-]{0,63}@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}"
              r"[A-Za-z0-9])?\.)+([A-Za-z]{2,24})(?![\w-])",
    "_INTL": r"(?<![\w+])\+\d{1,3}(?:[ .-]?\(?\d{1,5}\)?){2,6}(?![\w.-]?\d)",
    "_IPV4": r"(?<![\w.])(?:\d{1,3}\.){3}\d{1,3}(?![\w.])",
    "_CARD": r"(?<![\w.-])\d(?:[ -]?\d){12,18}(?![\w]|[.-]\d)",
    "_SSN": r"(?<![\w.-])\d{3}-\d{2}-\d{4}(?![\w]|[.-]\d)",
    "_IBAN": r"(?<![\w])[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?(?![\w])",
}


@pytest.mark.parametrize("name", list(REFERENCE_CANDIDATES))
def test_pii_candidates_match_the_reference_patterns(name: str) -> None:
    import re

    from curate.signals import pii

    edge = ("a.b@x.org _c@x.org é1@x.org +1 415 429 6753 x+44 20 7946 0958 1.2.3.4 .8.8.8.8 a8.8.8.8 "
            "8.8.8.8.9 4111 1111 1111 1111 -4111111111111111 123-45-6789 .123-45-6789 "
            "GB82 WEST 1234 5698 7654 32 xGB82WEST12345698765432 ٣4111111111111111\n8.8.4.4")
    texts = [edge] + [h for _, h in _responses("wget-crawl-2024-a.warc.gz")][:30]
    ours, ref = getattr(pii, name), re.compile(REFERENCE_CANDIDATES[name])
    for text in texts:
        assert [m.span() for m in ours.finditer(text)] == [m.span() for m in ref.finditer(text)]
    assert any(ref.finditer(edge)) or name == "_IBAN" and ref.search(edge.replace("x", " "))


@pytest.mark.parametrize("cores", ["compiled", "regex"])
def test_pii_windows_find_what_a_full_scan_finds(cores: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The patterns scanned only around their cores (pii._CORES) give exactly the full scan's matches,
    on seeded strings made of the characters and pieces the patterns care about; with the cores found
    in C (as built) and with the regex cores (the fallback without a C compiler)."""
    import random

    from curate.signals import pii

    if cores == "regex":
        for pattern, (core, before, after) in pii._REGEX_CORES.items():
            monkeypatch.setitem(pii._CORES, pattern, (pii._spans_of(core), before, after))

    rng = random.Random(0)
    pieces = ["+1 ", "1-", "(555) ", "555-", "123.", "4567", "2001:db8::", "fe80:", ":", "::1", " ", "-", ".",
              "12", "8", "x", "212 ", "555.", "1234", "078-05-1120", "8.8.8.8", "1.2.3.", "v", "@", "ab@",
              "cd.com", "_", "%", "\n"]
    texts = ["".join(rng.choice(pieces) for _ in range(rng.randint(1, 60))) for _ in range(4000)]
    pieces += ["4111 ", "1111-", "411111", "٣", "١٢٣", "GB82", "WEST", "DE", "89", "AB1", "Z9",  # IBANs
               "GB82 WEST 1234 5698 7654 32", "DE89370400440532013000", "4111 1111 1111 1111"]
    texts += ["".join(rng.choice(pieces) for _ in range(rng.randint(1, 60))) for _ in range(4000)]
    for pattern in pii._CORES:
        full = [[m.span() for m in pattern.finditer(t)] for t in texts]
        assert sum(map(len, full)) > 20, pattern.pattern  # the strings do exercise the pattern
        assert [[m.span() for m in pii._matches(pattern, t)] for t in texts] == full, pattern.pattern


def test_pii_cores_found_in_c_are_the_regex_cores() -> None:
    """signals/_pii_cores.pyx gives the spans its regexes give (pii._REGEX_CORES), on seeded strings
    of digits (ASCII and Arabic-Indic), separators and capitals, and on the real pages."""
    import random
    import re

    from curate.signals import _pii_cores, pii

    rng = random.Random(1)
    pieces = ["1", "23", "4567", " ", "-", ".", "  ", "--", "٣", "x", "AB", "Z", "C9", "\n", "(", "é"]
    texts = ["".join(rng.choice(pieces) for _ in range(rng.randint(0, 80))) for _ in range(6000)]
    texts += [h for _, h in _responses("wget-crawl-2024-a.warc.gz")][:40]
    for pattern, spans in ((pii._CARD, _pii_cores.digit_chains), (pii._IBAN, _pii_cores.iban_starts),
                           (pii._NANP, _pii_cores.nanp_cores)):
        core = pii._REGEX_CORES[pattern][0]
        assert pii._CORES[pattern][0] is spans  # the compiled one is the one used
        expected = [list(map(re.Match.span, core.finditer(t))) for t in texts]
        assert sum(map(len, expected)) > 50, core.pattern
        assert [spans(t) for t in texts] == expected, core.pattern
