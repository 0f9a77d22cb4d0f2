"""The California AB 2013 training-data disclosure (Civil Code section 3111), from the records.

`assay disclose DIR... -o OUT` reads the run manifests and provenance files of curated corpora,
synthetic sets and training runs (`disclosure_facts`), derives every answer it can, one function
per item (`disclosure_items`, with the numbers and the manifests they came from as evidence),
takes the rest from a declarations TOML file, and marks anything neither can supply as NOT
PROVIDED. Outputs: ab2013.json, ab2013.md, ab2013.html.

This package reads files only (polars / pyarrow / run.json); it imports nothing from curate,
synth or train (DESIGN.md: dependencies point one way).
"""

from __future__ import annotations

import json
import os
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from provenance.declarations import Declarations, load_declarations
from provenance.disclosure_facts import DisclosureError, read_inputs
from provenance.disclosure_items import ITEM_TITLES, NOT_PROVIDED, build_items, count_range
from provenance.outdir import write_text

FILES = {"json": "ab2013.json", "md": "ab2013.md", "html": "ab2013.html"}  # what write_disclosure writes

__all__ = ["FILES", "ITEM_TITLES", "NOT_PROVIDED", "DisclosureError", "build_disclosure", "count_range",
           "render_html", "render_markdown", "write_disclosure"]


def _generated_at() -> str:
    """SOURCE_DATE_EPOCH (reproducible-builds.org) pins the timestamp, so reruns are byte-identical."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    when = datetime.fromtimestamp(int(epoch), UTC) if epoch else datetime.now(UTC)
    return when.isoformat(timespec="seconds").replace("+00:00", "Z")


def build_disclosure(dirs: list[str | os.PathLike[str]],
                     declarations: Declarations | None = None) -> dict[str, Any]:
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


_MD_HTML = {"<": "&lt;", ">": "&gt;", "&": "&amp;"}
# CommonMark's link, image, emphasis, heading and table punctuation: backslash-escaped in text that
# comes from files (a file name may hold "](javascript:...)" or a newline and "# ").
_MD_UNSAFE = re.compile(r"[<>&\\`*_\[\]()#!|]")


def _md(text: Any) -> str:
    """Text as inert Markdown: one line (newlines would start headings), raw HTML escaped (renderers
    pass it through), link and emphasis punctuation backslash-escaped."""
    line = " ".join(str(text).split())
    return _MD_UNSAFE.sub(lambda m: _MD_HTML.get(m.group(0)) or "\\" + m.group(0), line)


def _code(text: Any) -> str:
    """Text as one inline code span (nothing inside is interpreted): a fence longer than any run of
    backticks in it, on one line."""
    line = " ".join(str(text).split())
    fence = "`" * (max((len(r) for r in re.findall(r"`+", line)), default=0) + 1)
    pad = " " if line.startswith("`") or line.endswith("`") else ""
    return f"{fence}{pad}{line}{pad}{fence}"


def render_markdown(d: dict[str, Any]) -> str:
    sysinfo = d["system"]
    name = sysinfo.get("name") or NOT_PROVIDED
    lines = [f"# Training data disclosure (California AB 2013, Civil Code 3111): {_md(name)}", "",
             f"Developer: {_md(sysinfo.get('developer') or NOT_PROVIDED)}. "
             f"Generated {d['generated_at']} by assay "
             "from run manifests and provenance records; answers marked *declared* come from the developer's "
             "declarations, *derived* from the records (evidence in ab2013.json).", ""]
    for it in d["items"]:
        lines += [f"## {it['number']}. {_md(it['title'])}", "", _md(it["answer"]), "",
                  f"*Basis: {it['basis']}*", ""]
    lines += ["## Inputs", ""] + [f"- {_md(i['kind'])} {_code(i['path'])} run {_md(i['run_id'])} "
                                  f"(sha256 {i['sha256'][:16]})"
                                  for i in d["inputs"]]
    return "\n".join(lines) + "\n"


def render_html(d: dict[str, Any]) -> str:
    """Jinja2 with autoescape on: every crawled string (URLs, domains) is HTML-escaped."""
    from jinja2 import Environment, FileSystemLoader, select_autoescape

    env = Environment(loader=FileSystemLoader(Path(__file__).parent / "templates"),
                      autoescape=select_autoescape(default=True, default_for_string=True),
                      keep_trailing_newline=True)
    return env.get_template("ab2013.html.j2").render(
        d=d, NOT_PROVIDED=NOT_PROVIDED,
        evidence=lambda e: json.dumps(e, indent=2, sort_keys=True, default=str))


def write_disclosure(dirs: list[str | os.PathLike[str]], out_dir: str | os.PathLike[str],
                     declarations: str | os.PathLike[str] | None = None) -> dict[str, Path]:
    """Write ab2013.json / .md / .html into out_dir; returns their paths."""
    decl = load_declarations(declarations)
    d = build_disclosure(dirs, decl)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {ext: out / name for ext, name in FILES.items()}
    write_text(paths["json"], json.dumps(d, indent=2, sort_keys=False, default=str) + "\n")
    write_text(paths["md"], render_markdown(d))
    write_text(paths["html"], render_html(d))
    return paths
