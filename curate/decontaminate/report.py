"""Which evaluation items a run found in its crawl: per set, the items found and the documents holding them.

Read back from the documents' `decontaminate` signals (kept and removed documents alike) and the
run.json section that lists the sets; used by `assay contamination OUT` and report.html, with every
crawled string (URLs) escaped on its way into HTML.
"""

from __future__ import annotations

import html
import json
from typing import Any

import polars as pl

from curate.decontaminate.step import STEP

ITEMS = pl.col("signals").str.json_path_match(f"$.{STEP}.items").cast(pl.Int64)


def contamination_summary(section: dict[str, Any], docs: pl.DataFrame) -> dict[str, Any]:
    """Per evaluation set (run.json's facts about it): the items found and the documents that hold them,
    with doc_id, URL, decision and step. `docs`: doc_id, url, decision, step, signals of every document
    with text. A document names at most its first `step.MAX_LISTED` items (its `items` counts them all)."""
    hits = docs.with_columns(ITEMS.alias("items")).filter(pl.col("items") > 0).sort("doc_id")
    found: dict[str, list[dict[str, Any]]] = {s["label"]: [] for s in section["sets"]}
    for r in hits.iter_rows(named=True):
        by_set: dict[str, list[str]] = {}
        for m in json.loads(r["signals"])[STEP]["matches"]:
            by_set.setdefault(m["set"], []).append(m["item"])
        for label, items in by_set.items():
            found.setdefault(label, []).append({"doc_id": r["doc_id"], "url": r["url"],
                                                "decision": r["decision"], "step": r["step"], "items": items})
    sets = []
    for s in section["sets"]:
        documents = found.get(s["label"], [])
        items = sorted({i for d in documents for i in d["items"]})
        sets.append({**s, "items_found": len(items), "found": items, "documents": documents})
    return {"ngram": section["ngram"], "min_overlap": section["min_overlap"], "sets": sets,
            "documents": hits.height}


def contamination_section_html(s: dict[str, Any]) -> str:
    e = html.escape
    parts = ['<section id="contamination"><h2>Benchmark contamination</h2>',
             f"<p>Documents sharing at least {s['min_overlap']} {s['ngram']}-gram(s) with an evaluation "
             f"item: {s['documents']:,}.</p>"]
    rows = "".join(f"<tr><td>{e(x['label'])}</td><td><code>{e(x['sha256'][:16])}</code></td>"
                   f"<td class='num'>{x['items']:,}</td><td class='num'>{x['items_found']:,}</td>"
                   f"<td class='num'>{len(x['documents']):,}</td></tr>" for x in s["sets"])
    parts.append("<table><thead><tr><th>evaluation set</th><th>sha256</th><th>items</th><th>items found</th>"
                 f"<th>documents</th></tr></thead><tbody>{rows}</tbody></table>")
    docs = "".join(f"<tr><td>{e(x['label'])}</td><td><code>{e(d['doc_id'])}</code></td>"
                   f"<td>{e(d['url'] or '')}</td><td>{e(d['decision'])} ({e(d['step'] or '—')})</td>"
                   f"<td>{e(', '.join(d['items']))}</td></tr>" for x in s["sets"] for d in x["documents"])
    if docs:
        parts.append("<table><thead><tr><th>evaluation set</th><th>doc_id</th><th>URL</th><th>decision</th>"
                     f"<th>items</th></tr></thead><tbody>{docs}</tbody></table>")
    parts.append("</section>")
    return "\n".join(parts)
