"""Executors run the per-file tasks: `local` (processes on this machine) or `ray` (a cluster).

Both run the same `process_file` task, which writes its own part files and a completion
marker last; finished tasks are skipped, so any executor can resume any run.
"""

from __future__ import annotations

import multiprocessing as mp
import queue
import time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from typing import TYPE_CHECKING

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

if TYPE_CHECKING:
    from curate.config import CurateConfig
    from curate.pipeline import FileTask


class RecordProgress:
    """A rich progress bar over files, with records/s and the kept share."""

    def __init__(self, n_files: int, enabled: bool) -> None:
        self.records = self.kept = 0
        self.start = time.monotonic()
        self.bar = Progress(
            TextColumn("[bold]curate"), BarColumn(), MofNCompleteColumn(), TextColumn("files"),
            TextColumn("{task.fields[stats]}"), TimeElapsedColumn(), disable=not enabled, transient=False,
        )
        self.task = self.bar.add_task("files", total=n_files, stats="")

    def __enter__(self) -> RecordProgress:
        self.bar.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.bar.__exit__(*exc)

    def add(self, records: int, kept: int) -> None:
        self.records += records
        self.kept += kept
        rate = self.records / max(time.monotonic() - self.start, 1e-6)
        share = 100.0 * self.kept / self.records if self.records else 0.0
        self.bar.update(self.task, stats=f"{self.records:,} records  {rate:,.0f}/s  kept {share:.1f}%")

    def file_done(self) -> None:
        self.bar.advance(self.task)


def _queue_progress(q: queue.Queue) -> object:
    def report(records: int, kept: int) -> None:
        q.put((records, kept))

    return report


def _run_one(task: FileTask, cfg: CurateConfig, out_dir: str, run_id: str, q: queue.Queue | None) -> dict:
    from curate.pipeline import process_file

    return process_file(task, cfg, out_dir, run_id, _queue_progress(q) if q is not None else None)


def run_local(tasks: list[FileTask], cfg: CurateConfig, out_dir: str, run_id: str, show_progress: bool) -> None:
    """Run tasks in `cfg.workers` processes (in this process when workers == 1)."""
    from pathlib import Path

    from curate.pipeline import marker_path, process_file

    todo = [t for t in tasks if not marker_path(Path(out_dir), "extract", t.part).exists()]
    with RecordProgress(len(tasks), show_progress) as prog:
        for _ in range(len(tasks) - len(todo)):
            prog.file_done()
        if cfg.workers == 1 or len(todo) <= 1:
            for t in todo:
                process_file(t, cfg, out_dir, run_id, prog.add)
                prog.file_done()
            return
        # Largest files first: the long tail finishes sooner. Outputs do not depend on order.
        todo.sort(key=lambda t: -t.size)
        ctx = mp.get_context("spawn")  # fork + threads (polars, tokenizers) can deadlock
        with ctx.Manager() as manager, ProcessPoolExecutor(cfg.workers, mp_context=ctx) as pool:
            q = manager.Queue()
            pending = {pool.submit(_run_one, t, cfg, out_dir, run_id, q) for t in todo}
            while pending:
                done, pending = wait(pending, timeout=0.2, return_when=FIRST_COMPLETED)
                while True:
                    try:
                        prog.add(*q.get_nowait())
                    except queue.Empty:
                        break
                for fut in done:
                    fut.result()  # a task error here is a bug (records never raise): surface it
                    prog.file_done()


def run_tasks(tasks: list[FileTask], cfg: CurateConfig, out_dir: str, run_id: str, show_progress: bool = False) -> None:
    if cfg.executor == "ray":
        from curate.ray_executor import run_ray

        run_ray(tasks, cfg, out_dir, run_id, show_progress)
    else:
        run_local(tasks, cfg, out_dir, run_id, show_progress)
