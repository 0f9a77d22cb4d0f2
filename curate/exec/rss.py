"""The peak resident memory of one task, measured inside it, so every executor can report it.

A pool or Ray worker runs many tasks in one process, and `ru_maxrss` is the peak of the whole
process. On Linux, writing 5 to /proc/self/clear_refs resets the peak ("VmHWM") to the current
RSS (proc(5), since Linux 4.0), so each task measures its own peak; elsewhere the process's
`ru_maxrss` is reported (an upper bound). Helper processes a task keeps (the per-file task's record
worker) are named by pid: their peaks are reset and added in the same way (an upper bound on the
peak of the sum).

    with PeakRss(worker_pid) as peak:
        ...the task's work...
    result["peak_rss_mb"] = peak.mb
"""

from __future__ import annotations

import resource
import sys
import time
from typing import Any


def _reset(pid: int | str = "self") -> bool:
    try:
        with open(f"/proc/{pid}/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def _hwm_kib(pid: int | str = "self") -> int | None:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return None


def process_peak_mb() -> float:
    """This process's peak RSS in MiB so far (ru_maxrss: KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (2**20 if sys.platform == "darwin" else 1024)


class PeakRss:
    """Peak RSS (MiB) of the code inside the `with` block, plus that of the helper processes `pids`;
    and the CPU seconds this process spent in it (`cpu_s`: a measure of work that machine load does
    not stretch, unlike wall time)."""

    def __init__(self, *pids: int) -> None:
        self.mb = self.cpu_s = 0.0
        self.pids = pids
        self._reset = False
        self._cpu = 0.0

    def __enter__(self) -> PeakRss:
        self._cpu = time.process_time()
        self._reset = _reset()
        for pid in self.pids:
            _reset(pid)
        return self

    def __exit__(self, *exc: Any) -> None:
        hwm = _hwm_kib() if self._reset else None
        own = hwm / 1024 if hwm is not None else process_peak_mb()
        helpers = sum((_hwm_kib(pid) or 0) for pid in self.pids) / 1024
        self.mb = round(own + helpers, 1)
        self.cpu_s = round(time.process_time() - self._cpu, 2)
