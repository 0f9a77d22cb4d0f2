"""The run context: what every stage of one `curate()` run needs, handed down as one frozen value."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field, replace
from typing import Any

from curate.config import CurateConfig
from curate.exec.base import Executor
from curate.read.inputs import InputFile
from provenance.outdir import OutDir


@dataclass(frozen=True)
class RunContext:
    """One run: its config, output directory, run id, input files, and the executor the runner made.

    Task objects carry `ctx.for_tasks()`: the same context without the executor (tasks run on
    workers, where the driver's executor makes no sense) and without the list of files (a task
    names its own; a crawl of 100k files would otherwise ship 100k entries with every task).
    """

    cfg: CurateConfig
    out: OutDir
    run_id: str
    files: tuple[InputFile, ...]
    executor: Executor | None = field(default=None, compare=False, repr=False)
    progress: bool = False

    def for_tasks(self) -> RunContext:
        return replace(self, executor=None, files=())

    def run_executor(self) -> Executor:
        if self.executor is None:
            raise RuntimeError("this run context has no executor (a task's copy); only the runner maps tasks")
        return self.executor


def run_id_of(cfg: CurateConfig, files: list[InputFile], assets: dict[str, Any] | None = None) -> str:
    """Deterministic: same inputs and output-affecting config -> same run_id (so reruns are identical).
    `assets`: what else the steps read (the quality model's and evaluation sets' sha256), when any."""
    h = hashlib.sha256(json.dumps(cfg.fingerprint_dict(), sort_keys=True).encode())
    if assets:
        h.update(json.dumps(assets, sort_keys=True).encode())
    for f in files:
        h.update(f"{f.path}\0{f.sha256}\n".encode())
    return "run-" + h.hexdigest()[:16]
