"""The California AB 2013 training-data disclosure (Civil Code section 3111), from the records.

Every answer is derived from the facts of the inputs where the records can show it (one function
per item in `ab2013_items`, with the numbers and the manifests they came from as evidence), taken
from the declarations where only the developer knows, and NOT PROVIDED otherwise. A declared
release date before 2022-01-01 is flagged as outside the statute's scope; a previous disclosure
(`--previous`) adds what changed. Outputs: ab2013.json, ab2013.md, ab2013.html.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import Any

from provenance.declarations import Declarations
from provenance.disclosure.ab2013_items import build_items
from provenance.disclosure.common import NOT_PROVIDED, md, render_template, write_document
from provenance.disclosure.facts import Facts, read_inputs
from provenance.disclosure.header import changes_text, header

FILES = {"json": "ab2013.json", "md": "ab2013.md", "html": "ab2013.html"}
# Civil Code 3111: developers of systems or services (or substantial modifications) released on or
# after January 1, 2022 must post the documentation.
SCOPE_START = dt.date(2022, 1, 1)


def scope(decl: Declarations) -> dict[str, Any]:
    """Whether the declared release date falls within the statute's date scope."""
    rd = decl.system.release_date
    if rd is None:
        return {"release_date": None, "in_scope": None,
                "note": f"Release date: {NOT_PROVIDED} (Civil Code 3111 covers systems and substantial "
                        "modifications released on or after 2022-01-01)."}
    if rd < SCOPE_START:
        return {"release_date": rd.isoformat(), "in_scope": False,
                "note": f"The declared release date {rd.isoformat()} is before 2022-01-01: the system is "
                        "outside the scope of Civil Code 3111 (systems and substantial modifications "
                        "released on or after January 1, 2022), unless a substantial modification was "
                        "released since."}
    return {"release_date": rd.isoformat(), "in_scope": True,
            "note": f"Declared release date {rd.isoformat()}: on or after 2022-01-01, within the date "
                    "scope of Civil Code 3111."}


def ab2013_document(f: Facts, decl: Declarations, head: dict[str, Any]) -> dict[str, Any]:
    return {"items": build_items(f, decl), **head, "scope": scope(decl),
            "exemptions": decl.exemptions.model_dump(mode="json")}


def build_disclosure(dirs: list[str | os.PathLike[str]], declarations: Declarations | None = None,
                     previous: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """The AB 2013 disclosure of `dirs` as a dict (what ab2013.json holds)."""
    decl = declarations or Declarations()
    f = read_inputs(dirs)
    return ab2013_document(f, decl, header(f, decl, previous))


def render_markdown(d: dict[str, Any]) -> str:
    sysinfo = d["system"]
    lines = [f"# Training data disclosure (California AB 2013, Civil Code 3111): "
             f"{md(sysinfo.get('name') or NOT_PROVIDED)}", "",
             f"Developer: {md(sysinfo.get('developer') or NOT_PROVIDED)}. "
             f"Generated {d['generated_at']} by assay "
             "from run manifests and provenance records; answers marked *declared* come from the developer's "
             "declarations, *derived* from the records (evidence in ab2013.json).", "",
             f"**Scope:** {md(d['scope']['note'])}", ""]
    if d.get("changes"):
        lines += [f"**Changes:** {md(changes_text(d['changes']))}", ""]
    for it in d["items"]:
        lines += [f"## {it['number']}. {md(it['title'])}", "", md(it["answer"]), "",
                  f"*Basis: {it['basis']}*", ""]
    lines += ["## Inputs", ""] + [f"- {md(i['kind'])} {md(i['path'])} run {md(i['run_id'])} "
                                  f"(sha256 {i['sha256'][:16]})" for i in d["inputs"]]
    return "\n".join(lines) + "\n"


def render_html(d: dict[str, Any]) -> str:
    """Jinja2 with autoescape on: every crawled string (URLs, domains, file names) is HTML-escaped."""
    return render_template("ab2013.html.j2", d=d,
                           changes=changes_text(d["changes"]) if d.get("changes") else None)


def write(f: Facts, decl: Declarations, head: dict[str, Any], out: Path) -> dict[str, Path]:
    """Write ab2013.json / .md / .html into `out`; returns their paths by file name."""
    return write_document(out, FILES, ab2013_document(f, decl, head), render_markdown, render_html)
