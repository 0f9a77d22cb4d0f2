"""What a run's learned steps read besides its WARC files: the quality model and the evaluation sets.

Both are checked before anything is written (a missing or wrong model, an evaluation set without the
configured field or without items: one line, exit 2), their sha256 enter the run id (another model
or evaluation set is another run) and run.json, and the evaluation sets' n-gram index is saved once
under `_work/` for the workers to memory-map.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from curate.config import CurateConfig
from curate.decontaminate.index import EvalIndex, index_key, load_eval_sets, save_index
from curate.decontaminate.step import WORK as DECONTAMINATE_WORK
from curate.quality.step import check_quality
from provenance.outdir import OutDir


@dataclass
class StepAssets:
    quality: dict[str, Any] | None = None  # check_quality's facts (model, sha256, labels, card, rule)
    index: EvalIndex | None = None  # the evaluation sets, hashed (dropped once saved)
    decontaminate: dict[str, Any] | None = None  # what run.json says of them

    def fingerprint(self) -> dict[str, Any]:
        """What the run id adds for them: the files' sha256 (their paths and settings are in the config)."""
        fp: dict[str, Any] = {}
        if self.quality is not None:
            fp["quality_model"] = self.quality["sha256"]
        if self.decontaminate is not None:
            fp["evaluation_sets"] = [s["sha256"] for s in self.decontaminate["sets"]]
        return fp

    def manifest(self, selection: dict[str, Any] | None = None) -> dict[str, Any]:
        """run.json's `quality` and `decontaminate` sections; `selection`: keep_top_fraction's outcome."""
        found: dict[str, Any] = {}
        if self.quality is not None:
            found["quality"] = {**self.quality, **({"selection": selection} if selection else {})}
        if self.decontaminate is not None:
            found["decontaminate"] = self.decontaminate
        return found


def check_assets(cfg: CurateConfig) -> StepAssets:
    """Check the model and read the evaluation sets (UserErrors, before anything is written)."""
    assets = StepAssets()
    if cfg.filters.quality.enabled:
        assets.quality = check_quality(cfg.filters.quality)
    d = cfg.decontaminate
    if d.enabled:
        assets.index = load_eval_sets(d)
        assets.decontaminate = {"ngram": d.ngram, "min_overlap": d.min_overlap, "sets": assets.index.sets,
                                "index": {"ngrams": len(assets.index.grams), "bytes": assets.index.nbytes}}
    return assets


def save_assets(assets: StepAssets, cfg: CurateConfig, out: OutDir) -> None:
    """Save the n-gram index under _work/ (a resumed run finds it there), then let it go."""
    if assets.index is not None:
        save_index(assets.index, index_key(cfg.decontaminate, assets.index), out.work(DECONTAMINATE_WORK))
        assets.index = None
