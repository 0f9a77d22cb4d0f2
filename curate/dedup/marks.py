"""The global dedup decisions of a run, keyed by (part, record_index): what finalize applies to each row."""

from __future__ import annotations

from typing import Any

import pyarrow as pa

DEDUP_SCHEMA = pa.schema(
    [
        pa.field("part", pa.string()), pa.field("record_index", pa.int64()), pa.field("doc_id", pa.string()),
        pa.field("decision", pa.string()), pa.field("step", pa.string()), pa.field("reason", pa.string()),
        pa.field("dup_cluster", pa.string()), pa.field("dup_of", pa.string()),
    ]
)


class Marks:
    """Decisions about rows; a later mark of the same row updates the fields it names."""

    def __init__(self) -> None:
        self._rows: dict[tuple[str, int], dict[str, Any]] = {}

    def mark(self, row: dict[str, Any], **fields: Any) -> None:
        """`row` carries part, record_index and doc_id (its doc_id as read, before any renaming)."""
        key = (row["part"], row["record_index"])
        first = {"part": row["part"], "record_index": row["record_index"], "doc_id": row["doc_id"]}
        self._rows.setdefault(key, first)
        self._rows[key].update(fields)

    def table(self) -> pa.Table:
        return pa.Table.from_pylist([self._rows[k] for k in sorted(self._rows)], schema=DEDUP_SCHEMA)
