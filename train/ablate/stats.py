"""Statistics that do not overclaim: mean and spread over seeds, and a paired comparison with the baseline.

Every variant is trained with the same seeds, so seed s of a variant and seed s of the baseline share
their initialisation and data-order seed; their difference is paired. A difference is reported only
when both hold: the 95% confidence interval of the mean paired difference (Student's t with n - 1
degrees of freedom) excludes zero, and the mean difference is larger than either variant's own spread
over seeds (its standard deviation). Otherwise the verdict says "no difference detected". With one
seed there is no spread to judge by, so nothing is ever called a difference.
"""

from __future__ import annotations

import math
import statistics
from typing import Any

NO_DIFFERENCE = "no difference detected"
CONFIDENCE = 0.95


def spread(values: list[float]) -> dict[str, Any]:
    """Mean, sample standard deviation (None with one value), min, max and n."""
    return {"mean": statistics.fmean(values), "std": statistics.stdev(values) if len(values) > 1 else None,
            "min": min(values), "max": max(values), "n": len(values)}


def paired(variant: dict[int, float], baseline: dict[int, float]) -> dict[str, Any]:
    """The variant minus the baseline, seed by seed (lower bits per byte is better)."""
    from scipy.stats import t

    seeds = sorted(set(variant) & set(baseline))
    diffs = [variant[s] - baseline[s] for s in seeds]
    out: dict[str, Any] = {"seeds": seeds, "differences": diffs, "mean_difference": statistics.fmean(diffs),
                           "std_difference": None, "ci95": None}
    if len(diffs) < 2:
        out["verdict"] = f"{NO_DIFFERENCE} (one seed: no spread to judge by)"
        return out
    sd = statistics.stdev(diffs)
    half = float(t.ppf(0.5 + CONFIDENCE / 2, len(diffs) - 1)) * sd / math.sqrt(len(diffs))
    mean = out["mean_difference"]
    out.update(std_difference=sd, ci95=[mean - half, mean + half])
    seed_spread = max(statistics.stdev([variant[s] for s in seeds]),
                      statistics.stdev([baseline[s] for s in seeds]))
    if abs(mean) <= half or abs(mean) <= seed_spread:
        out["verdict"] = NO_DIFFERENCE
    else:
        out["verdict"] = ("lower (better) than the baseline" if mean < 0
                          else "higher (worse) than the baseline")
    return out


def summarize(runs: list[dict[str, Any]], baseline: str, metric: str = "bits_per_byte") -> dict[str, Any]:
    """Per evaluation set: each variant's spread over seeds and its paired comparison with the baseline."""
    table: dict[str, dict[str, dict[int, float]]] = {}
    for r in runs:
        for ev, scores in r["eval"].items():
            table.setdefault(ev, {}).setdefault(r["variant"], {})[r["seed"]] = scores[metric]
    out: dict[str, Any] = {}
    for ev, by_variant in table.items():
        base = by_variant.get(baseline, {})
        out[ev] = {v: {**spread([vals[s] for s in sorted(vals)]),
                       "vs_baseline": None if v == baseline else paired(vals, base)}
                   for v, vals in by_variant.items()}
    return out
