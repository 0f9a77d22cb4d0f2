"""The EU AI Act public summary of training content (Art. 53(1)(d)), from the records.

Follows the European Commission's "Template for the Public Summary of Training Content for
general-purpose AI models" (Annex to C(2025) 5235 final, 24 July 2025): 1 general information,
2 list of data sources, 3 data processing aspects. Providers of general-purpose AI models placed on
the Union market publish it (from 2 August 2025; models already on the market by 2 August 2027)
and update it at least every six months. Every answer is marked derived / declared /
not_provided as in the AB 2013 disclosure. Outputs: eu-summary.json, eu-summary.md, eu-summary.html.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from provenance.declarations import Declarations
from provenance.disclosure import eu_general, eu_processing, eu_sources
from provenance.disclosure.common import NOT_PROVIDED, md, render_template, write_document
from provenance.disclosure.facts import Facts
from provenance.disclosure.header import changes_text

FILES = {"json": "eu-summary.json", "md": "eu-summary.md", "html": "eu-summary.html"}
TEMPLATE = ("European Commission, Explanatory Notice and Template for the Public Summary of Training Content "
            "for general-purpose AI models (Annex to C(2025) 5235 final, 24 July 2025)")
SECTIONS = {
    "1": "General information",
    "1.1": "Provider identification",
    "1.2": "Model identification",
    "1.3": "Modalities, overall training data size and other characteristics",
    "2": "List of data sources",
    "2.1": "Publicly available datasets",
    "2.2": "Private non-publicly available datasets obtained from third parties",
    "2.3": "Data crawled and scraped from online sources",
    "2.4": "User data",
    "2.5": "Synthetic data",
    "2.6": "Other sources of data",
    "3": "Data processing aspects",
    "3.1": "Respect of reservation of rights from the text and data mining exception or limitation",
    "3.2": "Removal of illegal content",
    "3.3": "Other information (optional)",
}
# Subsection -> the function that answers its questions, in the template's order.
ANSWERS: list[Callable[[Facts, Declarations], list[dict[str, Any]]]] = [
    eu_general.provider, eu_general.model, eu_general.characteristics,
    eu_sources.public_datasets, eu_sources.private_datasets, eu_sources.crawled, eu_sources.user_data,
    eu_sources.synthetic, eu_sources.other_sources,
    eu_processing.tdm, eu_processing.illegal_content, eu_processing.other_processing,
]


def build_summary(f: Facts, decl: Declarations, head: dict[str, Any]) -> dict[str, Any]:
    """The summary as a dict (what eu-summary.json holds): every question in template order."""
    entries = [e for answer in ANSWERS for e in answer(f, decl)]
    return {"template": TEMPLATE, "summary_version": decl.eu.summary_version, **head,
            "sections": SECTIONS, "entries": entries}


def _grouped(d: dict[str, Any]) -> list[tuple[str, str, list[tuple[str, str, list[dict[str, Any]]]]]]:
    """(section, title, [(subsection, title, entries)]) in template order, for the renderers."""
    out = []
    for sec in ("1", "2", "3"):
        subs = [(k, t, [e for e in d["entries"] if e["number"] == k])
                for k, t in d["sections"].items() if k.startswith(f"{sec}.")]
        out.append((sec, d["sections"][sec], subs))
    return out


def render_markdown(d: dict[str, Any]) -> str:
    sysd = d["system"]
    name = " ".join(x for x in (sysd.get("name"), sysd.get("version")) if x) or NOT_PROVIDED
    lines = [f"# Public summary of training content (EU AI Act, Art. 53(1)(d)): {md(name)}", "",
             f"Following the {md(d['template'])}. "
             f"Summary version: {md(d['summary_version'] or NOT_PROVIDED)}. "
             f"Last update: {d['generated_at']}, by assay from run manifests and provenance records; "
             "*derived* answers come from the records (evidence in eu-summary.json), *declared* ones from "
             "the provider's declarations.", ""]
    if d.get("changes"):
        lines += [f"**Previous version:** {md(changes_text(d['changes']))}", ""]
    for sec, title, subs in _grouped(d):
        lines += [f"## {sec}. {md(title)}", ""]
        for sub, sub_title, entries in subs:
            lines += [f"### {sub} {md(sub_title)}", ""]
            for e in entries:
                lines += [f"**{md(e['title'])}** *({e['basis']})*", "", md(e["answer"]), ""]
    return "\n".join(lines)


def render_html(d: dict[str, Any]) -> str:
    """Jinja2 with autoescape on: every crawled string (domains, crawler names, file names) is escaped."""
    return render_template("eu-summary.html.j2", d=d, grouped=_grouped(d),
                           changes=changes_text(d["changes"]) if d.get("changes") else None)


def write(f: Facts, decl: Declarations, head: dict[str, Any], out: Path) -> dict[str, Path]:
    """Write eu-summary.json / .md / .html into `out`; returns their paths by file name."""
    return write_document(out, FILES, build_summary(f, decl, head), render_markdown, render_html)
