"""Section 3 of the EU training-content summary: data processing aspects.

3.1 how text-and-data-mining reservations were respected: the TDMRep `tdm-reservation` and
`noai` signals curate recorded per page (curate/signals/opt_out.py), how many were seen, and
what the run did with them (`drop_opted_out`); 3.2 measures against illegal content: the URL
block list the runs were configured with and what it removed; 3.3 the other processing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from provenance.declarations import Declarations
from provenance.disclosure import statements as st
from provenance.disclosure.common import Basis, basis_of, declared_entry, entry, with_declared, yes_no
from provenance.disclosure.facts import Facts


def _opt_out_handling(c: dict[str, Any]) -> str:
    seen = c["tdm_reserved"]["all"] + c["noai"]["all"]
    kept = c["tdm_reserved"]["kept"] + c["noai"]["kept"]
    action = ("pages with a reservation were dropped (signals.drop_opted_out = true)" if c["drop_opted_out"]
              else "pages with a reservation were not dropped (signals.drop_opted_out = false)")
    return (f"{Path(c['path']).name}: {c['tdm_reserved']['all']:,} TDM-reserved and "
            f"{c['noai']['all']:,} noai record(s) seen, {kept:,} of them among the kept documents; {action}"
            if seen else f"{Path(c['path']).name}: no reservation seen; {action}")


def tdm(f: Facts, decl: Declarations) -> list[dict[str, Any]]:
    """3.1 Respect of reservation of rights from the text and data mining exception or limitation."""
    t = decl.eu.tdm
    derived = "; ".join(_opt_out_handling(c) for c in f.corpora)
    text = with_declared(f"Machine-readable opt-outs read from every page (TDMRep tdm-reservation meta tag "
                         f"and header; noai / noimageai in robots meta and X-Robots-Tag): {derived}."
                         if derived else "", t.measures)
    return [declared_entry("3.1", "Signatory of the General-Purpose AI Code of Practice (copyright chapter)",
                           t.code_of_practice_signatory, "eu.tdm.code_of_practice_signatory", yes_no),
            entry("3.1", "Measures implemented to respect reservations of rights (Directive (EU) 2019/790, "
                  "Art. 4(3)), including the opt-out protocols honoured", text,
                  basis_of(derived, t.measures),
                  {"tdm_reserved": {c["path"]: c["tdm_reserved"] for c in f.corpora},
                   "noai": {c["path"]: c["noai"] for c in f.corpora},
                   "drop_opted_out": {c["path"]: c["drop_opted_out"] for c in f.corpora},
                   "declared": t.measures, "manifests": f.refs})]


def _block_list(c: dict[str, Any]) -> str:
    u = c["url_filter"]
    if not u["enabled"]:
        return f"{Path(c['path']).name}: URL block list disabled"
    rules = f"{u['domains']:,} domain rule(s) and {u['regexes']:,} URL pattern(s) configured"
    source = f", plus the rules of {Path(str(u['blocklist_file'])).name}" if u["blocklist_file"] else ""
    return f"{Path(c['path']).name}: {rules}{source}; {u['removed']:,} record(s) removed"


def illegal_content(f: Facts, decl: Declarations) -> list[dict[str, Any]]:
    """3.2 Removal of illegal content: the configured URL block lists, and declared measures."""
    derived = "; ".join(_block_list(c) for c in f.corpora)
    declared = decl.eu.illegal_content
    text = with_declared(f"URL block list (curate/filters/url.py) before extraction: {derived}."
                         if derived else "", declared)
    return [entry("3.2", "General description of measures taken to avoid or remove illegal content", text,
                  basis_of(derived, declared),
                  {"url_filter": {c["path"]: c["url_filter"] for c in f.corpora}, "declared": declared,
                   "manifests": f.refs})]


def other_processing(f: Facts, decl: Declarations) -> list[dict[str, Any]]:
    """3.3 Other information: every processing step with its removal counts, and the PII scan."""
    if not f.corpora:
        return [declared_entry("3.3", "Other information (optional)", decl.eu.other_processing,
                               "eu.other_processing")]
    text, ev = st.processing_statement(f)
    pii, pii_ev = st.pii_statement(f, None)
    text = with_declared(f"{text} Personal information: {pii}", decl.eu.other_processing)
    return [entry("3.3", "Other information (optional)", text, Basis.DERIVED,
                  {**ev, "pii": pii_ev, "declared": decl.eu.other_processing, "manifests": f.refs})]
