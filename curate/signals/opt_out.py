"""AI opt-out signals of a page: TDMRep `tdm-reservation` and robots `noai` / `noimageai` directives."""

from __future__ import annotations

from curate.signals.html import may_hold, parse_html

# TDMRep (W3C community group report, 2024): tdm-reservation = 1 reserves text-and-data-mining rights.
# "noai" / "noimageai": the robots directives proposed by DeviantArt (2022) and honoured by several crawlers.
_NOAI = {"noai", "noimageai"}
_OPT_OUT_WORDS = ("tdm-reservation", *_NOAI)  # a page without any of them needs no parse


def _robots_tokens(value: str) -> list[str]:
    """`googlebot: noai, noimageai` -> ["noai", "noimageai"] (a leading user-agent is dropped)."""
    tokens = []
    for raw in value.split(","):
        tok = raw.strip().lower()
        if ":" in tok:  # "ua: directive" (X-Robots-Tag), keep the directive
            tok = tok.rsplit(":", 1)[1].strip()
        if tok:
            tokens.append(tok)
    return tokens


def detect_opt_out(html: str, http_headers: list[tuple[str, str]] | None = None) -> dict:
    """{"tdm_reserved": bool, "noai": bool, "sources": [...]} from TDMRep and robots noai signals."""
    tdm, noai, sources = False, False, []
    for name, value in http_headers or []:
        key, val = (name or "").strip().lower(), (value or "").strip()
        if key == "tdm-reservation" and val == "1":
            tdm = True
            sources.append("http:tdm-reservation")
        elif key == "x-robots-tag":
            for tok in _robots_tokens(val):
                if tok in _NOAI:
                    noai = True
                    sources.append(f"http:x-robots-tag:{tok}")
    root = parse_html(html) if may_hold(html, _OPT_OUT_WORDS) else None
    if root is not None:
        for el in root.iter("meta"):
            name, content = (el.get("name") or "").strip().lower(), (el.get("content") or "").strip()
            if name == "tdm-reservation" and content == "1":
                tdm = True
                sources.append("meta[name=tdm-reservation]")
            elif name in ("robots", "ccbot", "gptbot"):
                for tok in _robots_tokens(content):
                    if tok in _NOAI:
                        noai = True
                        sources.append(f"meta[name={name}]:{tok}")
    return {"tdm_reserved": tdm, "noai": noai, "sources": sorted(set(sources))}
