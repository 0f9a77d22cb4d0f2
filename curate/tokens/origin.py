"""From a token (shard, row) or a doc_id back to the WARC record it came from.

This is what datatrove's `.ds` token files cannot do: every shard row carries its doc_id, and the
provenance row of that doc_id names the WARC file, byte offset, record id, URL, date and every
decision curation took about it.
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

from provenance.errors import InputError
from provenance.manifest import read_manifest
from provenance.outdir import DOCUMENTS, PROVENANCE, TOKENS, OutDir
from provenance.outdir import REJECTED as REJECTED_FOLDER
from provenance.schema import KEPT


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


def _location(path: Path, shard: int, row: int, table: pa.Table) -> dict[str, Any]:
    n_tokens = table["n_tokens"][row].as_py()
    return {"path": f"{TOKENS}/{path.name}", "shard": shard, "row": row, "n_tokens": n_tokens}


def shard_row_doc_id(out: OutDir, shard: int, row: int) -> tuple[str, dict[str, Any]]:
    """doc_id at (shard, row), reading only that row's doc_id and n_tokens."""
    shards = out.shards
    if not 0 <= shard < len(shards):
        raise InputError(f"shard {shard} out of range: {out.folder(TOKENS)} has {len(shards)} shards")
    with pa.memory_map(str(shards[shard])) as src:
        table = pa.ipc.open_file(src).read_all()
        if not 0 <= row < table.num_rows:
            raise InputError(f"row {row} out of range: {shards[shard].name} has {table.num_rows} rows")
        return table["doc_id"][row].as_py(), _location(shards[shard], shard, row, table)


def find_in_shards(out: OutDir, doc_id: str) -> dict[str, Any] | None:
    for k, path in enumerate(out.shards):
        with pa.memory_map(str(path)) as src:
            table = pa.ipc.open_file(src).read_all()
            hits = pc.indices_nonzero(pc.equal(table["doc_id"], doc_id)).to_pylist()
            if hits:
                return _location(path, k, hits[0], table)
    return None


# FineWeb order, as curate.filters.build_filters builds them
TEXT_FILTERS = ("gopher_repetition", "gopher_quality", "c4", "fineweb_quality")


def _enabled(section: Any) -> bool:
    return not isinstance(section, dict) or section.get("enabled", True) is not False


def pipeline_steps(manifest: dict[str, Any]) -> list[str] | None:
    """The curate steps in order (the provenance `step` names): an explicit `steps` list in the manifest,
    else derived from the curate config in the order the per-record chain runs them; None when neither
    exists."""
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
    quality = filters.get("quality") or {}
    per_record_quality = quality.get("enabled") and quality.get("keep_top_fraction") is None
    steps += ["quality"] if per_record_quality else []  # a threshold: decided in the chain
    steps += ["decontaminate"] if (cfg.get("decontaminate") or {}).get("enabled") else []
    if (cfg.get("signals") or {}).get("drop_opted_out"):
        steps.append("opt_out")
    steps += ["quality"] if quality.get("enabled") and not per_record_quality else []  # over the whole run
    steps += [s for s in ("exact_dedup", "near_dedup") if _enabled(cfg.get(s))]
    return steps


def steps_passed(steps: list[str] | None, row: dict[str, Any], tokenized: bool) -> list[str] | None:
    """Every step a record passed: all of them when kept, else those before the one that removed it."""
    if steps is None:
        return None
    if row.get("decision") == KEPT:
        passed = list(steps)
    elif row.get("step") in steps:
        passed = steps[: steps.index(row["step"])]
    else:
        return None
    return passed + ["tokenize"] if tokenized else passed


def _signals(out: OutDir, doc_id: str) -> dict[str, Any]:
    """The document's filter signals, kept or removed ({} when it has none: no text was extracted)."""
    for folder in (DOCUMENTS, REJECTED_FOLDER):
        rows = _rows_with(out.parts(folder), doc_id, ["doc_id", "signals"])
        if rows and rows[0]["signals"]:
            return json.loads(rows[0]["signals"])
    return {}


def learned_steps(out: OutDir, doc_id: str, manifest: dict[str, Any]) -> dict[str, Any]:
    """The quality score (with the rule the run applied) and any evaluation-set overlap of a document, for
    the runs that had those steps."""
    found: dict[str, Any] = {}
    if "quality" not in manifest and "decontaminate" not in manifest:
        return found
    signals = _signals(out, doc_id)
    if "quality" in manifest:
        rule = {k: manifest["quality"].get(k) for k in ("label", "threshold", "keep_top_fraction")
                if manifest["quality"].get(k) is not None}
        cutoff = (manifest["quality"].get("selection") or {}).get("cutoff")
        found["quality"] = {**(signals.get("quality") or {"score": None}), **rule,
                            **({"cutoff": cutoff} if cutoff is not None else {})}
    if "decontaminate" in manifest:
        found["contamination"] = signals.get("decontaminate")
    return found


def _document(out: OutDir, doc_id: str) -> dict[str, Any] | None:
    """The kept document's metadata and signals (no text), or None when it was not kept."""
    cols = ["doc_id", "url", "lang", "lang_score", "license", "n_chars", "signals"]
    docs = _rows_with(out.parts(DOCUMENTS), doc_id, cols)
    if not docs:
        return None
    document = _jsonable(docs[0])
    try:
        document["signals"] = json.loads(document["signals"]) if document.get("signals") else None
    except json.JSONDecodeError:
        pass
    return document


def _shard_hashes(location: dict[str, Any], manifest: dict[str, Any]) -> None:
    tok = manifest.get("tokenize") or {}
    if tok:
        location["tokenizer_sha256"] = (tok.get("tokenizer") or {}).get("sha256")
        shard_sha = {s["path"]: s["sha256"] for s in tok.get("shards", [])}
        location["shard_sha256"] = shard_sha.get(location["path"])


def trace(out_dir: str | os.PathLike[str], doc_id: str | None = None, shard: int | None = None,
          row: int | None = None) -> dict[str, Any]:
    """The provenance of one document: its token location, provenance row(s) and document metadata."""
    out = OutDir(out_dir)
    if not out.root.is_dir():
        raise InputError(f"{out.root}: no such output directory")
    if doc_id is None:
        if shard is None or row is None:
            raise InputError("give a DOC_ID, or both --shard and --row")
        doc_id, location = shard_row_doc_id(out, shard, row)
    else:
        location = find_in_shards(out, doc_id) if out.folder(TOKENS).is_dir() else None
    prov = [_jsonable(r) for r in _rows_with(out.parts(PROVENANCE), doc_id)]
    if not prov:
        raise InputError(f"doc_id {doc_id!r} has no provenance row in {out.folder(PROVENANCE)}")
    manifest = read_manifest(out.root) if out.manifest.exists() else {}
    if location is not None:
        _shard_hashes(location, manifest)
    return {
        "doc_id": doc_id,
        "run_id": manifest.get("run_id"),
        "tokens": location,
        "provenance": prov[0] if len(prov) == 1 else prov,
        "steps_passed": steps_passed(pipeline_steps(manifest), prov[0], location is not None),
        "document": _document(out, doc_id),
        **learned_steps(out, doc_id, manifest),
    }
