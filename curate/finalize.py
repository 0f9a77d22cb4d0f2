"""Finalize: apply the global dedup decisions to each part and write the run's data folders.

Per input file, `provenance/<part>.parquet` (every record), `documents/<part>.parquet` (kept) and
`rejected/<part>.parquet` (removed records that have text), in input order, so the same inputs
and config give byte-identical files.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from curate.context import RunContext
from curate.file_stage import INTERMEDIATE_SCHEMA, records_path
from curate.read.inputs import InputFile
from provenance.outdir import DOCUMENTS, PROVENANCE, write_parquet
from provenance.outdir import REJECTED as REJECTED_FOLDER
from provenance.schema import (
    DOCUMENT_SCHEMA,
    DUPLICATE,
    ERROR,
    KEPT,
    PROVENANCE_SCHEMA,
    REJECTED,
    REJECTED_SCHEMA,
)

DECIDED_FIELDS = ("doc_id", "decision", "step", "reason", "dup_cluster", "dup_of")  # what dedup may change


def finalize_part(ctx: RunContext, file: InputFile, decisions: dict[int, dict[str, Any]]) -> dict[str, int]:
    """Apply the decisions (by record_index) to one part and write its three files; returns its counts."""
    rows = pq.read_table(records_path(ctx, file)).to_pylist()
    for row in rows:
        upd = decisions.get(row["record_index"])
        if upd:
            row.update({k: upd[k] for k in DECIDED_FIELDS if upd.get(k) is not None})
    prov = pa.Table.from_pylist(rows, schema=INTERMEDIATE_SCHEMA).select(PROVENANCE_SCHEMA.names)
    write_parquet(ctx.out.part(PROVENANCE, file.part), prov.cast(PROVENANCE_SCHEMA))
    docs = [r for r in rows if r["decision"] == KEPT]
    rej = [r for r in rows if r["decision"] in (REJECTED, DUPLICATE) and r["text"] is not None]
    write_parquet(ctx.out.part(DOCUMENTS, file.part), pa.Table.from_pylist(docs, schema=DOCUMENT_SCHEMA))
    write_parquet(ctx.out.part(REJECTED_FOLDER, file.part), pa.Table.from_pylist(rej, schema=REJECTED_SCHEMA))
    counts = {"records": len(rows)}
    for d in (KEPT, REJECTED, DUPLICATE, ERROR):
        counts[d] = sum(r["decision"] == d for r in rows)
    return counts


def finalize(ctx: RunContext, decisions: pa.Table) -> dict[str, int]:
    """Every part, in input order; returns the run's totals (records and each decision).

    `decisions` holds the global stages' rows in stage order (quality's keep_top_fraction, then
    dedup); a later row about the same record overrides the fields it sets (dedup's renamed doc_id)."""
    by_part: dict[str, dict[int, dict[str, Any]]] = {}
    for r in decisions.to_pylist():
        known = by_part.setdefault(r["part"], {}).setdefault(r["record_index"], {})
        known.update({k: v for k, v in r.items() if v is not None})
    totals: dict[str, int] = {"records": 0, KEPT: 0, REJECTED: 0, DUPLICATE: 0, ERROR: 0}
    for file in ctx.files:
        for k, v in finalize_part(ctx, file, by_part.get(file.part, {})).items():
            totals[k] += v
    return totals
