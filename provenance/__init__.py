"""Records of what happened: schemas, run manifests, lineage, the training-data disclosures.

    from provenance import write_disclosure, build_lineage
    write_disclosure(["out/corpus", "out/synth", "out/run"], "out/disclosure", "examples/declarations.toml")

Names load on first use (PEP 562); `provenance` imports nothing from curate, synth or train.
"""

from __future__ import annotations

import importlib
from typing import Any

_WHERE = {"write_disclosure": "provenance.disclosure", "build_disclosure": "provenance.disclosure",
          "load_declarations": "provenance.declarations", "build_lineage": "provenance.lineage",
          "format_tree": "provenance.lineage", "read_manifest": "provenance.manifest",
          "write_manifest": "provenance.manifest", "sha256_file": "provenance.manifest"}
__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(importlib.import_module(_WHERE[name]), name)
    raise AttributeError(f"module 'provenance' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_WHERE])
