"""CPU seconds of a benchmark's helper processes (shared by benchmarks/generate.py and scale.py)."""

from __future__ import annotations


def descendants_cpu_s() -> float:
    """CPU seconds used so far by this process's live descendants (vLLM's engine core and workers,
    Ray's raylet, GCS and workers); reaped children count in RUSAGE_CHILDREN instead."""
    import psutil

    total = 0.0
    for c in psutil.Process().children(recursive=True):
        try:
            t = c.cpu_times()
            total += t.user + t.system
        except psutil.NoSuchProcess:
            pass
    return total
