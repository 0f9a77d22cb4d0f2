"""What every executor offers (`Executor.map`), and the progress bar executors drive."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Protocol, TypeVar

from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn
from rich.progress import Progress as RichProgress

T = TypeVar("T")
R = TypeVar("R")

Report = Callable[[dict[str, int]], None]  # a task adds to the progress counters: report({"records": 16})
TaskFn = Callable[[T, Report], R]  # a task function: (task, report) -> result


def no_report(counts: dict[str, int]) -> None:
    """The report function of a task nobody watches."""


class Executor(Protocol):
    """Runs a task function over tasks; a stage hands it the function, the executor imports no stage."""

    workers: int  # tasks that run at once (local processes, or the cluster's CPUs)

    def map(
        self,
        fn: TaskFn[T, R],
        tasks: Sequence[T],
        *,
        is_done: Callable[[T], bool] | None = None,
        cost: Callable[[T], int] | None = None,
        memory: Callable[[T], int] | None = None,
        progress: Progress | None = None,
    ) -> Iterator[tuple[T, R]]:
        """Run `fn` on every task not `is_done`, most `cost`ly first; yield (task, result) as each ends.

        `memory(task)` is the bytes a task may need (a scheduling hint where the executor uses
        one). A task that raises stops the map: tasks mark their own completion, so a rerun
        skips what finished.
        """
        ...

    def close(self) -> None:
        """Release what the executor holds between maps (worker processes); the runner calls it last."""
        ...


def plan(tasks: Sequence[T], is_done: Callable[[T], bool] | None,
         cost: Callable[[T], int] | None) -> tuple[list[T], int]:
    """(tasks still to run, largest cost first; number already done). Ties keep input order."""
    todo = [t for t in tasks if is_done is None or not is_done(t)]
    if cost is not None:
        todo = [t for _, _, t in sorted(((-cost(t), i, t) for i, t in enumerate(todo)), key=lambda x: x[:2])]
    return todo, len(tasks) - len(todo)


class Progress:
    """A rich progress bar over tasks, plus counters that tasks add to while they run.

    `describe(counters, seconds)` turns the counters into the text beside the bar.
    """

    def __init__(self, label: str, total: int, enabled: bool = True,
                 describe: Callable[[dict[str, int], float], str] | None = None) -> None:
        self.counters: dict[str, int] = {}
        self.describe = describe
        self.start = time.monotonic()
        self.bar = RichProgress(
            TextColumn(f"[bold]{label}"), BarColumn(), MofNCompleteColumn(),
            TextColumn("{task.fields[stats]}"),
            TimeElapsedColumn(), disable=not enabled, transient=False,
        )
        self.task = self.bar.add_task(label, total=total, stats="")

    def __enter__(self) -> Progress:
        self.bar.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.bar.__exit__(*exc)

    def add(self, counts: dict[str, int]) -> None:
        for k, v in counts.items():
            self.counters[k] = self.counters.get(k, 0) + v
        if self.describe is not None:
            self.bar.update(self.task, stats=self.describe(self.counters, time.monotonic() - self.start))

    def task_done(self, n: int = 1) -> None:
        self.bar.advance(self.task, n)
