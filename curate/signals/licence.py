"""The Creative Commons licence a page declares (`link`/`a` rel=license, `meta`, or a footer link)."""

from __future__ import annotations

import re
from urllib.parse import urljoin, urlsplit

import lxml.html

from curate.signals.html import may_hold, parse_html

# creativecommons.org/licenses/<code>/<version>[/<jurisdiction>] and /publicdomain/{zero,mark}/<version>.
_CC_PATH = re.compile(
    r"^/(?:licenses|licences)/(?P<code>[a-z+-]+)/(?P<ver>\d\.\d)(?:/(?P<jur>[a-z]{2}(?:-[a-z]{2})?))?(?:/|$)"
    r"|^/publicdomain/(?P<pd>zero|mark)/(?P<pdver>\d\.\d)(?:/|$)"
)
_CC_CODES = {"by", "by-sa", "by-nd", "by-nc", "by-nc-sa", "by-nc-nd", "by-nd-nc", "sa", "nd", "nc", "nc-sa",
             "nd-nc", "sampling", "sampling+", "nc-sampling+", "devnations"}


def cc_license_id(href: str, base_url: str | None = None) -> str | None:
    """`https://creativecommons.org/licenses/by-sa/4.0/deed.en` -> `cc-by-sa-4.0` (SPDX-style, lower case).

    Relative links count only when `base_url` is on creativecommons.org (CC's own site footer).
    """
    href = (href or "").strip()
    if not _mentions_cc(href) and not (base_url and _mentions_cc(base_url)):
        return None  # neither can give a creativecommons.org host: no urljoin (most links of a page)
    try:  # a crawled URL may not parse ("http://[::1/x": an unclosed IPv6 literal): then no licence link
        if base_url:
            href = urljoin(base_url, href)
        parts = urlsplit(href)
    except ValueError:
        return None
    host = (parts.hostname or "").lower()
    if host not in ("creativecommons.org", "www.creativecommons.org"):
        return None
    m = _CC_PATH.match(parts.path.lower())
    if not m:
        return None
    if m.group("pd"):
        return f"cc0-{m.group('pdver')}" if m.group("pd") == "zero" else f"cc-pdm-{m.group('pdver')}"
    code = m.group("code")
    if code not in _CC_CODES:
        return None
    jur = f"-{m.group('jur')}" if m.group("jur") and m.group("jur") not in ("deed", "legalcode") else ""
    return f"cc-{code}-{m.group('ver')}{jur}"


_CC_HOST = "creativecommons"
# urlsplit removes these from anywhere in a URL (WHATWG), so they may split the host name.
_URL_REMOVED = "\t\r\n"
# What a page must hold somewhere for any rule below to fire: a creativecommons.org host, or the
# start of an SPDX id in a licence <meta> (`_SPDX_CC`: "CC-BY-...", "CC-PDM-...", "CC0-1.0").
_LICENCE_WORDS = (_CC_HOST, "cc-by", "cc-pdm", "cc0-1.0")


def _without_url_removed(text: str) -> str:
    for ch in _URL_REMOVED:
        text = text.replace(ch, "")
    return text


def _mentions_cc(url: str) -> bool:
    return _CC_HOST in _without_url_removed(url).lower()


def _rel_tokens(el: lxml.html.HtmlElement) -> set[str]:
    return {t.lower() for t in (el.get("rel") or "").split()}


def detect_license(html: str, base_url: str | None = None) -> tuple[str | None, str | None]:
    """The page's Creative Commons licence and where it was found, or (None, None).

    Precedence (strongest marking first, as in CC's own "ccREL" guidance):
    `link[rel=license]`, `a[rel=license]`, `meta[name=license]`, then plain `a[href]` links to a
    licence deed, of which the LAST counts (the page-wide notice sits in the footer; earlier links
    are usually image credits). A mention of "Creative Commons" or the cc: XML namespace is not one.
    """
    cc_site = base_url and _mentions_cc(base_url)
    if not may_hold(html, _LICENCE_WORDS, _URL_REMOVED) and not cc_site:
        return None, None  # no rule can fire: skip the parse (see curate/signals/html.py)
    root = parse_html(html)
    if root is None:
        return None, None
    for tag, where in (("link", "link[rel=license]"), ("a", "a[rel=license]")):
        for el in root.iter(tag):
            if "license" in _rel_tokens(el) and (lic := cc_license_id(el.get("href", ""), base_url)):
                return lic, where
    for el in root.iter("meta"):
        if (el.get("name") or "").strip().lower() in ("license", "dc.rights", "dcterms.license"):
            content = (el.get("content") or "").strip()
            lic = cc_license_id(content, base_url) or _spdx_cc(content)
            if lic:
                return lic, "meta[name=license]"
    found = None
    for el in root.iter("a"):
        if lic := cc_license_id(el.get("href", ""), base_url):
            found = lic
    return (found, "a[href]") if found else (None, None)


_SPDX_CC = re.compile(r"^(cc-(?:by(?:-nc)?(?:-sa|-nd)?|pdm)-\d\.\d|cc0-1\.0)$", re.I)


def _spdx_cc(value: str) -> str | None:
    """`<meta name="license" content="CC-BY-4.0">` (an SPDX id rather than a URL)."""
    return value.lower() if _SPDX_CC.match(value.strip()) else None
