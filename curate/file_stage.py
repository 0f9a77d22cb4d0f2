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

from curate import faults
from curate.context import RunContext
from curate.decontaminate.step import WORK as DECONTAMINATE_WORK
from curate.exec.base import Progress, Report
from curate.exec.rss import PeakRss
from curate.part_writer import PartWriter, warm_up_in_background
from curate.read.inputs import InputFile
from curate.read.warc import read_warc
from curate.supervisor import worker_for
from provenance.outdir import read_marker, write_marker
from provenance.schema import KEPT

STAGE = "extract"  # work folder and marker stage of the per-file parts
SIGNATURES = "minhash"  # work folder of the per-file MinHash signatures
REPORT_EVERY = 16  # records between progress reports
# Memory a file task declares (Ray). Rows stream to the part file a row group at a time
# (`part_writer`), so a task's peak no longer follows its file's size; a task holds one row group
# (1,024 rows or 64 MiB of text) plus its signatures (448 B a document) and its record worker.
# benchmarks/file_task_memory.py measures it on a Common Crawl-sized WARC (40,000 records).
TASK_MEMORY = 1 << 30


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


def process_file(task: FileTask, report: Report) -> dict[str, Any]:
    """The task: every record of one file through the chain, streamed to the part file (and its
    signatures) a row group at a time; then the marker. Returns its counts and peak RSS (the task's
    process and its record worker's, together)."""
    ctx, file = task.ctx, task.file
    # the chain, in a supervised process (the time limit holds in C code too), reading the run's n-gram index
    worker = worker_for(ctx.cfg, ctx.out.work(DECONTAMINATE_WORK))
    pending = {"records": 0, "kept": 0}
    sigs = signatures_path(ctx, file) if ctx.cfg.near_dedup.enabled else None
    warm_up_in_background()  # while worker.pid waits for the worker's start
    with PeakRss(worker.pid) as peak, PartWriter(records_path(ctx, file), sigs, ctx.cfg.near_dedup) as part:
        records = read_warc(file.path, file.sha256, ctx.cfg.extract.max_html_bytes)
        for n, row in enumerate(worker.rows(file, records, ctx.run_id), 1):
            part.add(row)
            faults.records_read(file.part, n)
            pending["records"] += 1
            pending["kept"] += row["decision"] == KEPT
            if pending["records"] >= REPORT_EVERY:
                report(pending)
                pending = {"records": 0, "kept": 0}
    if pending["records"]:
        report(pending)
    counts = {**part.counts, "peak_rss_mb": peak.mb}
    write_marker(ctx.out.marker(STAGE, file.part), marker_key(ctx, file), counts)
    return counts


def task_memory(task: FileTask) -> int:
    """Bytes a file task declares to Ray (TASK_MEMORY, whatever the file's size)."""
    return TASK_MEMORY


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
