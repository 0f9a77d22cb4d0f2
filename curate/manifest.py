"""The run manifest of a curation run (`run.json`): inputs, config, counts by decision and step, times."""

from __future__ import annotations

from typing import Any

from curate.context import RunContext
from curate.dedup.stage import DedupResult
from curate.file_stage import STAGE, marker_key
from curate.recipes import get_recipe
from provenance.manifest import now_iso
from provenance.outdir import read_marker


def _by_step(by_step: dict[str, int]) -> list[dict[str, Any]]:
    """finalize's "decision/step" counts as rows sorted by (decision, step)."""
    rows = []
    for key, n in by_step.items():
        decision, step = key.split("/", 1)
        rows.append({"decision": decision, "step": None if step == "None" else step, "len": n})
    return sorted(rows, key=lambda r: (r["decision"], r["step"] or ""))


def _memory(ctx: RunContext, totals: dict[str, Any], dedup: DedupResult) -> dict[str, Any]:
    """Peak RSS of the largest task of each stage (measured inside the tasks) against the budget."""
    files = [read_marker(ctx.out.marker(STAGE, f.part), marker_key(ctx, f)) or {} for f in ctx.files]
    return {"task_memory_mb": ctx.cfg.task_memory_mb,
            "max_task_peak_rss_mb": {"extract": max((r.get("peak_rss_mb", 0.0) for r in files), default=0.0),
                                     **{name: w["max_task_peak_rss_mb"] for name, w in dedup.waves.items()},
                                     "finalize": totals.get("max_task_peak_rss_mb", 0.0)},
            "partitions": {name.removesuffix("-reduce"): w["partitions"] for name, w in dedup.waves.items()
                           if "partitions" in w}}


def curate_manifest(ctx: RunContext, totals: dict[str, Any], dedup: DedupResult, started: str,
                    resumed_tasks: int) -> dict[str, Any]:
    """The manifest before tokenizing and before its outputs listing (written by the runner)."""
    counts = {k: totals[k] for k in ("records", "kept", "rejected", "duplicate", "error")}
    manifest = {
        "kind": "curate",
        "run_id": ctx.run_id,
        "recipe": {"name": ctx.cfg.recipe, "version": get_recipe(ctx.cfg.recipe).version},
        "config": ctx.cfg.model_dump(mode="json"),
        "inputs": [{"path": f.path, "bytes": f.size, "sha256": f.sha256, "kind": "warc"} for f in ctx.files],
        "counts": {**counts, "by_step": _by_step(totals["by_step"])},
        "resumed_tasks": resumed_tasks,
        "memory": _memory(ctx, totals, dedup),
        "started_at": started,
        "ended_at": now_iso(),
    }
    if ctx.earlier:  # path, run_id, documents read, text hashes / signatures reused from its _work/
        manifest["dedup_against"] = list(dedup.earlier.values())
    return manifest
