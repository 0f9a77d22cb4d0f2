"""report.html for a curation run: funnel, languages, domains, duplicates, samples.

Static and self-contained (no scripts, no external requests). Everything that came from
the crawl (URLs, text, reasons quoting it) goes through `html.escape`.
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

import polars as pl

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;margin:2rem auto;max-width:1100px;color:#1d2330;padding:0 1rem}
h1{font-size:1.6rem} h2{font-size:1.2rem;margin-top:2rem;border-bottom:1px solid #dde;padding-bottom:.3rem}
table{border-collapse:collapse;width:100%;font-size:.9rem} td,th{padding:.3rem .5rem;border-bottom:1px solid #eef;text-align:left;vertical-align:top}
th{background:#f5f6fa} .num{text-align:right;font-variant-numeric:tabular-nums}
.bar{background:#4c6ef5;height:.8rem;border-radius:2px} .bar.rej{background:#e8590c} .bar.dup{background:#ae3ec9} .bar.err{background:#c92a2a}
.cards{display:flex;gap:1rem;flex-wrap:wrap} .card{background:#f5f6fa;border-radius:8px;padding:.8rem 1.2rem;min-width:120px}
.card b{display:block;font-size:1.4rem} pre{white-space:pre-wrap;background:#f8f9fb;padding:.6rem;border-radius:6px;font-size:.82rem;max-height:14rem;overflow:auto}
.muted{color:#667} code{font-size:.85rem}
"""


def esc(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _bar(value: int, total: int, cls: str = "") -> str:
    width = 0 if total == 0 else max(1, round(300 * value / total)) if value else 0
    return f'<div class="bar {cls}" style="width:{width}px"></div>'


def funnel(prov: pl.DataFrame) -> list[dict[str, Any]]:
    """Rows of (decision, step, count) in pipeline order, kept last."""
    order = ["read", "url_filter", "extract", "lid", "gopher_repetition", "gopher_quality", "c4",
             "fineweb_quality", "opt_out", "exact_dedup", "near_dedup", "pipeline"]
    rows = prov.group_by(["decision", "step"]).len().to_dicts()
    rank = {s: i for i, s in enumerate(order)}
    rows.sort(key=lambda r: (r["decision"] == "kept", rank.get(r["step"] or "", 99), r["step"] or "", r["decision"]))
    return rows


def summary(out_dir: str | Path) -> dict[str, Any]:
    """The numbers the report shows, computed from the provenance files (tests compare them)."""
    out = Path(out_dir)
    prov = pl.read_parquet(out / "provenance" / "*.parquet")
    kept = prov.filter(pl.col("decision") == "kept")
    total = prov.height
    s: dict[str, Any] = {
        "records": total,
        "decisions": {d: int(prov.filter(pl.col("decision") == d).height) for d in ("kept", "rejected", "duplicate", "error")},
        "funnel": funnel(prov),
        "languages": kept.group_by("lang").len().sort(["len", "lang"], descending=[True, False]).head(20).to_dicts(),
        "languages_all": prov.filter(pl.col("lang").is_not_null()).group_by("lang").len()
        .sort(["len", "lang"], descending=[True, False]).head(20).to_dicts(),
        "domains": kept.group_by("domain").len().sort(["len", "domain"], descending=[True, False]).head(20).to_dicts(),
        "kept_chars": int(kept["n_chars"].sum() or 0),
    }
    manifest = out / "run.json"
    if manifest.exists():
        tok = json.loads(manifest.read_text()).get("tokenize")
        if tok:
            s["tokens"] = {"n_tokens": tok.get("n_tokens"), "shards": len(tok.get("shards", [])),
                           "vocab_size": tok.get("vocab_size")}
    return s


def _table(headers: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{h}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def render(out_dir: str | Path) -> str:
    out = Path(out_dir)
    s = summary(out)
    total = s["records"]
    d = s["decisions"]
    cls = {"kept": "", "rejected": "rej", "duplicate": "dup", "error": "err"}
    cards = "".join(
        f'<div class="card"><span class="muted">{esc(k)}</span><b>{v:,}</b></div>'
        for k, v in [("records read", total), *d.items()]
    )
    if "tokens" in s:
        cards += f'<div class="card"><span class="muted">tokens</span><b>{s["tokens"]["n_tokens"]:,}</b></div>'
    funnel_rows = [
        [esc(r["decision"]), esc(r["step"] or "—"), f'<span class="num">{r["len"]:,}</span>', _bar(r["len"], total, cls.get(r["decision"], ""))]
        for r in s["funnel"]
    ]
    lang_rows = [[esc(r["lang"]), f'{r["len"]:,}', _bar(r["len"], max(1, d["kept"]))] for r in s["languages"]]
    dom_rows = [[esc(r["domain"]), f'{r["len"]:,}', _bar(r["len"], max(1, d["kept"]))] for r in s["domains"]]

    docs = pl.read_parquet(out / "documents" / "*.parquet", columns=["doc_id", "url", "lang", "text"]).head(5)
    samples = "".join(
        f"<h3>{esc(r['url'])} <span class='muted'>({esc(r['lang'])})</span></h3><pre>{esc(r['text'][:800])}</pre>"
        for r in docs.iter_rows(named=True)
    )
    rej = pl.read_parquet(out / "rejected" / "*.parquet", columns=["url", "step", "reason", "text"])
    rej_samples = rej.group_by("step", maintain_order=True).head(1).head(8)
    rej_html = "".join(
        f"<h3>{esc(r['step'])}: <code>{esc(r['reason'])}</code></h3><p class='muted'>{esc(r['url'])}</p><pre>{esc((r['text'] or '')[:400])}</pre>"
        for r in rej_samples.iter_rows(named=True)
    )
    dedup_html = ""
    try:
        from curate.dedup_report import dedup_section_html, dedup_summary

        dedup_html = dedup_section_html(dedup_summary(out))
    except ImportError:
        dedup_html = ""
    run_id = ""
    if (out / "run.json").exists():
        run_id = json.loads((out / "run.json").read_text()).get("run_id", "")
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>assay curation report</title>
<meta name="viewport" content="width=device-width, initial-scale=1"><style>{CSS}</style></head>
<body><h1>Curation report</h1><p class="muted">run <code>{esc(run_id)}</code> · {esc(out)}</p>
<div class="cards">{cards}</div>
<h2>Funnel: what happened to every record</h2>{_table(["decision", "step", "records", ""], funnel_rows)}
<h2>Languages of kept documents</h2>{_table(["lang", "documents", ""], lang_rows)}
<h2>Top domains of kept documents</h2>{_table(["domain", "documents", ""], dom_rows)}
{dedup_html}
<h2>Sample kept documents</h2>{samples}
<h2>Sample removals, one per step</h2>{rej_html}
</body></html>
"""


def write_report(out_dir: str | Path) -> Path:
    path = Path(out_dir) / "report.html"
    path.write_text(render(out_dir), encoding="utf-8")
    return path
