"""Statements more than one disclosure makes, written once from the facts: languages, personal
information, copyright, processing, the collection period, synthetic sets, token totals.

AB 2013, the EU summary, the dataset card and Croissant quote these, so the same question gets
the same numbers and the same words in every format. Each returns plain data or (text, evidence).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from provenance.disclosure.common import NOT_PROVIDED, percent
from provenance.disclosure.facts import Facts
from provenance.schema import PII_TYPES, TAKEN_DOWN

# What curate/signals/pii.py detects, and what no pattern scan sees (docs/ab2013.md).
PII_DETECTS = ("e-mail addresses, phone numbers (NANP and +CC forms, validated by libphonenumber), public "
               "IP addresses, payment card numbers (issuer prefix, length and Luhn check), US Social "
               "Security numbers (dashed form) and IBANs (country format and mod-97)")
PII_CANNOT_DETECT = ("names of people, postal addresses, dates of birth, account user names, and any other "
                     "personal information without a fixed pattern")
PUBLIC_DOMAIN_PREFIXES = ("cc0-", "cc-pdm-")  # CC0 waiver, Public Domain Mark (curate/signals/licence.py)


def sum_by(rows: Iterable[dict[str, Any]], key: str) -> dict[str, int]:
    """Documents per `key` value over breakdowns of several datasets (domains, languages, licences)."""
    out: dict[str, int] = {}
    for x in rows:
        out[str(x[key])] = out.get(str(x[key]), 0) + x["documents"]
    return out


def ranked(counts: dict[str, int]) -> list[tuple[str, int]]:
    """Most first, ties by name."""
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))


def languages(f: Facts) -> list[dict[str, Any]]:
    """Language ID (fastText lid.176) of kept documents and synthetic records, with shares of the total."""
    counts = sum_by((x for d in f.datasets for x in d["languages"]), "lang")
    total = sum(counts.values())
    return [{"lang": k, "documents": v, "share": percent(v, total)} for k, v in ranked(counts)]


def language_text(f: Facts) -> str:
    langs = languages(f)
    return ", ".join(f"{x['lang']} {x['share']}" for x in langs) if langs else NOT_PROVIDED


def pii_statement(f: Facts, declared: str | None) -> tuple[str, dict[str, Any]]:
    """What the PII scan found, what it looks for, and what it cannot see."""
    pii = {t: sum(c["pii_totals"][t] for c in f.corpora) for t in PII_TYPES}
    docs = sum(c["documents_with_pii"] for c in f.corpora)
    redacted = sum(c["pii_redacted_documents"] for c in f.corpora)
    found = ", ".join(f"{t}: {v:,}" for t, v in pii.items() if v) or "none"
    head = (f"Yes: {docs:,} of {f.kept:,} kept documents contain personal information the pattern scan "
            f"detects ({found})." if docs else
            f"The pattern scan found no personal information of the kinds it detects in the {f.kept:,} kept "
            "documents; that does not show there is none.")
    text = (f"{head} The scan detects {PII_DETECTS}. It cannot detect {PII_CANNOT_DETECT}"
            + (". " if declared else f": whether the documents contain those is {NOT_PROVIDED}. ")
            + (f"{redacted:,} document(s) were redacted (placeholders replace the detected items)."
               if redacted else "No redaction was applied."))
    if declared:
        text += f" Declared: {declared}"
    return text, {"pii_totals": pii, "documents_with_pii": docs, "documents": f.kept,
                  "redacted_documents": redacted, "detects": PII_DETECTS, "cannot_detect": PII_CANNOT_DETECT,
                  "redaction_enabled": {c["path"]: c["redaction_enabled"] for c in f.corpora},
                  "declared": declared}


def copyright_statement(f: Facts) -> tuple[str, dict[str, Any]]:
    """Copyright-protected material, Creative Commons licences and public domain: three questions."""
    lic = sum_by((x for c in f.corpora for x in c["licenses"]), "license")
    n = f.kept
    unmarked = lic.get("none detected", 0)
    public = sum(v for k, v in lic.items() if k.startswith(PUBLIC_DOMAIN_PREFIXES))
    cc = n - unmarked - public
    protected = n - public
    found = ", ".join(f"{k}: {v:,}" for k, v in sorted(lic.items()) if k != "none detected") or "none"
    text = (f"Copyright-protected material: {'Yes' if protected else 'No'}. {protected:,} of {n:,} kept web "
            f"documents are protected by copyright: {unmarked:,} carry no licence marking the scan detected "
            f"(web pages are protected by default) and {cc:,} carry a Creative Commons licence (licensed "
            f"works are still protected by copyright, not public domain). Public domain: {public:,} "
            f"document(s) carry a CC0 dedication or Public Domain Mark, so the datasets are "
            f"{'entirely' if n and public == n else 'not entirely'} public domain. Licences found: {found}.")
    return text, {"licenses": lic, "documents": n, "copyright_protected_documents": protected,
                  "creative_commons_licensed_documents": cc, "no_licence_detected_documents": unmarked,
                  "public_domain_documents": public}


def opt_out_text(f: Facts) -> str:
    kept = sum(c["tdm_reserved"]["kept"] + c["noai"]["kept"] for c in f.corpora)
    return (f"Opt-out signals (TDMRep tdm-reservation / robots noai): "
            f"{sum(c['tdm_reserved']['all'] for c in f.corpora)} TDM-reserved and "
            f"{sum(c['noai']['all'] for c in f.corpora)} noai record(s) seen, {kept} among kept documents; "
            f"dropping opted-out pages was {'on' if all(c['drop_opted_out'] for c in f.corpora) else 'off'}.")


def processing_statement(f: Facts) -> tuple[str, dict[str, Any]]:
    """Every processing step with the records it removed, redaction, takedowns, tokenization."""
    steps = [f"{r['step'] or 'unknown'} ({r['decision']}): {r['count']:,}"
             for c in f.corpora for r in c["removed_by_step"] if r["decision"] != TAKEN_DOWN]
    text = ("Every WARC record was read, decoded, main text extracted, language identified, filtered by "
            "quality rules and deduplicated; records removed per step: " + ("; ".join(steps) or "none") + ".")
    recipes = sorted({f"{r['name']} v{r['version']}" for c in f.corpora if (r := c.get("recipe"))})
    if recipes:
        text += " Curation recipe: " + ", ".join(recipes) + " (docs/recipes.md)."
    redacted = sum(c["pii_redacted_documents"] for c in f.corpora)
    if redacted:
        text += f" PII redaction replaced detected items in {redacted:,} document(s)."
    taken = sum(c["taken_down"] for c in f.corpora)
    if taken:
        text += f" Takedown requests removed {taken:,} document(s) ({len(f.takedowns)} request(s))."
    if any(c["tokens"] is not None for c in f.corpora):
        text += " Kept documents were tokenized into token shards."
    return text, {"by_corpus": {c["path"]: c["removed_by_step"] for c in f.corpora}, "taken_down": taken,
                  "recipes": {c["path"]: c.get("recipe") for c in f.corpora},
                  "takedowns": f.takedowns}


def collection_period(f: Facts) -> dict[str, str | None]:
    """WARC-Date of the kept documents, first and last."""
    mins = [c["warc_date_kept"]["min"] for c in f.corpora if c["warc_date_kept"]["min"]]
    maxs = [c["warc_date_kept"]["max"] for c in f.corpora if c["warc_date_kept"]["max"]]
    return {"min": min(mins) if mins else None, "max": max(maxs) if maxs else None}


def generation_periods(f: Facts) -> list[dict[str, Any]]:
    """When each synthetic set was generated (its synth run's start and finish)."""
    return [{"set": Path(s["path"]).name, "run_id": s["run_id"], "from": s["generated_from"],
             "to": s["generated_to"]} for s in f.synth]


def generation_text(f: Facts) -> str:
    return "; ".join(f"{g['set']} from {g['from'] or NOT_PROVIDED} to {g['to'] or NOT_PROVIDED}"
                     for g in generation_periods(f))


def synthetic_types(f: Facts) -> list[str]:
    """One phrase per synthetic set: its task and, for a labelled task, the label type with how many
    records hold at least one label in the task's format."""
    out = []
    for s in f.synth:
        name = f"{Path(s['path']).name} (task {s['task']})"
        if s["labels"]:
            counted = (f"; {s['labelled_records']:,} of {s['records']:,} records contain at least one"
                       if s["labelled_records"] is not None else "")
            out.append(f"{name}: labelled, label type {s['labels']}{counted}")
        else:
            out.append(f"{name}: unlabelled text")
    return out


def total_tokens(f: Facts) -> tuple[int | None, list[str]]:
    """Tokens over every dataset, or None with the datasets that have no token shards."""
    missing = [d["path"] for d in f.datasets if d["tokens"] is None]
    return (None if missing or not f.datasets else sum(d["tokens"] for d in f.datasets)), missing
