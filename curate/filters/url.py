"""URL block list: drop pages by domain or URL pattern before anything is extracted.

Rules come from `domains`, `regexes` and an optional `blocklist_file`, one rule a line:

    # a comment (blank lines are ignored too)
    example.com          a domain: blocks example.com and every subdomain (a.b.example.com)
    re:casino|poker      a Python regex, searched (re.search) in the full URL, case-insensitive

The default list is empty: FineWeb's list (datatrove's URLFilter: the UT1 adult-site list
plus banned words) is a policy choice, so a run opts in with a file. Matching is by domain
labels, so `ample.com` never blocks `example.com`.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, model_validator

from curate.filters.text import Doc

REGEX_PREFIX = "re:"


class UrlFilterConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    blocklist_file: Path | None = None  # one rule a line, format above
    domains: list[str] = Field(default_factory=list)  # empty by default (see module docstring)
    regexes: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _rules_load(self) -> UrlFilterConfig:
        if self.enabled:
            load_rules(self)  # a missing block list or a bad regex fails here, before a run starts
        return self


def parse_blocklist(lines: list[str]) -> tuple[list[str], list[str]]:
    """Split rule lines into (domains, regexes). A `#` starts a comment, except inside a regex."""
    domains: list[str] = []
    regexes: list[str] = []
    for raw in lines:
        line = raw.strip()
        if line.startswith(REGEX_PREFIX):
            regexes.append(line[len(REGEX_PREFIX) :])
        elif domain := line.split("#", 1)[0].strip():
            domains.append(domain)
    return domains, regexes


def _norm_domain(domain: str) -> str:
    return domain.strip().lower().lstrip("*.").rstrip(".")


def host_of(doc: Doc) -> str | None:
    """The page's host, lower case, from `doc.domain` or else `doc.url`."""
    host = doc.domain
    if not host and doc.url:
        try:
            host = urlsplit(doc.url).hostname
        except ValueError:  # e.g. a bad IPv6 literal in a crawled URL
            host = None
    return _norm_domain(host) if host else None


def load_rules(config: UrlFilterConfig) -> tuple[list[str], list[str], list[re.Pattern[str]]]:
    """(domains, regexes, compiled regexes) of a config and its block-list file; ValueError when the
    file cannot be read or a regex does not compile."""
    domains, regexes = list(config.domains), list(config.regexes)
    if config.blocklist_file is not None:
        try:
            text = Path(config.blocklist_file).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ValueError(f"block list {config.blocklist_file}: cannot read: {exc}") from None
        more_domains, more_regexes = parse_blocklist(text.splitlines())
        domains += more_domains
        regexes += more_regexes
    # Rule ids are stable positions: domains first, then regexes (signals store the id).
    domains = sorted({_norm_domain(d) for d in domains if _norm_domain(d)})
    regexes = list(dict.fromkeys(regexes))
    compiled = []
    for pattern in regexes:
        try:
            compiled.append(re.compile(pattern, re.IGNORECASE))
        except re.error as exc:
            raise ValueError(f"bad regex {pattern!r}: {exc}") from None
    return domains, regexes, compiled


class UrlFilter:
    """Blocks pages whose host is (a subdomain of) a listed domain, or whose URL matches a regex."""

    name = "url"

    def __init__(self, config: UrlFilterConfig | None = None) -> None:
        self.config = config or UrlFilterConfig()
        self.domains, self.regexes, self._compiled = load_rules(self.config)
        self._domain_ids = {d: i for i, d in enumerate(self.domains)}

    def annotate(self, doc: Doc) -> dict[str, float | int | bool]:
        """`url_block_rule`: id of the first matching rule (-1: none). Domains by label suffix."""
        host = host_of(doc)
        if host:
            labels = host.split(".")
            for i in range(len(labels)):  # host itself, then each parent domain
                rule = self._domain_ids.get(".".join(labels[i:]))
                if rule is not None:
                    return {"url_block_rule": rule}
        if doc.url:
            for j, rx in enumerate(self._compiled):
                if rx.search(doc.url):
                    return {"url_block_rule": len(self.domains) + j}
        return {"url_block_rule": -1}

    def decide(self, signals: dict) -> str | None:
        rule = int(signals.get("url_block_rule", -1))
        if rule < 0:
            return None
        if rule < len(self.domains):
            return f"url-blocklist:domain={self.domains[rule]}"
        if rule < len(self.domains) + len(self.regexes):
            return f"url-blocklist:regex={self.regexes[rule - len(self.domains)]}"
        return f"url-blocklist:rule={rule}"  # signals from another block list
