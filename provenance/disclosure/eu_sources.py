"""Section 2 of the EU training-content summary: the list of data sources.

A WARC file whose warcinfo record names a published crawl (`isPartOf` / `publisher`, as Common
Crawl's do) is a publicly available dataset (2.1); every other WARC file holds data crawled and
scraped from online sources (2.3), where the template asks for the crawlers, the collection
period and the most relevant domain names: the top 10% of all domains by the size of the content
scraped (for SMEs the top 5% or 1,000 domains, whichever is lower). Size here is the crawled HTTP
payload bytes of the documents kept for training, per domain.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from provenance.declarations import Declarations
from provenance.disclosure import statements as st
from provenance.disclosure.common import (
    NOT_PROVIDED,
    Basis,
    basis_of,
    declared_entry,
    entry,
    month,
    percent,
    with_declared,
    yes_no,
)
from provenance.disclosure.facts import Facts
from provenance.disclosure.warcinfo import crawler_name, published_as

TOP_SHARE, SME_SHARE, SME_CAP = 0.10, 0.05, 1000  # template 2.3: top 10%; SMEs 5% or 1,000, the lower


def published_datasets(f: Facts) -> list[dict[str, Any]]:
    """Published crawls named by warcinfo records, with their files, kept documents and bytes."""
    out: dict[str, dict[str, Any]] = {}
    for c in f.corpora:
        for sha in sorted({w["sha256"] for w in c["warcinfo"] if published_as(w["fields"])}):
            w = next(w for w in c["warcinfo"] if w["sha256"] == sha and published_as(w["fields"]))
            d = out.setdefault(published_as(w["fields"]), {"name": published_as(w["fields"]), "files": [],
                                                           "documents": 0, "bytes": 0})
            kept = c["kept_by_source"].get(sha, {})
            d["files"].append(w["file"])
            d["documents"] += kept.get("documents", 0)
            d["bytes"] += kept.get("bytes", 0)
    return sorted(out.values(), key=lambda d: (-d["bytes"], d["name"]))


def public_datasets(f: Facts, decl: Declarations) -> list[dict[str, Any]]:
    """2.1 Publicly available datasets."""
    pub, dec = published_datasets(f), decl.eu.public_datasets
    total = sum(p["bytes"] for p in pub)
    listed = [f"{p['name']} ({len(p['files'])} WARC file(s): {', '.join(p['files'])}; "
              f"{p['documents']:,} kept documents, {percent(p['bytes'], total)} of the public data by bytes)"
              for p in pub]
    listed += dec.names or []
    if listed:
        answer, basis = "Yes. " + "; ".join(listed) + ".", Basis.DERIVED if pub else Basis.DECLARED
    elif dec.used is not None:
        answer, basis = yes_no(dec.used) + ".", Basis.DECLARED
    else:
        answer, basis = (f"{NOT_PROVIDED}: no warcinfo record of the input WARC files names a published "
                         "crawl (isPartOf / publisher), and none is declared."), Basis.MISSING
    return [entry("2.1", "Publicly available datasets used, with the large ones (over 3% of all publicly "
                  "available data of a modality) named", answer, basis,
                  {"published_crawls": pub, "declared": dec.model_dump(), "manifests": f.refs}),
            declared_entry("2.1", "Other publicly available datasets (general description)", dec.description,
                           "eu.public_datasets.description")]


def private_datasets(f: Facts, decl: Declarations) -> list[dict[str, Any]]:
    """2.2 Private non-publicly available datasets obtained from third parties."""
    li, pr = decl.licensing, decl.eu.private_datasets
    licensed = None if li.licensed is None else yes_no(li.licensed) + (f". {li.terms}" if li.terms else ".")
    parts = [yes_no(pr.used) + "." if pr.used is not None else "", "; ".join(pr.names or []), pr.description]
    other = " ".join(p for p in parts if p) or None
    return [declared_entry("2.2", "Datasets commercially licensed by rightsholders or their representatives",
                           licensed, "licensing.licensed"),
            declared_entry("2.2", "Private datasets obtained from other third parties", other,
                           "eu.private_datasets")]


def crawled_files(f: Facts) -> list[dict[str, Any]]:
    """The WARC files not in a published crawl, with the crawler and robots policy their warcinfo states."""
    out = []
    for c in f.corpora:
        info = {w["sha256"]: w for w in c["warcinfo"] if w["fields"]}
        for w in c["warc_inputs"]:
            fields = (info.get(w["sha256"]) or {}).get("fields") or {}
            if not published_as(fields):
                out.append({"file": Path(str(w["path"])).name, "sha256": w["sha256"],
                            "crawler": crawler_name(fields), "robots": fields.get("robots")})
    return out


def top_domains(f: Facts, sme: bool | None) -> dict[str, Any]:
    """The most relevant crawled domains by bytes: the top 10% (SMEs: 5% or 1,000, the lower)."""
    volume: dict[str, dict[str, int]] = {}
    for c in f.corpora:
        for x in c["crawled"]["domains"]:
            v = volume.setdefault(x["domain"], {"bytes": 0, "documents": 0})
            v["bytes"] += x["bytes"]
            v["documents"] += x["documents"]
    ranked = sorted(volume.items(), key=lambda kv: (-kv[1]["bytes"], kv[0]))
    n = len(ranked)
    k = min(math.ceil(SME_SHARE * n), SME_CAP) if sme else math.ceil(TOP_SHARE * n)
    rule = ("top 5% of domains or 1,000, whichever is lower (declared SME)" if sme else
            "top 10% of domains" + ("" if sme is False else " (SME status not declared: the general rule)"))
    return {"rule": rule, "domains_crawled": n, "listed": k, "measure": "crawled HTTP payload bytes of kept "
            "documents", "domains": [{"domain": d, **v} for d, v in ranked[:k]]}


def _period(f: Facts) -> dict[str, str | None]:
    lo = [c["crawled"]["warc_date"]["min"] for c in f.corpora if c["crawled"]["warc_date"]["min"]]
    hi = [c["crawled"]["warc_date"]["max"] for c in f.corpora if c["crawled"]["warc_date"]["max"]]
    return {"min": min(lo) if lo else None, "max": max(hi) if hi else None}


def crawled(f: Facts, decl: Declarations) -> list[dict[str, Any]]:
    """2.3 Data crawled and scraped from online sources."""
    files, cr = crawled_files(f), decl.eu.crawling
    names = sorted({x["crawler"] for x in files if x["crawler"]})
    robots = sorted({f"{x['crawler'] or 'crawler'}: robots {x['robots']}" for x in files if x["robots"]})
    period = _period(f)
    ct = st.sum_by((x for c in f.corpora for x in c["crawled"]["content_types"]), "content_type")
    top = top_domains(f, decl.eu.sme)
    by = declared_entry("2.3", "Were crawlers used by the provider or on its behalf?", cr.by_provider,
                        "eu.crawling.by_provider", yes_no)
    by["evidence"]["crawled_warc_files"] = files
    robots_text = "; ".join(robots) + " (from warcinfo records)." if robots else ""
    content = ", ".join(f"{k}: {v:,} documents" for k, v in st.ranked(ct)) + "." if ct else ""
    return [
        by,
        entry("2.3", "Crawler name(s) / identifier(s)", ", ".join(names) + " (from warcinfo records)."
              if names else (", ".join(cr.names) if cr.names else NOT_PROVIDED),
              basis_of(names, cr.names), {"crawled_warc_files": files}),
        declared_entry("2.3", "Purposes of the crawler(s)", cr.purpose, "eu.crawling.purpose"),
        entry("2.3", "General description of crawler behaviour (robots.txt, captchas, paywalls)",
              with_declared(robots_text, cr.behaviour), basis_of(robots, cr.behaviour),
              {"warcinfo_robots": robots, "declared": cr.behaviour}),
        entry("2.3", "Period of data collection", f"{month(period['min'])} to {month(period['max'])} "
              f"(WARC-Date of kept documents, {period['min']} to {period['max']})." if period["min"]
              else NOT_PROVIDED,
              basis_of(period["min"]), period),
        entry("2.3", "Type of content and online sources crawled", with_declared(content, cr.sources),
              basis_of(ct, cr.sources), {"content_types": ct, "declared": cr.sources}),
        entry("2.3", f"Most relevant domain names crawled ({top['rule']}, by {top['measure']})",
              (f"{top['listed']:,} of {top['domains_crawled']:,} domains: " + ", ".join(
                  d["domain"] for d in top["domains"]) + ".") if top["domains"] else NOT_PROVIDED,
              basis_of(top["domains"]), top),
    ]


def user_data(f: Facts, decl: Declarations) -> list[dict[str, Any]]:
    """2.4 User data (declared: no record of a crawl or corpus shows it)."""
    u = decl.eu.user_data
    return [declared_entry("2.4", "Data from user interactions with the model (e.g. user input and prompts)",
                           u.model_interactions, "eu.user_data.model_interactions", yes_no),
            declared_entry("2.4", "Data from user interactions with the provider's other services or "
                           "products", u.other_services, "eu.user_data.other_services", yes_no),
            declared_entry("2.4", "Description of those services", u.description, "eu.user_data.description")]


def synthetic(f: Facts, decl: Declarations) -> list[dict[str, Any]]:
    """2.5 Synthetic data, with the generating models from the synth run manifests."""
    if not f.synth:
        used = decl.synthetic.used
        return [declared_entry("2.5", "Synthetic AI-generated data created by the provider or on its behalf",
                               used, "synthetic.used", yes_no)]
    models = sorted({f"{s['generator']['model']} (weights sha256 "
                     f"{str(s['generator']['weights_sha256'])[:16]})" for s in f.synth})
    sets = "; ".join(st.synthetic_types(f))
    return [entry("2.5", "Synthetic AI-generated data created by the provider or on its behalf",
                  f"Yes. Modality: text. Sets: {sets}. Generated: {st.generation_text(f)}.", Basis.DERIVED,
                  {"synthetic_sets": [s["manifest"] for s in f.synth],
                   "generation": st.generation_periods(f)}),
            entry("2.5", "Models used to generate the synthetic data", "; ".join(models) + "."
                  + (f" Declared: {decl.eu.synthetic_models}" if decl.eu.synthetic_models else
                     f" Whether they are on the market, with links to their summaries: {NOT_PROVIDED}."),
                  Basis.DERIVED, {"generators": [s["generator"] for s in f.synth],
                            "declared": decl.eu.synthetic_models})]


def other_sources(f: Facts, decl: Declarations) -> list[dict[str, Any]]:
    """2.6 Other sources of data (declared)."""
    o = decl.eu.other_sources
    value = None if o.used is None else yes_no(o.used) + (f". {o.description}" if o.description else ".")
    return [declared_entry("2.6", "Other sources of data", value, "eu.other_sources")]
