"""From a token (shard, row) or a doc_id back to the WARC record it came from.

This is what datatrove's `.ds` token files cannot do: every shard row carries its doc_id, and the
provenance row of that doc_id names the WARC file, byte offset, record id, URL, date and every
decision the pipeline took about it.
"""

from __future__ import annotations

import json
import os
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from provenance.manifest import read_manifest


def _jsonable(v: Any) -> Any:
    if isinstance(v, datetime | date):
        return v.isoformat()
    if isinstance(v, bytes):
        return v.hex()
    if isinstance(v, dict):
        return {k: _jsonable(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_jsonable(x) for x in v]
    return v


def _rows_with(parts: list[Path], doc_id: str, columns: list[str] | None = None) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for p in parts:
        t = pq.read_table(p, columns=columns, filters=[("doc_id", "=", doc_id)])
        rows.extend(t.to_pylist())
    return rows


def shard_row_doc_id(out_dir: Path, shard: int, row: int) -> tuple[str, dict[str, Any]]:
    """doc_id at (shard, row), reading only that row's doc_id and n_tokens."""
    shards = sorted((out_dir / "tokens").glob("*.arrow"))
    if not 0 <= shard < len(shards):
        raise IndexError(f"shard {shard} out of range: {out_dir / 'tokens'} has {len(shards)} shards")
    with pa.memory_map(str(shards[shard])) as src:
        table = pa.ipc.open_file(src).read_all()
        if not 0 <= row < table.num_rows:
            raise IndexError(f"row {row} out of range: {shards[shard].name} has {table.num_rows} rows")
        doc_id = table["doc_id"][row].as_py()
        n_tokens = table["n_tokens"][row].as_py()
    return doc_id, {"path": f"tokens/{shards[shard].name}", "shard": shard, "row": row, "n_tokens": n_tokens}


def find_in_shards(out_dir: Path, doc_id: str) -> dict[str, Any] | None:
    for k, path in enumerate(sorted((out_dir / "tokens").glob("*.arrow"))):
        with pa.memory_map(str(path)) as src:
            table = pa.ipc.open_file(src).read_all()
            hits = pc.indices_nonzero(pc.equal(table["doc_id"], doc_id)).to_pylist()
            if hits:
                r = hits[0]
                return {"path": f"tokens/{path.name}", "shard": k, "row": r, "n_tokens": table["n_tokens"][r].as_py()}
    return None


TEXT_FILTERS = ("gopher_repetition", "gopher_quality", "c4", "fineweb_quality")  # FineWeb order (curate.filters)


def _enabled(section: Any) -> bool:
    return not isinstance(section, dict) or section.get("enabled", True) is not False


def pipeline_steps(manifest: dict[str, Any]) -> list[str] | None:
    """The curate steps in order (the provenance `step` names): an explicit `steps` list in the manifest,
    else derived from the curate config in the order curate.pipeline runs them. None when neither exists."""
    for holder in (manifest, manifest.get("config") or {}):
        steps = holder.get("steps") if isinstance(holder, dict) else None
        if isinstance(steps, list) and steps:
            return [s if isinstance(s, str) else str(s.get("name", s)) for s in steps]
    cfg = manifest.get("config")
    if manifest.get("kind") != "curate" or not isinstance(cfg, dict):
        return None
    filters = cfg.get("filters") or {}
    steps = ["read"] + (["url"] if _enabled(filters.get("url")) else []) + ["extract", "lid"]
    steps += [f for f in TEXT_FILTERS if _enabled(filters.get(f))]
    if (cfg.get("signals") or {}).get("drop_opted_out"):
        steps.append("opt_out")
    steps += [s for s in ("exact_dedup", "near_dedup") if _enabled(cfg.get(s))]
    return steps


def trace(
    out_dir: str | os.PathLike[str], doc_id: str | None = None, shard: int | None = None, row: int | None = None
) -> dict[str, Any]:
    """The provenance of one document: its token location, provenance row(s) and document metadata."""
    out = Path(out_dir)
    if not out.is_dir():
        raise FileNotFoundError(f"{out}: no such output directory")
    if doc_id is None:
        if shard is None or row is None:
            raise ValueError("give a DOC_ID, or both --shard and --row")
        doc_id, location = shard_row_doc_id(out, shard, row)
    else:
        location = find_in_shards(out, doc_id) if (out / "tokens").is_dir() else None
    prov = [_jsonable(r) for r in _rows_with(sorted((out / "provenance").glob("*.parquet")), doc_id)]
    if not prov:
        raise KeyError(f"doc_id {doc_id!r} has no provenance row in {out / 'provenance'}")
    doc_cols = ["doc_id", "url", "lang", "lang_score", "license", "n_chars", "signals"]
    docs = _rows_with(sorted((out / "documents").glob("*.parquet")), doc_id, doc_cols)
    document = None
    if docs:
        document = _jsonable(docs[0])
        try:
            document["signals"] = json.loads(document["signals"]) if document.get("signals") else None
        except json.JSONDecodeError:
            pass
    manifest = read_manifest(out) if (out / "run.json").exists() else {}
    steps = pipeline_steps(manifest)
    row0 = prov[0]
    if row0.get("decision") == "kept" and steps is not None:
        passed = list(steps)
    elif steps is not None and row0.get("step") in steps:
        passed = steps[: steps.index(row0["step"])]  # every step before the one that removed it
    else:
        passed = None
    if passed is not None and location is not None:
        passed.append("tokenize")
    tok = manifest.get("tokenize") or {}
    if location is not None and tok:
        location["tokenizer_sha256"] = (tok.get("tokenizer") or {}).get("sha256")
        sha = {s["path"]: s["sha256"] for s in tok.get("shards", [])}
        location["shard_sha256"] = sha.get(location["path"])
    return {
        "doc_id": doc_id,
        "run_id": manifest.get("run_id"),
        "tokens": location,
        "provenance": row0 if len(prov) == 1 else prov,
        "steps_passed": passed,
        "document": document,
    }
