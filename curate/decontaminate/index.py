"""The evaluation sets as an n-gram index: a sorted array of 64-bit n-gram hashes beside the item of each.

Items are hashed exactly as dedup hashes documents (`curate.dedup.minhash.shingle_hashes`: NFKC, lower
case and whitespace collapsed, as exact dedup normalises, with punctuation as a space, as datatrove's
and GPT-3's overlap checks drop it), so a page quoting an item with other quotes or spacing still
matches. The index is built once per run, in the driver, and saved under `_work/decontaminate/` as
`.npy` files that every worker memory-maps (`np.load(mmap_mode="r")`): a worker's pages of it are
shared with the others through the page cache, nothing is pickled or rebuilt per task. 12 bytes per
(n-gram, item) pair: 100,000 items of 100 words are ~10M pairs, ~110 MiB (benchmarks/decontaminate.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from curate.decontaminate.config import DecontaminateConfig
from curate.dedup.config import NearDedupConfig
from curate.dedup.minhash import HASH_SCHEME, shingle_hashes, shingle_hashes_many
from curate.text_sources import read_records
from provenance.errors import InputError
from provenance.outdir import atomic_path, read_marker, sha256_file, write_marker, write_parquet

INDEX_SCHEME = f"assay-decontaminate-1/{HASH_SCHEME}"  # bump when hashing or the files below change
GRAMS, ITEMS, TABLE, MARKER = "grams.npy", "items.npy", "items.parquet", "index"


def ngram_config(n: int) -> NearDedupConfig:
    """Word n-grams as dedup hashes them (only `shingle` and `ngram` matter for hashing)."""
    return NearDedupConfig(shingle="word", ngram=n)


@dataclass
class EvalIndex:
    """The n-grams of every item of every evaluation set, in memory (before it is saved)."""

    sets: list[dict[str, Any]]  # per set: label, path, sha256, fields, items, too_short
    set_of: np.ndarray  # int32, per item: its set
    ids: list[str]  # per item: its id
    grams: np.ndarray  # uint64, sorted
    items: np.ndarray  # uint32, per gram: its item

    @property
    def nbytes(self) -> int:
        return int(self.grams.nbytes + self.items.nbytes)


def _one_set(cfg: DecontaminateConfig, k: int) -> tuple[dict[str, Any], list[str], np.ndarray, np.ndarray]:
    spec = cfg.files[k]
    records = read_records(spec.path, spec.fields, spec.id_field)
    if not records:
        raise InputError(f"{spec.path}: empty evaluation set (no item with text in {', '.join(spec.fields)})")
    grams, owner = shingle_hashes_many([r.text for r in records], ngram_config(cfg.ngram), short=False)
    too_short = len(records) - len(np.unique(owner))
    if too_short == len(records):
        raise InputError(f"{spec.path}: none of its {len(records)} items has {cfg.ngram} words "
                         "(decontaminate.ngram)")
    facts = {"label": spec.label, "path": str(spec.path), "sha256": sha256_file(spec.path),
             "fields": spec.fields, "id_field": spec.id_field, "items": len(records), "too_short": too_short}
    return facts, [r.id for r in records], grams, owner


def load_eval_sets(cfg: DecontaminateConfig) -> EvalIndex:
    """Read and hash every evaluation set; one-line InputErrors for a missing file, a missing field or an
    empty set (before anything is written)."""
    sets, ids, set_of, grams, items = [], [], [], [], []
    for k in range(len(cfg.files)):
        facts, set_ids, g, owner = _one_set(cfg, k)
        items.append(owner.astype(np.uint32) + np.uint32(len(ids)))
        sets.append(facts)
        ids.extend(set_ids)
        set_of.append(np.full(len(set_ids), k, dtype=np.int32))
        grams.append(g)
    g, it = np.concatenate(grams), np.concatenate(items)
    order = np.lexsort((it, g))
    g, it = g[order], it[order]
    unique = np.ones(len(g), dtype=bool)
    unique[1:] = (g[1:] != g[:-1]) | (it[1:] != it[:-1])  # one entry per (n-gram, item)
    return EvalIndex(sets, np.concatenate(set_of), ids, g[unique], it[unique])


def index_key(cfg: DecontaminateConfig, index: EvalIndex) -> dict[str, Any]:
    return {"scheme": INDEX_SCHEME, "ngram": cfg.ngram, "sets": index.sets}


def _save_npy(path: Path, array: np.ndarray) -> None:
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        np.save(f, array)


def save_index(index: EvalIndex, key: dict[str, Any], folder: Path) -> bool:
    """Write the index under `folder` (once: a rerun finds its marker); True when it was written."""
    marker = folder / f"{MARKER}.done"
    if read_marker(marker, key) is not None:
        return False
    _save_npy(folder / GRAMS, index.grams)
    _save_npy(folder / ITEMS, index.items)
    write_parquet(folder / TABLE, pa.table({"set": pa.array(index.set_of), "id": pa.array(index.ids)}))
    write_marker(marker, key, {"ngrams": len(index.grams), "bytes": index.nbytes})
    return True


class IndexView:
    """The saved index in a worker: the arrays memory-mapped, the item table in memory."""

    def __init__(self, folder: Path, cfg: DecontaminateConfig) -> None:
        self.grams = np.load(folder / GRAMS, mmap_mode="r")
        self.items = np.load(folder / ITEMS, mmap_mode="r")
        table = pq.read_table(folder / TABLE)
        self.set_of = table["set"].to_numpy()
        self.ids = table["id"].to_pylist()
        self.labels = [spec.label for spec in cfg.files]
        self.ngram = ngram_config(cfg.ngram)

    def overlaps(self, text: str) -> tuple[int, np.ndarray, np.ndarray]:
        """(the text's n-grams found in the index, the items they belong to, shared n-grams per item)."""
        g = np.unique(shingle_hashes(text, self.ngram))
        lo = np.searchsorted(self.grams, g, "left")
        hi = np.searchsorted(self.grams, g, "right")
        found = hi > lo
        if not found.any():
            return 0, np.empty(0, dtype=np.uint32), np.empty(0, dtype=np.int64)
        lo, n = lo[found], (hi - lo)[found]
        positions = np.repeat(lo - np.concatenate(([0], np.cumsum(n)[:-1])), n) + np.arange(int(n.sum()))
        items, counts = np.unique(self.items[positions], return_counts=True)
        return int(found.sum()), items, counts
