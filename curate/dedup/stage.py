"""The global dedup stage: after every per-file task, one pass over the whole run's candidates.

Reads each part's (doc_id, record_index, text_hash) rows, then marks, in this order, repeated
WARC-Record-IDs, exact duplicates (normalised-text hash) and near duplicates (MinHash LSH over
the part's signature files). The result, keyed by (part, record_index), is what finalize applies.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pyarrow as pa

from curate.dedup.exact import ExactDedupConfig, mark_exact, mark_repeated_ids
from curate.dedup.lsh import find_clusters
from curate.dedup.lsh_shuffle import find_clusters_sharded
from curate.dedup.marks import Marks
from curate.dedup.minhash import NearDedupConfig
from curate.dedup.near import mark_near
from curate.exec.base import Executor

CANDIDATE_COLUMNS = ["doc_id", "record_index", "text_hash"]


def read_candidates(records: list[Path]) -> pl.DataFrame:
    """Every row of the per-file parts, in input order, with its part name (the file's stem)."""
    frames = [pl.read_parquet(p, columns=CANDIDATE_COLUMNS).with_columns(pl.lit(p.stem).alias("part"))
              for p in records]
    return pl.concat(frames).sort(["part", "record_index"])


def decide_duplicates(records: list[Path], signatures: list[Path], exact: ExactDedupConfig,
                      near: NearDedupConfig, *, executor: Executor | None = None,
                      work: Path | None = None, removed: pa.Table | None = None) -> pa.Table:
    """Global decisions (DEDUP_SCHEMA rows): renamed doc_ids, exact and near duplicates.

    `records[i]` and `signatures[i]` are part i's rows and MinHash signatures. With an `executor`
    (and a `work` folder for its files), LSH runs as its tasks; else in this process. `removed`:
    (part, record_index) of rows an earlier global stage removed (keep_top_fraction): not candidates.
    """
    df = read_candidates(records)
    if removed is not None and removed.num_rows:
        gone = pl.from_arrow(removed.select(["part", "record_index"])).with_columns(gone=pl.lit(True))
        df = (df.join(gone, on=["part", "record_index"], how="left")
              .with_columns(pl.when(pl.col("gone")).then(None).otherwise(pl.col("text_hash")).alias("text_hash"))
              .drop("gone").sort(["part", "record_index"]))
    marks = Marks()
    first_id = mark_repeated_ids(df, marks)
    cands = df.filter(first_id & pl.col("text_hash").is_not_null())
    removed = mark_exact(cands, marks) if exact.enabled else set()
    if near.enabled:
        rows = {r["doc_id"]: r for r in cands.iter_rows(named=True) if r["doc_id"] not in removed}
        exclude = set(df["doc_id"].to_list()) - set(rows)
        if executor is not None and work is not None:
            clusters = find_clusters_sharded(signatures, near, executor, work, exclude=exclude)
        else:
            clusters = find_clusters(signatures, near, exclude=exclude)
        mark_near(clusters, rows, near, marks)
    return marks.table()
