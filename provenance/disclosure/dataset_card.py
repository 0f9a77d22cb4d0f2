"""A Hugging Face dataset card (README.md) for the disclosed datasets, from the records.

The YAML metadata (languages, size category, licences found, task categories, pretty name) and
the sections of huggingface_hub's own dataset card template (`DatasetCard.from_template`, the
template the Hub shows) are filled from the same facts as the other disclosures: sources,
processing, personal information, and bias and limitations where the synthetic-data gates measured
them. Every value is Markdown-escaped (`common.md`); what is neither derived nor declared reads
NOT PROVIDED, so no "[More Information Needed]" placeholder is left.
"""

from __future__ import annotations

import bisect
from pathlib import Path
from typing import Any

from provenance.declarations import Declarations
from provenance.disclosure import statements as st
from provenance.disclosure.common import NOT_PROVIDED, Basis, md
from provenance.disclosure.facts import Facts
from provenance.outdir import write_text
from provenance.schema import DOCUMENT_SCHEMA, PROVENANCE_SCHEMA

FILE = "README.md"
# Hub size categories (huggingface.co/docs/hub/datasets-cards, metadata `size_categories`).
SIZE_CATEGORIES = ("n<1K", "1K<n<10K", "10K<n<100K", "100K<n<1M", "1M<n<10M", "10M<n<100M", "100M<n<1B",
                   "1B<n<10B", "10B<n<100B", "100B<n<1T", "n>1T")
# Licence identifiers the Hub knows (huggingface.co/docs/hub/repositories-licenses) that curate's
# Creative Commons detector can produce; any other detected licence is "other".
HUB_LICENSES = {"cc0-1.0", "cc-by-2.0", "cc-by-2.5", "cc-by-3.0", "cc-by-4.0", "cc-by-sa-3.0", "cc-by-sa-4.0",
                "cc-by-nc-2.0", "cc-by-nc-3.0", "cc-by-nc-4.0", "cc-by-nd-4.0", "cc-by-nc-nd-3.0",
                "cc-by-nc-nd-4.0", "cc-by-nc-sa-2.0", "cc-by-nc-sa-3.0", "cc-by-nc-sa-4.0"}
BIAS_GATES = ("identity_tvd_", "sentiment_gap_")  # synth/gates.py: the bias gates


def size_category(n: int) -> str:
    """The Hub's size bin for `n` records ("1K<n<10K" for 1,000 to 9,999)."""
    return SIZE_CATEGORIES[bisect.bisect_right([10**e for e in range(3, 13)], n)]


def metadata(f: Facts, decl: Declarations) -> dict[str, Any]:
    """The card's YAML metadata, from the records (pretty_name only when declared)."""
    langs = [x["lang"] for x in st.languages(f) if x["lang"] not in (None, "None")]
    lic = st.sum_by((x for c in f.corpora for x in c["licenses"]), "license")
    found = sorted({k if k in HUB_LICENSES else "other" for k in lic if k != "none detected"})
    records = f.kept + sum(s["records"] for s in f.synth)
    tasks = (["text-generation"] if f.corpora else []) + (
        ["question-answering"] if any(s["task"] == "qa" for s in f.synth) else [])
    meta = {"language": langs, "license": found + (["unknown"] if lic.get("none detected") else []),
            "size_categories": [size_category(records)], "task_categories": tasks,
            "task_ids": ["language-modeling"] if f.corpora else [],
            "multilinguality": ["multilingual" if len(langs) > 1 else "monolingual"],
            "language_creators": (["found"] if f.corpora else [])
            + (["machine-generated"] if f.synth else []),
            "annotations_creators": ["machine-generated"] if any(s["labels"] for s in f.synth)
            else ["no-annotation"]}
    if decl.dataset.pretty_name:
        meta["pretty_name"] = decl.dataset.pretty_name
    return {k: v for k, v in meta.items() if v}


def _said(value: str | None, basis: str = Basis.DECLARED) -> str:
    """A card value with its basis, Markdown-escaped; NOT PROVIDED when absent."""
    return f"{md(value)} *({basis})*" if value else NOT_PROVIDED


def _summary(f: Facts) -> str:
    tokens, _ = st.total_tokens(f)
    parts = [f"{c['kept']:,} web documents kept from {c['records']:,} WARC records of "
             f"{len(c['warc_inputs'])} WARC file(s) ({Path(c['path']).name})" for c in f.corpora]
    parts += [f"{s['records']:,} synthetic records ({Path(s['path']).name}, task {s['task']})"
              for s in f.synth]
    text = "; ".join(parts) + (f"; {tokens:,} tokens in all" if tokens is not None else "")
    return f"{text}. Languages: {st.language_text(f)}."


def _structure(f: Facts) -> str:
    doc_cols = ", ".join(DOCUMENT_SCHEMA.names)
    prov_cols = ", ".join(PROVENANCE_SCHEMA.names)
    return (f"`documents/*.parquet`: one row per kept document ({md(doc_cols)}). `provenance/*.parquet`: one "
            f"row per WARC record read, kept or not ({md(prov_cols)}). `tokens/*.arrow`: Arrow IPC token "
            "shards, one row per document (doc\\_id, input\\_ids, n\\_tokens). Datasets: "
            + md("; ".join(f"{Path(d['path']).name}: {len(d['outputs'])} files" for d in f.datasets)) + ".")


def _collection(f: Facts) -> str:
    files = [f"{w['file']} (crawler: {w['fields'].get('software') or NOT_PROVIDED})"
             for c in f.corpora for w in c["warcinfo"]]
    period = st.collection_period(f)
    text, _ = st.processing_statement(f)
    return md(f"WARC files: {', '.join(files) or NOT_PROVIDED}. Collected (WARC-Date of kept documents) "
              f"from {period['min'] or NOT_PROVIDED} to {period['max'] or NOT_PROVIDED}. {text}")


def _producers(f: Facts) -> str:
    domains = st.ranked(st.sum_by((x for c in f.corpora for x in c["domains"]), "domain"))
    parts = [f"the operators of {len(domains):,} web domains (most documents: "
             + ", ".join(f"{d} ({n})" for d, n in domains[:10]) + ")"] if domains else []
    parts += [f"the language model {s['generator']['model']} ({Path(s['path']).name})" for s in f.synth]
    return md("Text written by " + "; ".join(parts) + ".") if parts else NOT_PROVIDED


def _bias(f: Facts, decl: Declarations) -> str:
    gates = [f"{Path(s['path']).name}: {k} {v}" for s in f.synth for k, v in sorted(s["per_gate"].items())
             if k.startswith(BIAS_GATES)]
    lines = [f"Bias gates of the synthetic sets (identity-term shares and sentiment gaps against the human "
             f"reference, synth/gates.py): {'; '.join(gates)}." if gates else
             "No bias gate measured these datasets (the gates run on synthetic sets only)."]
    lines.append(f"Language distribution (share of documents): {st.language_text(f)}.")
    lines.append("Licence detection sees only Creative Commons markings in the HTML; personal information "
                 f"detection cannot see {st.PII_CANNOT_DETECT}.")
    if decl.dataset.limitations:
        lines.append(f"Declared: {decl.dataset.limitations}")
    return md(" ".join(lines)) + f" *({Basis.DERIVED})*"


def template_values(f: Facts, decl: Declarations) -> dict[str, str]:
    """Every variable of huggingface_hub's datasetcard_template.md."""
    ds = decl.dataset
    copyright_text, _ = st.copyright_statement(f)
    pii, _ = st.pii_statement(f, decl.personal_information)
    qa = [s for s in f.synth if s["labels"]]
    return {
        "pretty_name": md(ds.pretty_name or " + ".join(Path(d["path"]).name for d in f.datasets)),
        "dataset_summary": _said(ds.summary) if ds.summary else _said(_summary(f), Basis.DERIVED),
        "dataset_description": _said(_summary(f), Basis.DERIVED),
        "curators": _said(ds.curated_by), "funded_by": NOT_PROVIDED, "shared_by": NOT_PROVIDED,
        "language": _said(st.language_text(f), Basis.DERIVED),
        "license": md(f"Released under: {ds.license or NOT_PROVIDED}. Source pages: {copyright_text}"),
        "repo": _said(ds.url), "paper": NOT_PROVIDED, "demo": NOT_PROVIDED,
        "direct_use": _said(ds.direct_use), "out_of_scope_use": _said(ds.out_of_scope_use),
        "dataset_structure": _structure(f) + f" *({Basis.DERIVED})*",
        "curation_rationale_section": _said(decl.processing),
        "data_collection_and_processing_section": _collection(f) + f" *({Basis.DERIVED})*",
        "source_data_producers_section": _producers(f),
        "annotation_process_section": _said("; ".join(st.synthetic_types(f)), Basis.DERIVED) if qa else
        "No annotations: the records carry no labels.",
        "who_are_annotators_section": md(", ".join(sorted({str(s["generator"]["model"]) for s in qa})))
        if qa else "None.",
        "personal_and_sensitive_information": _said(pii, Basis.DERIVED) if f.corpora else _said(
            decl.personal_information),
        "bias_risks_limitations": _bias(f, decl),
        "citation_bibtex": f"~~~~bibtex\n{ds.citation}\n~~~~" if ds.citation and "~~~~" not in ds.citation
        else NOT_PROVIDED,
        "citation_apa": NOT_PROVIDED, "glossary": NOT_PROVIDED, "more_information": NOT_PROVIDED,
        "dataset_card_authors": NOT_PROVIDED, "dataset_card_contact": _said(ds.contact),
    }


def render(f: Facts, decl: Declarations) -> str:
    from huggingface_hub import DatasetCard, DatasetCardData

    card = DatasetCard.from_template(DatasetCardData(**metadata(f, decl)), **template_values(f, decl))
    return str(card)


def write(f: Facts, decl: Declarations, head: dict[str, Any], out: Path) -> dict[str, Path]:
    return {FILE: write_text(out / FILE, render(f, decl))}
