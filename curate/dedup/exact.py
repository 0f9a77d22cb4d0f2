"""Exact dedup: normalised-text hashes; the first copy in input order is kept, later copies are duplicates.

A keyed step (`keyed`): the key is the first 128 bits of the sha256 the per-file task stored as
`text_hash`; the rows are this run's dedup candidates that earlier steps kept, and every
document of the earlier corpora given with `--dedup-against`, which come first in the order, so
a text already in an earlier corpus is kept there and its copies here are duplicates of it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from curate.dedup.decisions import decision_table
from curate.dedup.keyed import KEY_FIELDS
from curate.dedup.sources import RECORD_MASK, Source, SourceMap, earlier_suffix, order_keys
from provenance.schema import DUPLICATE

STEP = "exact_dedup"
CLUSTER_PREFIX = "exact-"


def hash_keys(hexes: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """The first 128 bits of each hex sha256 as two uint64 (big-endian: key_a's hex = the hash's first 16)."""
    raw = bytes.fromhex("".join(h[:32] for h in hexes))
    pairs = np.frombuffer(raw, dtype=">u8").reshape(-1, 2).astype(np.uint64)
    return pairs[:, 0], pairs[:, 1]


def candidates(source: Source, columns: list[str]) -> pa.Table:
    """A source's dedup candidates (rows with a text hash: kept by every per-record check), record order."""
    t = pq.read_table(source.keys, columns=sorted({"record_index", "text_hash", *columns}))
    return t.filter(pc.is_valid(t.column("text_hash")))


@dataclass(frozen=True)
class ExactDuplicates:
    name: ClassVar[str] = "exact"
    row_bytes: ClassVar[int] = 220  # measured peak per row of a reduce task (benchmarks/scale_dedup.py)
    schema: ClassVar[pa.Schema] = pa.schema([*KEY_FIELDS, pa.field("doc_id", pa.string())])

    def rows(self, source: Source) -> pa.Table:
        t = candidates(source, ["doc_id"])
        a, b = hash_keys(t.column("text_hash").to_pylist())
        return pa.table([a, b, np.zeros(len(t), dtype=np.int64),
                         order_keys(source.index, t.column("record_index").to_numpy()), t.column("doc_id")],
                        schema=self.schema)

    def decide(self, rows: pa.Table, winner: np.ndarray, sources: SourceMap) -> pa.Table:
        """This run's rows of groups of >= 2: the first is the cluster's representative, the others
        duplicates of it (rows of earlier corpora are never decided)."""
        order = rows.column("order").to_numpy()
        part = sources.part_of(order)
        pick = np.flatnonzero(part >= 0)
        first = winner[pick] == pick
        ids = rows.column("doc_id").to_pylist()
        key_a = rows.column("key_a").to_numpy()[pick]
        reps = [ids[w] for w in winner[pick].tolist()]
        reasons = [None if f else f"exact duplicate of {rep}{earlier_suffix(sources.corpus_of(int(o)))}"
                   for f, rep, o in zip(first.tolist(), reps, order[winner[pick]].tolist(), strict=True)]
        return decision_table(part[pick], order[pick] & RECORD_MASK,
                              decision=np.where(first, None, DUPLICATE).tolist(),
                              step=np.where(first, None, STEP).tolist(), reason=reasons,
                              dup_cluster=[f"{CLUSTER_PREFIX}{k:016x}" for k in key_a.tolist()],
                              dup_of=[None if f else r for f, r in zip(first.tolist(), reps, strict=True)])
