"""The per-file stage: one task per input file, in parallel through the run's executor.

A task reads every record of its WARC file, runs each through the decision chain
(`record_checks`, in the supervised record worker of `supervisor`), and writes
`_work/extract/<part>.parquet` (one row per record, with its text, signals and text hash), the
part's MinHash signatures (`_work/minhash/<part>.parquet`), and last its completion marker. A rerun
skips files whose marker holds this run's key.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa

from curate import faults
from curate.context import RunContext
from curate.decontaminate.step import WORK as DECONTAMINATE_WORK
from curate.dedup.minhash import signatures, write_signatures
from curate.exec.base import Progress, Report
from curate.read.inputs import InputFile
from curate.read.warc import read_warc
from curate.supervisor import worker_for
from provenance.outdir import read_marker, write_marker, write_parquet
from provenance.schema import KEPT, PROVENANCE_SCHEMA

STAGE = "extract"  # work folder and marker stage of the per-file parts
SIGNATURES = "minhash"  # work folder of the per-file MinHash signatures
REPORT_EVERY = 16  # records between progress reports
# Memory a file task declares (Ray): measured here, a worker holds ~120 MiB after loading lid.176 and
# the filters, and peaks at ~380 MiB on the 7.4 MB python-3.11-docs.warc.gz (about 35x the gzip
# size, the rows of extracted text); 512 MiB + 40x leaves headroom.
TASK_BASE_MEMORY = 512 << 20
TASK_MEMORY_PER_BYTE = 40

INTERMEDIATE_SCHEMA = pa.schema(
    list(PROVENANCE_SCHEMA)
    + [pa.field("text", pa.string()), pa.field("signals", pa.string()), pa.field("text_hash", pa.string())]
)


@dataclass(frozen=True)
class FileTask:
    """One input file of a run: a picklable task for any executor."""

    ctx: RunContext  # without its executor (RunContext.for_tasks)
    file: InputFile

    @property
    def label(self) -> str:
        return self.file.part


def records_path(ctx: RunContext, file: InputFile) -> Path:
    return ctx.out.work_file(STAGE, file.part)


def signatures_path(ctx: RunContext, file: InputFile) -> Path:
    return ctx.out.work_file(SIGNATURES, file.part)


def marker_key(ctx: RunContext, file: InputFile) -> dict[str, Any]:
    """What a part depends on: the file's bytes and the run (its inputs and config)."""
    return {"path": file.path, "sha256": file.sha256, "run_id": ctx.run_id}


def finished(task: FileTask) -> bool:
    ctx, file = task.ctx, task.file
    return read_marker(ctx.out.marker(STAGE, file.part), marker_key(ctx, file)) is not None


def process_file(task: FileTask, report: Report) -> dict[str, int]:
    """The task: every record of one file through the chain; part file, signatures, then the marker."""
    ctx, file = task.ctx, task.file
    # the chain, in a supervised process (the time limit holds in C code too), reading the run's n-gram index
    worker = worker_for(ctx.cfg, ctx.out.work(DECONTAMINATE_WORK))
    rows: list[dict[str, Any]] = []
    pending = {"records": 0, "kept": 0}
    for rec in read_warc(file.path, file.sha256, ctx.cfg.extract.max_html_bytes):
        rows.append(worker.process(file, rec, ctx.run_id))
        faults.records_read(file.part, len(rows))
        pending["records"] += 1
        pending["kept"] += rows[-1]["decision"] == KEPT
        if pending["records"] >= REPORT_EVERY:
            report(pending)
            pending = {"records": 0, "kept": 0}
    if pending["records"]:
        report(pending)
    write_parquet(records_path(ctx, file), pa.Table.from_pylist(rows, schema=INTERMEDIATE_SCHEMA))
    if ctx.cfg.near_dedup.enabled:
        _write_signatures(ctx, file, [r for r in rows if r["text_hash"] is not None])
    counts = {"records": len(rows), "candidates": sum(r["text_hash"] is not None for r in rows)}
    write_marker(ctx.out.marker(STAGE, file.part), marker_key(ctx, file), counts)
    return counts


def _write_signatures(ctx: RunContext, file: InputFile, cand: list[dict[str, Any]]) -> None:
    """MinHash signatures of the part's dedup candidates (written before the marker: they resume with it)."""
    sigs = signatures([r["text"] for r in cand], ctx.cfg.near_dedup)
    dates = pa.array([r["warc_date"] for r in cand], type=PROVENANCE_SCHEMA.field("warc_date").type)
    write_signatures(signatures_path(ctx, file), [r["doc_id"] for r in cand], dates, sigs, ctx.cfg.near_dedup)


def task_memory(task: FileTask) -> int:
    """Bytes a file task declares to Ray (see TASK_BASE_MEMORY)."""
    return TASK_BASE_MEMORY + TASK_MEMORY_PER_BYTE * task.file.size


def _describe(counters: dict[str, int], seconds: float) -> str:
    records = counters.get("records", 0)
    share = 100.0 * counters.get("kept", 0) / records if records else 0.0
    return f"{records:,} records  {records / max(seconds, 1e-6):,.0f}/s  kept {share:.1f}%"


def extract_all(ctx: RunContext) -> int:
    """Run every unfinished file task through the run's executor; returns how many were already done."""
    tasks = [FileTask(ctx.for_tasks(), f) for f in ctx.files]
    done = {t.file.part for t in tasks if finished(t)}
    with Progress("curate", len(tasks), ctx.progress, describe=_describe) as bar:
        results = ctx.run_executor().map(process_file, tasks, is_done=lambda t: t.file.part in done,
                                         cost=lambda t: t.file.size, memory=task_memory, progress=bar)
        for n, _ in enumerate(results, start=1):
            faults.tasks_finished(n)
    return len(done)
