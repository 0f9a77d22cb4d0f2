"""The curation run: WARC files in, an auditable corpus directory out.

`curate()` makes the run context (config, claimed output directory, run id, input files, and the
one executor of the run) and hands it to the stages, in order, each resumable:

0. **step assets** (`step_assets`): the quality model and the evaluation sets, checked before
   anything is written; the evaluation sets' n-gram index saved under `_work/` for the workers;
1. **per file** (`file_stage`, one executor task per WARC): read, decode, extract, identify the
   language, annotate and apply the filters (the quality classifier and decontamination when
   enabled), detect PII / licence / opt-out signals, hash the text and compute MinHash signatures;
2. **global decisions**: the quality step's `keep_top_fraction` (`quality.top_fraction`), then
   dedup (`dedup.stage`): repeated record ids, URL duplicates (optional), exact duplicates, MinHash
   LSH clusters, each as map and reduce tasks through the executor, in partitions sized to
   `task_memory_mb`; against earlier corpora with `dedup_against`;
3. **finalize** (`finalize`, one executor task per file): `provenance/`, `documents/`, `rejected/`;
4. **tokenize** (`tokens.stage`, when enabled: one executor task per documents part);
5. `run.json` (`manifest`) and `report.html` (`report`).

Every record read becomes exactly one provenance row (kept, rejected, duplicate or error).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from curate.config import CurateConfig, TokenizeConfig, load_config
from curate.context import RunContext, run_id_of
from curate.dedup.against import earlier_parts
from curate.dedup.decisions import decision_table, write_decisions
from curate.dedup.shuffle import SUFFIX, FileSet
from curate.dedup.stage import DedupResult, DedupRun, run_dedup
from curate.exec import Executor, make_executor
from curate.file_stage import SIGNATURES, STAGE, extract_all, marker_key, records_path, signatures_path
from curate.finalize import finalize
from curate.manifest import curate_manifest
from curate.quality.top_fraction import select_top
from curate.read.fsio import local_dir
from curate.read.inputs import expand_inputs, input_files
from curate.report import write_report
from curate.step_assets import StepAssets, check_assets, save_assets
from curate.tokens.stage import document_parts, tokenize_documents
from provenance.errors import InputError
from provenance.manifest import now_iso, read_manifest, write_manifest
from provenance.outdir import OutDir, claim, list_outputs, read_marker

QUALITY_WORK = "quality"  # work folder of the keep_top_fraction decisions (kept for inspection)
TOKENIZE_WORKERS = 2  # tokenize_corpus's default: local processes, each using tokenizers' Rust threads


def start_run(inputs: list[str], out_dir: str | os.PathLike[str], cfg: CurateConfig, overwrite: bool,
              progress: bool) -> tuple[RunContext, StepAssets]:
    """Expand and hash the inputs, check the steps' model and evaluation sets and the earlier corpora,
    claim the output directory for this run, save the decontamination index, make the run's executor."""
    root = Path(local_dir(out_dir)).resolve()
    files = input_files(expand_inputs(inputs))
    assets = check_assets(cfg)
    earlier = earlier_parts([str(p) for p in cfg.dedup_against], (STAGE, SIGNATURES))
    if any(Path(p.corpus) == root for p in earlier):
        raise InputError(f"--dedup-against {root}: is the output directory; an earlier corpus is only read")
    run_id = run_id_of(cfg, files, assets.fingerprint(), tuple(dict.fromkeys(p.run_id for p in earlier)))
    out = claim(root, run_id, "curate", overwrite)
    save_assets(assets, cfg, out)
    executor = make_executor(cfg.executor, cfg.workers, cfg.ray_address)
    return RunContext(cfg, out, run_id, tuple(files), executor, progress, tuple(earlier)), assets


def top_fraction(ctx: RunContext) -> tuple[FileSet | None, dict[str, Any] | None]:
    """The quality step's keep_top_fraction decisions over the whole run, as a decision file partitioned
    by part (dedup skips what it rejected, finalize applies it); None when not asked for."""
    fraction = ctx.cfg.filters.quality.keep_top_fraction
    if not ctx.cfg.filters.quality.enabled or fraction is None:
        return None, None
    table, facts = select_top([records_path(ctx, f) for f in ctx.files], fraction, ctx.run_executor())
    index = {f.part: f.index for f in ctx.files}
    parts = np.array([index[p] for p in table.column("part").to_pylist()], dtype=np.int64)
    decisions = decision_table(parts, table.column("record_index").to_numpy(),
                               **{k: table.column(k).to_pylist() for k in ("decision", "step", "reason")})
    path = str(ctx.out.work_file(QUALITY_WORK, "decisions", SUFFIX))
    write_decisions(path, decisions, len(ctx.files))
    return FileSet(path.replace("{", "{{").replace("}", "}}"), 0, 1), facts


def dedup(ctx: RunContext, quality: FileSet | None = None) -> DedupResult:
    """The run's global dedup decisions, sized from the per-file tasks' counts (read from their markers);
    `quality`: the keep_top_fraction decisions, applied after repeated record ids and before dedup."""
    cfg = ctx.cfg
    counts = [read_marker(ctx.out.marker(STAGE, f.part), marker_key(ctx, f)) or {} for f in ctx.files]
    near = cfg.near_dedup if cfg.near_dedup.enabled else None
    run = DedupRun(ctx.out, ctx.run_id, ctx.run_executor(), len(ctx.files), cfg.task_memory_mb,
                   cfg.dedup_partitions, cfg.url_dedup.enabled, cfg.exact_dedup.enabled, near, ctx.earlier,
                   ctx.progress)
    current = [(str(records_path(ctx, f)), str(signatures_path(ctx, f)) if near else None) for f in ctx.files]
    return run_dedup(run, current, sum(c.get("records", 0) for c in counts),
                     sum(c.get("candidates", 0) for c in counts), prior=(quality,) if quality else ())


def curate(inputs: list[str], out_dir: str | os.PathLike[str], config: CurateConfig | None = None, *,
           overwrite: bool = False, progress: bool = False) -> dict[str, Any]:
    """Run the whole pipeline; returns the run manifest (also written to OUT/run.json)."""
    cfg = config or load_config()
    started = now_iso()
    ctx, assets = start_run(inputs, out_dir, cfg, overwrite, progress)
    try:
        return _run_stages(ctx, assets, started)
    finally:
        ctx.run_executor().close()


def _run_stages(ctx: RunContext, assets: StepAssets, started: str) -> dict[str, Any]:
    """The stages of `curate`, in order, with the run's executor; returns the manifest."""
    cfg = ctx.cfg
    resumed = extract_all(ctx)
    quality, selection = top_fraction(ctx)
    dedup_result = dedup(ctx, quality)
    totals = finalize(ctx, dedup_result.decisions)
    manifest = {**curate_manifest(ctx, totals, dedup_result, started, resumed), **assets.manifest(selection)}
    write_manifest(ctx.out.root, manifest)  # the tokenizer and the report read it
    if cfg.tokenize.enabled:
        tokenize_documents(ctx.out.root, cfg.tokenize, ctx.run_executor(), progress=ctx.progress)
        manifest = read_manifest(ctx.out.root)
    write_report(ctx.out.root)
    manifest["outputs"] = list_outputs(ctx.out.root)
    write_manifest(ctx.out.root, manifest)
    return manifest


def tokenize_corpus(out_dir: str | os.PathLike[str], config: TokenizeConfig | None = None, *,
                    executor: Executor | None = None, progress: bool = True) -> dict[str, Any]:
    """Tokenize OUT/documents into OUT/tokens/shard-*.arrow; update run.json; return its `tokenize` section.

    `config` is a `TokenizeConfig` (tokenizer file, or vocab_size to train one, shard_tokens,
    shuffle_seed); `executor` runs the per-part encode tasks (default: up to 2 local processes, one
    per documents part; a single part is encoded in this process, sparing two process start-ups).
    """
    if executor is not None:
        return tokenize_documents(out_dir, config or TokenizeConfig(), executor, progress=progress)
    n_parts = len(document_parts(OutDir(out_dir)))
    own = make_executor("local", min(TOKENIZE_WORKERS, n_parts))
    try:
        return tokenize_documents(out_dir, config or TokenizeConfig(), own, progress=progress)
    finally:
        own.close()
