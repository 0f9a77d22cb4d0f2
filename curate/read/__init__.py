"""Reading: inputs (paths, globs, fsspec URLs) -> WARC records -> decoded HTML -> main text.

Knows nothing of filters, dedup or tokens; the per-file task (`curate.file_stage`) calls it.
"""
