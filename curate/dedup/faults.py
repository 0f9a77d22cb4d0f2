"""A deterministic fault point for resume tests: kill the driver after N tasks of a dedup wave.

    ASSAY_FAULT=exit-after-exact-reduce:1 assay curate ...   # SIGKILLs itself after 1 exact reduce task

The variable is read here only. The wave names are those `dedup.stage` gives its progress bars
(`ids-map`, `ids-reduce`, `url-map`, `url-reduce`, `exact-map`, `exact-reduce`, `near-map`,
`near-reduce`, `near-components`, `finalize`). A test uses it to kill a run at a known point
instead of racing a clock; a rerun must then resume to the same output.
"""

from __future__ import annotations

import os
import signal

ENV = "ASSAY_FAULT"


def fault_point(wave: str, finished: int) -> None:
    """Called by the driver after each finished task of `wave`; dies when ASSAY_FAULT names this point."""
    if os.environ.get(ENV) == f"exit-after-{wave}:{finished}":
        os.kill(os.getpid(), signal.SIGKILL)
