"""Near dedup: each MinHash cluster keeps its representative; the other members are marked duplicate."""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from curate.dedup.marks import Marks
from curate.dedup.minhash import NearDedupConfig
from provenance.schema import DUPLICATE

STEP = "near_dedup"


def mark_near(clusters: pa.Table, rows: dict[str, dict[str, Any]], cfg: NearDedupConfig,
              marks: Marks) -> None:
    """Apply `lsh.find_clusters`' table; `rows` maps each clustered doc_id to its (part, record_index) row."""
    for c in clusters.to_pylist():
        r = rows[c["doc_id"]]
        if c["is_representative"]:
            marks.mark(r, dup_cluster=c["dup_cluster"])
        else:
            marks.mark(r, decision=DUPLICATE, step=STEP, dup_cluster=c["dup_cluster"], dup_of=c["dup_of"],
                       reason=f"near duplicate of {c['dup_of']} (MinHash {cfg.bands}x{cfg.rows})")
