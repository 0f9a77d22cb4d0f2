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


def write_documents(docs: list[dict], out_dir: str | Path, run_id: str, manifest: dict | None = None) -> Path:
    """Write `docs` (doc_id, text, optional other DOCUMENT_SCHEMA columns) as a corpus directory."""
    import pyarrow as pa

    from provenance.manifest import file_entry, now_iso, write_manifest
    from provenance.schema import DOCUMENT_SCHEMA, PARQUET_OPTIONS

    out = Path(out_dir)
    (out / "documents").mkdir(parents=True, exist_ok=True)
    rows = [{**{f.name: d.get(f.name) for f in DOCUMENT_SCHEMA}, "n_chars": len(d["text"]),
             "signals": d.get("signals") or "{}", "run_id": run_id} for d in docs]
    path = out / "documents" / "part-00000.parquet"
    pq.write_table(pa.Table.from_pylist(rows, schema=DOCUMENT_SCHEMA), path, **PARQUET_OPTIONS)
    write_manifest(out, {"run_id": run_id, "created": now_iso(), **(manifest or {}),
                         "outputs": [file_entry(path, out)]})
    return out
