"""datatrove's MinHash stages with their defaults, over a JSONL of {id, text}; run inside
benchmarks/.venv-datatrove by benchmarks/minhash.py (never imported by assay).

Usage: python minhash_datatrove.py DOCS.jsonl WORKDIR RESULT.json [WARMUP.jsonl]
Writes {n, signature_s, total_s, labels: [cluster id or -1 per input line], signature_bytes}.
Stages are called directly (rank 0 of 1, then the 14 bucket ranks), which is what
LocalPipelineExecutor does minus its process pool and logging. Times are CPU seconds:
signature_s is stage 1 (signatures computed and written), total_s stages 1-3 (through the
cluster ids, what assay's find_clusters produces). Stage 4 (the filter, which rewrites the
documents) runs after the clock, only to read each document's cluster id back. WARMUP.jsonl,
when given, first goes through the same stages untimed, in its own folder.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from datatrove.data import Document
from datatrove.pipeline.dedup.minhash import (
    MinhashConfig,
    MinhashDedupBuckets,
    MinhashDedupCluster,
    MinhashDedupFilter,
    MinhashDedupSignature,
)


def drain(result) -> list:
    return list(result) if result is not None else []


def read_docs(path: str) -> list[Document]:
    return [Document(text=d["text"], id=d["id"]) for d in map(json.loads, open(path, encoding="utf-8"))]


def stages(docs: list[Document], work: Path) -> tuple[float, float]:
    """Stages 1-3; (CPU seconds of stage 1, of stages 1-3)."""
    cfg = MinhashConfig()  # defaults: 5-grams, 14 buckets x 8 hashes, seed 1
    t0 = time.process_time()
    drain(MinhashDedupSignature(output_folder=str(work / "sigs"), config=cfg).run(iter(docs), 0, 1))
    t_sig = time.process_time() - t0
    for bucket in range(cfg.num_buckets):
        drain(MinhashDedupBuckets(input_folder=str(work / "sigs"), output_folder=str(work / "buckets"),
                                  config=cfg).run(None, bucket, cfg.num_buckets))
    drain(MinhashDedupCluster(input_folder=str(work / "buckets"), output_folder=str(work / "remove"),
                              config=cfg, save_cluster_id=True).run(None, 0, 1))
    return t_sig, time.process_time() - t0


def main(docs_path: str, workdir: str, result_path: str, warmup_path: str | None = None) -> None:
    work = Path(workdir)
    if warmup_path:
        stages(read_docs(warmup_path), work / "warmup")
    docs = read_docs(docs_path)
    t_sig, total = stages(docs, work / "run")
    drain(MinhashDedupFilter(input_folder=str(work / "run" / "remove"), load_cluster_ids=True)
          .run(iter(docs), 0, 1))
    # the filter annotated every document, kept or dropped, with its cluster id (-1: none)
    labels = [d.metadata.get("minhash_cluster_id", -1) for d in docs]
    sig_bytes = sum(p.stat().st_size for p in (work / "run" / "sigs").rglob("*") if p.is_file())
    json.dump({"n": len(docs), "signature_s": t_sig, "total_s": total, "labels": labels,
               "signature_bytes": sig_bytes}, open(result_path, "w"))


if __name__ == "__main__":
    main(*sys.argv[1:5])
