"""Read and write documents in a corpus directory (curated or synthetic: same layout)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from provenance.errors import InputError
from provenance.manifest import now_iso, write_manifest
from provenance.outdir import DOCUMENTS, OutDir, list_outputs, part_name, write_parquet
from provenance.schema import DOCUMENT_SCHEMA


def document_files(corpus_dir: str | Path) -> list[Path]:
    files = OutDir(corpus_dir).parts(DOCUMENTS)
    if not files:
        raise InputError(f"{corpus_dir}: no {DOCUMENTS}/*.parquet (is this an assay corpus directory?)")
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


def write_documents(docs: list[dict], out_dir: str | Path, run_id: str,
                    manifest: dict[str, Any] | None = None) -> Path:
    """Write `docs` (doc_id, text, optional other DOCUMENT_SCHEMA columns) as a corpus directory."""
    out = OutDir(out_dir)
    rows = [{**{f.name: d.get(f.name) for f in DOCUMENT_SCHEMA}, "n_chars": len(d["text"]),
             "signals": d.get("signals") or "{}", "run_id": run_id} for d in docs]
    write_parquet(out.part(DOCUMENTS, part_name(0)), pa.Table.from_pylist(rows, schema=DOCUMENT_SCHEMA))
    write_manifest(out.root, {"run_id": run_id, "created": now_iso(), **(manifest or {}),
                              "outputs": list_outputs(out.root)})
    return out.root
