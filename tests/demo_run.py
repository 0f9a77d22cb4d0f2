"""One `assay demo --small` per test session, shared by test_demo.py and test_report_browser.py.

Runs the real console script (as a user would) in a child process and keeps its stdout,
so the tests can also check that the command prints exactly one line: the report path.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

_CACHE: dict[str, Any] = {}
DEMO_TIMEOUT_S = 1800  # the small demo takes minutes; an overloaded CI box gets headroom


def small_demo(tmp_path_factory: Any) -> dict[str, Any]:
    """{"out": Path, "report": Path, "stdout": str} of the session's small demo run."""
    if "out" not in _CACHE:
        out = tmp_path_factory.mktemp("demo") / "demo-out"
        assay = Path(sys.executable).with_name("assay")
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "VLLM_NO_USAGE_STATS": "1"}
        proc = subprocess.run([str(assay), "demo", "--small", "-o", str(out)], capture_output=True, text=True,
                              env=env, timeout=DEMO_TIMEOUT_S, check=False)
        assert proc.returncode == 0, f"assay demo failed ({proc.returncode}):\n{proc.stderr[-6000:]}"
        _CACHE.update(out=out, report=Path(proc.stdout.strip()), stdout=proc.stdout, stderr=proc.stderr)
    return _CACHE
