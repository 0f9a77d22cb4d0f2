"""Deterministic fault injection for tests: kills, hangs and crashes at named points, never by a clock.

Set `ASSAY_FAULT` to one fault or several, comma-separated:

    kill-after-tasks:N          the driver SIGKILLs itself once N file tasks of a run have finished
    kill-after-wave:<wave>:N    the driver SIGKILLs itself once N tasks of a global wave have finished:
                                <wave> is a progress-bar name of `curate.dedup.stage` (ids-map,
                                url-reduce, exact-map, exact-reduce, near-map, near-reduce,
                                near-components) or finalize
    kill-in-task:<part>:N       the process running file task <part> (e.g. part-00001) SIGKILLs itself
                                after reading N records, once: it leaves a flag file in
                                ASSAY_FAULT_DIR (required), so the retry runs clean
    spin-in-step:<step>:<i>     the record worker burns CPU without end in check <step> of record <i>
    sleep-in-step:<step>:<i>    the record worker sleeps (no CPU) without end in check <step> of record <i>
    crash-in-step:<step>:<i>    the record worker dies (SIGKILL) in check <step> of record <i>
    kill-after-checkpoint:<run>:<step>
                                a training run whose directory ends in <run> (e.g. big/seed-0) SIGKILLs
                                itself right after writing its checkpoint of step <step> (train/trainer.py)

<step> is a check of the per-record chain (`curate.record_checks.CHECKS`: decode, extract, pii, ...),
<i> a record's index in its file. The Ray executor forwards ASSAY_FAULT* to its workers. Unset, every
hook is a dictionary lookup.
"""

from __future__ import annotations

import os
import signal
import time
from functools import cache
from pathlib import Path

ENV = "ASSAY_FAULT"
DIR_ENV = "ASSAY_FAULT_DIR"


@cache
def _faults(spec: str) -> dict[str, list[str]]:
    """`kill-in-task:part-00001:5` -> {"kill-in-task": ["part-00001", "5"]}."""
    out: dict[str, list[str]] = {}
    for item in filter(None, (s.strip() for s in spec.split(","))):
        action, *args = item.split(":")
        out[action] = args
    return out


def enabled() -> bool:
    """Whether any fault is set for this process."""
    return bool(os.environ.get(ENV))


def _get(action: str) -> list[str] | None:
    spec = os.environ.get(ENV)
    return _faults(spec).get(action) if spec else None


def _die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def tasks_finished(n: int) -> None:
    """Driver hook, after each finished file task (`kill-after-tasks`)."""
    args = _get("kill-after-tasks")
    if args and n >= int(args[0]):
        _die()


def wave_finished(wave: str, n: int) -> None:
    """Driver hook, after each finished task of a global wave (`kill-after-wave`)."""
    args = _get("kill-after-wave")
    if args and args[0] == wave and n >= int(args[1]):
        _die()


def records_read(part: str, n: int) -> None:
    """File-task hook, after each record read (`kill-in-task`), firing once per ASSAY_FAULT_DIR."""
    args = _get("kill-in-task")
    if not args or args[0] != part or n != int(args[1]):
        return
    flag = Path(os.environ[DIR_ENV]) / f"kill-in-task-{part}.fired"
    if flag.exists():
        return
    flag.parent.mkdir(parents=True, exist_ok=True)
    flag.touch()
    _die()


def checkpoint_written(run_dir: Path, step: int) -> None:
    """Trainer hook, after each checkpoint is written (`kill-after-checkpoint`)."""
    args = _get("kill-after-checkpoint")
    if args and Path(run_dir).as_posix().endswith(args[0]) and step == int(args[1]):
        _die()


def in_step(step: str, record_index: int) -> None:
    """Record-worker hook, at the start of each check (`spin-`, `sleep-`, `crash-in-step`)."""
    if not os.environ.get(ENV):
        return
    for action in ("spin-in-step", "sleep-in-step", "crash-in-step"):
        args = _get(action)
        if args and args[0] == step and int(args[1]) == record_index:
            if action == "crash-in-step":
                _die()
            while True:  # until the supervisor kills this process
                if action == "sleep-in-step":
                    time.sleep(3600)
