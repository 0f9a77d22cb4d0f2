"""The one-process dedup the distributed stage must reproduce (the algorithm before issue 19): a test oracle.

All of a run's rows in one table, in input order: repeated WARC-Record-IDs first (later copies
renamed, a copy with text a duplicate), then exact duplicates by text hash among the first ids'
candidates (first in input order kept), then `lsh.find_clusters` over every signature file with
the removed documents excluded. Written plainly, in Python dicts, on purpose: it shares no code
with curate/dedup/ but the one-process LSH reference.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from curate.dedup.config import NearDedupConfig
from curate.dedup.lsh import CLUSTER_SCHEMA, find_clusters
from curate.dedup.sources import Source, SourceMap
from curate.dedup.stage import DedupResult, DedupRun, near_step
from curate.exec.base import Executor
from provenance.outdir import OutDir

Decision = dict[str, Any]


def reference_decisions(records: list[Path], signatures: list[Path], near: NearDedupConfig | None,
                        exact: bool = True) -> dict[tuple[str, int], Decision]:
    """(part stem, record_index) -> the decided fields of every row dedup touches."""
    rows = []
    for p in records:
        t = pq.read_table(p, columns=["doc_id", "record_index", "text_hash"]).to_pylist()
        rows += [dict(r, part=p.stem) for r in sorted(t, key=lambda r: r["record_index"])]
    out: dict[tuple[str, int], Decision] = {}

    def mark(r: dict[str, Any], **fields: Any) -> None:
        out.setdefault((r["part"], r["record_index"]), {}).update(fields)

    seen: set[str] = set()
    cands = []
    for r in rows:
        if r["doc_id"] in seen:
            mark(r, doc_id=f"{r['doc_id']}#{r['part']}-{r['record_index']}")
            if r["text_hash"] is not None:
                mark(r, decision="duplicate", step="exact_dedup", reason="repeated WARC-Record-ID",
                     dup_of=r["doc_id"])
            continue
        seen.add(r["doc_id"])
        if r["text_hash"] is not None:
            cands.append(r)
    removed: set[str] = set()
    if exact:
        first: dict[str, dict[str, Any]] = {}
        for r in cands:
            rep = first.setdefault(r["text_hash"], r)
            if rep is not r:
                cluster = "exact-" + r["text_hash"][:16]
                mark(r, decision="duplicate", step="exact_dedup", dup_cluster=cluster, dup_of=rep["doc_id"],
                     reason=f"exact duplicate of {rep['doc_id']}")
                mark(rep, dup_cluster=cluster)
                removed.add(r["doc_id"])
    if near is not None:
        by_id = {r["doc_id"]: r for r in cands if r["doc_id"] not in removed}
        exclude = {r["doc_id"] for r in rows} - set(by_id)
        for c in find_clusters(signatures, near, exclude=exclude).to_pylist():
            r = by_id[c["doc_id"]]
            if c["is_representative"]:
                mark(r, dup_cluster=c["dup_cluster"])
            else:
                curve = f"MinHash {near.bands}x{near.rows}"
                mark(r, decision="duplicate", step="near_dedup", dup_cluster=c["dup_cluster"],
                     dup_of=c["dup_of"], reason=f"near duplicate of {c['dup_of']} ({curve})")
    return out


def near_clusters(signatures: list[Path], cfg: NearDedupConfig, executor: Executor, work: Path,
                  partitions: int = 1) -> pa.Table:
    """The near-dedup step of `curate.dedup.stage` alone over signature files (one source each), read back
    as `find_clusters`' table (doc_id, dup_cluster, dup_of, is_representative; sorted the same way)."""
    sources = [Source(i, str(p), str(p), part=i) for i, p in enumerate(signatures)]
    run = DedupRun(OutDir(work), "run-test", executor, len(sources), 2048, partitions, False, False, cfg)
    near_step(run, sources, [], SourceMap(), sum(pq.read_metadata(p).num_rows for p in signatures),
              DedupResult())
    t = pq.read_table(OutDir(work).work_file("dedup/near", "clusters")).drop(["node"])
    return t.cast(CLUSTER_SCHEMA).sort_by([("dup_cluster", "ascending"), ("doc_id", "ascending")])
