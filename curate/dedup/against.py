"""`--dedup-against DIR...`: earlier corpora whose documents this run's duplicates are measured against.

A team that curates every month wants this month's crawl without what last month's corpus holds.
Each earlier corpus (an assay curate or takedown output directory) is read, never written: its
`documents/` parts become dedup sources placed before this run's files (`sources`), so an exact
or near duplicate of an earlier document is a `duplicate` here, `dup_of` naming the earlier
doc_id and the reason naming the earlier run.

One task per earlier documents part (`prepare_part`) writes, under this run's `_work/against/`,
the part's keys (doc_id, row, text hash, url, date) and, with near dedup, its signatures. Text
hashes and signatures are reused from the earlier run's `_work/` when it still holds them (and
the signature parameters match); whatever is missing is recomputed from the documents' text.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from curate.dedup.config import NearDedupConfig
from curate.dedup.minhash import signature_file_matches, signatures, write_signatures
from curate.dedup.text_hash import text_hash
from curate.exec.base import Report
from curate.exec.rss import PeakRss
from provenance.errors import InputError
from provenance.manifest import read_manifest
from provenance.outdir import CORPUS_KINDS, DOCUMENTS, OutDir, write_marker, write_parquet
from provenance.schema import TS

KEYS_SCHEMA = pa.schema([pa.field("doc_id", pa.string()), pa.field("record_index", pa.int64()),
                         pa.field("text_hash", pa.string()), pa.field("url", pa.string()),
                         pa.field("warc_date", TS)])


@dataclass(frozen=True)
class EarlierPart:
    """One documents part of an earlier corpus, with the earlier run's work files that may hold its keys."""

    corpus: str  # the corpus directory
    run_id: str
    documents: str
    hashes: str  # the earlier run's per-file rows (text_hash column), if still there
    signatures: str  # the earlier run's signature file, if still there


def earlier_parts(paths: list[str], stages: tuple[str, str]) -> list[EarlierPart]:
    """Every documents part of the earlier corpora, in the order given; `stages` names the work folders
    of the per-file rows and signatures. A directory that is not a finished corpus is an InputError."""
    out = []
    for path in paths:
        root = OutDir(Path(path).resolve())
        manifest = read_manifest(root.root) if root.manifest.is_file() else {}
        if manifest.get("kind") not in CORPUS_KINDS:
            raise InputError(f"--dedup-against {path}: not a finished assay corpus (no run.json of kind "
                             f"{' or '.join(CORPUS_KINDS)})")
        parts = root.parts(DOCUMENTS)
        if not parts:
            raise InputError(f"--dedup-against {path}: no {DOCUMENTS}/*.parquet")
        out += [EarlierPart(str(root.root), str(manifest.get("run_id")), str(p),
                            str(root.work_file(stages[0], p.stem)), str(root.work_file(stages[1], p.stem)))
                for p in parts]
    return out


@dataclass(frozen=True)
class PrepareTask:
    part: EarlierPart
    near: NearDedupConfig | None  # None: near dedup is off, no signatures
    keys_out: str
    signatures_out: str
    marker: str
    key: dict[str, Any]

    @property
    def label(self) -> str:
        return f"{Path(self.part.corpus).name}/{Path(self.part.documents).stem}"


def _reused(path: str, doc_ids: list[str], column: str, valid: bool = True) -> tuple[list[Any], int]:
    """Per doc_id, `column` of its first row in `path` (None where absent); and how many were found."""
    if not os.path.exists(path):
        return [None] * len(doc_ids), 0
    t = pq.read_table(path, columns=["doc_id", column])
    if valid:
        t = t.filter(pc.is_valid(t.column(column)))
    first: dict[str, Any] = {}
    for d, v in zip(t.column("doc_id").to_pylist(), t.column(column).to_pylist(), strict=True):
        first.setdefault(d, v)
    found = [first.get(d) for d in doc_ids]
    return found, sum(v is not None for v in found)


def _texts(task: PrepareTask, rows: list[int]) -> list[str]:
    texts = pq.read_table(task.part.documents, columns=["text"]).column("text")
    return texts.take(pa.array(rows, pa.int64())).to_pylist()


def prepare_part(task: PrepareTask, report: Report) -> dict[str, Any]:
    """One earlier documents part's keys (and signatures), reused where the earlier run kept them."""
    with PeakRss() as peak:
        docs = pq.read_table(task.part.documents, columns=["doc_id", "url", "warc_date"])
        ids, n = docs.column("doc_id").to_pylist(), len(docs)
        hashes, reused = _reused(task.part.hashes, ids, "text_hash")
        missing = [i for i, h in enumerate(hashes) if h is None]
        for i, t in zip(missing, _texts(task, missing) if missing else [], strict=True):
            hashes[i] = text_hash(t)
        write_parquet(task.keys_out, pa.table([docs.column("doc_id"), pa.array(np.arange(n)), hashes,
                                               docs.column("url"), docs.column("warc_date").cast(TS)],
                                              schema=KEYS_SCHEMA))
        result = {"documents": n, "hashes_reused": reused}
        if task.near is not None:
            result["signatures_reused"] = _prepare_signatures(task, docs, ids)
    result["peak_rss_mb"], result["cpu_s"] = peak.mb, peak.cpu_s
    write_marker(task.marker, task.key, result)
    report({"documents": n})
    return result


def _prepare_signatures(task: PrepareTask, docs: pa.Table, ids: list[str]) -> int:
    """The part's signature file (rows in documents order); returns how many were reused."""
    cfg = task.near
    assert cfg is not None
    sigs = np.empty((len(ids), cfg.num_perm), dtype=np.uint32)
    found: list[Any] = [None] * len(ids)
    reused = 0
    if signature_file_matches(task.part.signatures, cfg):
        found, reused = _reused(task.part.signatures, ids, "signature", valid=False)
    missing = [i for i, s in enumerate(found) if s is None]
    for i, s in enumerate(found):
        if s is not None:
            sigs[i] = s
    if missing:
        sigs[missing] = signatures(_texts(task, missing), cfg)
    write_signatures(task.signatures_out, ids, docs.column("warc_date"), sigs, cfg,
                     record_index=np.arange(len(ids)))
    return reused
