"""Dedup: exact (normalised-text hash) and near (MinHash LSH), global across a run, and its report.

`minhash` makes the signatures the per-file task writes; `stage.decide_duplicates` is the
one pass after every file is done; `lsh` clusters in one process, `lsh_shuffle` as executor
tasks. Knows nothing of reading, filters or tokens.
"""
