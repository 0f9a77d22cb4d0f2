"""Near dedup (MinHash LSH) as executor tasks with bounded memory: the clusters of `lsh.find_clusters`.

1. **band map**, one task per signature file (`band_rows`): the rows earlier steps kept (minus
   empty documents), each cut into bands; a band row is (bucket hash, band, band values, node),
   the node being the row's order key (`sources`). Rows go to one partitioned file, partitioned
   by bucket hash, so every bucket lives in exactly one partition.
2. **bucket reduce**, one task per partition (`bucket_edges`): sort by bucket hash (stable: nodes
   stay ascending), check that equal hashes hold equal band values (exact buckets, as
   `lsh.band_buckets`: a 64-bit collision splits, never merges), link each member to its bucket's
   smallest node (star edges), and with `verify` keep only edges whose estimated Jaccard passes.
   Edges go to a file; the driver sees counts.
3. **components**, one task (`components`): connected components over the edges, so its memory
   follows the documents that have a candidate, not all documents; then doc_id and date of those
   documents only, the representative (`lsh.representatives`: earlier corpora first, then the
   earliest date, then the smallest doc_id) and the decisions, by part.

This is the layout of NeMo Curator's and DCLM's dedup (band buckets as a hash-partitioned
shuffle). The driver sizes partitions from the signature count and the bytes a band row takes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from curate.dedup.config import NearDedupConfig
from curate.dedup.decisions import decision_table, removed_rows, write_decisions
from curate.dedup.lsh import cluster_id, cluster_labels, representatives
from curate.dedup.minhash import EMPTY_VALUE, require_signature_files
from curate.dedup.shuffle import FileSet, mix64, partition_of, read_partition, write_partitioned
from curate.dedup.sources import RECORD_MASK, Source, SourceMap, earlier_suffix, order_keys, split_order
from curate.exec.base import Report
from curate.exec.rss import PeakRss
from provenance.outdir import write_arrow, write_marker, write_parquet
from provenance.schema import DUPLICATE

STEP = "near_dedup"
# A reduce task's peak memory per band row (hash, band, 32 B of values, node; sort and star edges):
# 117 B measured by benchmarks/scale_dedup.py (1 M documents, 4.7 M band rows a partition), + 10 %.
# With `verify` a band row also carries its 448 B signature.
BAND_ROW_BYTES = 130
VERIFY_ROW_BYTES = 4 * 112 * 3
EDGE_SCHEMA = pa.schema([pa.field("a", pa.int64()), pa.field("b", pa.int64())])


def band_schema(cfg: NearDedupConfig) -> pa.Schema:
    fields = [pa.field("hash", pa.uint64()), pa.field("band", pa.int32()),
              pa.field("values", pa.binary(4 * cfg.rows)), pa.field("node", pa.int64())]
    if cfg.verify:
        fields.append(pa.field("signature", pa.list_(pa.uint32(), cfg.num_perm)))
    return pa.schema(fields)


def band_row_bytes(cfg: NearDedupConfig) -> int:
    """Peak bytes per band row in a bucket reduce (per signature: times `bands`)."""
    return BAND_ROW_BYTES + (VERIFY_ROW_BYTES if cfg.verify else 0)


@dataclass(frozen=True)
class BandTask:
    source: Source
    removed: tuple[FileSet, ...]  # decision files of the earlier steps
    cfg: NearDedupConfig
    partitions: int
    out: str
    marker: str
    key: dict[str, Any]

    @property
    def label(self) -> str:
        return self.source.label


def read_kept_signatures(task: BandTask) -> tuple[np.ndarray, np.ndarray]:
    """(signatures, nodes) of the source's rows that earlier steps kept, empty documents left out."""
    require_signature_files([task.source.signatures], task.cfg)
    t = pq.read_table(task.source.signatures, columns=["signature", "record_index"])
    sigs = t.column("signature").combine_chunks().flatten().to_numpy(zero_copy_only=False)
    sigs = sigs.reshape(len(t), task.cfg.num_perm)
    record = t.column("record_index").to_numpy()
    keep = ~np.all(sigs == EMPTY_VALUE, axis=1)
    if task.removed and task.source.current:
        keep &= ~np.isin(record, removed_rows(task.removed, task.source.part))
    return np.ascontiguousarray(sigs[keep]), order_keys(task.source.index, record[keep])


def band_rows(task: BandTask, report: Report) -> dict[str, Any]:
    """Band map: every band of the kept signatures, by bucket-hash partition, in one file; then the marker."""
    cfg = task.cfg
    with PeakRss() as peak:
        sigs, nodes = read_kept_signatures(task)
        blocks = []
        for k in range(cfg.bands):
            band = np.ascontiguousarray(sigs[:, k * cfg.rows : (k + 1) * cfg.rows])
            values = pa.FixedSizeBinaryArray.from_buffers(pa.binary(4 * cfg.rows), len(band),
                                                          [None, pa.py_buffer(band.tobytes())])
            cols = [pa.array(mix64(list(band.T), salt=k)), pa.array(np.full(len(band), k, dtype=np.int32)),
                    values, pa.array(nodes)]
            if cfg.verify:
                cols.append(pa.FixedSizeListArray.from_arrays(pa.array(sigs.reshape(-1)), cfg.num_perm))
            blocks.append(pa.Table.from_arrays(cols, schema=band_schema(cfg)))
        table = pa.concat_tables(blocks) if blocks else band_schema(cfg).empty_table()
        write_partitioned(task.out, table, partition_of(table.column("hash").to_numpy(), task.partitions),
                          task.partitions)
    result = {"signatures": len(nodes), "peak_rss_mb": peak.mb, "cpu_s": peak.cpu_s}
    write_marker(task.marker, task.key, result)
    report({"signatures": len(nodes)})
    return result


@dataclass(frozen=True)
class BucketTask:
    partition: int
    inputs: FileSet  # every band file, in source order
    cfg: NearDedupConfig
    out: str
    marker: str
    key: dict[str, Any]

    @property
    def label(self) -> str:
        return f"p{self.partition:05d}"


def bucket_heads(h: np.ndarray, values: np.ndarray) -> np.ndarray:
    """For rows sorted by bucket hash: the position of each row's bucket's first row.

    A bucket is equal hash AND equal (band, values): a run of equal hashes whose values differ
    (a 64-bit collision) is split by its values, so buckets are exact, as in `lsh.band_buckets`.
    """
    n = len(h)
    starts = np.ones(n, dtype=bool)
    starts[1:] = h[1:] != h[:-1]
    head = np.maximum.accumulate(np.where(starts, np.arange(n), 0))
    follow = np.flatnonzero(~starts)  # rows that share their hash with the row before
    clash = follow[np.any(values[follow] != values[follow - 1], axis=1)]
    if len(clash):
        bad = np.flatnonzero(np.isin(head, head[clash]))  # every row of a run with a collision
        void = np.dtype((np.void, values.dtype.itemsize * values.shape[1]))
        keys = np.ascontiguousarray(values[bad]).view(void).ravel()
        _, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
        head[bad] = bad[first[inverse.ravel()]]  # runs stay in node order: the first is the smallest node
    return head


def _sorted_columns(rows: pa.Table, cfg: NearDedupConfig) -> tuple[np.ndarray, ...]:
    """(order by hash, then sorted: hashes, (band, values) matrix, nodes), without a second copy of the
    values: each file's chunk is scattered straight to its sorted rows."""
    order = np.argsort(rows.column("hash").to_numpy(), kind="stable")  # nodes stay ascending in a bucket
    h = rows.column("hash").to_numpy()[order]
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    values = np.empty((len(order), cfg.rows + 1), dtype=np.uint32)
    values[:, 0] = rows.column("band").to_numpy()[order]
    lo = 0
    for chunk in rows.column("values").chunks:
        n = len(chunk)
        if n:
            view = np.frombuffer(chunk.buffers()[1], dtype=np.uint32, count=n * cfg.rows,
                                 offset=chunk.offset * 4 * cfg.rows).reshape(n, cfg.rows)
            values[rank[lo : lo + n], 1:] = view
        lo += n
    return order, h, values, rows.column("node").to_numpy()[order]


def bucket_edges(task: BucketTask, report: Report) -> dict[str, Any]:
    """Bucket reduce: star edges (node, smallest node of its bucket) of a partition, to a file; the marker."""
    cfg = task.cfg
    with PeakRss() as peak:
        rows = read_partition(task.inputs.paths(), task.partition, band_schema(cfg))
        n = len(rows)
        a = b = node = np.empty(0, dtype=np.int64)
        if n:
            order, h, values, node = _sorted_columns(rows, cfg)
            head = bucket_heads(h, values)
            del h, values
            a = np.flatnonzero(head != np.arange(n))
            b = head[a]
        if cfg.verify and len(a):
            sig = rows.column("signature").take(pa.array(order[np.concatenate([a, b])])).combine_chunks()
            sig = sig.flatten().to_numpy(zero_copy_only=False).reshape(2, len(a), cfg.num_perm)
            ok = (sig[0] == sig[1]).mean(axis=1) >= cfg.verify_threshold
            a, b = a[ok], b[ok]
        del rows
        edges = np.unique(np.stack([node[a], node[b]], axis=1), axis=0) if len(a) else np.empty((0, 2), int)
        write_arrow(task.out, [pa.record_batch([edges[:, 0], edges[:, 1]], schema=EDGE_SCHEMA)], EDGE_SCHEMA)
    result = {"band_rows": n, "edges": len(edges), "peak_rss_mb": peak.mb, "cpu_s": peak.cpu_s}
    write_marker(task.marker, task.key, result)
    report({"edges": len(edges)})
    return result


@dataclass(frozen=True)
class ComponentsTask:
    edges: FileSet  # every bucket reduce's edge file
    signatures: tuple[str | None, ...]  # per source index: its signature file
    sources: SourceMap
    parts: int
    cfg: NearDedupConfig
    out: str  # the decisions, by part
    clusters: str  # the clusters, for inspection
    marker: str
    key: dict[str, Any]

    @property
    def label(self) -> str:
        return "components"


def _read_edges(paths: Sequence[str]) -> np.ndarray:
    blocks = []
    for p in paths:
        with pa.memory_map(p) as src:
            t = pa.ipc.open_file(src).read_all()
        blocks.append(np.stack([t.column("a").to_numpy(), t.column("b").to_numpy()], axis=1))
    return np.concatenate(blocks) if blocks else np.empty((0, 2), dtype=np.int64)


def member_rows(nodes: np.ndarray, signatures: Sequence[str | None]) -> tuple[np.ndarray, np.ndarray]:
    """doc_id (str) and date (int64, nulls as int64 max) of each node, from its source's signature file."""
    ids = np.empty(len(nodes), dtype=object)
    ts = np.empty(len(nodes), dtype=np.int64)
    source, record = split_order(nodes)
    for s in np.unique(source).tolist():
        at = np.flatnonzero(source == s)
        t = pq.read_table(signatures[s], columns=["record_index", "doc_id", "warc_date"])
        rows = np.searchsorted(t.column("record_index").to_numpy(), record[at])  # rows are in record order
        meta = t.take(pa.array(rows))
        ids[at] = meta.column("doc_id").to_pylist()
        dates = pc.fill_null(meta.column("warc_date").cast(pa.int64()), np.iinfo(np.int64).max)
        ts[at] = dates.to_numpy(zero_copy_only=False)
    return ids.astype(str), ts


def cluster_decisions(nodes: np.ndarray, ids: np.ndarray, rep: np.ndarray, task: ComponentsTask) -> pa.Table:
    """This run's members: the representative gets the cluster, the others are near duplicates of it."""
    part = task.sources.part_of(nodes)
    mine = np.flatnonzero(part >= 0)
    first = rep[mine] == mine
    reps = ids[rep[mine]].tolist()
    curve = f"MinHash {task.cfg.bands}x{task.cfg.rows}"
    corpora = [task.sources.corpus_of(int(o)) for o in nodes[rep[mine]].tolist()]
    reasons = [None if f else f"near duplicate of {r} ({curve}){earlier_suffix(c)}"
               for f, r, c in zip(first.tolist(), reps, corpora, strict=True)]
    return decision_table(part[mine], nodes[mine] & RECORD_MASK,
                          decision=np.where(first, None, DUPLICATE).tolist(),
                          step=np.where(first, None, STEP).tolist(), reason=reasons,
                          dup_cluster=[cluster_id(r) for r in reps],
                          dup_of=[None if f else r for f, r in zip(first.tolist(), reps, strict=True)])


def components(task: ComponentsTask, report: Report) -> dict[str, Any]:
    """Connected components over every edge; the representatives; the decisions by part; then the marker."""
    with PeakRss() as peak:
        edges = _read_edges(task.edges.paths())
        nodes, compact = np.unique(edges, return_inverse=True)  # a node of an edge is in a cluster of >= 2
        labels = cluster_labels(len(nodes), compact.reshape(-1, 2)) if len(nodes) else nodes
        ids, ts = member_rows(nodes, task.signatures)
        tier = (task.sources.part_of(nodes) >= 0).astype(np.int8)  # earlier corpora's documents first
        rep = representatives(labels, ids, ts, tier) if len(nodes) else nodes
        decided = write_decisions(task.out, cluster_decisions(nodes, ids, rep, task), task.parts)
        write_parquet(task.clusters, pa.table({
            "node": nodes, "doc_id": ids.tolist(), "dup_cluster": [cluster_id(r) for r in ids[rep].tolist()],
            "dup_of": ids[rep].tolist(), "is_representative": rep == np.arange(len(nodes))}))
    result = {"documents_in_clusters": len(nodes), "clusters": len(np.unique(labels)), "decisions": decided,
              "peak_rss_mb": peak.mb, "cpu_s": peak.cpu_s}
    write_marker(task.marker, task.key, result)
    report({"clusters": result["clusters"]})
    return result
