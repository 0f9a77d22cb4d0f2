"""Executors: run a task function over many tasks, skipping finished ones; they know nothing of stages.

    executor = make_executor("local", workers=2)
    for task, result in executor.map(process_file, tasks, is_done=finished, cost=size, progress=bar):
        ...

A task function takes `(task, report)`; `report(counts)` adds to the progress bar's counters
from inside the task, wherever it runs. `local` runs tasks in this process (one worker) or
in a pool of spawned processes; `ray` runs each task as a Ray task on a cluster. The runner
creates the executor and hands it to each stage; stages never create one.
"""

from __future__ import annotations

from curate.exec.base import Executor, Progress, Report, TaskFn
from curate.exec.local import LocalExecutor


def make_executor(kind: str, workers: int = 1, address: str | None = None) -> Executor:
    """`local` (processes on this machine) or `ray` (a Ray cluster at `address`, or a local one)."""
    if kind == "ray":
        from curate.exec.ray_executor import RayExecutor

        return RayExecutor(address=address, num_cpus=None if address else workers)
    return LocalExecutor(workers)


__all__ = ["Executor", "LocalExecutor", "Progress", "Report", "TaskFn", "make_executor"]
