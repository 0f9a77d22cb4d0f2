"""`keep_top_fraction`: keep exactly that share of the run's documents, the best-scored, over all files.

A global stage, like dedup, between the per-file stage and dedup: every document still kept after
the per-record chain (heuristic filters, decontamination) was scored there; this stage reads each
part's scores (one executor task per part with `executor = "ray"`, in this process otherwise), sorts
them all, and keeps the first ceil(fraction x N) by (score descending, input order): ties at the cut
go to the document read first, so the same run always keeps the same documents. The others are
`rejected`, step `quality`, with their rank in the reason; dedup then sees only the kept ones.
(DCLM-Baseline kept the top ~10% of its pool by a fixed threshold found for that share, Li et al.
2024 section 4.4; this computes the share exactly for the run at hand.)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow as pa

from curate.exec.base import Executor, Report, no_report
from curate.quality.step import STEP
from provenance.schema import REJECTED

SCORE = pl.col("signals").str.json_path_match(f"$.{STEP}.score").cast(pl.Float64)
DECISIONS_SCHEMA = pa.schema([("part", pa.string()), ("record_index", pa.int64()), ("doc_id", pa.string()),
                              ("decision", pa.string()), ("step", pa.string()), ("reason", pa.string())])


@dataclass(frozen=True)
class PartScores:
    """One per-file part of the run: a picklable task."""

    path: Path

    @property
    def label(self) -> str:
        return self.path.stem


def part_scores(task: PartScores, report: Report) -> pa.Table:
    """(record_index, doc_id, score) of the part's documents that the per-record chain kept."""
    df = pl.read_parquet(task.path, columns=["doc_id", "record_index", "text_hash", "signals"])
    kept = df.filter(pl.col("text_hash").is_not_null())
    report({"documents": kept.height})
    return kept.select("record_index", "doc_id", SCORE.alias("score")).to_arrow()


def select_top(records: list[Path], fraction: float,
               executor: Executor | None = None) -> tuple[pa.Table, dict[str, Any]]:
    """The decisions for the documents outside the top `fraction` (part, record_index, doc_id, decision,
    step, reason), and what run.json records (documents scored and kept, the cut-off score)."""
    tasks = [PartScores(p) for p in records]
    if executor is not None:
        scores = dict(executor.map(part_scores, tasks))
    else:
        scores = {t: part_scores(t, no_report) for t in tasks}
    frames = [pl.from_arrow(scores[t]).with_columns(pl.lit(t.label).alias("part")) for t in tasks]
    ranked = pl.concat(frames).sort(["score", "part", "record_index"], descending=[True, False, False])
    n = ranked.height
    keep = math.ceil(round(fraction * n, 9))  # round: 0.1 * 150 is 15.000000000000002 in floating point
    cutoff = ranked["score"][keep - 1] if keep else None
    out = ranked.slice(keep).with_row_index("rank", offset=keep + 1).with_columns(
        pl.lit(REJECTED).alias("decision"), pl.lit(STEP).alias("step"),
        pl.format("quality_score={} not in the top {} (rank {} of {}, cut-off {})", pl.col("score"),
                  pl.lit(f"{fraction:g}"), pl.col("rank"), pl.lit(n), pl.lit(cutoff)).alias("reason"))
    table = out.select(DECISIONS_SCHEMA.names).to_arrow().cast(DECISIONS_SCHEMA)
    return table, {"keep_top_fraction": fraction, "scored": n, "kept": keep, "cutoff": cutoff}
