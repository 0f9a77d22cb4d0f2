"""Read documents from a corpus directory (curated or synthetic: same layout)."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq


def document_files(corpus_dir: str | Path) -> list[Path]:
    d = Path(corpus_dir) / "documents"
    files = sorted(d.glob("*.parquet"))
    if not files:
        raise FileNotFoundError(f"{corpus_dir}: no documents/*.parquet (is this an assay corpus directory?)")
    return files


def read_documents(corpus_dir: str | Path, columns: tuple[str, ...] = ("doc_id", "text", "lang", "license"),
                   limit: int | None = None) -> list[dict]:
    """Documents in part-file order, then row order (the order is part of reproducibility)."""
    out: list[dict] = []
    for f in document_files(corpus_dir):
        names = pq.read_schema(f).names
        cols = [c for c in columns if c in names]
        out.extend(pq.read_table(f, columns=cols).to_pylist())
        if limit is not None and len(out) >= limit:
            return out[:limit]
    return out
