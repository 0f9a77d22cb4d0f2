"""Training-data disclosures written from the pipeline's own records.

`assay disclose DIR... -o OUT` reads the run manifests and provenance of curated corpora,
synthetic sets and training runs once (`facts`), and writes, from that one set of records:

- `ab2013`: the California AB 2013 disclosure (Civil Code 3111): ab2013.json / .md / .html;
- `eu-summary`: the EU AI Act public summary of training content: eu-summary.json / .md / .html;
- `dataset-card`: a Hugging Face dataset card, README.md (YAML metadata + the card template);
- `croissant`: MLCommons Croissant 1.0 metadata with the Responsible-AI fields, croissant.json.

What no record shows comes from the declarations file (`provenance.declarations`); what neither
supplies reads NOT PROVIDED. This package reads files only (polars / pyarrow / run.json / WARC
warcinfo records); it imports nothing from curate, synth or train (DESIGN.md).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from provenance.declarations import load_declarations
from provenance.disclosure import ab2013, croissant, dataset_card, eu_summary
from provenance.disclosure.ab2013 import FILES, build_disclosure, render_html, render_markdown
from provenance.disclosure.ab2013_items import ITEM_TITLES, count_range
from provenance.disclosure.common import NOT_PROVIDED
from provenance.disclosure.facts import DisclosureError, read_inputs
from provenance.disclosure.header import header

# --format name -> the writer of that format (each takes the facts, declarations, header and OUT).
FORMATS = {"ab2013": ab2013.write, "eu-summary": eu_summary.write, "dataset-card": dataset_card.write,
           "croissant": croissant.write}

__all__ = ["FILES", "FORMATS", "ITEM_TITLES", "NOT_PROVIDED", "DisclosureError", "build_disclosure",
           "count_range", "render_html", "render_markdown", "write_disclosure"]


def write_disclosure(dirs: list[str | os.PathLike[str]], out_dir: str | os.PathLike[str],
                     declarations: str | os.PathLike[str] | None = None,
                     formats: Iterable[str] | None = None,
                     previous: str | os.PathLike[str] | None = None) -> dict[str, Path]:
    """Write the disclosures of `dirs` into `out_dir` (every format unless `formats` names some);
    `previous`: an earlier disclosure to list what changed since. Returns paths by file name."""
    chosen = list(FORMATS) if formats is None else list(formats)
    unknown = [x for x in chosen if x not in FORMATS]
    if unknown or not chosen:
        raise DisclosureError(f"--format: unknown format {', '.join(unknown) or '(none given)'} "
                              f"(choose from {', '.join(FORMATS)})")
    decl = load_declarations(declarations)
    facts = read_inputs(dirs)
    head = header(facts, decl, previous)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}
    for name in chosen:
        paths.update(FORMATS[name](facts, decl, head, out))
    return paths
