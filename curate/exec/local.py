"""The `local` executor: tasks in this process (one worker) or in a pool of spawned processes."""

from __future__ import annotations

import multiprocessing as mp
import queue
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from typing import Any

from curate.exec.base import Progress, R, T, TaskFn, no_report, plan

DRAIN_S = 0.2  # how often the driver moves task reports onto the progress bar


def _call(fn: TaskFn, task: Any, reports: Any) -> Any:
    """Runs in a worker: the task, with a report function that forwards counts to the driver."""
    return fn(task, reports.put if reports is not None else no_report)


class LocalExecutor:
    """`workers` processes on this machine (`spawn`: forking beside polars' or tokenizers' threads can
    deadlock). The pool starts at the first `map` and serves every later one until `close()` (a run
    maps a dozen waves: spawning and importing per wave cost seconds each), so worker processes keep
    what they loaded (the language model, the filters) from one wave to the next."""

    def __init__(self, workers: int = 1) -> None:
        if workers < 1:
            raise ValueError(f"workers must be >= 1, got {workers}")
        self.workers = workers
        self._pool: ProcessPoolExecutor | None = None
        self._manager: Any = None
        self._reports: Any = None

    def close(self) -> None:
        """Stop the worker processes (a later `map` starts new ones)."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._manager.shutdown()
            self._pool = self._manager = self._reports = None

    def _started(self) -> tuple[ProcessPoolExecutor, Any]:
        if self._pool is None:
            ctx = mp.get_context("spawn")
            self._manager = ctx.Manager()
            self._reports = self._manager.Queue()
            self._pool = ProcessPoolExecutor(self.workers, mp_context=ctx)
        return self._pool, self._reports

    def map(self, fn: TaskFn[T, R], tasks: Sequence[T], *, is_done: Callable[[T], bool] | None = None,
            cost: Callable[[T], int] | None = None, memory: Callable[[T], int] | None = None,
            progress: Progress | None = None) -> Iterator[tuple[T, R]]:
        todo, done = plan(tasks, is_done, cost)
        if progress is not None and done:
            progress.task_done(done)
        if self.workers == 1 or not todo:  # with workers >= 2 even one task runs in a worker: the driver
            # never holds a task's memory (a run's single near-dedup components task, say)
            yield from self._inline(fn, todo, progress)
        else:
            yield from self._in_pool(fn, todo, progress)

    @staticmethod
    def _inline(fn: TaskFn[T, R], todo: list[T], progress: Progress | None) -> Iterator[tuple[T, R]]:
        for task in todo:
            result = fn(task, progress.add if progress is not None else no_report)
            if progress is not None:
                progress.task_done()
            yield task, result

    def _in_pool(self, fn: TaskFn[T, R], todo: list[T], progress: Progress | None) -> Iterator[tuple[T, R]]:
        pool, queue_ = self._started()
        reports = queue_ if progress is not None else None
        pending = {pool.submit(_call, fn, t, reports): t for t in todo}
        try:
            while pending:
                finished, _ = wait(pending, timeout=DRAIN_S, return_when=FIRST_COMPLETED)
                _drain(reports, progress)
                for fut in finished:
                    task = pending.pop(fut)
                    result = fut.result()  # a task that raises is a bug (records never raise): surface it
                    if progress is not None:
                        progress.task_done()
                    yield task, result
            _drain(reports, progress)
        finally:
            for fut in pending:  # the map stopped early (a task raised): queued tasks do not start
                fut.cancel()


def _drain(reports: Any, progress: Progress | None) -> None:
    if reports is None or progress is None:
        return
    while True:
        try:
            progress.add(reports.get_nowait())
        except queue.Empty:
            return
