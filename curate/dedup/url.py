"""URL dedup (optional, off by default): the same normalised URL seen more than once keeps its latest capture.

Common Crawl's convention across snapshots: a URL crawled again is represented by its latest
capture. Among this run's dedup candidates (records every per-record check kept) that earlier
steps kept, the record with the latest WARC-Date wins (a record without a date counts as the
oldest; equal dates: the first in input order); the others become `duplicate` (step `url_dedup`)
with the kept record's doc_id. It runs before exact dedup, so an older capture removed here never
becomes an exact-duplicate cluster's representative.

Normalisation (`normalize_url`) follows SURT, the URL key of Heritrix and Common Crawl's CDX
index: scheme and a leading "www." dropped, host lower-cased, default port and fragment dropped,
query parameters sorted; the path keeps its case.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar
from urllib.parse import parse_qsl, urlencode, urlsplit

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from curate.dedup.decisions import decision_table
from curate.dedup.exact import candidates
from curate.dedup.keyed import KEY_FIELDS, hash128
from curate.dedup.sources import RECORD_MASK, Source, SourceMap, order_keys
from provenance.schema import DUPLICATE

STEP = "url_dedup"
_DEFAULT_PORTS = {"http": 80, "https": 443}


def normalize_url(url: str) -> str:
    """The SURT-style key of a URL (see the module docstring); the stripped URL if it cannot be parsed."""
    url = url.strip()
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").rstrip(".")
        port = parts.port
    except ValueError:
        return url
    host = host[4:] if host.startswith("www.") else host
    if port is not None and port != _DEFAULT_PORTS.get(parts.scheme.lower()):
        host = f"{host}:{port}"
    query = urlencode(sorted(parse_qsl(parts.query, keep_blank_values=True)))
    return f"{host}{parts.path or '/'}" + (f"?{query}" if query else "")


@dataclass(frozen=True)
class UrlDuplicates:
    name: ClassVar[str] = "url"
    row_bytes: ClassVar[int] = 240  # measured peak per row of a reduce task (benchmarks/scale_dedup.py)
    schema: ClassVar[pa.Schema] = pa.schema([*KEY_FIELDS, pa.field("doc_id", pa.string())])

    def rows(self, source: Source) -> pa.Table:
        t = candidates(source, ["doc_id", "url", "warc_date"])
        t = t.filter(pc.is_valid(t.column("url")))
        a, b = hash128([normalize_url(u) for u in t.column("url").to_pylist()])
        date = pc.fill_null(t.column("warc_date").cast(pa.int64()), np.iinfo(np.int64).min)
        latest_first = -date.to_numpy(zero_copy_only=False).clip(-np.iinfo(np.int64).max)
        return pa.table([a, b, latest_first, order_keys(source.index, t.column("record_index").to_numpy()),
                         t.column("doc_id")], schema=self.schema)

    def decide(self, rows: pa.Table, winner: np.ndarray, sources: SourceMap) -> pa.Table:
        later = np.flatnonzero(winner != np.arange(len(rows)))
        order = rows.column("order").to_numpy()
        ids = rows.column("doc_id").to_pylist()
        reps = [ids[w] for w in winner[later].tolist()]
        return decision_table(sources.part_of(order[later]), order[later] & RECORD_MASK,
                              decision=[DUPLICATE] * len(later), step=[STEP] * len(later),
                              reason=[f"same URL as {rep} (the latest capture is kept)" for rep in reps],
                              dup_of=reps)
