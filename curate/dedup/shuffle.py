"""Partitioned files: how the global dedup steps hand rows from map tasks to reduce tasks through files.

A map task writes ONE file holding its rows grouped by partition: each non-empty partition is an
Arrow IPC stream, back to back, and a trailer gives every partition's byte range:

    [stream of partition i ...] [int64 offsets x (n + 1)] [int64 n] [b"ASSAYPRT"]

A reduce task reads its partition from every map file: two small reads per file (its offsets),
then its bytes. This is the layout of Spark's sort-based shuffle (one data file per map task
plus an index), so a run of F map tasks and P reduce tasks leaves F files, not F x P.
Rows go worker to worker through the filesystem every node mounts; the driver passes paths.
"""

from __future__ import annotations

import math
import os
import struct
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from provenance.outdir import atomic_path

MAGIC = b"ASSAYPRT"
SUFFIX = ".parts"  # the file name suffix of partitioned files under _work/
_TRAILER = struct.Struct("<q8s")  # partition count, magic
# splitmix64 constants (Steele et al. 2014): mixes 64-bit keys into well-spread partition numbers.
MIX = (np.uint64(0x9E3779B97F4A7C15), np.uint64(0xBF58476D1CE4E5B9))


def mix64(columns: Sequence[np.ndarray], salt: int = 0) -> np.ndarray:
    """A 64-bit hash of each row of the given integer columns (wrapping arithmetic, splitmix-style)."""
    n = len(columns[0]) if columns else 0
    h = np.full(n, salt + 1, dtype=np.uint64) * MIX[0]
    for col in columns:
        h = (h ^ col.astype(np.uint64)) * MIX[1]
        h ^= h >> np.uint64(31)
    return h


def partition_of(h: np.ndarray, partitions: int) -> np.ndarray:
    """Partition number of each 64-bit hash (its value mod P)."""
    return (h % np.uint64(partitions)).astype(np.int64)


def partitions_for(rows: int, bytes_per_row: float, budget_bytes: int) -> int:
    """Reduce partitions so that one task's rows fit its memory budget: ceil(rows x bytes / budget), >= 1."""
    return max(1, math.ceil(rows * bytes_per_row / max(budget_bytes, 1)))


def _stream_bytes(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue().to_pybytes()


def write_partitioned(path: str | os.PathLike[str], table: pa.Table, partition: np.ndarray,
                      partitions: int) -> list[int]:
    """Write `table`'s rows grouped by `partition` (row order kept within a partition); returns rows per
    partition."""
    if len(partition) != len(table):
        raise ValueError(f"{len(partition)} partition numbers for {len(table)} rows")
    order = np.argsort(partition, kind="stable")
    counts = np.bincount(partition, minlength=partitions)
    starts = np.concatenate(([0], np.cumsum(counts)))
    grouped = table.take(pa.array(order)) if len(table) else table
    offsets = np.zeros(partitions + 1, dtype="<i8")
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        pos = 0
        for p in range(partitions):
            if counts[p]:
                pos += f.write(_stream_bytes(grouped.slice(int(starts[p]), int(counts[p]))))
            offsets[p + 1] = pos
        f.write(offsets.tobytes())
        f.write(_TRAILER.pack(partitions, MAGIC))
    return counts.tolist()


def _read_slice(path: str, partition: int) -> pa.Table | None:
    with open(path, "rb") as f:
        size = f.seek(0, os.SEEK_END)
        f.seek(size - _TRAILER.size)
        n, magic = _TRAILER.unpack(f.read(_TRAILER.size))
        if magic != MAGIC or not 0 <= partition < n:
            raise ValueError(f"{path}: not a partitioned file with partition {partition}")
        f.seek(size - _TRAILER.size - 8 * (n + 1) + 8 * partition)
        lo, hi = struct.unpack("<qq", f.read(16))
        if hi == lo:
            return None
        f.seek(lo)
        data = f.read(hi - lo)
    return pa.ipc.open_stream(pa.py_buffer(data)).read_all()


def read_partition(paths: Sequence[str | os.PathLike[str]], partition: int, schema: pa.Schema) -> pa.Table:
    """Partition `partition` of every file, concatenated in `paths` order (empty `schema` table if none)."""
    tables = [t for t in (_read_slice(str(p), partition) for p in paths) if t is not None]
    if not tables:
        return schema.empty_table()
    return pa.concat_tables(tables)  # one chunk per file: callers copy one column at a time


@dataclass(frozen=True)
class FileSet:
    """The numbered files `template.format(i)`, start <= i < stop: what a task reads, in a few bytes
    (a reduce task of a 90,000-file run reads 90,000 map files; its task names them by one template)."""

    template: str
    start: int
    stop: int

    def paths(self) -> list[str]:
        return [self.template.format(i) for i in range(self.start, self.stop)]


def all_paths(sets: Sequence[FileSet]) -> list[str]:
    return [p for s in sets for p in s.paths()]
