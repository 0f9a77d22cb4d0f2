"""WARC files in, an auditable corpus out. The Python API:

    from curate import curate, load_config
    manifest = curate(["crawl.warc.gz"], "out/corpus", load_config(overrides={"workers": 2}))

plus `tokenize_corpus` (token shards), `summary` (the report's numbers) and, in their own
modules (their names are also module names), `curate.trace.trace` and `curate.takedown.takedown`.
Names load on first use (PEP 562), so `import curate` stays cheap.
"""

from __future__ import annotations

import importlib
from typing import Any

_WHERE = {"CurateConfig": "curate.config", "ConfigError": "curate.config", "load_config": "curate.config",
          "TokenizeConfig": "curate.config", "config_to_toml": "curate.config",
          "curate": "curate.pipeline", "InputError": "curate.pipeline", "tokenize_corpus": "curate.tokenize",
          "summary": "curate.report", "dedup_summary": "curate.dedup_report"}
__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(importlib.import_module(_WHERE[name]), name)
    raise AttributeError(f"module 'curate' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_WHERE])
