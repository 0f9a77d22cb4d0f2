"""The `decontaminate` curate step: documents that share n-grams with an evaluation item are removed.

A filter of the per-record chain, after the quality filters: `annotate` records, for every extracted
document, how many of its n-grams the evaluation sets hold and the items it overlaps (set, item id,
shared n-grams), so `assay contamination` and `assay trace` can show them; `decide` rejects a
document overlapping any item in at least `min_overlap` distinct n-grams, with a reason naming the
set and the item.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

import numpy as np

from curate.decontaminate.config import DecontaminateConfig
from curate.decontaminate.index import IndexView

STEP = "decontaminate"
WORK = "decontaminate"  # the _work/ folder of the run's index
MAX_LISTED = 50  # items a document's signals name (the most shared n-grams first); `items` counts all


class HasText(Protocol):
    text: str


class DecontaminationFilter:
    name = STEP

    def __init__(self, config: DecontaminateConfig, index_folder: Path) -> None:
        self.config = config
        self.index = IndexView(index_folder, config)

    def annotate(self, doc: HasText) -> dict[str, Any]:
        found, items, counts = self.index.overlaps(doc.text)
        hit = counts >= self.config.min_overlap
        items, counts = items[hit], counts[hit]
        signals: dict[str, Any] = {"matched_ngrams": found, "items": int(hit.sum())}
        if len(items):
            order = np.lexsort((items, -counts))[:MAX_LISTED]
            ix = self.index
            signals["matches"] = [{"set": ix.labels[ix.set_of[i]], "item": ix.ids[i], "ngrams": int(c)}
                                  for i, c in zip(items[order], counts[order], strict=True)]
        return signals

    def decide(self, signals: dict) -> str | None:
        if not signals["items"]:
            return None
        first = signals["matches"][0]
        more = f" (+{signals['items'] - 1} more items)" if signals["items"] > 1 else ""
        n = self.config.ngram
        return f"{first['set']} item {first['item']}: {first['ngrams']} shared {n}-grams{more}"
