"""MinHash LSH on one machine: band the signatures, link documents that share a bucket, take components.

`find_clusters` joins every signature file, bands the signatures (exact bucket keys: a band's
r uint32 values compared as bytes), links each bucket's members to its first row and takes
connected components; one representative per cluster is kept. `curate.dedup.near` gives the
same clusters as executor tasks with bounded memory (what a curation run uses); this module is
the one-process reference the tests and benchmarks/minhash.py compare it with.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import xxhash

from curate.dedup.config import NearDedupConfig
from curate.dedup.minhash import is_empty_signature, read_signatures

CLUSTER_PREFIX = "mh-"


def band_buckets(sigs: np.ndarray, cfg: NearDedupConfig) -> list[np.ndarray]:
    """For each band, the bucket number of every row (rows with equal band values share it).

    Exact bucket keys: the band's r uint32 values compared as bytes, so no hash
    collisions. Measured against `datasketch.MinHashLSH` in benchmarks/minhash.py.
    """
    out = []
    for k in range(cfg.bands):
        band = np.ascontiguousarray(sigs[:, k * cfg.rows : (k + 1) * cfg.rows])
        keys = band.view(np.dtype((np.void, band.dtype.itemsize * cfg.rows))).ravel()
        out.append(np.unique(keys, return_inverse=True)[1].ravel())
    return out


def star_edges(buckets: np.ndarray, order: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Star edges of every bucket of >= 2 rows: (row, first row of its bucket) as two index arrays.

    `order` sorts the rows by bucket, and within a bucket in the order that picks the first row
    (ascending row, or node). A star per bucket keeps the edge count linear in bucket size; the
    connected components are the same as with all pairs.
    """
    n = len(order)
    srt = buckets[order]
    starts = np.flatnonzero(np.concatenate(([True], srt[1:] != srt[:-1])))
    first_pos = np.repeat(starts, np.diff(np.concatenate((starts, [n]))))
    linked = np.arange(n) != first_pos
    return order[linked], order[first_pos[linked]]


def candidate_edges(sigs: np.ndarray, cfg: NearDedupConfig) -> np.ndarray:
    """(m, 2) int64 edges (row, first row of its bucket) for every bucket of >= 2 rows, all bands."""
    parts = []
    for bucket in band_buckets(sigs, cfg):
        members, firsts = star_edges(bucket, np.argsort(bucket, kind="stable"))  # rows ascending in a bucket
        parts.append(np.stack([members, firsts], axis=1))
    if not parts:
        return np.empty((0, 2), dtype=np.int64)
    return np.unique(np.concatenate(parts).astype(np.int64), axis=0)


def estimated_jaccard(sigs: np.ndarray, edges: np.ndarray, chunk: int = 65536) -> np.ndarray:
    """Fraction of equal signature positions for each edge (the MinHash Jaccard estimate)."""
    out = np.empty(len(edges), dtype=np.float64)
    for lo in range(0, len(edges), chunk):
        e = edges[lo : lo + chunk]
        out[lo : lo + chunk] = (sigs[e[:, 0]] == sigs[e[:, 1]]).mean(axis=1)
    return out


def cluster_labels(n: int, edges: np.ndarray) -> np.ndarray:
    """Connected-component label of each of n nodes (scipy.sparse.csgraph)."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    graph = coo_matrix((np.ones(len(edges), dtype=np.int8), (edges[:, 0], edges[:, 1])), shape=(n, n))
    _, labels = connected_components(graph, directed=False)
    return labels


CLUSTER_SCHEMA = pa.schema(
    [
        pa.field("doc_id", pa.string(), nullable=False),
        pa.field("dup_cluster", pa.string(), nullable=False),
        pa.field("dup_of", pa.string(), nullable=False),
        pa.field("is_representative", pa.bool_(), nullable=False),
    ]
)


def cluster_id(representative: str) -> str:
    """Stable, compact cluster name derived from the representative's doc_id."""
    return CLUSTER_PREFIX + xxhash.xxh3_64_hexdigest(representative.encode("utf-8"))


def find_clusters(signature_paths: Sequence[Path], cfg: NearDedupConfig,
                  exclude: set[str] | frozenset[str] = frozenset()) -> pa.Table:
    """Near-duplicate clusters over all signature files (CLUSTER_SCHEMA rows).

    Only documents in clusters of size >= 2 appear. Representative: earliest
    warc_date (nulls last), then smallest doc_id. Rows sorted by (dup_cluster, doc_id).
    Documents in `exclude`, empty documents and repeated doc_ids (after the first) are ignored.
    """
    meta, sigs = read_signatures(signature_paths, cfg)
    doc_ids = np.asarray(meta.column("doc_id").to_pylist(), dtype=object)
    first = np.unique(doc_ids.astype(str), return_index=True)[1] if len(doc_ids) else np.array([], int)
    keep = np.zeros(len(doc_ids), dtype=bool)
    keep[first] = True
    keep &= ~is_empty_signature(sigs)
    if exclude:
        keep &= ~np.isin(doc_ids.astype(str), np.asarray(sorted(exclude), dtype=str))
    rows = np.flatnonzero(keep)
    if len(rows) < len(sigs):
        sigs, doc_ids = sigs[rows], doc_ids[rows]
    dates = meta.column("warc_date").combine_chunks().take(pa.array(rows, pa.int64()))

    edges = candidate_edges(sigs, cfg)
    if cfg.verify and len(edges):
        edges = edges[estimated_jaccard(sigs, edges) >= cfg.verify_threshold]
    if len(edges) == 0:
        return CLUSTER_SCHEMA.empty_table()
    labels = cluster_labels(len(sigs), edges)
    members = np.flatnonzero(np.bincount(labels)[labels] >= 2)
    labels, ids = labels[members], doc_ids[members].astype(str)
    ts = pc.fill_null(dates.take(pa.array(members, pa.int64())).cast(pa.int64()), np.iinfo(np.int64).max)
    ts = ts.to_numpy(zero_copy_only=False)

    return clusters_table(labels, ids, ts)


def representatives(labels: np.ndarray, ids: np.ndarray, ts: np.ndarray,
                    tier: np.ndarray | None = None) -> np.ndarray:
    """For each row, the position of its cluster's representative: the lowest `tier` (earlier corpora
    before this run, when given), then the earliest date (int64, nulls as int64 max), then the smallest
    doc_id."""
    keys = (ids, ts, labels) if tier is None else (ids, ts, tier, labels)
    order = np.lexsort(keys)
    first = np.concatenate(([True], labels[order][1:] != labels[order][:-1]))
    rep_of_label = dict(zip(labels[order][first].tolist(), order[first].tolist(), strict=True))
    return np.array([rep_of_label[lab] for lab in labels.tolist()], dtype=np.int64)


def clusters_table(labels: np.ndarray, ids: np.ndarray, ts: np.ndarray) -> pa.Table:
    """The cluster table from component labels, doc ids and int64 dates (nulls as int64 max).

    Representative of a cluster: earliest date, then smallest doc_id (`representatives`). Rows
    sorted by (dup_cluster, doc_id), so every executor writes the same table.
    """
    reps = ids[representatives(labels, ids, ts)] if len(ids) else ids
    clusters = np.array([cluster_id(r) for r in reps.tolist()], dtype=str)
    final = np.lexsort((ids, clusters))
    return pa.table(
        {
            "doc_id": ids[final].tolist(),
            "dup_cluster": clusters[final].tolist(),
            "dup_of": reps[final].tolist(),
            "is_representative": (ids == reps)[final].tolist(),
        },
        schema=CLUSTER_SCHEMA,
    )
