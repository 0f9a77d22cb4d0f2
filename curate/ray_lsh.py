"""MinHash LSH on Ray: banding, bucket grouping and clustering without the signatures on the driver.

The same result as `curate.minhash.find_clusters` (same clusters, representatives and
ids, checked by tests/test_ray.py), computed as a shuffle of Ray tasks:

1. **map**, one task per signature file, on the worker that reads it: drop the rows the
   driver's keep mask excludes and empty signatures, cut each signature into bands, and
   hash-partition the (band, band values, node) rows into P Arrow tables. A node is
   (file index << 32 | row), so node order is the single-machine row order.
2. **reduce**, one task per partition: every bucket (band, band values) lives in exactly
   one partition; link each member to the bucket's smallest node (star edges, as
   `minhash.candidate_edges` does) and, with `verify`, keep only edges whose estimated
   Jaccard passes (both signatures sit in the same bucket, so no extra join).
3. **components** on the driver over the edge set, which is small (only near-duplicate
   pairs), with scipy; then doc_id / warc_date of the cluster members only.

Map outputs go worker to worker through Ray's object store as Arrow tables (zero-copy
buffers, never pickled Python objects); the driver holds only ObjectRefs, a one-byte
keep mask per document and the edges. This is the layout NeMo Curator's and DCLM's
Ray/Spark dedup use (band buckets as a hash-partitioned shuffle).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from curate.minhash import (
    CLUSTER_SCHEMA,
    EMPTY_VALUE,
    NearDedupConfig,
    cluster_labels,
    clusters_table,
    signature_file_matches,
)

_NODE_SHIFT = 32  # node = file index << 32 | row: up to 4G rows per signature file
_MIX = (np.uint64(0x9E3779B97F4A7C15), np.uint64(0xBF58476D1CE4E5B9))  # splitmix64 constants (Steele et al. 2014)
MAX_RETRIES = 3  # as the file tasks (curate.ray_executor)


def _partition_of(band: int, values: np.ndarray, partitions: int) -> np.ndarray:
    """Partition of each row's bucket: a splitmix-style mix of (band, band values), mod P."""
    h = np.full(len(values), np.uint64(band + 1) * _MIX[0], dtype=np.uint64)
    for col in values.T.astype(np.uint64):
        h = (h ^ col) * _MIX[1]
        h ^= h >> np.uint64(31)
    return (h % np.uint64(partitions)).astype(np.int64)


def _bucket_schema(cfg: NearDedupConfig) -> pa.Schema:
    fields = [
        pa.field("band", pa.int32()),
        pa.field("key", pa.binary(4 * cfg.rows)),
        pa.field("node", pa.int64()),
    ]
    if cfg.verify:
        fields.append(pa.field("signature", pa.list_(pa.uint32(), cfg.num_perm)))
    return pa.schema(fields)


def band_partitions(path: str, file_index: int, keep: np.ndarray, cfg: NearDedupConfig,
                    partitions: int) -> list[pa.Table]:
    """Map task: one signature file -> P Arrow tables of (band, key, node[, signature]) rows."""
    table = pq.read_table(path, columns=["signature"])
    sig_col = table.column("signature").combine_chunks()
    sigs = sig_col.flatten().to_numpy(zero_copy_only=False).reshape(len(table), cfg.num_perm)
    rows = np.flatnonzero(keep & ~np.all(sigs == EMPTY_VALUE, axis=1))
    sigs = np.ascontiguousarray(sigs[rows])
    nodes = (np.int64(file_index) << _NODE_SHIFT) | rows.astype(np.int64)
    schema = _bucket_schema(cfg)
    pieces: list[list[pa.Table]] = [[] for _ in range(partitions)]
    for k in range(cfg.bands):
        band = np.ascontiguousarray(sigs[:, k * cfg.rows : (k + 1) * cfg.rows])
        part = _partition_of(k, band, partitions)
        keys = pa.FixedSizeBinaryArray.from_buffers(
            pa.binary(4 * cfg.rows), len(band), [None, pa.py_buffer(band.tobytes())]
        )
        cols = [pa.array(np.full(len(band), k, dtype=np.int32)), keys, pa.array(nodes)]
        if cfg.verify:
            cols.append(pa.FixedSizeListArray.from_arrays(pa.array(sigs.reshape(-1)), cfg.num_perm))
        block = pa.Table.from_arrays(cols, schema=schema)
        for p in range(partitions):
            idx = np.flatnonzero(part == p)
            if len(idx):
                pieces[p].append(block.take(pa.array(idx)))
    return [pa.concat_tables(ps) if ps else schema.empty_table() for ps in pieces]


def bucket_edges(cfg: NearDedupConfig, *blocks: pa.Table) -> pa.Table:
    """Reduce task: star edges (node, smallest node of its bucket) for buckets of >= 2 nodes."""
    empty = pa.table({"a": pa.array([], pa.int64()), "b": pa.array([], pa.int64())})
    # A one-partition map returns its list of one table as a single object.
    tables = [t for b in blocks for t in (b if isinstance(b, list) else [b]) if len(t)]
    if not tables:
        return empty
    table = pa.concat_tables(tables).combine_chunks()
    n = len(table)
    band = table.column("band").to_numpy()
    key_arr = table.column("key").chunk(0)
    width = 4 * cfg.rows
    keys = np.frombuffer(key_arr.buffers()[1], dtype=np.uint32, count=n * cfg.rows,
                         offset=key_arr.offset * width).reshape(n, cfg.rows)
    node = table.column("node").to_numpy()
    full = np.ascontiguousarray(np.column_stack([band.astype(np.uint32), keys]))
    bucket = np.unique(full.view(np.dtype((np.void, 4 * (cfg.rows + 1)))).ravel(), return_inverse=True)[1].ravel()
    order = np.lexsort((node, bucket))  # by bucket, then node ascending
    srt = bucket[order]
    starts = np.flatnonzero(np.concatenate(([True], srt[1:] != srt[:-1])))
    first_pos = np.repeat(starts, np.diff(np.concatenate((starts, [n]))))
    linked = np.arange(n) != first_pos
    a_idx, b_idx = order[linked], order[first_pos[linked]]
    if cfg.verify and len(a_idx):
        sig = table.column("signature").chunk(0).flatten().to_numpy(zero_copy_only=False)
        sig = sig.reshape(n, cfg.num_perm)
        ok = (sig[a_idx] == sig[b_idx]).mean(axis=1) >= cfg.verify_threshold
        a_idx, b_idx = a_idx[ok], b_idx[ok]
    if not len(a_idx):
        return empty
    edges = np.unique(np.stack([node[a_idx], node[b_idx]], axis=1), axis=0)
    return pa.table({"a": edges[:, 0], "b": edges[:, 1]})


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
        mask &= ~pc.is_in(all_ids, value_set=pa.array(sorted(exclude), pa.string())).to_numpy(zero_copy_only=False)
    bounds = np.cumsum([0, *lengths])
    return [mask[bounds[i] : bounds[i + 1]] for i in range(len(paths))]


def find_clusters_ray(signature_paths: Sequence[Path], cfg: NearDedupConfig,
                      exclude: set[str] | frozenset[str] = frozenset(), partitions: int | None = None) -> pa.Table:
    """`minhash.find_clusters` on Ray (same rows, same order); `partitions` defaults to the cluster's CPUs."""
    import ray

    from curate.ray_executor import ensure_ray

    ensure_ray()
    paths = [str(p) for p in signature_paths]
    for p in paths:
        if not signature_file_matches(p, cfg):
            raise ValueError(f"{p}: not a signature file for {cfg.signature_params()} (recompute it)")
    if not paths:
        return CLUSTER_SCHEMA.empty_table()
    n_part = partitions or max(1, int(ray.cluster_resources().get("CPU", 1)))
    masks = _keep_masks(paths, exclude)

    mapper = ray.remote(band_partitions).options(num_cpus=1, num_returns=n_part, max_retries=MAX_RETRIES)
    reducer = ray.remote(bucket_edges).options(num_cpus=1, max_retries=MAX_RETRIES)
    mapped = [mapper.remote(p, i, m, cfg, n_part) for i, (p, m) in enumerate(zip(paths, masks, strict=True))]
    if n_part == 1:
        mapped = [[ref] for ref in mapped]
    # Each reducer receives its partition's blocks straight from the mappers' object store entries.
    edge_refs = [reducer.remote(cfg, *[m[p] for m in mapped]) for p in range(n_part)]
    edges_t = pa.concat_tables(ray.get(edge_refs))
    if len(edges_t) == 0:
        return CLUSTER_SCHEMA.empty_table()
    edges = np.stack([edges_t.column("a").to_numpy(), edges_t.column("b").to_numpy()], axis=1)
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
        dates = pc.fill_null(meta.column("warc_date").combine_chunks().cast(pa.int64()), np.iinfo(np.int64).max)
        ts[at] = dates.to_numpy(zero_copy_only=False)
    ids = ids.astype(str)
    return clusters_table(labels, ids, ts)  # same representative rule and row order as find_clusters
