"""First occurrence by key as map and reduce tasks: the shape of repeated-id, URL and exact dedup.

- **map**, one task per source (`map_keys`): the step's rows of one part (a 128-bit key as two
  uint64 columns, a rank, the order key, the step's payload) minus the rows earlier steps removed,
  written to one partitioned file, partitioned by key.
- **reduce**, one task per partition (`reduce_keys`): every row of its keys from every map file,
  sorted by (key, rank, order key); the first row of each key wins, and the step turns each group
  of two or more into decisions (`decisions.write_decisions`, by part).

Rows reach a reduce in order-key order (map files are read in source order, each in record order)
and the sort is stable, so among equal (key, rank) the input order decides, as in one process.
A task's memory is its partition's rows: the driver sizes partitions from the row count and the
step's measured bytes per row (`shuffle.partitions_for`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import pyarrow as pa
import xxhash

from curate.dedup.decisions import removed_rows, write_decisions
from curate.dedup.shuffle import FileSet, partition_of, read_partition, write_partitioned
from curate.dedup.sources import RECORD_MASK, Source, SourceMap
from curate.exec.base import Report
from curate.exec.rss import PeakRss
from provenance.outdir import write_marker

KEY_FIELDS = [pa.field("key_a", pa.uint64()), pa.field("key_b", pa.uint64()),
              pa.field("rank", pa.int64()), pa.field("order", pa.int64())]


def hash128(values: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """xxh3-128 of each string as two uint64 arrays (a collision among 10^12 keys: p ~ 10^-15)."""
    digests = b"".join(xxhash.xxh3_128_digest(v.encode("utf-8", "surrogatepass")) for v in values)
    pairs = np.frombuffer(digests, dtype=">u8").reshape(-1, 2).astype(np.uint64)
    return pairs[:, 0], pairs[:, 1]


class KeyedStep(Protocol):
    """A first-occurrence step: its rows per source, and its decisions per group of equal keys."""

    name: str  # work folder, progress label
    row_bytes: int  # a reduce task's peak memory per row (measured: benchmarks/scale_dedup.py)
    schema: pa.Schema  # KEY_FIELDS + the step's payload

    def rows(self, source: Source) -> pa.Table:
        """The step's rows of one source, in record order (before removing what earlier steps removed)."""
        ...

    def decide(self, rows: pa.Table, winner: np.ndarray, sources: SourceMap) -> pa.Table:
        """Decisions (DECISION_SCHEMA) for the rows of keys seen twice or more, sorted by key (rank,
        arrival); `winner[i]` is the position of row i's group's first row (the one kept)."""
        ...


@dataclass(frozen=True)
class MapTask:
    step: KeyedStep
    source: Source
    removed: tuple[FileSet, ...]  # decision files of earlier steps (this run's parts)
    partitions: int
    out: str
    marker: str
    key: dict[str, Any]

    @property
    def label(self) -> str:
        return self.source.label


def map_keys(task: MapTask, report: Report) -> dict[str, Any]:
    """Map: one source's rows of the step, partitioned by key, into one file; then the task's marker."""
    with PeakRss() as peak:
        rows = task.step.rows(task.source)
        if task.removed and task.source.current and len(rows):
            gone = removed_rows(task.removed, task.source.part)
            record = rows.column("order").to_numpy() & RECORD_MASK
            rows = rows.filter(pa.array(~np.isin(record, gone)))
        part = partition_of(rows.column("key_a").to_numpy(), task.partitions)
        write_partitioned(task.out, rows, part, task.partitions)
    result = {"rows": len(rows), "peak_rss_mb": peak.mb, "cpu_s": peak.cpu_s}
    write_marker(task.marker, task.key, result)
    report({"rows": len(rows)})
    return result


@dataclass(frozen=True)
class ReduceTask:
    step: KeyedStep
    partition: int
    inputs: FileSet  # every map file, in source order
    parts: int  # this run's part count: the partitions of the decision file
    sources: SourceMap
    out: str
    marker: str
    key: dict[str, Any]

    @property
    def label(self) -> str:
        return f"p{self.partition:05d}"


def repeated_keys(rows: pa.Table) -> tuple[pa.Table, np.ndarray]:
    """The rows whose key occurs two or more times, sorted by (key, rank, arrival), and for each the
    position of its group's first row. Only key columns are sorted; only the repeated rows are copied."""
    a, b = rows.column("key_a").to_numpy(), rows.column("key_b").to_numpy()
    order = np.lexsort((rows.column("rank").to_numpy(), b, a))  # stable: arrival (order key) breaks ties
    a, b = a[order], b[order]
    starts = np.ones(len(a), dtype=bool)
    starts[1:] = (a[1:] != a[:-1]) | (b[1:] != b[:-1])
    del a, b
    group = np.cumsum(starts) - 1
    first = np.flatnonzero(starts)
    keep = np.flatnonzero(np.diff(np.append(first, len(starts)))[group] >= 2)
    head = np.searchsorted(keep, first[group[keep]])  # each kept row's group first, among the kept rows
    return rows.take(pa.array(order[keep])), head


def reduce_keys(task: ReduceTask, report: Report) -> dict[str, Any]:
    """Reduce: one partition's keys, first occurrence wins, decisions written by part; then the marker."""
    with PeakRss() as peak:
        rows = read_partition(task.inputs.paths(), task.partition, task.step.schema)
        n = len(rows)
        repeated, winner = repeated_keys(rows)
        del rows
        decided = write_decisions(task.out, task.step.decide(repeated, winner, task.sources), task.parts)
    result = {"rows": n, "decisions": decided, "peak_rss_mb": peak.mb, "cpu_s": peak.cpu_s}
    write_marker(task.marker, task.key, result)
    report({"rows": n})
    return result
