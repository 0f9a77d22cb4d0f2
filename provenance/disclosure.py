"""The California AB 2013 training-data disclosure (Civil Code section 3111), from the records.

`assay disclose DIR... -o OUT` reads the run manifests and provenance files of curated corpora,
synthetic sets and training runs, derives every answer it can (with the numbers and the
manifests they came from as evidence), takes the rest from a declarations TOML file, and marks
anything neither can supply as NOT PROVIDED. Outputs: ab2013.json, ab2013.md, ab2013.html.

This module reads files only (polars / pyarrow / run.json); it imports nothing from curate,
synth or train (DESIGN.md: dependencies point one way).
"""

from __future__ import annotations

import json
import os
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow as pa

from provenance.declarations import Declarations, load_declarations
from provenance.manifest import MANIFEST_NAME, read_manifest, sha256_file
from provenance.schema import KEPT, PII_TYPES, TAKEN_DOWN

NOT_PROVIDED = "NOT PROVIDED"
TOP_DOMAINS = 20  # how many domains the answer lists by name (all are in the evidence)
CORPUS_KINDS = ("curate", "takedown")

# Civil Code 3111(a)(1)-(12), titles abridged from the statute's text.
ITEM_TITLES = {
    1: "Sources or owners of the datasets",
    2: "How the datasets further the intended purpose of the system",
    3: "Number of data points in the datasets",
    4: "Types of data points in the datasets",
    5: "Whether the datasets include data protected by copyright, trademark or patent, or are entirely public domain",
    6: "Whether the datasets were purchased or licensed",
    7: "Whether the datasets include personal information (Civil Code 1798.140(v))",
    8: "Whether the datasets include aggregate consumer information (Civil Code 1798.140(b))",
    9: "Cleaning, processing or other modification of the datasets, and its purpose",
    10: "Time period during which the data was collected (notice if collection is ongoing)",
    11: "Dates the datasets were first used during development",
    12: "Whether the system used or continuously uses synthetic data generation",
}


class DisclosureError(ValueError):
    """Inputs that cannot be disclosed (not an assay directory, unreadable files); one line."""


# --------------------------------------------------------------------------------------- reading


def _manifest_ref(d: Path, man: dict[str, Any]) -> dict[str, Any]:
    return {"path": str(d / MANIFEST_NAME), "kind": man.get("kind"), "run_id": man.get("run_id"),
            "sha256": sha256_file(d / MANIFEST_NAME)}


def _parquet(d: Path, sub: str) -> pl.DataFrame | None:
    files = sorted((d / sub).glob("*.parquet"))
    if not files:
        return None
    try:
        return pl.read_parquet([str(f) for f in files])
    except Exception as exc:  # a corrupt part file is an input problem, not a crash
        raise DisclosureError(f"{d / sub}: cannot read parquet files: {exc}") from exc


def count_range(n: int) -> str:
    """Order-of-magnitude range, as 3111(a)(3) allows ("general ranges"): 2,345 -> "1,000-9,999"."""
    if n <= 0:
        return "0"
    lo = 10 ** (len(str(n)) - 1)
    return f"{lo:,}\u2013{lo * 10 - 1:,}"


def _iso(v: Any) -> str | None:
    if v is None:
        return None
    if isinstance(v, datetime):
        return v.astimezone(UTC).isoformat().replace("+00:00", "Z")
    return str(v)


def _token_count(d: Path, man: dict[str, Any]) -> int | None:
    section = man.get("tokenize") or {}
    if "n_tokens" in section:
        return int(section["n_tokens"])
    shards = sorted((d / "tokens").glob("*.arrow"))
    if not shards:
        return None
    total = 0
    for s in shards:
        with pa.memory_map(str(s)) as src:
            total += int(pa.ipc.open_file(src).read_all()["n_tokens"].to_numpy().sum())
    return total


def corpus_facts(d: Path, man: dict[str, Any]) -> dict[str, Any]:
    """Everything the disclosure states about one corpus, computed from its provenance files."""
    prov = _parquet(d, "provenance")
    if prov is None:
        raise DisclosureError(f"{d}: no provenance/*.parquet (a {man.get('kind')} run must have one)")
    kept = prov.filter(pl.col("decision") == KEPT)
    n_kept = kept.height
    dom = (kept.filter(pl.col("domain").is_not_null()).group_by("domain").len()
           .sort(["len", "domain"], descending=[True, False]))
    sample_url = (kept.filter(pl.col("domain").is_not_null()).sort("url").group_by("domain", maintain_order=True)
                  .agg(pl.col("url").first()))
    samples = dict(zip(sample_url["domain"].to_list(), sample_url["url"].to_list(), strict=True))
    dates = kept["warc_date"].drop_nulls()
    all_dates = prov["warc_date"].drop_nulls() if "warc_date" in prov.columns else pl.Series([])
    pii_cols = [pl.col("pii_counts").struct.field(t).fill_null(0).sum().alias(t) for t in PII_TYPES]
    pii = kept.select(pii_cols).row(0, named=True) if n_kept else dict.fromkeys(PII_TYPES, 0)
    any_pii = kept.filter(pl.any_horizontal([pl.col("pii_counts").struct.field(t).fill_null(0) > 0 for t in PII_TYPES]))
    removed = (prov.filter(pl.col("decision") != KEPT).group_by(["decision", "step"]).len()
               .sort(["decision", "step"], nulls_last=True))
    lic = kept.group_by("license").len().sort(["len", "license"], descending=[True, False], nulls_last=True)
    langs = kept.group_by("lang").len().sort(["len", "lang"], descending=[True, False], nulls_last=True)
    ctypes = (kept.with_columns(pl.col("content_type").str.split(";").list.first().str.strip_chars().alias("ct"))
              .group_by("ct").len().sort(["len", "ct"], descending=[True, False], nulls_last=True))
    cfg = man.get("config") or {}
    signals_cfg = cfg.get("signals") or {}
    takedowns = [man["takedown"]] if man.get("kind") == "takedown" and man.get("takedown") else []
    takedowns = [*(man.get("takedowns_before") or []), *takedowns]
    return {
        "path": str(d),
        "kind": man.get("kind"),
        "run_id": man.get("run_id"),
        "manifest": _manifest_ref(d, man),
        "warc_inputs": [{"path": i.get("path"), "bytes": i.get("bytes"), "sha256": i.get("sha256")}
                        for i in man.get("inputs") or []],
        "records": prov.height,
        "kept": n_kept,
        "by_decision": dict(sorted(prov.group_by("decision").len().iter_rows())),
        "removed_by_step": [{"decision": r[0], "step": r[1], "count": r[2]} for r in removed.iter_rows()],
        "domains": [{"domain": r[0], "documents": r[1], "sample_url": samples.get(r[0])} for r in dom.iter_rows()],
        "n_domains": dom.height,
        "warc_date_kept": {"min": _iso(dates.min()) if len(dates) else None, "max": _iso(dates.max()) if len(dates) else None},
        "warc_date_all": {"min": _iso(all_dates.min()) if len(all_dates) else None,
                          "max": _iso(all_dates.max()) if len(all_dates) else None},
        "pii_totals": {k: int(v or 0) for k, v in pii.items()},
        "documents_with_pii": any_pii.height,
        "pii_redacted_documents": int(kept["pii_redacted"].fill_null(False).sum()) if n_kept else 0,
        "redaction_enabled": bool(signals_cfg.get("redact_pii", False)),
        "licenses": [{"license": r[0] or "none detected", "documents": r[1]} for r in lic.iter_rows()],
        "tdm_reserved": {"kept": int(kept["tdm_reserved"].fill_null(False).sum()),
                         "all": int(prov["tdm_reserved"].fill_null(False).sum())},
        "noai": {"kept": int(kept["noai"].fill_null(False).sum()), "all": int(prov["noai"].fill_null(False).sum())},
        "drop_opted_out": bool(signals_cfg.get("drop_opted_out", False)),
        "languages": [{"lang": r[0], "documents": r[1]} for r in langs.iter_rows()],
        "content_types": [{"content_type": r[0], "documents": r[1]} for r in ctypes.iter_rows()],
        "tokens": _token_count(d, man),
        "taken_down": int(prov.filter(pl.col("decision") == TAKEN_DOWN).height),
        "takedown_requests": len(takedowns),
        "started_at": man.get("started_at"),
        "ended_at": man.get("ended_at"),
    }


def synth_facts(d: Path, man: dict[str, Any]) -> dict[str, Any]:
    docs = _parquet(d, "documents")
    prov = _parquet(d, "provenance")
    n = docs.height if docs is not None else int((man.get("counts") or {}).get("kept", 0))
    if prov is not None:
        n = prov.filter(pl.col("decision") == KEPT).height
    gen = man.get("generator") or {}
    return {
        "path": str(d), "kind": "synth", "run_id": man.get("run_id"), "manifest": _manifest_ref(d, man),
        "records": n, "generator": {"model": gen.get("model"), "weights_sha256": gen.get("weights_sha256")},
        "task": man.get("task"), "purpose": man.get("purpose"),
        "gates_overall": (man.get("gates") or {}).get("overall"),
        "seeds": man.get("seeds"), "tokens": _token_count(d, man),
        "started_at": man.get("started_at"), "ended_at": man.get("ended_at"),
    }


def train_facts(d: Path, man: dict[str, Any]) -> dict[str, Any]:
    consumed = man.get("shards_consumed") or []
    first = min((s.get("first_read_at") for s in consumed if s.get("first_read_at")), default=None)
    per_corpus: dict[str, str] = {}
    for s in consumed:
        c, t = s.get("corpus"), s.get("first_read_at")
        if c and t and (c not in per_corpus or t < per_corpus[c]):
            per_corpus[c] = t
    return {
        "path": str(d), "kind": "train", "run_id": man.get("run_id"), "manifest": _manifest_ref(d, man),
        "started_at": man.get("started_at"), "first_read_at": first or man.get("started_at"),
        "data": [{"name": x.get("name"), "path": x.get("path"), "run_id": x.get("run_id"), "kind": x.get("kind"),
                  "first_read_at": per_corpus.get(x.get("name"))} for x in man.get("data") or []],
        "shards_consumed": len(consumed),
    }


def read_inputs(dirs: list[str | os.PathLike[str]]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {"corpora": [], "synthetic": [], "training": [], "other": []}
    seen = set()
    for raw in dirs:
        d = Path(raw).resolve()
        if str(d) in seen:
            continue
        seen.add(str(d))
        try:
            man = read_manifest(d)
        except FileNotFoundError as exc:
            raise DisclosureError(str(exc)) from exc
        except json.JSONDecodeError as exc:
            raise DisclosureError(f"{d / MANIFEST_NAME}: not valid JSON: {exc}") from exc
        kind = man.get("kind")
        if kind in CORPUS_KINDS:
            out["corpora"].append(corpus_facts(d, man))
        elif kind == "synth":
            out["synthetic"].append(synth_facts(d, man))
        elif kind == "train":
            out["training"].append(train_facts(d, man))
        else:
            raise DisclosureError(f"{d / MANIFEST_NAME}: kind {kind!r} is not a corpus, synthetic set or training run")
    return out


# --------------------------------------------------------------------------------------- items


def _item(n: int, answer: str, basis: str, evidence: dict[str, Any]) -> dict[str, Any]:
    return {"number": n, "title": ITEM_TITLES[n], "answer": answer, "basis": basis, "evidence": evidence}


def _declared_or_missing(n: int, value: Any, key: str, fmt: Any = str) -> dict[str, Any]:
    if value is None:
        return _item(n, NOT_PROVIDED, "not_provided", {"declaration_key": key})
    return _item(n, fmt(value), "declared", {"declaration_key": key, "declared": value})


def _yes_no(v: bool | None) -> str:
    return NOT_PROVIDED if v is None else ("Yes" if v else "No")


def build_items(inputs: dict[str, list[dict[str, Any]]], decl: Declarations) -> list[dict[str, Any]]:
    corpora, synth, train = inputs["corpora"], inputs["synthetic"], inputs["training"]
    refs = [c["manifest"] for c in corpora]
    all_refs = refs + [s["manifest"] for s in synth] + [t["manifest"] for t in train]
    items = []

    # (1) sources
    domains: dict[str, int] = {}
    for c in corpora:
        for x in c["domains"]:
            domains[x["domain"]] = domains.get(x["domain"], 0) + x["documents"]
    top = sorted(domains.items(), key=lambda kv: (-kv[1], kv[0]))
    warcs = [w for c in corpora for w in c["warc_inputs"]]
    parts = []
    if corpora:
        parts.append(f"Web pages from {len(warcs)} WARC file(s) ({', '.join(sorted({Path(str(w['path'])).name for w in warcs}))}); "
                     f"kept documents come from {len(domains)} web domain(s). Top domains by kept documents: "
                     + ", ".join(f"{d} ({n})" for d, n in top[:TOP_DOMAINS]) + ".")
    if synth:
        parts.append(f"Synthetic data generated by {', '.join(sorted({str(s['generator']['model']) for s in synth}))}.")
    parts.append(f"Owners declared: {'; '.join(decl.sources.owners)}." if decl.sources.owners
                 else f"Owners of the crawled sites: {NOT_PROVIDED} beyond the domains listed.")
    if decl.sources.notes:
        parts.append(decl.sources.notes)
    items.append(_item(1, " ".join(parts), "derived" if corpora or synth else "not_provided", {
        "warc_files": warcs, "domains": [{"domain": d, "documents": n} for d, n in top], "n_domains": len(domains),
        "sample_urls": {x["domain"]: x["sample_url"] for c in corpora for x in c["domains"][:TOP_DOMAINS]},
        "declared_owners": decl.sources.owners, "manifests": refs + [s["manifest"] for s in synth],
    }))

    # (2) purpose: only the developer knows
    items.append(_declared_or_missing(2, decl.purpose, "purpose"))

    # (3) counts, exact and as ranges
    lines, ev = [], []
    for c in corpora:
        tok = f", {c['tokens']:,} tokens ({count_range(c['tokens'])})" if c["tokens"] is not None else ""
        lines.append(f"{Path(c['path']).name}: {c['kept']:,} documents ({count_range(c['kept'])}){tok}, "
                     f"from {c['records']:,} WARC records read")
        ev.append({"dataset": c["path"], "documents": c["kept"], "range": count_range(c["kept"]),
                   "tokens": c["tokens"], "records_read": c["records"], "manifest": c["manifest"]})
    for s in synth:
        tok = f", {s['tokens']:,} tokens" if s["tokens"] is not None else ""
        lines.append(f"{Path(s['path']).name} (synthetic): {s['records']:,} records ({count_range(s['records'])}){tok}")
        ev.append({"dataset": s["path"], "documents": s["records"], "range": count_range(s["records"]),
                   "tokens": s["tokens"], "manifest": s["manifest"]})
    total = sum(c["kept"] for c in corpora) + sum(s["records"] for s in synth)
    ans = "; ".join(lines) + f". Total: {total:,} data points ({count_range(total)})." if lines else NOT_PROVIDED
    items.append(_item(3, ans, "derived" if lines else "not_provided", {"datasets": ev, "total": total}))

    # (4) types
    langs: dict[str, int] = {}
    for c in corpora:
        for x in c["languages"]:
            langs[str(x["lang"])] = langs.get(str(x["lang"]), 0) + x["documents"]
    kinds = []
    if corpora:
        kinds.append("text documents extracted from web pages (HTML), in languages "
                     + ", ".join(f"{k} ({v})" for k, v in sorted(langs.items(), key=lambda kv: (-kv[1], kv[0]))))
    if synth:
        kinds.append("synthetic text (tasks: " + ", ".join(sorted({str(s["task"]) for s in synth})) + ")")
    if any(c["tokens"] is not None for c in corpora + synth):
        kinds.append("token sequences of those documents (Arrow token shards)")
    ans = "; ".join(kinds) + "." if kinds else NOT_PROVIDED
    if decl.data_types:
        ans += f" Declared: {decl.data_types}"
    items.append(_item(4, ans, "derived" if kinds else ("declared" if decl.data_types else "not_provided"), {
        "languages": langs, "content_types": {str(x["content_type"]): x["documents"] for c in corpora for x in c["content_types"]},
        "declared": decl.data_types, "manifests": all_refs}))

    # (5) copyright / public domain, from the licence scan
    lic: dict[str, int] = {}
    for c in corpora:
        for x in c["licenses"]:
            lic[x["license"]] = lic.get(x["license"], 0) + x["documents"]
    n_docs = sum(c["kept"] for c in corpora)
    unlicensed = lic.get("none detected", 0)
    public = sum(v for k, v in lic.items() if k.startswith(("cc0-", "cc-pdm-")))
    if corpora:
        ans = (f"Of {n_docs:,} kept web documents, {n_docs - unlicensed:,} carry a Creative Commons licence or "
               f"public-domain marking ({', '.join(f'{k}: {v}' for k, v in sorted(lic.items()) if k != 'none detected') or 'none'}) "
               f"and {unlicensed:,} carry none that was detected; web pages without a licence are presumed protected "
               f"by copyright. The datasets are {'entirely' if public == n_docs and n_docs else 'not entirely'} public domain.")
        if decl.intellectual_property.notes:
            ans += f" Declared: {decl.intellectual_property.notes}"
        else:
            ans += f" Trademark or patent content: {NOT_PROVIDED}."
        opt = sum(c["tdm_reserved"]["kept"] + c["noai"]["kept"] for c in corpora)
        ans += (f" Opt-out signals (TDMRep tdm-reservation / robots noai): "
                f"{sum(c['tdm_reserved']['all'] for c in corpora)} TDM-reserved and {sum(c['noai']['all'] for c in corpora)} "
                f"noai record(s) seen, {opt} among kept documents; dropping opted-out pages was "
                f"{'on' if all(c['drop_opted_out'] for c in corpora) else 'off'}.")
        items.append(_item(5, ans, "derived", {
            "licenses": lic, "documents": n_docs, "public_domain_documents": public,
            "tdm_reserved": {c["path"]: c["tdm_reserved"] for c in corpora}, "noai": {c["path"]: c["noai"] for c in corpora},
            "declared": decl.intellectual_property.notes, "manifests": refs}))
    else:
        items.append(_declared_or_missing(5, decl.intellectual_property.notes, "intellectual_property.notes"))

    # (6) purchased or licensed: a contract question
    li = decl.licensing
    if li.purchased is None and li.licensed is None and li.terms is None:
        items.append(_item(6, NOT_PROVIDED, "not_provided", {"declaration_key": "licensing"}))
    else:
        ans = f"Purchased: {_yes_no(li.purchased)}. Licensed: {_yes_no(li.licensed)}." + (f" {li.terms}" if li.terms else "")
        items.append(_item(6, ans, "declared", {"declaration_key": "licensing", "declared": li.model_dump()}))

    # (7) personal information, from the PII scan
    if corpora:
        pii = {t: sum(c["pii_totals"][t] for c in corpora) for t in PII_TYPES}
        docs_pii = sum(c["documents_with_pii"] for c in corpora)
        redacted = sum(c["pii_redacted_documents"] for c in corpora)
        found = ", ".join(f"{t}: {v:,}" for t, v in pii.items() if v) or "none"
        ans = (f"{'Yes' if docs_pii else 'No personal information was detected'}: {docs_pii:,} of {n_docs:,} kept documents "
               f"contain personal information detected by pattern scan ({found}). "
               + (f"{redacted:,} document(s) were redacted (placeholders replace the detected items)."
                  if redacted else "No redaction was applied."))
        if decl.personal_information:
            ans += f" Declared: {decl.personal_information}"
        items.append(_item(7, ans, "derived", {
            "pii_totals": pii, "documents_with_pii": docs_pii, "redacted_documents": redacted,
            "redaction_enabled": {c["path"]: c["redaction_enabled"] for c in corpora},
            "detector": "curate.signals (email, phone, public IP, Luhn card, SSN, IBAN)", "manifests": refs}))
    else:
        items.append(_declared_or_missing(7, decl.personal_information, "personal_information"))

    # (8) aggregate consumer information: not observable in text
    ci = decl.consumer_information
    if ci.aggregate is None:
        items.append(_item(8, NOT_PROVIDED, "not_provided", {"declaration_key": "consumer_information.aggregate"}))
    else:
        items.append(_item(8, _yes_no(ci.aggregate) + (f". {ci.notes}" if ci.notes else "."), "declared",
                           {"declaration_key": "consumer_information", "declared": ci.model_dump()}))

    # (9) processing steps with removal counts
    steps = []
    for c in corpora:
        for r in c["removed_by_step"]:
            if r["decision"] == TAKEN_DOWN:
                continue
            steps.append(f"{r['step'] or 'unknown'} ({r['decision']}): {r['count']:,}")
    if corpora:
        td = sum(c["taken_down"] for c in corpora)
        ans = ("Every WARC record was read, decoded, main text extracted, language identified, filtered by "
               "quality rules and deduplicated; records removed per step: " + ("; ".join(steps) or "none") + ".")
        red = sum(c["pii_redacted_documents"] for c in corpora)
        if red:
            ans += f" PII redaction replaced detected items in {red:,} document(s)."
        if td:
            ans += f" Takedown requests removed {td:,} document(s) ({sum(c['takedown_requests'] for c in corpora)} request(s))."
        if any(c["tokens"] is not None for c in corpora):
            ans += " Kept documents were tokenized into token shards."
        ans += f" Purpose: {decl.processing}" if decl.processing else f" Purpose of the processing: {NOT_PROVIDED}."
        items.append(_item(9, ans, "derived", {
            "by_corpus": {c["path"]: c["removed_by_step"] for c in corpora}, "taken_down": td,
            "declared": decl.processing, "manifests": refs}))
    else:
        items.append(_declared_or_missing(9, decl.processing, "processing"))

    # (10) collection period from WARC-Date of the kept documents; "ongoing" is declared
    mins = [c["warc_date_kept"]["min"] for c in corpora if c["warc_date_kept"]["min"]]
    maxs = [c["warc_date_kept"]["max"] for c in corpora if c["warc_date_kept"]["max"]]
    ongoing = decl.collection.ongoing
    notice = {None: f"Whether collection is ongoing: {NOT_PROVIDED}.", True: "NOTICE: data collection is ongoing.",
              False: "Data collection is not ongoing."}[ongoing]
    if mins:
        ans = f"Collected (WARC-Date of kept documents) from {min(mins)} to {max(maxs)}. {notice}"
        if decl.collection.notes:
            ans += f" {decl.collection.notes}"
        items.append(_item(10, ans, "derived", {
            "min": min(mins), "max": max(maxs), "all_records": {c["path"]: c["warc_date_all"] for c in corpora},
            "ongoing_declared": ongoing, "manifests": refs}))
    else:
        items.append(_item(10, f"{NOT_PROVIDED}. {notice}", "not_provided", {"ongoing_declared": ongoing}))

    # (11) first use in development, from training-run manifests
    if train:
        uses = sorted(train, key=lambda t: str(t["first_read_at"]))
        ans = "; ".join(f"training run {t['run_id']} first read its data at {t['first_read_at']} "
                        f"({', '.join(str(x['name']) for x in t['data'])})" for t in uses)
        items.append(_item(11, f"First used {uses[0]['first_read_at']}: {ans}.", "derived", {
            "training_runs": [{"run_id": t["run_id"], "first_read_at": t["first_read_at"], "data": t["data"],
                               "manifest": t["manifest"]} for t in uses]}))
    elif decl.first_use.date:
        items.append(_item(11, f"{decl.first_use.date.isoformat()}" + (f". {decl.first_use.notes}" if decl.first_use.notes else ""),
                           "declared", {"declaration_key": "first_use", "declared": decl.first_use.model_dump(mode="json")}))
    else:
        items.append(_item(11, NOT_PROVIDED, "not_provided", {"declaration_key": "first_use.date",
                                                               "note": "no training-run manifest among the inputs"}))

    # (12) synthetic data
    in_training = sorted({str(x["name"]) for t in train for x in t["data"] if x.get("kind") == "synth"})
    if synth or in_training:
        purposes = sorted({s["purpose"] for s in synth if s.get("purpose")} | ({decl.synthetic.purpose} if decl.synthetic.purpose else set()))
        ans = (f"Yes. Synthetic sets: {', '.join(Path(s['path']).name for s in synth) or ', '.join(in_training)}; "
               f"generators: {', '.join(sorted({str(s['generator']['model']) for s in synth})) or 'see training manifests'}; "
               f"gates: {', '.join(Path(s['path']).name + '=' + str(s['gates_overall']) for s in synth) or 'n/a'}. "
               f"Purpose: {'; '.join(purposes) if purposes else NOT_PROVIDED}.")
        items.append(_item(12, ans, "derived", {"synthetic_sets": [{k: s[k] for k in ("path", "run_id", "generator", "task", "purpose", "gates_overall", "records", "manifest")} for s in synth],
                                                "used_by_training": in_training, "declared_purpose": decl.synthetic.purpose}))
    elif decl.synthetic.used is not None:
        items.append(_item(12, _yes_no(decl.synthetic.used) + (f". Purpose: {decl.synthetic.purpose}" if decl.synthetic.purpose else "."),
                           "declared", {"declaration_key": "synthetic", "declared": decl.synthetic.model_dump()}))
    else:
        items.append(_item(12, "No synthetic data set is among the disclosed inputs"
                           + (" or the datasets of the disclosed training runs." if train else ".")
                           + f" Whether synthetic data generation is used elsewhere: {NOT_PROVIDED}.",
                           "derived", {"synthetic_sets": [], "manifests": all_refs}))
    return items


# --------------------------------------------------------------------------------------- output


def _generated_at() -> str:
    """SOURCE_DATE_EPOCH (reproducible-builds.org) pins the timestamp, so reruns are byte-identical."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    when = datetime.fromtimestamp(int(epoch), UTC) if epoch else datetime.now(UTC)
    return when.isoformat(timespec="seconds").replace("+00:00", "Z")


def build_disclosure(dirs: list[str | os.PathLike[str]], declarations: Declarations | None = None) -> dict[str, Any]:
    if not dirs:
        raise DisclosureError("no input directories given")
    decl = declarations or Declarations()
    inputs = read_inputs(dirs)
    ex = decl.exemptions
    return {
        "items": build_items(inputs, decl),
        "generated_at": _generated_at(),
        "inputs": [x["manifest"] for group in ("corpora", "synthetic", "training") for x in inputs[group]],
        "system": decl.system.model_dump(mode="json"),
        "exemptions": ex.model_dump(mode="json"),
    }


_MD_UNSAFE = re.compile(r"[<>&]")


def _md(text: Any) -> str:
    """Markdown renderers pass raw HTML through: escape it (crawled URLs may hold markup)."""
    return _MD_UNSAFE.sub(lambda m: {"<": "&lt;", ">": "&gt;", "&": "&amp;"}[m.group(0)], str(text))


def render_markdown(d: dict[str, Any]) -> str:
    sysinfo = d["system"]
    name = sysinfo.get("name") or NOT_PROVIDED
    lines = [f"# Training data disclosure (California AB 2013, Civil Code 3111): {_md(name)}", "",
             f"Developer: {_md(sysinfo.get('developer') or NOT_PROVIDED)}. Generated {d['generated_at']} by assay "
             "from run manifests and provenance records; answers marked *declared* come from the developer's "
             "declarations, *derived* from the records (evidence in ab2013.json).", ""]
    for it in d["items"]:
        lines += [f"## {it['number']}. {_md(it['title'])}", "", _md(it["answer"]), "", f"*Basis: {it['basis']}*", ""]
    lines += ["## Inputs", ""] + [f"- {_md(i['kind'])} `{_md(i['path'])}` run {_md(i['run_id'])} (sha256 {i['sha256'][:16]})"
                                  for i in d["inputs"]]
    return "\n".join(lines) + "\n"


def render_html(d: dict[str, Any]) -> str:
    """Jinja2 with autoescape on: every crawled string (URLs, domains) is HTML-escaped."""
    from jinja2 import Environment, FileSystemLoader, select_autoescape

    env = Environment(loader=FileSystemLoader(Path(__file__).parent / "templates"),
                      autoescape=select_autoescape(default=True, default_for_string=True), keep_trailing_newline=True)
    return env.get_template("ab2013.html.j2").render(d=d, NOT_PROVIDED=NOT_PROVIDED,
                                                      evidence=lambda e: json.dumps(e, indent=2, sort_keys=True, default=str))


def write_disclosure(dirs: list[str | os.PathLike[str]], out_dir: str | os.PathLike[str],
                     declarations: str | os.PathLike[str] | None = None) -> dict[str, Path]:
    """Write ab2013.json / .md / .html into out_dir; returns their paths."""
    decl = load_declarations(declarations)
    d = build_disclosure(dirs, decl)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"json": out / "ab2013.json", "md": out / "ab2013.md", "html": out / "ab2013.html"}
    paths["json"].write_text(json.dumps(d, indent=2, sort_keys=False, default=str) + "\n")
    paths["md"].write_text(render_markdown(d))
    paths["html"].write_text(render_html(d))
    return paths
