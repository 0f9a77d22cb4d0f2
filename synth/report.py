"""The validation report: JSON for machines, one self-contained HTML page for people.

Plots are matplotlib PNGs embedded as base64; every text is html.escape'd
(documents are web text and may contain markup).
"""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path
from typing import Any

from provenance.outdir import REPORT, REPORT_JSON, write_json, write_text


def _fmt(v: Any) -> str:
    if v is None:
        return "n/a"
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


def _png(fig) -> str:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight", metadata={"Software": None})
    plt.close(fig)
    return f'<img alt="plot" src="data:image/png;base64,{base64.b64encode(buf.getvalue()).decode()}">'


def _plots(report: dict) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = []
    m = report["metrics"]
    names = [k for k in ("distinct_1", "distinct_2", "distinct_3", "distinct_4", "tail_mass", "hapax_ratio",
                         "self_bleu", "self_repetition") if k in m]
    fig, ax = plt.subplots(figsize=(8, 3))
    xs = range(len(names))
    ax.bar([x - 0.2 for x in xs], [m[n]["synthetic"] or 0 for n in names], 0.4, label="synthetic")
    ax.bar([x + 0.2 for x in xs], [m[n]["reference"] or 0 for n in names], 0.4, label="reference")
    ax.set_xticks(list(xs), names, rotation=30)
    ax.legend()
    ax.set_title("diversity at equal token budget")
    out.append(_png(fig))
    ranks = report.get("rank_frequency")
    if ranks:
        fig, ax = plt.subplots(figsize=(5, 3.5))
        for label, freqs in ranks.items():
            ax.loglog(range(1, len(freqs) + 1), freqs, label=label)
        ax.set_xlabel("rank")
        ax.set_ylabel("frequency")
        ax.set_title("rank-frequency (Zipf)")
        ax.legend()
        out.append(_png(fig))
    ppl = report.get("perplexities")
    if ppl and ppl.get("synthetic") and ppl.get("reference"):
        fig, ax = plt.subplots(figsize=(5, 3.5))
        ax.hist([ppl["synthetic"], ppl["reference"]], bins=30, label=["synthetic", "reference"])
        ax.set_xlabel("perplexity under the reference model")
        ax.legend()
        out.append(_png(fig))
    for cat, d in report.get("bias", {}).items():
        groups = sorted(set(d["synthetic"]["shares"]) | set(d["reference"]["shares"]))
        if not groups:
            continue
        fig, ax = plt.subplots(figsize=(6, 3))
        xs = range(len(groups))
        ax.bar([x - 0.2 for x in xs], [d["synthetic"]["shares"].get(g, 0) for g in groups], 0.4,
               label="synthetic")
        ax.bar([x + 0.2 for x in xs], [d["reference"]["shares"].get(g, 0) for g in groups], 0.4,
               label="reference")
        ax.set_xticks(list(xs), groups, rotation=30)
        ax.set_title(f"identity mentions: {cat}")
        ax.legend()
        out.append(_png(fig))
    return out


def write_report(report: dict, out_dir: str | Path) -> tuple[Path, Path]:
    """Write report.json and report.html into `out_dir`."""
    out = Path(out_dir)
    jpath = write_json(out / REPORT_JSON, report)
    e = html.escape
    rows = "".join(
        f"<tr class='{e(g['verdict'])}'><td>{e(g['metric'])}</td><td>{e(g['rule'])}</td>"
        f"<td>{_fmt(g['synthetic'])}</td>"
        f"<td>{_fmt(g['reference'])}</td><td>{_fmt(g['threshold'])}</td><td><b>{e(g['verdict'])}</b></td>"
        f"<td>{e(g['why'])}</td></tr>"
        for g in report["gates"]["gates"])
    mrows = "".join(
        f"<tr><td>{e(k)}</td><td>{_fmt(v.get('synthetic'))}</td><td>{_fmt(v.get('reference'))}</td>"
        f"<td>{e(report['definitions'].get(k, ''))}</td></tr>"
        for k, v in report["metrics"].items())
    samples = "".join(f"<li><pre>{e(s)}</pre></li>" for s in report.get("samples", []))
    page = f"""<!doctype html><html><head><meta charset="utf-8"><title>assay synth validate</title>
<style>body{{font-family:sans-serif;max-width:1100px;margin:auto}}\
td,th{{border:1px solid #ccc;padding:3px 6px}}
table{{border-collapse:collapse}}tr.fail{{background:#fdd}}tr.pass{{background:#dfd}}pre{{white-space:pre-wrap}}</style>
</head><body><h1>Synthetic set validation: \
<span class="{e(report['gates']['overall'])}">{e(report['gates']['overall'])}</span></h1>
<p>synthetic: <code>{e(str(report['synthetic']))}</code><br>\
reference: <code>{e(str(report['reference']))}</code><br>
equal budget: {e(str(report['budget_tokens']))} word tokens each</p>
<h2>Gates</h2><table><tr><th>metric</th><th>rule</th><th>synthetic</th><th>reference</th><th>threshold</th>
<th>verdict</th><th>why</th></tr>{rows}</table>
<h2>Plots</h2>{''.join(_plots(report))}
<h2>Metrics and definitions</h2><table><tr><th>metric</th><th>synthetic</th><th>reference</th>\
<th>definition</th></tr>{mrows}</table>
<h2>Synthetic samples</h2><ol>{samples}</ol></body></html>
"""
    return jpath, write_text(out / REPORT, page)
