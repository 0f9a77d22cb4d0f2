"""Phase 2 of tokenizing: the encoded parts, in a deterministic order, cut into `tokens/shard-NNNNN.arrow`.

One process, a memory copy: concatenate the parts in part order (or a seeded permutation of all
documents), cut them into shards of about `shard_tokens` tokens, one record batch per shard (the
format `reader.TokenShards` reads zero-copy). Byte-identical across reruns and worker counts.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from curate.tokens.arrays import from_numpy, to_numpy
from provenance.errors import InputError
from provenance.outdir import TOKENS, OutDir, sha256_file, shard_name, write_arrow

FORMAT_VERSION = "1"
MAX_LIST_VALUES = 2**31 - 1  # Arrow `list` has int32 offsets: a shard may hold at most this many tokens
TOKEN_FIELDS = ("doc_id", "input_ids", "n_tokens")


def token_schema(dtype: np.dtype, metadata: dict[str, Any] | None = None) -> pa.Schema:
    value = pa.uint16() if np.dtype(dtype) == np.uint16 else pa.uint32()
    schema = pa.schema(
        [
            pa.field("doc_id", pa.string(), nullable=False),
            pa.field("input_ids", pa.list_(value), nullable=False),
            pa.field("n_tokens", pa.int64(), nullable=False),
        ]
    )
    return schema.with_metadata({f"assay.{k}": str(v) for k, v in metadata.items()}) if metadata else schema


def plan_shards(n_tokens: np.ndarray, shard_tokens: int) -> list[tuple[int, int]]:
    """Greedy cut of documents (in order) into [start, stop) ranges of >= shard_tokens tokens (last may be
    smaller), never over Arrow's int32 list-offset limit."""
    cuts, start, acc = [], 0, 0
    for i, n in enumerate(n_tokens.tolist()):
        if acc and acc + n > MAX_LIST_VALUES:
            cuts.append((start, i))
            start, acc = i, 0
        acc += n
        if acc >= shard_tokens:
            cuts.append((start, i + 1))
            start, acc = i + 1, 0
    if start < len(n_tokens) or not cuts:
        cuts.append((start, len(n_tokens)))
    return cuts


def write_shard(path: Path, table: pa.Table, schema: pa.Schema) -> None:
    """One record batch per shard, so the reader gets zero-copy views."""
    columns = [table[name].combine_chunks() for name in TOKEN_FIELDS]
    write_arrow(path, [pa.record_batch(columns, schema=schema)], schema)


def ordered_documents(encoded: list[Path], dtype: np.dtype, shuffle_seed: int | None) -> pa.Table:
    """Every encoded document in part order, or in a seeded permutation; refuses repeated doc_ids."""
    tables = []
    for p in encoded:
        with pa.memory_map(str(p)) as src:
            tables.append(pa.ipc.open_file(src).read_all())
    table = pa.concat_tables(tables) if tables else token_schema(dtype).empty_table()
    ids = table["doc_id"]
    if pc.count_distinct(ids).as_py() != len(ids):
        counts = pc.value_counts(ids)
        dup = counts.filter(pc.greater(counts.field("counts"), 1))[0]["values"].as_py()
        raise InputError(f"documents/ holds duplicate doc_ids, e.g. {dup!r}")
    if shuffle_seed is not None:
        # numpy PCG64 (default_rng): stable across platforms and numpy versions
        table = table.take(from_numpy(np.random.default_rng(shuffle_seed).permutation(len(table))))
    return table


def write_shards(out: OutDir, table: pa.Table, dtype: np.dtype, shard_tokens: int,
                 meta: dict[str, Any]) -> list[dict[str, Any]]:
    """Cut `table` into shards under tokens/ (removing shards of an earlier cut); their run.json entries."""
    lengths = to_numpy(table["n_tokens"])
    shards = []
    for k, (a, b) in enumerate(plan_shards(lengths, shard_tokens)):
        n_tok = int(lengths[a:b].sum())
        path = out.folder(TOKENS) / shard_name(k)
        write_shard(path, table.slice(a, b - a), token_schema(dtype, {**meta, "n_tokens": n_tok,
                                                                      "format_version": FORMAT_VERSION}))
        shards.append({"path": f"{TOKENS}/{path.name}", "sha256": sha256_file(path), "n_docs": b - a,
                       "n_tokens": n_tok})
    keep = {Path(s["path"]).name for s in shards}
    for stale in out.shards:  # left by an earlier run with other settings
        if stale.name not in keep:
            stale.unlink()
    return shards
