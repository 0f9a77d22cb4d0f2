"""Finalize: apply the global dedup decisions to each part and write the run's data folders.

One executor task per input file (`finalize_part`) reads its part's decisions from every dedup
step's files, streams the part's rows a row group at a time, and writes `provenance/<part>.parquet`
(every record), `documents/<part>.parquet` (kept) and `rejected/<part>.parquet` (removed records that
have text), in input order, so the same inputs and config give byte-identical files on any executor.
It returns its counts (by decision, and by decision and step) for run.json; then its marker.
"""

from __future__ import annotations

from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from curate import faults
from curate.context import RunContext
from curate.dedup.decisions import apply_decisions, by_record, read_decisions
from curate.dedup.shuffle import FileSet, all_paths
from curate.exec.base import Progress, Report
from curate.exec.rss import PeakRss
from curate.file_stage import records_path
from curate.part_writer import INTERMEDIATE_SCHEMA, ROW_GROUP_ROWS
from curate.read.inputs import InputFile
from provenance.outdir import DOCUMENTS, PROVENANCE, parquet_writer, read_marker, write_marker
from provenance.outdir import REJECTED as REJECTED_FOLDER
from provenance.schema import (
    DOCUMENT_SCHEMA,
    DUPLICATE,
    ERROR,
    KEPT,
    PROVENANCE_SCHEMA,
    REJECTED,
    REJECTED_SCHEMA,
)

STAGE = "finalize"  # marker stage


@dataclass(frozen=True)
class FinalizeTask:
    ctx: RunContext  # without its executor (RunContext.for_tasks)
    file: InputFile
    decisions: tuple[FileSet, ...]  # every dedup step's decision files, in step order

    @property
    def label(self) -> str:
        return self.file.part

    @property
    def marker(self) -> str:
        return str(self.ctx.out.marker(STAGE, self.file.part))

    @property
    def key(self) -> dict[str, Any]:
        return {"run_id": self.ctx.run_id}


def _counts(rows: list[dict[str, Any]], counts: dict[str, Any]) -> None:
    for r in rows:
        counts[r["decision"]] = counts.get(r["decision"], 0) + 1
        if r["decision"] != KEPT:
            step = f"{r['decision']}/{r['step']}"
            counts["by_step"][step] = counts["by_step"].get(step, 0) + 1


def _decided(table: pa.Table, decided: dict[int, list[dict[str, Any]]], part: str) -> pa.Table:
    """The rows with their dedup decisions applied; a row group without one is taken as it is (in
    Arrow: no Python dict per row, the common case)."""
    indexes = table.column("record_index").to_pylist()
    if not any(i in decided for i in indexes):
        return table
    rows = table.to_pylist()
    for row in rows:
        apply_decisions(row, decided.get(row["record_index"], []), part)
    return pa.Table.from_pylist(rows, schema=INTERMEDIATE_SCHEMA)


def _as(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """`schema`'s columns of `table`, with its types and nullability."""
    return table.select(schema.names).cast(schema)


def finalize_part(task: FinalizeTask, report: Report) -> dict[str, Any]:
    """Apply the part's decisions and write its three files, a row group at a time; then the marker."""
    ctx, file = task.ctx, task.file
    counts: dict[str, Any] = {"records": 0, KEPT: 0, REJECTED: 0, DUPLICATE: 0, ERROR: 0, "by_step": {}}
    with PeakRss() as peak, ExitStack() as stack:
        decided = by_record(read_decisions(all_paths(task.decisions), file.index))
        prov = stack.enter_context(parquet_writer(ctx.out.part(PROVENANCE, file.part), PROVENANCE_SCHEMA))
        docs = stack.enter_context(parquet_writer(ctx.out.part(DOCUMENTS, file.part), DOCUMENT_SCHEMA))
        rej = stack.enter_context(parquet_writer(ctx.out.part(REJECTED_FOLDER, file.part), REJECTED_SCHEMA))
        for batch in pq.ParquetFile(records_path(ctx, file)).iter_batches(batch_size=ROW_GROUP_ROWS):
            table = _decided(pa.Table.from_batches([batch]), decided, file.part)
            prov.write_table(_as(table, PROVENANCE_SCHEMA))
            decision = table.column("decision")
            kept = table.filter(pc.equal(decision, KEPT))
            removed = table.filter(pc.and_(pc.is_in(decision, pa.array([REJECTED, DUPLICATE])),
                                           pc.is_valid(table.column("text"))))
            if kept.num_rows:
                docs.write_table(_as(kept, DOCUMENT_SCHEMA))
            if removed.num_rows:
                rej.write_table(_as(removed, REJECTED_SCHEMA))
            counts["records"] += table.num_rows
            _counts(table.select(["decision", "step"]).to_pylist(), counts)
    counts["peak_rss_mb"] = peak.mb
    write_marker(task.marker, task.key, counts)
    report({"records": counts["records"]})
    return counts


def finalize(ctx: RunContext, decisions: list[FileSet]) -> dict[str, Any]:
    """Every part as an executor task; returns the run's totals (records, each decision, by decision/step)."""
    tasks = [FinalizeTask(ctx.for_tasks(), f, tuple(decisions)) for f in ctx.files]
    with Progress(STAGE, len(tasks), ctx.progress) as bar:
        done = lambda t: read_marker(t.marker, t.key) is not None  # noqa: E731
        for n, _ in enumerate(ctx.run_executor().map(finalize_part, tasks, is_done=done,
                                                     cost=lambda t: t.file.size, progress=bar), 1):
            faults.wave_finished(STAGE, n)
    totals: dict[str, Any] = {"records": 0, KEPT: 0, REJECTED: 0, DUPLICATE: 0, ERROR: 0, "by_step": {}}
    peaks = []
    for t in tasks:
        result = read_marker(t.marker, t.key) or {}
        for k in ("records", KEPT, REJECTED, DUPLICATE, ERROR):
            totals[k] += result.get(k, 0)
        for k, v in result.get("by_step", {}).items():
            totals["by_step"][k] = totals["by_step"].get(k, 0) + v
        peaks.append(result.get("peak_rss_mb", 0.0))
    totals["max_task_peak_rss_mb"] = max(peaks, default=0.0)
    return totals
