"""The quality step in report.html: which model, which rule, the score histogram (kept against rejected)."""

from __future__ import annotations

import html
from typing import Any

import numpy as np
import polars as pl

from curate.quality.step import STEP
from curate.quality.top_fraction import SCORE
from provenance.schema import KEPT

BINS = 20  # histogram bins over [0, 1]


def quality_summary(section: dict[str, Any], docs: pl.DataFrame) -> dict[str, Any]:
    """The run.json `quality` section, and score histograms of the kept documents, those the step rejected
    and those other steps removed. `docs`: doc_id, decision, step, signals of every document with text."""
    scored = docs.with_columns(SCORE.alias("score")).filter(pl.col("score").is_not_null())
    groups = {
        "kept": scored.filter(pl.col("decision") == KEPT),
        "rejected": scored.filter(pl.col("step") == STEP),
        "removed_by_other_steps": scored.filter((pl.col("decision") != KEPT) & (pl.col("step") != STEP)),
    }
    edges = np.linspace(0.0, 1.0, BINS + 1)
    counts = {k: np.histogram(g["score"].to_numpy(), bins=edges)[0].tolist() for k, g in groups.items()}
    rule = {k: section[k] for k in ("threshold", "keep_top_fraction") if section.get(k) is not None}
    return {
        "model": section.get("model"), "sha256": section.get("sha256"), "label": section.get("label"), **rule,
        "selection": section.get("selection"),
        **{k: g.height for k, g in groups.items()},
        "histogram": [{"from": round(float(edges[i]), 2), "to": round(float(edges[i + 1]), 2),
                       **{k: c[i] for k, c in counts.items()}} for i in range(BINS)],
    }


def quality_section_html(s: dict[str, Any]) -> str:
    """An HTML section: the model (escaped path), its rule, and the histogram as bars."""
    e = html.escape
    rule = (f"threshold {s['threshold']}" if "threshold" in s
            else f"keep the top {s.get('keep_top_fraction')} of the run")
    cut = (s.get("selection") or {}).get("cutoff")
    top = max([1] + [b["kept"] + b["rejected"] for b in s["histogram"]])
    bar = '<div class="bar {}" style="width:{}px"></div>'
    rows = "".join(
        f"<tr><td>{b['from']:.2f}–{b['to']:.2f}</td><td class='num'>{b['kept']}</td>"
        f"<td>{bar.format('', round(200 * b['kept'] / top))}</td><td class='num'>{b['rejected']}</td>"
        f"<td>{bar.format('rej', round(200 * b['rejected'] / top))}</td></tr>" for b in s["histogram"])
    return (f'<section id="quality"><h2>Quality classifier</h2>'
            f"<p>Model <code>{e(str(s['model']))}</code> (sha256 <code>{e(str(s['sha256'])[:16])}</code>), "
            f"label <code>{e(str(s['label']))}</code>, {e(rule)}"
            + (f" (cut-off score {cut})" if cut is not None else "")
            + f": {s['kept']:,} kept, {s['rejected']:,} rejected by the classifier, "
            f"{s['removed_by_other_steps']:,} removed by other steps.</p>"
            "<table><thead><tr><th>score</th><th>kept</th><th></th><th>rejected</th><th></th></tr></thead>"
            f"<tbody>{rows}</tbody></table></section>")
