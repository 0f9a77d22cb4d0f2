"""The curation run: WARC files in, an auditable corpus directory out.

`curate()` makes the run context (config, claimed output directory, run id, input files, and the
one executor of the run) and hands it to the stages, in order, each resumable:

0. **step assets** (`step_assets`): the quality model and the evaluation sets, checked before
   anything is written; the evaluation sets' n-gram index saved under `_work/` for the workers;
1. **per file** (`file_stage`, one executor task per WARC): read, decode, extract, identify the
   language, annotate and apply the filters (the quality classifier and decontamination when
   enabled), detect PII / licence / opt-out signals, hash the text and compute MinHash signatures;
2. **global decisions**: the quality step's `keep_top_fraction` (`quality.top_fraction`), then
   dedup (`dedup.stage`): repeated record ids, exact duplicates, MinHash LSH clusters (as executor
   tasks with `executor = "ray"`, in this process otherwise);
3. **finalize** (`finalize`): `provenance/`, `documents/`, `rejected/`;
4. **tokenize** (`tokens.stage`, when enabled: one executor task per documents part);
5. `run.json` (`manifest`) and `report.html` (`report`).

Every record read becomes exactly one provenance row (kept, rejected, duplicate or error).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pyarrow as pa

from curate.config import CurateConfig, TokenizeConfig, load_config
from curate.context import RunContext, run_id_of
from curate.dedup.stage import decide_duplicates
from curate.exec import Executor, make_executor
from curate.file_stage import extract_all, records_path, signatures_path
from curate.finalize import finalize
from curate.manifest import curate_manifest
from curate.quality.top_fraction import select_top
from curate.read.fsio import local_dir
from curate.read.inputs import expand_inputs, input_files
from curate.report import write_report
from curate.step_assets import StepAssets, check_assets, save_assets
from curate.tokens.stage import tokenize_documents
from provenance.manifest import now_iso, read_manifest, write_manifest
from provenance.outdir import claim, list_outputs, write_parquet

LSH_WORK = "lsh"  # work folder of the LSH shuffle's band files
DEDUP_WORK = "dedup"  # work folder of the run's dedup decisions (kept for inspection)
QUALITY_WORK = "quality"  # work folder of the keep_top_fraction decisions (kept for inspection)
TOKENIZE_WORKERS = 2  # tokenize_corpus's default: local processes, each using tokenizers' Rust threads


def start_run(inputs: list[str], out_dir: str | os.PathLike[str], cfg: CurateConfig, overwrite: bool,
              progress: bool) -> tuple[RunContext, StepAssets]:
    """Expand and hash the inputs, check the steps' model and evaluation sets, claim the output directory
    for this run, save the decontamination index, make the run's executor."""
    root = Path(local_dir(out_dir)).resolve()
    files = input_files(expand_inputs(inputs))
    assets = check_assets(cfg)
    run_id = run_id_of(cfg, files, assets.fingerprint())
    out = claim(root, run_id, "curate", overwrite)
    save_assets(assets, cfg, out)
    executor = make_executor(cfg.executor, cfg.workers, cfg.ray_address)
    return RunContext(cfg, out, run_id, tuple(files), executor, progress), assets


def global_executor(ctx: RunContext) -> Executor | None:
    """On Ray, the global stages' per-part work runs as tasks (signatures and scores never reach the driver
    as objects); locally, in this process."""
    return ctx.run_executor() if ctx.cfg.executor == "ray" else None


def top_fraction(ctx: RunContext) -> tuple[pa.Table | None, dict[str, Any] | None]:
    """The quality step's keep_top_fraction decisions over the whole run (None when not asked for)."""
    fraction = ctx.cfg.filters.quality.keep_top_fraction
    if not ctx.cfg.filters.quality.enabled or fraction is None:
        return None, None
    table, facts = select_top([records_path(ctx, f) for f in ctx.files], fraction, global_executor(ctx))
    write_parquet(ctx.out.work_file(QUALITY_WORK, "decisions"), table)
    return table, facts


def dedup(ctx: RunContext, removed: pa.Table | None = None) -> pa.Table:
    """The global dedup decisions of the run (also kept under _work/ for inspection); `removed`: rows an
    earlier global stage removed."""
    records = [records_path(ctx, f) for f in ctx.files]
    signatures = [signatures_path(ctx, f) for f in ctx.files]
    table = decide_duplicates(records, signatures, ctx.cfg.exact_dedup, ctx.cfg.near_dedup,
                              executor=global_executor(ctx), work=ctx.out.work(LSH_WORK), removed=removed)
    write_parquet(ctx.out.work_file(DEDUP_WORK, "decisions"), table)
    return table


def global_decisions(ctx: RunContext) -> tuple[pa.Table, dict[str, Any] | None]:
    """keep_top_fraction, then dedup over what it kept: their decisions in that order (finalize applies
    them), and what run.json records of the first."""
    quality, facts = top_fraction(ctx)
    decisions = dedup(ctx, quality)
    if quality is not None:
        decisions = pa.concat_tables([quality, decisions], promote_options="default")
    return decisions, facts


def curate(inputs: list[str], out_dir: str | os.PathLike[str], config: CurateConfig | None = None, *,
           overwrite: bool = False, progress: bool = False) -> dict[str, Any]:
    """Run the whole pipeline; returns the run manifest (also written to OUT/run.json)."""
    cfg = config or load_config()
    started = now_iso()
    ctx, assets = start_run(inputs, out_dir, cfg, overwrite, progress)
    resumed = extract_all(ctx)
    decisions, selection = global_decisions(ctx)
    totals = finalize(ctx, decisions)
    manifest = {**curate_manifest(ctx, totals, started, resumed), **assets.manifest(selection)}
    write_manifest(ctx.out.root, manifest)  # the tokenizer and the report read it
    if cfg.tokenize.enabled:
        tokenize_documents(ctx.out.root, cfg.tokenize, ctx.run_executor(), progress=progress)
        manifest = read_manifest(ctx.out.root)
    write_report(ctx.out.root)
    manifest["outputs"] = list_outputs(ctx.out.root)
    write_manifest(ctx.out.root, manifest)
    return manifest


def tokenize_corpus(out_dir: str | os.PathLike[str], config: TokenizeConfig | None = None, *,
                    executor: Executor | None = None, progress: bool = True) -> dict[str, Any]:
    """Tokenize OUT/documents into OUT/tokens/shard-*.arrow; update run.json; return its `tokenize` section.

    `config` is a `TokenizeConfig` (tokenizer file, or vocab_size to train one, shard_tokens,
    shuffle_seed); `executor` runs the per-part encode tasks (default: 2 local processes).
    """
    executor = executor or make_executor("local", TOKENIZE_WORKERS)
    return tokenize_documents(out_dir, config or TokenizeConfig(), executor, progress=progress)
