"""Takedown: a new corpus version without the documents a request names.

`assay takedown OUT --domain D | --url-regex R | --doc-ids FILE -o NEW` never edits OUT (training
runs may have read it); it writes NEW with
- documents/ and rejected/ without the named documents (their text is gone),
- provenance/ with every named kept document marked `taken-down`, the request id in `reason`,
- tokens/ re-sharded with OUT's own tokenizer.json (token ids stay comparable),
- run.json (kind "takedown") recording the request, the parent corpus, the shards of OUT that
  held the documents, and every training run (by its manifest) that consumed those shards.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from provenance.manifest import MANIFEST_NAME, file_entry, now_iso, read_manifest, sha256_file, write_manifest
from provenance.schema import (
    DOCUMENT_SCHEMA,
    KEPT,
    PARQUET_OPTIONS,
    PROVENANCE_SCHEMA,
    REJECTED_SCHEMA,
    TAKEN_DOWN,
)

CORPUS_KINDS = ("curate", "takedown")


class TakedownError(ValueError):
    """A request that cannot be applied (bad selector, not a corpus, NEW not empty); one line."""


def read_doc_ids(path: str | os.PathLike[str]) -> list[str]:
    """One doc_id per line; blank lines and `#` comments ignored."""
    p = Path(path)
    if not p.is_file():
        raise TakedownError(f"{p}: doc-ids file not found")
    ids = [ln.strip() for ln in p.read_text(encoding="utf-8").splitlines()]
    ids = [i for i in ids if i and not i.startswith("#")]
    if not ids:
        raise TakedownError(f"{p}: no doc_ids in the file")
    return ids


def _matcher(domain: str | None, url_regex: str | None, doc_ids: list[str] | None) -> tuple[pl.Expr, dict[str, Any]]:
    given = [x is not None for x in (domain, url_regex, doc_ids)]
    if sum(given) != 1:
        raise TakedownError("give exactly one of --domain, --url-regex, --doc-ids")
    if domain is not None:
        d = domain.strip().lower().rstrip(".")
        if not d or "/" in d or " " in d:
            raise TakedownError(f"--domain {domain!r}: not a domain name")
        col = pl.col("domain").str.to_lowercase()
        # the domain and its subdomains (a request for example.com covers www.example.com)
        return (col == d) | col.str.ends_with("." + d), {"selector": "domain", "value": d}
    if url_regex is not None:
        try:
            rx = re.compile(url_regex)
        except re.error as exc:
            raise TakedownError(f"--url-regex {url_regex!r}: {exc}") from exc
        # Python's `re` (the syntax users know), applied with re.search to every URL
        expr = pl.col("url").map_elements(lambda u: rx.search(u) is not None, return_dtype=pl.Boolean)
        return expr, {"selector": "url_regex", "value": url_regex}
    ids = sorted(set(doc_ids or []))
    digest = hashlib.sha256("\n".join(ids).encode()).hexdigest()
    return pl.col("doc_id").is_in(ids), {"selector": "doc_ids", "value": f"{len(ids)} doc_id(s), sha256 {digest}"}


def _write_parquet(table: pa.Table, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    pq.write_table(table, tmp, **PARQUET_OPTIONS)
    os.replace(tmp, path)


def _shards_holding(src: Path, doc_ids: set[str]) -> list[dict[str, Any]]:
    """OUT's token shards that hold any of the doc_ids, with their sha256."""
    hit = []
    for shard in sorted((src / "tokens").glob("*.arrow")):
        with pa.memory_map(str(shard)) as f:
            ids = pa.ipc.open_file(f).read_all().column("doc_id")
        n = pc.sum(pc.is_in(ids, value_set=pa.array(sorted(doc_ids), pa.string()))).as_py() or 0
        if n:
            hit.append({"path": str(shard.resolve()), "sha256": sha256_file(shard), "documents": int(n)})
    return hit


def find_training_runs(run_roots: list[Path], src: Path, src_run_id: str,
                       shards: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Training runs (kind "train", ROOT/*/run.json) that consumed an affected shard (matched by sha256);
    and, separately, those that name the corpus in `data` but never read an affected shard."""
    affected = {s["sha256"] for s in shards}
    seen, out, other = set(), [], []
    for root in run_roots:
        for man_path in sorted(list(root.glob(MANIFEST_NAME)) + list(root.glob(f"*/{MANIFEST_NAME}"))):
            if str(man_path.resolve()) in seen:
                continue
            seen.add(str(man_path.resolve()))
            try:
                man = json.loads(man_path.read_text())
            except (OSError, json.JSONDecodeError):
                continue
            if man.get("kind") != "train":
                continue
            used = [s for s in man.get("shards_consumed") or [] if s.get("sha256") in affected]
            names_corpus = any(
                d.get("run_id") == src_run_id or (d.get("path") and Path(d["path"]).resolve() == src.resolve())
                for d in man.get("data") or []
            )
            if used or names_corpus:
                (out if used else other).append({"manifest": str(man_path.resolve()), "manifest_sha256": sha256_file(man_path),
                            "run_id": man.get("run_id"), "status": man.get("status"),
                            "consumed_affected_shards": sorted({s["sha256"] for s in used}),
                            "first_read_at": min((s.get("first_read_at") or "" for s in used), default=None),
                            "names_corpus": names_corpus})
    return out, other


def takedown(
    src_dir: str | os.PathLike[str],
    dst_dir: str | os.PathLike[str],
    *,
    domain: str | None = None,
    url_regex: str | None = None,
    doc_ids: list[str] | None = None,
    runs: list[str | os.PathLike[str]] | None = None,
    note: str | None = None,
) -> dict[str, Any]:
    """Write the new corpus version; returns its run manifest."""
    started = now_iso()
    src, dst = Path(src_dir).resolve(), Path(dst_dir).resolve()
    try:
        parent = read_manifest(src)
    except FileNotFoundError as exc:
        raise TakedownError(str(exc)) from exc
    if parent.get("kind") not in CORPUS_KINDS:
        raise TakedownError(f"{src}: kind {parent.get('kind')!r} is not a curated corpus")
    if dst == src:
        raise TakedownError("-o NEW must differ from OUT (a takedown writes a new corpus version)")
    if dst.exists() and any(dst.iterdir()):
        raise TakedownError(f"{dst}: exists and is not empty")
    match, request = _matcher(domain, url_regex, doc_ids)
    if note:
        request["note"] = note
    parent_sha = sha256_file(src / MANIFEST_NAME)
    request_id = "td-" + hashlib.sha256(
        json.dumps({"parent": parent.get("run_id"), "manifest": parent_sha, **request}, sort_keys=True).encode()
    ).hexdigest()[:16]
    reason = f"{request_id}: {request['selector']}={request['value']}"

    prov_parts = sorted((src / "provenance").glob("*.parquet"))
    if not prov_parts:
        raise TakedownError(f"{src}: no provenance/*.parquet")
    matched_ids: set[str] = set()
    removed_kept: set[str] = set()
    counts = {"records": 0, "taken_down": 0}
    for part in prov_parts:
        df = pl.read_parquet(part)
        hit = df.select(match.fill_null(False)).to_series()
        matched_ids.update(df.filter(hit)["doc_id"].to_list())
        take = hit & (df["decision"] == KEPT)
        removed_kept.update(df.filter(take)["doc_id"].to_list())
        df = df.with_columns(
            decision=pl.when(take).then(pl.lit(TAKEN_DOWN)).otherwise(pl.col("decision")),
            step=pl.when(take).then(pl.lit("takedown")).otherwise(pl.col("step")),
            reason=pl.when(take).then(pl.lit(reason)).otherwise(pl.col("reason")),
            run_id=pl.when(take).then(pl.lit(request_id)).otherwise(pl.col("run_id")),
        )
        counts["records"] += df.height
        counts["taken_down"] += int(take.sum())
        _write_parquet(df.to_arrow().cast(PROVENANCE_SCHEMA), dst / "provenance" / part.name)

    removed_rejected = 0
    for sub, schema in (("documents", DOCUMENT_SCHEMA), ("rejected", REJECTED_SCHEMA)):
        for part in sorted((src / sub).glob("*.parquet")):
            t = pq.read_table(part)
            keep = pc.invert(pc.is_in(t["doc_id"], value_set=pa.array(sorted(matched_ids), pa.string())))
            if sub == "rejected":
                removed_rejected += len(t) - pc.sum(keep).as_py() if len(t) else 0
            _write_parquet(t.filter(keep).cast(schema), dst / sub / part.name)

    affected_shards = _shards_holding(src, removed_kept)
    roots = [Path(r).resolve() for r in runs] if runs else [src.parent]
    training, unaffected = find_training_runs(roots, src, str(parent.get("run_id")), affected_shards)

    prov = pl.read_parquet(dst / "provenance" / "*.parquet", columns=["decision", "step"])
    by_decision = dict(sorted(prov.group_by("decision").len().iter_rows()))
    by_step = prov.filter(pl.col("decision") != KEPT).group_by(["decision", "step"]).len().sort(["decision", "step"]).to_dicts()
    section = {
        "request_id": request_id, "request": request, "requested_at": started,
        "removed_documents": len(removed_kept), "matched_records": len(matched_ids),
        "removed_rejected_texts": int(removed_rejected), "affected_shards": affected_shards,
        "affected_training_runs": training, "unaffected_training_runs_of_corpus": unaffected,
        "run_roots": [str(r) for r in roots],
    }
    history = [*(parent.get("takedowns_before") or []), *([parent["takedown"]] if parent.get("takedown") else [])]
    manifest: dict[str, Any] = {
        "kind": "takedown",
        "run_id": request_id,
        "parent": {"path": str(src), "run_id": parent.get("run_id"), "manifest_sha256": parent_sha},
        "config": parent.get("config"),
        "inputs": parent.get("inputs"),  # the WARC files the corpus still comes from
        "counts": {**by_decision, "records": counts["records"], "by_step": by_step},
        "takedown": section,
        "takedowns_before": history,
        "started_at": started,
    }
    write_manifest(dst, manifest)

    tok_section = parent.get("tokenize")
    if tok_section and (src / "tokenizer.json").exists():
        from curate.tokenize import clean_work, tokenize_corpus

        shutil.copyfile(src / "tokenizer.json", dst / "tokenizer.json")
        cfg = tok_section.get("config") or {}
        from curate.config import TokenizeConfig
        from curate.exec import LocalExecutor

        tok_cfg = TokenizeConfig(tokenizer=dst / "tokenizer.json", shard_tokens=int(cfg.get("shard_tokens") or 50_000_000),
                                 shuffle_seed=cfg.get("shuffle_seed"))
        tokenize_corpus(dst, tok_cfg, executor=LocalExecutor(1), progress=False)
        clean_work(dst)
        shutil.rmtree(dst / "_work", ignore_errors=True)
        manifest = read_manifest(dst)
    files = sorted(p for sub in ("provenance", "documents", "rejected", "tokens") for p in (dst / sub).glob("*") if p.is_file())
    files += [dst / "tokenizer.json"] if (dst / "tokenizer.json").exists() else []
    manifest["outputs"] = [file_entry(p, dst) for p in files]
    manifest["ended_at"] = now_iso()
    write_manifest(dst, manifest)
    return manifest
