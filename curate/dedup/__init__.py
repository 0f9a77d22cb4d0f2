"""Dedup: repeated ids, URLs (optional), exact (normalised-text hash) and near (MinHash LSH), global
across a run (and against earlier corpora), and its report.

`minhash` makes the signatures the per-file task writes; `stage.run_dedup` runs the global
waves as map/reduce executor tasks over hash-partitioned files (`shuffle`, `keyed`, `near`);
`lsh` is the one-process reference. Knows nothing of reading, filters or tokens.
"""
