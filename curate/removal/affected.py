"""Who a takedown concerns: the parent's token shards that held the documents, and the training runs
(by their run.json) that consumed those shards or name the corpus."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from provenance.manifest import scan_manifest
from provenance.outdir import MANIFEST, OutDir, sha256_file


def shards_holding(src: Path, doc_ids: set[str]) -> list[dict[str, Any]]:
    """OUT's token shards that hold any of the doc_ids, with their sha256."""
    hit = []
    for shard in OutDir(src).shards:
        with pa.memory_map(str(shard)) as f:
            ids = pa.ipc.open_file(f).read_all().column("doc_id")
        n = pc.sum(pc.is_in(ids, value_set=pa.array(sorted(doc_ids), pa.string()))).as_py() or 0
        if n:
            hit.append({"path": str(shard.resolve()), "sha256": sha256_file(shard), "documents": int(n)})
    return hit


def _training_manifests(run_roots: list[Path]) -> Iterator[tuple[Path, dict[str, Any]]]:
    """(path, manifest) of every training run at ROOT/run.json or ROOT/*/run.json, each once."""
    seen: set[str] = set()
    for root in run_roots:
        for man_path in sorted(list(root.glob(MANIFEST)) + list(root.glob(f"*/{MANIFEST}"))):
            if str(man_path.resolve()) in seen:
                continue
            seen.add(str(man_path.resolve()))
            man = scan_manifest(man_path)
            if man is not None and man.get("kind") == "train":
                yield man_path, man


def _names_corpus(man: dict[str, Any], src: Path, src_run_id: str) -> bool:
    return any(d.get("run_id") == src_run_id or (d.get("path") and Path(d["path"]).resolve() == src.resolve())
               for d in man.get("data") or [])


def find_training_runs(run_roots: list[Path], src: Path, src_run_id: str,
                       shards: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Training runs (kind "train", ROOT/*/run.json) that consumed an affected shard (matched by sha256);
    and, separately, those that name the corpus in `data` but never read an affected shard."""
    affected = {s["sha256"] for s in shards}
    out, other = [], []
    for man_path, man in _training_manifests(run_roots):
        used = [s for s in man.get("shards_consumed") or [] if s.get("sha256") in affected]
        names_corpus = _names_corpus(man, src, src_run_id)
        if used or names_corpus:
            (out if used else other).append({
                "manifest": str(man_path.resolve()), "manifest_sha256": sha256_file(man_path),
                "run_id": man.get("run_id"), "status": man.get("status"),
                "consumed_affected_shards": sorted({s["sha256"] for s in used}),
                "first_read_at": min((s.get("first_read_at") or "" for s in used), default=None),
                "names_corpus": names_corpus})
    return out, other
