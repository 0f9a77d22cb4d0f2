"""What the global dedup steps decided, stored by part: finalize applies it, later steps skip what it removed.

Each reduce task writes its decisions as one partitioned file (`shuffle`) whose partitions are the
run's parts, so a finalize task (or a later step's map task) reads its own part's decisions from
every reduce output without any task, or the driver, holding a whole run's decisions. A row of
a part is decided at most once per step; applied in step order, a later step's non-null fields
win (an exact-duplicate representative that is also a near-duplicate takes the MinHash cluster).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from curate.dedup.shuffle import FileSet, all_paths, read_partition, write_partitioned
from provenance.schema import DUPLICATE, REJECTED

DECISION_SCHEMA = pa.schema(
    [
        pa.field("part", pa.int32()),  # the run's part (input file) index: the partition of the file
        pa.field("record_index", pa.int64()),
        pa.field("decision", pa.string()), pa.field("step", pa.string()), pa.field("reason", pa.string()),
        pa.field("dup_cluster", pa.string()), pa.field("dup_of", pa.string()),
        pa.field("renamed", pa.bool_()),  # a repeated WARC-Record-ID: the row gets a suffixed doc_id
    ]
)
DECIDED_FIELDS = ("decision", "step", "reason", "dup_cluster", "dup_of")


def decision_table(part: np.ndarray, record_index: np.ndarray, **columns: Any) -> pa.Table:
    """DECISION_SCHEMA rows; `columns` maps field -> list or array (absent fields are null)."""
    n = len(part)
    data = {"part": pa.array(part, pa.int32()), "record_index": pa.array(record_index, pa.int64())}
    for field in DECISION_SCHEMA.names[2:]:
        value = columns.get(field)
        data[field] = pa.array(value, DECISION_SCHEMA.field(field).type) if value is not None \
            else pa.nulls(n, DECISION_SCHEMA.field(field).type)
    return pa.table(data, schema=DECISION_SCHEMA)


def write_decisions(path: str | os.PathLike[str], table: pa.Table, parts: int) -> int:
    """Write one reduce task's decisions, partitioned by part; returns the number of rows."""
    write_partitioned(path, table, table.column("part").to_numpy().astype(np.int64), parts)
    return len(table)


def read_decisions(paths: Sequence[str | os.PathLike[str]], part: int) -> pa.Table:
    """Part `part`'s decisions from the given reduce outputs (in the order given)."""
    return read_partition(paths, part, DECISION_SCHEMA)


def removed_rows(sets: Sequence[FileSet], part: int) -> np.ndarray:
    """record_index of the part's rows that earlier steps removed (duplicates, repeated record ids, and
    documents a global stage before dedup rejected: keep_top_fraction)."""
    t = read_decisions(all_paths(sets), part)
    removed = pc.is_in(t.column("decision"), pa.array([DUPLICATE, REJECTED]))
    gone = pc.or_(removed, pc.fill_null(t.column("renamed"), False))
    return np.unique(t.filter(pc.fill_null(gone, False)).column("record_index").to_numpy())


def renamed_id(doc_id: str, part: str, record_index: int) -> str:
    """The doc_id of a later copy of a WARC-Record-ID seen before in the run (every row stays addressable)."""
    return f"{doc_id}#{part}-{record_index}"


def by_record(decisions: pa.Table) -> dict[int, list[dict[str, Any]]]:
    """record_index -> its decisions, in the order read (step order)."""
    out: dict[int, list[dict[str, Any]]] = {}
    for d in decisions.to_pylist():
        out.setdefault(d["record_index"], []).append(d)
    return out


def apply_decisions(row: dict[str, Any], decisions: list[dict[str, Any]], part: str) -> None:
    """Update one part row with its decisions, in step order."""
    for d in decisions:
        if d["renamed"]:
            original = row["doc_id"]
            row["doc_id"] = renamed_id(original, part, row["record_index"])
            if d["decision"] == DUPLICATE:
                row["dup_of"] = original
        row.update({k: d[k] for k in DECIDED_FIELDS if d[k] is not None})
