"""One training run per (variant, seed), each scored on every evaluation set; finished work is reused.

A run is an ordinary training run directory, OUT/runs/VARIANT/seed-S (run.json kind "train", checkpoints,
metrics.jsonl), so `assay lineage`, `assay takedown` and the disclosure read it like any other. Runs
checkpoint halfway: a killed ablation resumes a run from its checkpoint (bitwise the same weights as an
uninterrupted run, train/trainer.py), reuses finished runs, and reuses the scores written beside them
(OUT/runs/VARIANT/seed-S/ablate-eval.json, keyed by the checkpoint and the evaluation sets).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

from provenance.errors import NotARunError
from provenance.manifest import read_manifest
from provenance.outdir import OutDir, read_marker, sha256_file, write_marker
from train.ablate.spec import Plan
from train.checkpoint import WEIGHTS, latest_checkpoint, load_model
from train.config import TrainConfig, make_config
from train.evaluate import EvalSet, score
from train.trainer import train

RUNS = "runs"
EVAL_FILE = "ablate-eval.json"
CURVE_POINTS = 8  # validation evaluations per run: the learning curve


def run_dir(out: OutDir, variant: str, seed: int) -> Path:
    return out.folder(RUNS) / variant / f"seed-{seed}"


def run_config(plan: Plan, corpus: Path, variant: str, seed: int, where: Path) -> TrainConfig:
    """The preset with the ablation's length, seed and shared validation split; the same for every variant."""
    cfg = plan.cfg
    return make_config(cfg.preset, data=[f"{variant}={corpus}"], overrides={
        **cfg.train_overrides, "out_dir": where, "steps": plan.steps, "seed": seed,
        "split_seed": cfg.split_seed,
        "eval_every": max(1, plan.steps // CURVE_POINTS), "log_every": max(1, plan.steps // 50),
        "ckpt_every": max(1, math.ceil(plan.steps / 2)), "threads": cfg.threads, "device": cfg.device,
        "progress": cfg.progress})


def _complete(where: Path, steps: int) -> bool:
    try:
        man = read_manifest(where)
    except NotARunError:
        return False
    return man.get("status") == "complete" and (man.get("counts") or {}).get("steps") == steps


def train_variant(plan: Plan, corpus: Path, variant: str, seed: int, out: OutDir,
                  say: Callable[[str], None]) -> Path:
    """Train (or finish, or reuse) the run of `variant` with `seed`; returns its directory."""
    where = run_dir(out, variant, seed)
    if _complete(where, plan.steps):
        return where
    ckpt = latest_checkpoint(where)
    say(f"training {variant} seed {seed}: {plan.steps} steps, {plan.tokens:,} tokens"
        + (f" (resuming from {ckpt.name})" if ckpt else ""))
    # resume=True with no checkpoint starts afresh; it also accepts a run killed before its first checkpoint
    return train(run_config(plan, corpus, variant, seed, where), resume=True)


def evaluate_run(where: Path, sets: list[EvalSet], seq_len: int, device: str,
                 say: Callable[[str], None]) -> dict[str, dict[str, float | int]]:
    """{eval set: scores} of the run's final model; reused when the checkpoint and the sets are the same."""
    ckpt = latest_checkpoint(where)
    assert ckpt is not None, f"{where}: no checkpoint after training"
    key = {"checkpoint": ckpt.name, "weights_sha256": sha256_file(ckpt / WEIGHTS),
           "sets": {s.name: s.sha256 for s in sets}, "seq_len": seq_len}
    marker = where / EVAL_FILE
    done = read_marker(marker, key)
    if done is not None:
        return done
    say(f"scoring {where.parent.name}/{where.name} on {len(sets)} evaluation set(s)")
    model = load_model(where, device=device)
    result: dict[str, Any] = {s.name: score(model, s, seq_len, device=device) for s in sets}
    write_marker(marker, key, result)
    return result
