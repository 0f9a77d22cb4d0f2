"""assay's front door: the CLI (`assay.cli`), the whole loop (`run_demo`) and its report.

    from assay import run_demo, write_report
    report = run_demo("demo-out", small=True)       # crawl -> corpus -> model -> synth -> gates -> disclosure

The stage APIs live in their packages: curate, train, synth, provenance.
"""

from __future__ import annotations

import importlib
from typing import Any

_WHERE = {"run_demo": "assay.demo", "build_sample_crawl": "assay.demo", "write_report": "assay.report"}
__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(importlib.import_module(_WHERE[name]), name)
    raise AttributeError(f"module 'assay' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_WHERE])
