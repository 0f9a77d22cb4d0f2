"""Repeated WARC-Record-IDs: the same record packed in two input files (or twice in one).

The first occurrence in input order keeps the id; every later copy gets a suffixed id
(`decisions.renamed_id`) so each provenance row stays addressable, and a later copy with text is
a duplicate of the first. Every row of the run takes part (not only the dedup candidates), keyed
by a 128-bit hash of its doc_id, so a map row is 33 bytes whatever the id's length.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from curate.dedup.decisions import decision_table
from curate.dedup.keyed import KEY_FIELDS, hash128
from curate.dedup.sources import RECORD_MASK, Source, SourceMap, order_keys
from provenance.schema import DUPLICATE

STEP = "exact_dedup"  # the step a duplicate copy is recorded under (as before the dedup stage was split)
REASON = "repeated WARC-Record-ID"


@dataclass(frozen=True)
class RepeatedIds:
    name: ClassVar[str] = "ids"
    row_bytes: ClassVar[int] = 120  # measured peak per row of a reduce task (benchmarks/scale_dedup.py)
    schema: ClassVar[pa.Schema] = pa.schema([*KEY_FIELDS, pa.field("has_text", pa.bool_())])

    def rows(self, source: Source) -> pa.Table:
        t = pq.read_table(source.keys, columns=["doc_id", "record_index", "text_hash"])
        a, b = hash128(t.column("doc_id").to_pylist())
        return pa.table([a, b, np.zeros(len(t), dtype=np.int64),
                         order_keys(source.index, t.column("record_index").to_numpy()),
                         pc.is_valid(t.column("text_hash"))], schema=self.schema)

    def decide(self, rows: pa.Table, winner: np.ndarray, sources: SourceMap) -> pa.Table:
        later = np.flatnonzero(winner != np.arange(len(rows)))
        order = rows.column("order").to_numpy()[later]
        dup = rows.column("has_text").to_numpy(zero_copy_only=False)[later]
        return decision_table(sources.part_of(order), order & RECORD_MASK,
                              decision=np.where(dup, DUPLICATE, None).tolist(),
                              step=np.where(dup, STEP, None).tolist(),
                              reason=np.where(dup, REASON, None).tolist(),
                              renamed=np.ones(len(later), dtype=bool))
