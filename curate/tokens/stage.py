"""The tokenize stage: kept documents of an output directory -> `tokens/shard-*.arrow`, recorded in run.json.

Two phases, so the result is byte-identical across reruns and across worker counts: `encode`
(one task per documents part, through the executor the caller hands in) and `shards` (one
process). Documents carry no EOS token: the trainer inserts EOS between documents when packing
(GPT-2 / nanoGPT style), so a document's tokens are exactly `encode(text)`.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from curate.exec.base import Executor, Progress
from curate.tokens.arrays import nonzero, strings
from curate.tokens.config import TokenizeConfig
from curate.tokens.encode import STAGE, EncodeTask, encode_task, finished, marker_key
from curate.tokens.shards import FORMAT_VERSION, ordered_documents, write_shards
from curate.tokens.tokenizer import find_eos_id, ids_dtype, load_tokenizer, resolve_tokenizer
from provenance.errors import InputError
from provenance.manifest import now_iso, read_manifest, write_manifest
from provenance.outdir import DOCUMENTS, PROVENANCE, TOKENIZER, OutDir, sha256_file
from provenance.schema import KEPT


def document_parts(out: OutDir) -> list[Path]:
    parts = out.parts(DOCUMENTS)
    if not parts:
        raise InputError(f"{out.folder(DOCUMENTS)}: no {DOCUMENTS}/*.parquet (run `assay curate` first)")
    return parts


def kept_doc_ids(out: OutDir) -> pa.Array | None:
    """doc_ids whose provenance decision is `kept`; None when the directory has no provenance/."""
    parts = out.parts(PROVENANCE)
    if not parts:
        return None
    ids = []
    for p in parts:
        t = pq.ParquetFile(p).read(columns=["doc_id", "decision"])  # not read_table: see tokens/arrays.py
        ids.append(t.filter(pc.is_in(t["decision"], value_set=strings([KEPT])))["doc_id"].combine_chunks())
    return pa.concat_arrays(ids)


def skip_rows(parts: list[Path], kept: pa.Array | None) -> dict[str, list[int]]:
    """Per part, the rows of documents/ whose provenance decision is not `kept` (e.g. taken down)."""
    if kept is None:
        return {}
    skip = {}
    for p in parts:
        ids = pq.ParquetFile(p).read(columns=["doc_id"])["doc_id"]
        rows = nonzero(pc.invert(pc.is_in(ids, value_set=kept))).tolist()
        if rows:
            skip[p.name] = rows
    return skip


def kept_documents(root: str | Path, batch_rows: int = 1024) -> Iterator[tuple[str, str]]:
    """(doc_id, text) of a corpus's kept documents, in the order this stage tokenizes them."""
    out = OutDir(root)
    parts = document_parts(out)
    skip = skip_rows(parts, kept_doc_ids(out))
    for p in parts:
        drop, row = set(skip.get(p.name, ())), 0
        for batch in pq.ParquetFile(p).iter_batches(batch_size=batch_rows, columns=["doc_id", "text"]):
            for doc_id, text in zip(batch.column(0).to_pylist(), batch.column(1).to_pylist(), strict=True):
                if row not in drop:
                    yield doc_id, text or ""
                row += 1


def encode_parts(out: OutDir, parts: list[Path], skip: dict[str, list[int]], tok_path: Path,
                 executor: Executor, progress: bool) -> dict[str, dict[str, Any]]:
    """Phase 1 over every part through the executor; parts whose marker matches are reused.

    Returns, per part, its marker's key and result (the `parts` list of run.json).
    """
    tok_sha = sha256_file(tok_path)
    tasks = [EncodeTask(str(out.root), p.name, str(tok_path), marker_key(p, tok_sha, skip.get(p.name, [])),
                        skip.get(p.name, []), p.stat().st_size) for p in parts]
    done = {t.part: r for t in tasks if (r := finished(t)) is not None}
    with Progress("tokenize", len(tasks), progress) as bar:
        for t, result in executor.map(encode_task, tasks, is_done=lambda t: t.part in done,
                                      cost=lambda t: t.size, progress=bar):
            done[t.part] = result
    return {t.part: {**t.key, **done[t.part]} for t in tasks}


def tokenize_documents(root: str | Path, cfg: TokenizeConfig, executor: Executor,
                       progress: bool = True) -> dict[str, Any]:
    """Tokenize OUT/documents into OUT/tokens/shard-*.arrow; add the `tokenize` section to run.json and
    return it. Only documents whose provenance decision is `kept` are encoded."""
    out, started = OutDir(root), now_iso()
    run_id = str(read_manifest(out.root).get("run_id", ""))
    parts = document_parts(out)
    skip = skip_rows(parts, kept_doc_ids(out))
    tok_path, tok_source = resolve_tokenizer(out, cfg, parts, skip)
    tok = load_tokenizer(tok_path)
    vocab_size, eos_id = tok.get_vocab_size(with_added_tokens=True), find_eos_id(tok)
    dtype, tok_sha = ids_dtype(vocab_size), sha256_file(tok_path)
    markers = encode_parts(out, parts, skip, tok_path, executor, progress)
    encoded = [out.work_file(STAGE, p.stem, ".arrow") for p in parts]
    table = ordered_documents(encoded, dtype, cfg.shuffle_seed)
    meta = {"tokenizer_sha256": tok_sha, "run_id": run_id, "eos_id": eos_id, "vocab_size": vocab_size}
    shards = write_shards(out, table, dtype, cfg.shard_tokens, meta)
    section = {
        "tokenizer": {"path": TOKENIZER, "sha256": tok_sha, "source": tok_source, "vocab_size": vocab_size,
                      "eos_id": eos_id, "eos_token": tok.id_to_token(eos_id), "dtype": dtype.name},
        "config": {"tokenizer": str(cfg.tokenizer) if cfg.tokenizer is not None else None,
                   "train_vocab_size": None if cfg.tokenizer is not None else cfg.vocab_size,
                   "shard_tokens": cfg.shard_tokens, "shuffle_seed": cfg.shuffle_seed,
                   "format_version": FORMAT_VERSION},
        "parts": [markers[p.name] for p in parts], "shards": shards, "n_docs": int(len(table)),
        "n_skipped_not_kept": sum(len(v) for v in skip.values()),
        "n_tokens": int(sum(s["n_tokens"] for s in shards)), "started": started, "ended": now_iso(),
    }
    manifest = read_manifest(out.root)  # re-read: keep whatever else was written meanwhile
    manifest["tokenize"] = section
    write_manifest(out.root, manifest)
    return section
