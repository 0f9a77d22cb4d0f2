"""report.html for a curation run: funnel, languages, domains, duplicates, the quality classifier's
score histogram and benchmark contamination (when the run had those steps), samples.

Static and self-contained (no scripts, no external requests). Everything that came from
the crawl (URLs, text, reasons quoting it) goes through `html.escape`.
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

import polars as pl

from curate.decontaminate.report import contamination_section_html, contamination_summary
from curate.dedup.report import dedup_section_html, dedup_summary
from curate.quality.report import quality_section_html, quality_summary
from provenance.errors import InputError
from provenance.manifest import read_manifest
from provenance.outdir import DOCUMENTS, PROVENANCE, OutDir, write_text
from provenance.outdir import REJECTED as REJECTED_FOLDER
from provenance.schema import DUPLICATE, ERROR, KEPT, REJECTED

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;margin:2rem auto;max-width:1100px;color:#1d2330;padding:0 1rem}
h1{font-size:1.6rem} h2{font-size:1.2rem;margin-top:2rem;border-bottom:1px solid #dde;padding-bottom:.3rem}
table{border-collapse:collapse;width:100%;font-size:.9rem} td,th{padding:.3rem .5rem;border-bottom:1px solid #eef;text-align:left;vertical-align:top}
th{background:#f5f6fa} .num{text-align:right;font-variant-numeric:tabular-nums}
.bar{background:#4c6ef5;height:.8rem;border-radius:2px} .bar.rej{background:#e8590c} .bar.dup{background:#ae3ec9} .bar.err{background:#c92a2a}
.cards{display:flex;gap:1rem;flex-wrap:wrap} .card{background:#f5f6fa;border-radius:8px;padding:.8rem 1.2rem;min-width:120px}
.card b{display:block;font-size:1.4rem} pre{white-space:pre-wrap;background:#f8f9fb;padding:.6rem;border-radius:6px;font-size:.82rem;max-height:14rem;overflow:auto}
.muted{color:#667} code{font-size:.85rem}
"""  # noqa: E501 (one CSS rule set a line)


def esc(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _bar(value: int, total: int, cls: str = "") -> str:
    width = 0 if total == 0 else max(1, round(300 * value / total)) if value else 0
    return f'<div class="bar {cls}" style="width:{width}px"></div>'


def funnel(prov: pl.DataFrame) -> list[dict[str, Any]]:
    """Rows of (decision, step, count) in pipeline order, kept last."""
    order = ["read", "url", "extract", "lid", "gopher_repetition", "gopher_quality", "c4",
             "fineweb_quality", "quality", "decontaminate", "opt_out", "url_dedup", "exact_dedup",
             "near_dedup", "pipeline"]
    rows = prov.group_by(["decision", "step"]).len().to_dicts()
    rank = {s: i for i, s in enumerate(order)}
    rows.sort(key=lambda r: (r["decision"] == KEPT, rank.get(r["step"] or "", 99), r["step"] or "",
                             r["decision"]))
    return rows


def _top(df: pl.DataFrame, column: str, n: int = 20) -> list[dict[str, Any]]:
    """The n most frequent values of a column with their counts, ties by value."""
    return df.group_by(column).len().sort(["len", column], descending=[True, False]).head(n).to_dicts()


def summary(out_dir: str | Path) -> dict[str, Any]:
    """The numbers the report shows, computed from the provenance files (tests compare them)."""
    out = OutDir(out_dir)
    prov = pl.read_parquet(out.folder(PROVENANCE) / "*.parquet")
    kept = prov.filter(pl.col("decision") == KEPT)
    s: dict[str, Any] = {
        "records": prov.height,
        "decisions": {d: int(prov.filter(pl.col("decision") == d).height)
                      for d in (KEPT, REJECTED, DUPLICATE, ERROR)},
        "funnel": funnel(prov),
        "languages": _top(kept, "lang"),
        "languages_all": _top(prov.filter(pl.col("lang").is_not_null()), "lang"),
        "domains": _top(kept, "domain"),
        "kept_chars": int(kept["n_chars"].sum() or 0),
    }
    if out.manifest.exists():
        tok = json.loads(out.manifest.read_text()).get("tokenize")
        if tok:
            s["tokens"] = {"n_tokens": tok.get("n_tokens"), "shards": len(tok.get("shards", [])),
                           "vocab_size": tok.get("vocab_size")}
    return {**s, **learned_steps(out)}


def documents_with_signals(out: OutDir) -> pl.DataFrame:
    """doc_id, url, decision, step and signals of every document with text, kept or removed."""
    cols = ["doc_id", "url", "signals"]
    kept = pl.read_parquet(out.folder(DOCUMENTS) / "*.parquet", columns=cols).with_columns(
        pl.lit(KEPT).alias("decision"), pl.lit(None, pl.String).alias("step"))
    removed = pl.read_parquet(out.folder(REJECTED_FOLDER) / "*.parquet", columns=[*cols, "decision", "step"])
    return pl.concat([kept, removed], how="diagonal")


def learned_steps(out: OutDir) -> dict[str, Any]:
    """The quality classifier's and decontamination's summaries, for a run that had those steps."""
    manifest = json.loads(out.manifest.read_text()) if out.manifest.exists() else {}
    if "quality" not in manifest and "decontaminate" not in manifest:
        return {}
    docs = documents_with_signals(out)
    found = {}
    if "quality" in manifest:
        found["quality"] = quality_summary(manifest["quality"], docs)
    if "decontaminate" in manifest:
        found["contamination"] = contamination_summary(manifest["decontaminate"], docs)
    return found


def contamination(out_dir: str | Path) -> dict[str, Any]:
    """`assay contamination OUT`: per evaluation set, the items found and the documents holding them."""
    out = OutDir(out_dir)
    if "decontaminate" not in read_manifest(out.root):
        raise InputError(f"{out.manifest}: this run did not decontaminate (no [decontaminate] enabled)")
    return learned_steps(out)["contamination"]


def _table(headers: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{h}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _card(label: str, value: int) -> str:
    return f'<div class="card"><span class="muted">{esc(label)}</span><b>{value:,}</b></div>'


def _cards(s: dict[str, Any]) -> str:
    cards = "".join(_card(k, v) for k, v in [("records read", s["records"]), *s["decisions"].items()])
    return cards + (_card("tokens", s["tokens"]["n_tokens"]) if "tokens" in s else "")


def _funnel_rows(s: dict[str, Any]) -> list[list[str]]:
    cls = {KEPT: "", REJECTED: "rej", DUPLICATE: "dup", ERROR: "err"}
    return [[esc(r["decision"]), esc(r["step"] or "—"), f'<span class="num">{r["len"]:,}</span>',
             _bar(r["len"], s["records"], cls.get(r["decision"], ""))] for r in s["funnel"]]


def _count_rows(rows: list[dict[str, Any]], column: str, total: int) -> list[list[str]]:
    return [[esc(r[column]), f'{r["len"]:,}', _bar(r["len"], max(1, total))] for r in rows]


def _samples(out: OutDir) -> str:
    """The first five kept documents (text cut at 800 characters), escaped."""
    docs = pl.read_parquet(out.folder(DOCUMENTS) / "*.parquet", columns=["doc_id", "url", "lang", "text"])
    docs = docs.head(5)
    return "".join(f"<h3>{esc(r['url'])} <span class='muted'>({esc(r['lang'])})</span></h3>"
                   f"<pre>{esc(r['text'][:800])}</pre>" for r in docs.iter_rows(named=True))


def _removals(out: OutDir) -> str:
    """One removed document per step (up to eight steps; text cut at 400 characters), escaped."""
    columns = ["url", "step", "reason", "text"]
    rej = pl.read_parquet(out.folder(REJECTED_FOLDER) / "*.parquet", columns=columns)
    one_per_step = rej.group_by("step", maintain_order=True).head(1).head(8)
    return "".join(f"<h3>{esc(r['step'])}: <code>{esc(r['reason'])}</code></h3>"
                   f"<p class='muted'>{esc(r['url'])}</p><pre>{esc((r['text'] or '')[:400])}</pre>"
                   for r in one_per_step.iter_rows(named=True))


def render(out_dir: str | Path) -> str:
    out = OutDir(out_dir)
    s = summary(out.root)
    n_kept = s["decisions"][KEPT]
    langs = _table(["lang", "documents", ""], _count_rows(s["languages"], "lang", n_kept))
    domains = _table(["domain", "documents", ""], _count_rows(s["domains"], "domain", n_kept))
    manifest = json.loads(out.manifest.read_text()) if out.manifest.exists() else {}
    run_id, recipe = manifest.get("run_id", ""), manifest.get("recipe") or {}
    recipe_note = f" · recipe <code>{esc(recipe['name'])} v{esc(recipe['version'])}</code>" if recipe else ""
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>assay curation report</title>
<meta name="viewport" content="width=device-width, initial-scale=1"><style>{CSS}</style></head>
<body><h1>Curation report</h1><p class="muted">run <code>{esc(run_id)}</code>{recipe_note}
· {esc(out.root)}</p>
<div class="cards">{_cards(s)}</div>
<h2>Funnel: what happened to every record</h2>{_table(["decision", "step", "records", ""], _funnel_rows(s))}
<h2>Languages of kept documents</h2>{langs}
<h2>Top domains of kept documents</h2>{domains}
{dedup_section_html(dedup_summary(out.root))}
{quality_section_html(s["quality"]) if "quality" in s else ""}
{contamination_section_html(s["contamination"]) if "contamination" in s else ""}
<h2>Sample kept documents</h2>{_samples(out)}
<h2>Sample removals, one per step</h2>{_removals(out)}
</body></html>
"""


def write_report(out_dir: str | Path) -> Path:
    return write_text(OutDir(out_dir).report, render(out_dir))
