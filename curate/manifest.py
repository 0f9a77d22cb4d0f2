"""The run manifest of a curation run (`run.json`): inputs, config, counts by decision and step, times."""

from __future__ import annotations

from typing import Any

import polars as pl

from curate.context import RunContext
from curate.recipes import get_recipe
from provenance.manifest import now_iso
from provenance.outdir import PROVENANCE
from provenance.schema import KEPT


def curate_manifest(ctx: RunContext, totals: dict[str, int], started: str,
                    resumed_tasks: int) -> dict[str, Any]:
    """The manifest before tokenizing and before its outputs listing (written by the runner)."""
    prov = pl.read_parquet(ctx.out.folder(PROVENANCE) / "*.parquet", columns=["decision", "step"])
    by_step = (prov.filter(pl.col("decision") != KEPT).group_by(["decision", "step"]).len()
               .sort(["decision", "step"]).to_dicts())
    return {
        "kind": "curate",
        "run_id": ctx.run_id,
        "recipe": {"name": ctx.cfg.recipe, "version": get_recipe(ctx.cfg.recipe).version},
        "config": ctx.cfg.model_dump(mode="json"),
        "inputs": [{"path": f.path, "bytes": f.size, "sha256": f.sha256, "kind": "warc"} for f in ctx.files],
        "counts": {**totals, "by_step": by_step},
        "resumed_tasks": resumed_tasks,
        "started_at": started,
        "ended_at": now_iso(),
    }
