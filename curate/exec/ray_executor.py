"""The `ray` executor: one Ray task per task, on a cluster or a local Ray started here.

Tasks declare one CPU and, when the stage gives a `memory` hint, that much memory (capped
to the largest node); Ray retries a task whose worker dies. Data never travels through the
driver: tasks read their inputs and write their outputs on a filesystem every node mounts,
and the driver sees only their small results. A few tasks per CPU are in flight at once,
so the driver's bookkeeping stays small for crawls of 100k files.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from curate.exec.base import Progress, R, T, TaskFn, no_report, plan

MAX_RETRIES = 3  # when a worker process or node dies (Ray's own default for tasks is 3)
RETRY_EXCEPTIONS = [OSError, TimeoutError]  # object-store reads fail transiently (timeouts, throttling)
IN_FLIGHT_PER_CPU = 2  # enough to keep every worker busy
POLL_S = 0.2  # how often the driver collects progress reports
FAULT_ENV = "ASSAY_FAULT"  # test hooks (curate/faults.py): workers started before the test need them passed


def ensure_ray(address: str | None = None, num_cpus: int | None = None) -> None:
    """Connect to the cluster at `address`, or start a local one with `num_cpus` CPUs.

    A Ray session already open in this process (tests, notebooks) is used as it is.
    """
    import ray

    if ray.is_initialized():
        return
    if address:
        ray.init(address=address, include_dashboard=False)
    else:
        ray.init(num_cpus=num_cpus, include_dashboard=False)


def cluster_cpus() -> int:
    import ray

    return max(1, int(ray.cluster_resources().get("CPU", 1)))


def largest_node_memory() -> int | None:
    import ray

    mems = [n["Resources"].get("memory", 0) for n in ray.nodes() if n.get("Alive")]
    return int(max(mems)) if mems else None


def _run(fn: TaskFn, task: Any, reporter: Any) -> Any:
    """Runs on a worker: the task, with a report function that sends counts to the progress actor."""
    return fn(task, (lambda counts: reporter.add.remote(counts)) if reporter is not None else no_report)


def _reporter() -> Any:
    """A tiny actor that sums the counts tasks report, for the driver's progress bar."""
    import ray

    @ray.remote(num_cpus=0)
    class Reporter:
        def __init__(self) -> None:
            self.pending: dict[str, int] = {}

        def add(self, counts: dict[str, int]) -> None:
            for k, v in counts.items():
                self.pending[k] = self.pending.get(k, 0) + v

        def drain(self) -> dict[str, int]:
            out, self.pending = self.pending, {}
            return out

    return Reporter.remote()


class RayExecutor:
    """Tasks as Ray tasks. A retried task may report its counts twice: the bar's counters are a guide."""

    def __init__(self, address: str | None = None, num_cpus: int | None = None) -> None:
        ensure_ray(address, num_cpus)
        self.workers = cluster_cpus()

    def close(self) -> None:
        """Nothing to release: the Ray session outlives the run (a cluster, or a notebook's session)."""

    def map(self, fn: TaskFn[T, R], tasks: Sequence[T], *, is_done: Callable[[T], bool] | None = None,
            cost: Callable[[T], int] | None = None, memory: Callable[[T], int] | None = None,
            progress: Progress | None = None) -> Iterator[tuple[T, R]]:
        import ray

        todo, done = plan(tasks, is_done, cost)
        if progress is not None and done:
            progress.task_done(done)
        if not todo:
            return
        remote = ray.remote(_run)
        cap = largest_node_memory() if memory is not None else None
        reporter = _reporter() if progress is not None else None
        queue, running = list(reversed(todo)), {}
        try:
            while queue or running:
                while queue and len(running) < IN_FLIGHT_PER_CPU * self.workers:
                    task = queue.pop()
                    options: dict[str, Any] = {"num_cpus": 1, "max_retries": MAX_RETRIES,
                                               "retry_exceptions": RETRY_EXCEPTIONS}
                    # a name shown in `ray list tasks` and in the worker's process title
                    if getattr(task, "label", None):
                        options["name"] = f"{getattr(fn, '__name__', 'task')}:{task.label}"
                    if memory is not None:
                        want = memory(task)
                        options["memory"] = min(want, int(cap * 0.9)) if cap else want
                    faults = {k: v for k, v in os.environ.items() if k.startswith(FAULT_ENV)}
                    if faults:
                        options["runtime_env"] = {"env_vars": faults}
                    running[remote.options(**options).remote(fn, task, reporter)] = task
                finished, _ = ray.wait(list(running), num_returns=1, timeout=POLL_S)
                if reporter is not None:
                    progress.add(ray.get(reporter.drain.remote()))
                for ref in finished:
                    task = running.pop(ref)
                    result = ray.get(ref)  # raises once retries are spent: the run stops, a rerun resumes
                    if progress is not None:
                        progress.task_done()
                    yield task, result
        finally:
            if reporter is not None:
                ray.kill(reporter)
