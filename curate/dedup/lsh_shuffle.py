"""MinHash LSH as executor tasks: the clusters of `lsh.find_clusters` without every signature in one process.

The same result as `curate.dedup.lsh.find_clusters` (same clusters, representatives and ids,
checked by tests/test_minhash.py and tests/test_ray.py), computed as a shuffle through files:

1. **map**, one task per signature file (`band_rows`): drop the rows the driver's keep mask
   excludes and empty signatures, cut each signature into bands, and hash-partition the
   (band, band values, node) rows into one Arrow file per partition under the work folder.
   A node is (file index << 32 | row), so node order is the single-machine row order.
2. **reduce**, one task per partition (`bucket_edges`): every bucket (band, band values) lives
   in exactly one partition; link each member to the bucket's smallest node (star edges, as
   `lsh.candidate_edges`) and, with `verify`, keep only edges whose estimated Jaccard passes
   (both signatures sit in the same bucket, so no extra join).
3. **components** on the driver over the edge set, which is small (only near-duplicate
   pairs), with scipy; then doc_id / warc_date of the cluster members only.

Band rows go worker to worker through the work folder (on a cluster, a filesystem every node
mounts); the driver holds a one-byte keep mask per document and the edges. This is the layout
of NeMo Curator's and DCLM's Ray/Spark dedup (band buckets as a hash-partitioned shuffle). Any
executor runs it; the runner uses it with `executor = "ray"`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from curate.dedup.lsh import CLUSTER_SCHEMA, cluster_labels, clusters_table, star_edges
from curate.dedup.minhash import EMPTY_VALUE, NearDedupConfig, require_signature_files
from curate.exec.base import Executor, Report
from provenance.outdir import part_name, write_arrow

_NODE_SHIFT = 32  # node = file index << 32 | row: up to 4G rows per signature file
# splitmix64 constants (Steele et al. 2014)
_MIX = (np.uint64(0x9E3779B97F4A7C15), np.uint64(0xBF58476D1CE4E5B9))
_NO_EDGES = np.empty((0, 2), dtype=np.int64)


def band_file(work: str | Path, partition: int, file_index: int) -> Path:
    """Where the map task of signature file `file_index` puts its rows of `partition`."""
    return Path(work) / f"p{partition:05d}" / f"{part_name(file_index)}.arrow"


def _partition_of(band: int, values: np.ndarray, partitions: int) -> np.ndarray:
    """Partition of each row's bucket: a splitmix-style mix of (band, band values), mod P."""
    h = np.full(len(values), band + 1, dtype=np.uint64) * _MIX[0]  # array arithmetic wraps mod 2^64
    for col in values.T.astype(np.uint64):
        h = (h ^ col) * _MIX[1]
        h ^= h >> np.uint64(31)
    return (h % np.uint64(partitions)).astype(np.int64)


def _bucket_schema(cfg: NearDedupConfig) -> pa.Schema:
    fields = [pa.field("band", pa.int32()), pa.field("key", pa.binary(4 * cfg.rows)),
              pa.field("node", pa.int64())]
    if cfg.verify:
        fields.append(pa.field("signature", pa.list_(pa.uint32(), cfg.num_perm)))
    return pa.schema(fields)


@dataclass(frozen=True)
class BandTask:
    """Map: band one signature file's kept rows into the partitions' files."""

    path: str
    index: int
    keep: np.ndarray  # per row of the file: indexed by find_clusters (first doc_id, not excluded)
    cfg: NearDedupConfig
    partitions: int
    work: str

    @property
    def label(self) -> str:
        return Path(self.path).stem


def _band_block(sigs: np.ndarray, nodes: np.ndarray, k: int,
                cfg: NearDedupConfig) -> tuple[pa.Table, np.ndarray]:
    """Band k of every row as a table (band, key, node[, signature]) and each row's bucket key array."""
    band = np.ascontiguousarray(sigs[:, k * cfg.rows : (k + 1) * cfg.rows])
    keys = pa.FixedSizeBinaryArray.from_buffers(pa.binary(4 * cfg.rows), len(band),
                                                [None, pa.py_buffer(band.tobytes())])
    cols = [pa.array(np.full(len(band), k, dtype=np.int32)), keys, pa.array(nodes)]
    if cfg.verify:
        cols.append(pa.FixedSizeListArray.from_arrays(pa.array(sigs.reshape(-1)), cfg.num_perm))
    return pa.Table.from_arrays(cols, schema=_bucket_schema(cfg)), band


def band_rows(task: BandTask, report: Report) -> list[int]:
    """Map task: write this file's band rows, one Arrow file per partition; return the partitions written."""
    cfg = task.cfg
    table = pq.read_table(task.path, columns=["signature"])
    sigs = table.column("signature").combine_chunks().flatten().to_numpy(zero_copy_only=False)
    sigs = sigs.reshape(len(table), cfg.num_perm)
    rows = np.flatnonzero(task.keep & ~np.all(sigs == EMPTY_VALUE, axis=1))
    sigs = np.ascontiguousarray(sigs[rows])
    nodes = (np.int64(task.index) << _NODE_SHIFT) | rows.astype(np.int64)
    pieces: list[list[pa.Table]] = [[] for _ in range(task.partitions)]
    for k in range(cfg.bands):
        block, band = _band_block(sigs, nodes, k, cfg)
        part = _partition_of(k, band, task.partitions)
        for p in np.unique(part).tolist():
            pieces[p].append(block.take(pa.array(np.flatnonzero(part == p))))
    written = [p for p in range(task.partitions) if pieces[p]]
    for p in written:
        write_arrow(band_file(task.work, p, task.index), pa.concat_tables(pieces[p]).to_batches(),
                    _bucket_schema(cfg))
    report({"signatures": len(rows)})
    return written


@dataclass(frozen=True)
class BucketTask:
    """Reduce: the candidate edges of one partition's buckets."""

    partition: int
    files: tuple[str, ...]
    cfg: NearDedupConfig

    @property
    def label(self) -> str:
        return f"p{self.partition:05d}"


def _read_blocks(files: Sequence[str]) -> pa.Table:
    tables = []
    for f in files:
        with pa.memory_map(f) as src:
            tables.append(pa.ipc.open_file(src).read_all())
    return pa.concat_tables(tables).combine_chunks()


def bucket_edges(task: BucketTask, report: Report) -> np.ndarray:
    """Reduce task: star edges (node, smallest node of its bucket) for buckets of >= 2 nodes, (m, 2) int64."""
    cfg = task.cfg
    table = _read_blocks(task.files)
    n = len(table)
    if not n:
        return _NO_EDGES
    key_arr = table.column("key").chunk(0)
    keys = np.frombuffer(key_arr.buffers()[1], dtype=np.uint32, count=n * cfg.rows,
                         offset=key_arr.offset * 4 * cfg.rows).reshape(n, cfg.rows)
    node = table.column("node").to_numpy()
    full = np.ascontiguousarray(np.column_stack([table.column("band").to_numpy().astype(np.uint32), keys]))
    bucket_keys = full.view(np.dtype((np.void, 4 * (cfg.rows + 1)))).ravel()
    bucket = np.unique(bucket_keys, return_inverse=True)[1].ravel()
    a_idx, b_idx = star_edges(bucket, np.lexsort((node, bucket)))  # by bucket, then node ascending
    if cfg.verify and len(a_idx):
        sig = table.column("signature").chunk(0).flatten().to_numpy(zero_copy_only=False)
        sig = sig.reshape(n, cfg.num_perm)
        ok = (sig[a_idx] == sig[b_idx]).mean(axis=1) >= cfg.verify_threshold
        a_idx, b_idx = a_idx[ok], b_idx[ok]
    report({"edges": len(a_idx)})
    if not len(a_idx):
        return _NO_EDGES
    return np.unique(np.stack([node[a_idx], node[b_idx]], axis=1), axis=0)


def _keep_masks(paths: Sequence[str], exclude: set[str] | frozenset[str]) -> list[np.ndarray]:
    """Per file, the rows `find_clusters` indexes: first occurrence of each doc_id, not excluded."""
    import polars as pl

    ids = [pq.read_table(p, columns=["doc_id"]).column("doc_id") for p in paths]
    lengths = [len(c) for c in ids]
    if not sum(lengths):
        return [np.zeros(0, dtype=bool) for _ in paths]
    all_ids = pa.chunked_array([ch for c in ids for ch in c.chunks], type=pa.string()).combine_chunks()
    mask = np.array(pl.from_arrow(all_ids).is_first_distinct().to_numpy(), dtype=bool)
    if exclude:
        excluded = pc.is_in(all_ids, value_set=pa.array(sorted(exclude), pa.string()))
        mask &= ~excluded.to_numpy(zero_copy_only=False)
    bounds = np.cumsum([0, *lengths])
    return [mask[bounds[i] : bounds[i + 1]] for i in range(len(paths))]


def _shuffle(paths: list[str], cfg: NearDedupConfig, executor: Executor, work: str,
             exclude: set[str] | frozenset[str], partitions: int) -> np.ndarray:
    """The map and reduce tasks: every candidate edge (node pairs), (m, 2) int64."""
    masks = _keep_masks(paths, exclude)
    maps = [BandTask(p, i, m, cfg, partitions, work)
            for i, (p, m) in enumerate(zip(paths, masks, strict=True))]
    files: dict[int, list[str]] = {}
    for task, written in executor.map(band_rows, maps, cost=lambda t: len(t.keep)):
        for p in written:
            files.setdefault(p, []).append(str(band_file(work, p, task.index)))
    reduces = [BucketTask(p, tuple(sorted(fs)), cfg) for p, fs in sorted(files.items())]
    edges = [e for _, e in executor.map(bucket_edges, reduces)]
    return np.concatenate(edges) if edges else _NO_EDGES


def find_clusters_sharded(signature_paths: Sequence[Path], cfg: NearDedupConfig, executor: Executor,
                          work: str | Path, exclude: set[str] | frozenset[str] = frozenset(),
                          partitions: int | None = None) -> pa.Table:
    """`lsh.find_clusters` as executor tasks (same rows, same order); band rows go to files under `work`.

    `partitions` defaults to the executor's workers.
    """
    paths = [str(p) for p in signature_paths]
    require_signature_files(paths, cfg)
    if not paths:
        return CLUSTER_SCHEMA.empty_table()
    edges = _shuffle(paths, cfg, executor, str(work), exclude, partitions or executor.workers)
    if len(edges) == 0:
        return CLUSTER_SCHEMA.empty_table()
    nodes, compact = np.unique(edges, return_inverse=True)  # every node in an edge is in a cluster of >= 2
    labels = cluster_labels(len(nodes), compact.reshape(-1, 2))
    return _clusters_table(paths, nodes, labels)


def _clusters_table(paths: list[str], nodes: np.ndarray, labels: np.ndarray) -> pa.Table:
    """doc_id / warc_date of the member nodes only, then representatives exactly as `find_clusters`."""
    files, rows = nodes >> _NODE_SHIFT, nodes & ((1 << _NODE_SHIFT) - 1)
    ids = np.empty(len(nodes), dtype=object)
    ts = np.empty(len(nodes), dtype=np.int64)
    for f in np.unique(files).tolist():
        at = np.flatnonzero(files == f)
        meta = pq.read_table(paths[f], columns=["doc_id", "warc_date"]).take(pa.array(rows[at]))
        ids[at] = meta.column("doc_id").to_pylist()
        dates = meta.column("warc_date").combine_chunks().cast(pa.int64())
        dates = pc.fill_null(dates, np.iinfo(np.int64).max)
        ts[at] = dates.to_numpy(zero_copy_only=False)
    return clusters_table(labels, ids.astype(str), ts)  # find_clusters' representatives and row order
