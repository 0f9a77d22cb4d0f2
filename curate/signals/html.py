"""The lenient HTML parse the licence and opt-out detectors share."""

from __future__ import annotations

import lxml.etree
import lxml.html

_HTML_PARSER = lxml.html.HTMLParser(encoding="utf-8", recover=True)


def parse_html(html: str) -> lxml.html.HtmlElement | None:
    if not html or not html.strip():
        return None
    data = html.encode("utf-8", "surrogatepass") if isinstance(html, str) else html
    try:  # bytes + a fixed parser encoding: a str with an XML encoding declaration would raise
        return lxml.html.document_fromstring(data, parser=_HTML_PARSER)
    except (ValueError, lxml.etree.ParserError, lxml.etree.XMLSyntaxError):
        return None
