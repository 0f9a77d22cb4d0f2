"""What a takedown request names: exactly one selector, as a polars row filter, and its stable id."""

from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path
from typing import Any

import polars as pl

from provenance.errors import UserError


class TakedownError(UserError):
    """A request that cannot be applied (bad selector, not a corpus, NEW not empty); one line."""


def read_doc_ids(path: str | os.PathLike[str]) -> list[str]:
    """One doc_id per line; blank lines and `#` comments ignored."""
    p = Path(path)
    if not p.is_file():
        raise TakedownError(f"{p}: doc-ids file not found")
    ids = [ln.strip() for ln in p.read_text(encoding="utf-8").splitlines()]
    ids = [i for i in ids if i and not i.startswith("#")]
    if not ids:
        raise TakedownError(f"{p}: no doc_ids in the file")
    return ids


def _by_domain(domain: str) -> tuple[pl.Expr, dict[str, Any]]:
    d = domain.strip().lower().rstrip(".")
    if not d or "/" in d or " " in d:
        raise TakedownError(f"--domain {domain!r}: not a domain name")
    col = pl.col("domain").str.to_lowercase()
    # the domain and its subdomains (a request for example.com covers www.example.com)
    return (col == d) | col.str.ends_with("." + d), {"selector": "domain", "value": d}


def _by_url_regex(url_regex: str) -> tuple[pl.Expr, dict[str, Any]]:
    try:
        rx = re.compile(url_regex)
    except re.error as exc:
        raise TakedownError(f"--url-regex {url_regex!r}: {exc}") from exc
    # Python's `re` (the syntax users know), applied with re.search to every URL
    expr = pl.col("url").map_elements(lambda u: rx.search(u) is not None, return_dtype=pl.Boolean)
    return expr, {"selector": "url_regex", "value": url_regex}


def _by_doc_ids(doc_ids: list[str]) -> tuple[pl.Expr, dict[str, Any]]:
    ids = sorted(set(doc_ids))
    digest = hashlib.sha256("\n".join(ids).encode()).hexdigest()
    request = {"selector": "doc_ids", "value": f"{len(ids)} doc_id(s), sha256 {digest}"}
    return pl.col("doc_id").is_in(ids), request


def selector(domain: str | None, url_regex: str | None,
             doc_ids: list[str] | None) -> tuple[pl.Expr, dict[str, Any]]:
    """(row filter over provenance, the request as run.json records it); exactly one selector."""
    if sum(x is not None for x in (domain, url_regex, doc_ids)) != 1:
        raise TakedownError("give exactly one of --domain, --url-regex, --doc-ids")
    if domain is not None:
        return _by_domain(domain)
    if url_regex is not None:
        return _by_url_regex(url_regex)
    return _by_doc_ids(doc_ids or [])


def request_id(parent_run_id: Any, parent_manifest_sha256: str, request: dict[str, Any]) -> str:
    """Stable: the same request on the same corpus version gets the same id."""
    key = json.dumps({"parent": parent_run_id, "manifest": parent_manifest_sha256, **request}, sort_keys=True)
    return "td-" + hashlib.sha256(key.encode()).hexdigest()[:16]
