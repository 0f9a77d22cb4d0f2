"""WARC files in, an auditable corpus out. The Python API:

    from curate import curate, load_config
    manifest = curate(["crawl.warc.gz"], "out/corpus", load_config(overrides={"workers": 2}))

plus `tokenize_corpus` (token shards), `TokenShards` (read them), `kept_documents` (doc_id, text of the
kept documents), `train_tokenizer` and `encode_texts` (a tokenizer for several corpora; text encoded as
the tokenize stage does), `trace` (a token back to its
WARC record), `takedown` (a corpus version without named documents), `summary` and
`dedup_summary` (the report's numbers), `train_classifier` / `TrainConfig` (a quality classifier
for `[filters.quality]`), `contamination` (the evaluation items a run found) and `checkpoint_written`
(the trainer's ASSAY_FAULT hook, curate/faults.py). Code outside curate/ uses only these names; they
load on first use (PEP 562), so `import curate` stays cheap.

Inside, a folder per stage (`read/`, `filters/`, `signals/`, `quality/`, `decontaminate/`, `dedup/`,
`tokens/`) and the executors (`exec/`); the runner (`runner.py`) hands each stage the run's executor.
"""

from __future__ import annotations

import importlib
from typing import Any

_WHERE = {
    "curate": "curate.runner", "tokenize_corpus": "curate.runner",
    "recipe_names": "curate.recipes",
    "CurateConfig": "curate.config", "load_config": "curate.config", "config_to_toml": "curate.config",
    "TokenizeConfig": "curate.tokens.config",
    "kept_documents": "curate.tokens.stage", "encode_texts": "curate.tokens.encode",
    "train_tokenizer": "curate.tokens.tokenizer", "load_tokenizer": "curate.tokens.tokenizer",
    "ConfigError": "provenance.errors", "InputError": "provenance.errors",
    "summary": "curate.report", "CSS": "curate.report", "contamination": "curate.report",
    "train_classifier": "curate.quality.train", "TrainConfig": "curate.quality.train",
    "dedup_summary": "curate.dedup.report", "dedup_section_html": "curate.dedup.report",
    "trace": "curate.tokens.origin", "TokenShards": "curate.tokens.reader",
    "takedown": "curate.removal.new_version", "read_doc_ids": "curate.removal.request",
    "TakedownError": "curate.removal.request",
    "expand_inputs": "curate.read.inputs",
    "make_executor": "curate.exec",
    "checkpoint_written": "curate.faults",
}
__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(importlib.import_module(_WHERE[name]), name)
    raise AttributeError(f"module 'curate' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_WHERE])
