"""Write the new corpus version of a takedown.

`assay takedown OUT --domain D | --url-regex R | --doc-ids FILE -o NEW` never edits OUT (training
runs may have read it); it writes NEW with
- documents/ and rejected/ without the named documents (their text is gone),
- provenance/ with every named kept document marked `taken-down`, the request id in `reason`,
- tokens/ re-sharded with OUT's own tokenizer.json (token ids stay comparable),
- run.json (kind "takedown") recording the request, the parent corpus, the shards of OUT that
  held the documents, and every training run (by its manifest) that consumed those shards.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from curate.exec import make_executor
from curate.removal.affected import find_training_runs, shards_holding
from curate.removal.request import TakedownError, request_id, selector
from curate.tokens.config import TokenizeConfig
from curate.tokens.stage import tokenize_documents
from provenance.errors import InputError
from provenance.manifest import now_iso, read_manifest, write_manifest
from provenance.outdir import (
    CORPUS_KINDS,
    DOCUMENTS,
    PROVENANCE,
    REJECTED,
    WORK,
    OutDir,
    claim,
    list_outputs,
    sha256_file,
    write_bytes,
    write_parquet,
)
from provenance.schema import DOCUMENT_SCHEMA, KEPT, PROVENANCE_SCHEMA, REJECTED_SCHEMA, TAKEN_DOWN


def _parent(src: OutDir, dst: OutDir) -> dict[str, Any]:
    """The parent corpus's manifest, after checking that a new version can be written from it to `dst`."""
    parent = read_manifest(src.root)
    if parent.get("kind") not in CORPUS_KINDS:
        raise TakedownError(f"{src.root}: kind {parent.get('kind')!r} is not a curated corpus")
    if dst.root == src.root:
        raise TakedownError("-o NEW must differ from OUT (a takedown writes a new corpus version)")
    if not src.parts(PROVENANCE):
        raise TakedownError(f"{src.root}: no {PROVENANCE}/*.parquet")
    return parent


def _claim(dst: OutDir, req_id: str) -> None:
    """NEW must be new or empty, or hold this same request's unfinished version (a rerun after a crash
    then completes it, rather than being refused by the files the crash left)."""
    try:
        claim(dst.root, req_id, "takedown")
    except InputError:
        raise TakedownError(f"{dst.root}: exists and is not empty") from None


def _mark_provenance(src: OutDir, dst: OutDir, match: pl.Expr, reason: str,
                     req_id: str) -> tuple[set[str], set[str]]:
    """Copy provenance/, marking the matched kept rows taken down: (matched doc_ids, removed kept doc_ids)."""
    matched_ids: set[str] = set()
    removed_kept: set[str] = set()
    for part in src.parts(PROVENANCE):
        df = pl.read_parquet(part)
        hit = df.select(match.fill_null(False)).to_series()
        matched_ids.update(df.filter(hit)["doc_id"].to_list())
        take = hit & (df["decision"] == KEPT)
        removed_kept.update(df.filter(take)["doc_id"].to_list())
        df = df.with_columns(
            decision=pl.when(take).then(pl.lit(TAKEN_DOWN)).otherwise(pl.col("decision")),
            step=pl.when(take).then(pl.lit("takedown")).otherwise(pl.col("step")),
            reason=pl.when(take).then(pl.lit(reason)).otherwise(pl.col("reason")),
            run_id=pl.when(take).then(pl.lit(req_id)).otherwise(pl.col("run_id")),
        )
        write_parquet(dst.folder(PROVENANCE) / part.name, df.to_arrow().cast(PROVENANCE_SCHEMA))
    return matched_ids, removed_kept


def _drop_texts(src: OutDir, dst: OutDir, matched_ids: set[str]) -> int:
    """Copy documents/ and rejected/ without the matched doc_ids; returns the rejected texts removed."""
    removed_rejected = 0
    drop = pa.array(sorted(matched_ids), pa.string())
    for sub, schema in ((DOCUMENTS, DOCUMENT_SCHEMA), (REJECTED, REJECTED_SCHEMA)):
        for part in src.parts(sub):
            t = pq.read_table(part)
            keep = pc.invert(pc.is_in(t["doc_id"], value_set=drop))
            if sub == REJECTED and len(t):
                removed_rejected += len(t) - pc.sum(keep).as_py()
            write_parquet(dst.folder(sub) / part.name, t.filter(keep).cast(schema))
    return int(removed_rejected)


def _counts(dst: OutDir) -> dict[str, Any]:
    prov = pl.read_parquet(dst.folder(PROVENANCE) / "*.parquet", columns=["decision", "step"])
    by_decision = dict(sorted(prov.group_by("decision").len().iter_rows()))
    by_step = (prov.filter(pl.col("decision") != KEPT).group_by(["decision", "step"]).len()
               .sort(["decision", "step"]).to_dicts())
    return {**by_decision, "records": prov.height, "by_step": by_step}


def _retokenize(src: OutDir, dst: OutDir, parent: dict[str, Any]) -> dict[str, Any] | None:
    """Re-shard the new version with the parent's tokenizer and shard settings; its run.json afterwards."""
    tok_section = parent.get("tokenize")
    if not (tok_section and src.tokenizer.exists()):
        return None
    write_bytes(dst.tokenizer, src.tokenizer.read_bytes())
    cfg = tok_section.get("config") or {}
    tok_cfg = TokenizeConfig(tokenizer=dst.tokenizer, shard_tokens=int(cfg.get("shard_tokens") or 50_000_000),
                             shuffle_seed=cfg.get("shuffle_seed"))
    tokenize_documents(dst.root, tok_cfg, make_executor("local", 1), progress=False)
    shutil.rmtree(dst.folder(WORK), ignore_errors=True)
    return read_manifest(dst.root)


def takedown(src_dir: str | os.PathLike[str], dst_dir: str | os.PathLike[str], *, domain: str | None = None,
             url_regex: str | None = None, doc_ids: list[str] | None = None,
             runs: list[str | os.PathLike[str]] | None = None, note: str | None = None) -> dict[str, Any]:
    """Write the new corpus version; returns its run manifest."""
    started = now_iso()
    src, dst = OutDir(Path(src_dir).resolve()), OutDir(Path(dst_dir).resolve())
    parent = _parent(src, dst)
    match, request = selector(domain, url_regex, doc_ids)
    if note:
        request["note"] = note
    parent_sha = sha256_file(src.manifest)
    req_id = request_id(parent.get("run_id"), parent_sha, request)
    _claim(dst, req_id)
    reason = f"{req_id}: {request['selector']}={request['value']}"
    matched_ids, removed_kept = _mark_provenance(src, dst, match, reason, req_id)
    removed_rejected = _drop_texts(src, dst, matched_ids)
    affected_shards = shards_holding(src.root, removed_kept)
    roots = [Path(r).resolve() for r in runs] if runs else [src.root.parent]
    training, unaffected = find_training_runs(roots, src.root, str(parent.get("run_id")), affected_shards)
    section = {
        "request_id": req_id, "request": request, "requested_at": started,
        "removed_documents": len(removed_kept), "matched_records": len(matched_ids),
        "removed_rejected_texts": removed_rejected, "affected_shards": affected_shards,
        "affected_training_runs": training, "unaffected_training_runs_of_corpus": unaffected,
        "run_roots": [str(r) for r in roots],
    }
    history = [*(parent.get("takedowns_before") or []),
               *([parent["takedown"]] if parent.get("takedown") else [])]
    manifest: dict[str, Any] = {
        "kind": "takedown", "run_id": req_id,
        "parent": {"path": str(src.root), "run_id": parent.get("run_id"), "manifest_sha256": parent_sha},
        "recipe": parent.get("recipe"),  # the corpus version keeps the recipe it was curated by
        "config": parent.get("config"),
        "inputs": parent.get("inputs"),  # the WARC files the corpus still comes from
        "counts": _counts(dst), "takedown": section, "takedowns_before": history, "started_at": started,
    }
    write_manifest(dst.root, manifest)
    manifest = _retokenize(src, dst, parent) or manifest
    manifest["outputs"] = list_outputs(dst.root)
    manifest["ended_at"] = now_iso()
    write_manifest(dst.root, manifest)
    return manifest
