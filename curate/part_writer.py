"""The per-file task's output, streamed: rows go to the part's Parquet file a row group at a time.

A Common Crawl WARC holds ~40,000 records (~1 GB); holding every row (text included) until the
file ends made a task's memory grow with its file. `PartWriter` keeps at most one row group of
rows (ROW_GROUP_ROWS, or ROW_GROUP_TEXT_BYTES of text), computes that group's MinHash
signatures when it writes it, and keeps only the signatures (448 B a candidate) until the end,
when it writes the part's signature file. The part file appears atomically when the task ends
(`provenance.outdir.parquet_writer`); the task then writes its completion marker.
"""

from __future__ import annotations

import threading
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from curate.dedup.config import NearDedupConfig
from curate.dedup.minhash import signatures, write_signatures
from provenance.outdir import parquet_writer
from provenance.schema import PROVENANCE_SCHEMA

INTERMEDIATE_SCHEMA = pa.schema(
    list(PROVENANCE_SCHEMA)
    + [pa.field("text", pa.string()), pa.field("signals", pa.string()), pa.field("text_hash", pa.string())]
)
# A row group: 1,024 rows (pyarrow reads a part back group by group, finalize too) or 64 MiB of
# text, whichever comes first. Measured on a 40,000-record CC-sized WARC: benchmarks/file_task_memory.py.
ROW_GROUP_ROWS = 1024
ROW_GROUP_TEXT_BYTES = 64 << 20


_warm_up: threading.Thread | None = None


def warm_up_in_background() -> None:
    """pyarrow imports pandas (when installed) at its first conversion from Python objects: 0.35 s,
    a sixth of a run over the 53 pages of the CC slice and wget crawls, paid at the first part's
    flush. A task process calls this (once) before it waits ~1 s for its record worker to start, so
    the import runs meanwhile on the other core. Not a daemon thread: the process never exits
    during an import (every process assay starts is spawned, never forked, so none inherits its lock)."""
    global _warm_up
    if _warm_up is None:
        _warm_up = threading.Thread(target=pa.array, args=([0],), name="assay-arrow-warm-up")
        _warm_up.start()


class PartWriter:
    """Rows of one part, written as they come (`add`); signatures of its dedup candidates at the end."""

    def __init__(self, rows_path: Path, signatures_path: Path | None, near: NearDedupConfig) -> None:
        self.rows_path, self.signatures_path, self.near = rows_path, signatures_path, near
        self.records = self.candidates = 0
        self._rows: list[dict[str, Any]] = []
        self._text_bytes = 0
        self._sig_parts: list[tuple[list[str], list[Any], np.ndarray, list[int]]] = []
        self._stack = ExitStack()

    def __enter__(self) -> PartWriter:
        self._writer = self._stack.enter_context(parquet_writer(self.rows_path, INTERMEDIATE_SCHEMA))
        return self

    def add(self, row: dict[str, Any]) -> None:
        self._rows.append(row)
        self._text_bytes += len(row["text"] or "")
        if len(self._rows) >= ROW_GROUP_ROWS or self._text_bytes >= ROW_GROUP_TEXT_BYTES:
            self._flush()

    def _flush(self) -> None:
        if not self._rows:
            return
        self._writer.write_table(pa.Table.from_pylist(self._rows, schema=INTERMEDIATE_SCHEMA))
        cand = [r for r in self._rows if r["text_hash"] is not None]
        self.records += len(self._rows)
        self.candidates += len(cand)
        if self.signatures_path is not None and cand:
            self._sig_parts.append(([r["doc_id"] for r in cand], [r["warc_date"] for r in cand],
                                    signatures([r["text"] for r in cand], self.near),
                                    [r["record_index"] for r in cand]))
        self._rows, self._text_bytes = [], 0

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if exc_type is None:
            self._flush()
        self._stack.__exit__(exc_type, exc, tb)  # the part file: renamed into place, or removed
        if exc_type is None and self.signatures_path is not None:
            self._write_signatures()

    def _write_signatures(self) -> None:
        """The part's signature file, written after its rows and before the task's marker."""
        ids = [i for part in self._sig_parts for i in part[0]]
        dates = pa.array([d for part in self._sig_parts for d in part[1]],
                         type=PROVENANCE_SCHEMA.field("warc_date").type)
        sigs = (np.concatenate([part[2] for part in self._sig_parts]) if self._sig_parts
                else np.empty((0, self.near.num_perm), dtype=np.uint32))
        index = np.asarray([i for part in self._sig_parts for i in part[3]], dtype=np.int64)
        write_signatures(self.signatures_path, ids, dates, sigs, self.near, record_index=index)

    @property
    def counts(self) -> dict[str, int]:
        return {"records": self.records, "candidates": self.candidates}
