"""Exact dedup: normalised-text hashes, the first copy in input order kept, later copies marked duplicate.

polars is imported by the functions that mark duplicates (the dedup stage), not here: the record
worker needs only `text_hash` and the config, and its start-up skips polars' import (~1 s).
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict

from curate.dedup.marks import Marks
from provenance.schema import DUPLICATE

if TYPE_CHECKING:
    import polars as pl

STEP = "exact_dedup"
CLUSTER_PREFIX = "exact-"
_WS = re.compile(r"\s+")


class ExactDedupConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    enabled: bool = True


def normalize_for_hash(text: str) -> str:
    """Exact-dedup normalisation: NFKC, lower case, whitespace collapsed (C4/dolma-style)."""
    return _WS.sub(" ", unicodedata.normalize("NFKC", text).lower()).strip()


def text_hash(text: str) -> str:
    return hashlib.sha256(normalize_for_hash(text).encode("utf-8")).hexdigest()


def mark_repeated_ids(rows: pl.DataFrame, marks: Marks) -> pl.Series:
    """The same WARC-Record-ID twice in a run (one record packed in two files): the first keeps the
    id; later copies get a suffixed id so every provenance row stays addressable, and a later copy
    with text is a duplicate. Returns the mask of first occurrences. `rows` is in input order."""
    import polars as pl

    first_id = rows.select(pl.col("doc_id").is_first_distinct()).to_series()
    for r in rows.filter(~first_id).iter_rows(named=True):
        marks.mark(r, doc_id=f"{r['doc_id']}#{r['part']}-{r['record_index']}")
        if r["text_hash"] is not None:
            marks.mark(r, decision=DUPLICATE, step=STEP, reason="repeated WARC-Record-ID", dup_of=r["doc_id"])
    return first_id


def mark_exact(cands: pl.DataFrame, marks: Marks) -> set[str]:
    """Keep the first copy of each text hash in input order (file order, then record order); mark the
    others duplicate of it, and the kept copy with the cluster. Returns the doc_ids removed."""
    import polars as pl

    first_text = cands.select(pl.col("text_hash").is_first_distinct()).to_series()
    rep_of = dict(cands.filter(first_text).select(["text_hash", "doc_id"]).iter_rows())
    dups = cands.filter(~first_text)
    removed: set[str] = set()
    for r in dups.iter_rows(named=True):
        rep = rep_of[r["text_hash"]]
        marks.mark(r, decision=DUPLICATE, step=STEP, reason=f"exact duplicate of {rep}",
                   dup_cluster=CLUSTER_PREFIX + r["text_hash"][:16], dup_of=rep)
        removed.add(r["doc_id"])
    dup_hashes = dups["text_hash"].unique().to_list()
    for r in cands.filter(first_text & pl.col("text_hash").is_in(dup_hashes)).iter_rows(named=True):
        marks.mark(r, dup_cluster=CLUSTER_PREFIX + r["text_hash"][:16])
    return removed
