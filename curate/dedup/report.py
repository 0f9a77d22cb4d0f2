"""What dedup removed, read back from a run's provenance: cluster-size histogram, the largest
clusters with sample URLs, the number removed, and how many documents each earlier corpus of
`--dedup-against` absorbed. Used by `assay dedup-report` and report.html.

Works from provenance (decision, step, dup_cluster, dup_of, url, reason) and, for the earlier
corpora, run.json's `dedup_against` list, so it describes any finished run; every crawled string
reaches HTML only through html.escape.
"""

from __future__ import annotations

import html
import os
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from curate.dedup.lsh import CLUSTER_PREFIX
from curate.dedup.sources import earlier_suffix
from provenance.errors import InputError
from provenance.manifest import read_manifest
from provenance.outdir import PROVENANCE, OutDir
from provenance.schema import DUPLICATE

COLUMNS = ("doc_id", "decision", "step", "reason", "dup_cluster", "dup_of", "url")
LARGEST = 10  # clusters listed in the report
SAMPLES = 5  # URLs shown per cluster


def _read_provenance(out_dir: Path) -> pa.Table:
    files = OutDir(out_dir).parts(PROVENANCE)
    if not files:
        raise InputError(f"no {PROVENANCE}/*.parquet under {out_dir}: not a curation output directory?")
    tables = []
    for f in files:
        names = set(pq.read_schema(f).names)
        missing = {"decision", "dup_cluster", "dup_of"} - names
        if missing:
            raise InputError(f"{f}: provenance without columns {sorted(missing)}")
        t = pq.read_table(f, columns=[c for c in COLUMNS if c in names])
        for c in COLUMNS:
            if c not in t.column_names:
                t = t.append_column(c, pa.nulls(len(t), pa.string()))
        tables.append(t.select(list(COLUMNS)))
    return pa.concat_tables(tables)


def _kind(cluster: str) -> str:
    return "near" if cluster.startswith(CLUSTER_PREFIX) else "exact"


def dedup_summary(out_dir: str | os.PathLike[str]) -> dict[str, Any]:
    """Counts, histograms and largest clusters, separately for exact and near (MinHash) duplicates.

    A cluster's members are the rows carrying its dup_cluster plus its representative
    (dup_of), which may be marked or not. Deterministic: ties sorted by cluster id / doc_id.
    """
    rows = _read_provenance(Path(out_dir)).to_pylist()
    url_of = {r["doc_id"]: r["url"] for r in rows}
    members: dict[str, set[str]] = defaultdict(set)
    rep_of: dict[str, str] = {}
    for r in rows:
        c = r["dup_cluster"]
        if c is None:
            continue
        members[c].add(r["doc_id"])
        if r["dup_of"] is not None:
            members[c].add(r["dup_of"])
            rep_of[c] = r["dup_of"]
        elif r["decision"] != DUPLICATE:
            rep_of.setdefault(c, r["doc_id"])
    removed = Counter(r["step"] or "unknown" for r in rows if r["decision"] == DUPLICATE)
    summary: dict[str, Any] = {
        "records": len(rows),
        "duplicates_removed": sum(removed.values()),
        "removed_by_step": dict(sorted(removed.items())),
        "earlier": _absorbed(Path(out_dir), rows),
    }
    for kind in ("exact", "near"):
        clusters = {c: m for c, m in members.items() if _kind(c) == kind}
        n_removed = sum(1 for r in rows if r["decision"] == DUPLICATE and r["dup_cluster"] in clusters)
        hist = Counter(len(m) for m in clusters.values())
        largest = sorted(clusters, key=lambda c: (-len(clusters[c]), c))[:LARGEST]
        summary[kind] = {
            "clusters": len(clusters),
            "documents_in_clusters": sum(len(m) for m in clusters.values()),
            "removed": n_removed,
            "histogram": [[size, hist[size]] for size in sorted(hist)],
            "largest": [
                {
                    "cluster": c,
                    "size": len(clusters[c]),
                    "representative": rep_of.get(c),
                    "representative_url": url_of.get(rep_of.get(c)),
                    "sample_urls": [url_of.get(d) for d in sorted(clusters[c])[:SAMPLES]],
                }
                for c in largest
            ],
        }
    return summary


def _absorbed(out_dir: Path, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per earlier corpus of `--dedup-against` (run.json's list): the duplicates it absorbed, by step."""
    if not OutDir(out_dir).manifest.is_file():
        return []
    out = []
    for corpus in read_manifest(out_dir).get("dedup_against") or []:
        suffix = earlier_suffix(corpus.get("run_id"))
        by_step = Counter(r["step"] or "unknown" for r in rows
                          if r["decision"] == DUPLICATE and (r["reason"] or "").endswith(suffix))
        out.append({"path": corpus.get("path"), "run_id": corpus.get("run_id"),
                    "absorbed": sum(by_step.values()), "by_step": dict(sorted(by_step.items()))})
    return out


def _table(header: list[str], body: list[list[str]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    rows = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in r) + "</tr>" for r in body)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"


def dedup_section_html(summary: dict[str, Any]) -> str:
    """An HTML <section> for report.html. Every crawled string (URLs, doc_ids) is escaped."""
    e = html.escape
    parts = ['<section id="dedup"><h2>Duplicates</h2>',
             f"<p>{summary['duplicates_removed']} of {summary['records']} records removed as duplicates "
             f"({', '.join(f'{e(k)}: {v}' for k, v in summary['removed_by_step'].items()) or 'none'}).</p>"]
    for c in summary.get("earlier", []):
        steps = ", ".join(f"{e(k)}: {v}" for k, v in c["by_step"].items()) or "none"
        parts.append(f"<p>{c['absorbed']} documents already in earlier corpus {e(c['path'] or '')} "
                     f"(run {e(c['run_id'] or '')}): {steps}.</p>")
    for kind, title in (("exact", "Exact duplicates"), ("near", "Near duplicates (MinHash LSH)")):
        s = summary[kind]
        parts.append(f"<h3>{title}</h3><p>{s['clusters']} clusters, {s['documents_in_clusters']} documents "
                     f"in clusters, {s['removed']} removed.</p>")
        if not s["clusters"]:
            continue
        top = max(n for _, n in s["histogram"])
        bar = '<div style="background:#4a7;height:0.8em;width:{:.1f}%"></div>'
        hist = [[str(size), str(n), bar.format(100 * n / top)] for size, n in s["histogram"]]
        parts.append(_table(["cluster size", "clusters", ""], hist))
        largest = [[e(c["cluster"]), str(c["size"]), e(c["representative_url"] or c["representative"] or ""),
                    "<br>".join(e(u or "") for u in c["sample_urls"])] for c in s["largest"]]
        parts.append(_table(["cluster", "size", "representative", "sample URLs"], largest))
    parts.append("</section>")
    return "\n".join(parts)
