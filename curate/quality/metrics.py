"""Held-out metrics of a binary quality classifier: ROC-AUC, precision / recall, a threshold table."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy.stats import rankdata

TABLE_THRESHOLDS = tuple(round(0.05 * i, 2) for i in range(1, 20))  # 0.05 ... 0.95


def roc_auc(scores: Sequence[float], labels: Sequence[bool]) -> float:
    """Area under the ROC curve: P(a random positive scores above a random negative), ties counting
    half (the Mann-Whitney U statistic over its maximum)."""
    s, y = np.asarray(scores, dtype=np.float64), np.asarray(labels, dtype=bool)
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    if n_pos == 0 or n_neg == 0:
        raise ValueError("ROC-AUC needs positives and negatives")
    ranks = rankdata(s)  # average ranks for ties
    return float((ranks[y].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def at_threshold(scores: Sequence[float], labels: Sequence[bool], threshold: float) -> dict[str, float]:
    """Keeping score >= threshold: the share kept, precision and recall of the positives."""
    s, y = np.asarray(scores, dtype=np.float64), np.asarray(labels, dtype=bool)
    kept = s >= threshold
    tp = int((kept & y).sum())
    return {"threshold": threshold, "kept": round(float(kept.mean()), 4) if len(s) else 0.0,
            "precision": round(tp / int(kept.sum()), 4) if kept.any() else 0.0,
            "recall": round(tp / int(y.sum()), 4) if y.any() else 0.0}


def heldout_metrics(scores: Sequence[float], labels: Sequence[bool]) -> dict[str, Any]:
    """What the model card reports: ROC-AUC, precision / recall at 0.5, and the threshold table."""
    half = at_threshold(scores, labels, 0.5)
    return {"documents": len(scores), "positives": int(np.sum(labels)),
            "roc_auc": round(roc_auc(scores, labels), 4),
            "precision": half["precision"], "recall": half["recall"],
            "thresholds": [at_threshold(scores, labels, t) for t in TABLE_THRESHOLDS]}
