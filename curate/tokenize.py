"""Tokenize a curated output directory into Arrow token shards that keep every document's id.

Two phases, so the result is byte-identical across reruns and across worker counts:

1. encode (parallel, one task per `documents/part-*.parquet`): each task encodes the part's
   kept documents with HF `tokenizers`' Rust batch encoder and writes
   `_work/tokenize/<part>.arrow`, then its completion marker `<part>.done` (last, atomically).
   A rerun skips parts whose marker matches the same input file and tokenizer.
2. shard (one process, a memory copy): concatenate the parts in part order (or a seeded
   permutation of all documents), cut them into shards of about `shard_tokens` tokens and write
   `tokens/shard-NNNNN.arrow` (the format `curate.tokens.TokenShards` reads).

Documents carry no EOS token: the trainer inserts EOS between documents when packing
(GPT-2 / nanoGPT style), so a document's tokens are exactly `encode(text)`.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from tokenizers import Tokenizer

from provenance.manifest import now_iso, read_manifest, sha256_file, write_manifest
from provenance.schema import KEPT

EOS_TOKEN = "<|endoftext|>"  # GPT-2's document separator (Radford et al. 2019); also GPT-NeoX, Pythia
# Names other tokenizers use for their end-of-document token (Llama 2: </s>, Llama 3: <|end_of_text|>).
EOS_CANDIDATES = (EOS_TOKEN, "<|end_of_text|>", "</s>", "<eos>", "<|eos|>", "<|im_end|>")
FORMAT_VERSION = "1"
DEFAULT_SHARD_TOKENS = 50_000_000  # ~100 MB of uint16 per shard, nanoGPT/fineweb-edu shard scale (100M tokens)
ENCODE_BATCH_DOCS = 512  # documents per Rust encode_batch call: enough to keep its threads busy
MAX_LIST_VALUES = 2**31 - 1  # Arrow `list` has int32 offsets: a shard may hold at most this many tokens

TOKEN_FIELDS = ("doc_id", "input_ids", "n_tokens")


# ---------------------------------------------------------------------------- tokenizer


def ids_dtype(vocab_size: int) -> np.dtype:
    """uint16 while every id fits (ids 0..65535, so vocab_size <= 65536), else uint32."""
    if vocab_size <= 0:
        raise ValueError(f"vocab_size must be positive, got {vocab_size}")
    return np.dtype(np.uint16) if vocab_size <= 2**16 else np.dtype(np.uint32)


def load_tokenizer(path: str | os.PathLike[str]) -> Tokenizer:
    """Load an HF `tokenizer.json` (ours, GPT-2's, Llama's...), with a one-line error when it isn't one."""
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"tokenizer file not found: {p}")
    if not p.is_file():
        raise ValueError(f"{p}: not a file (expected an HF tokenizers tokenizer.json)")
    try:
        return Tokenizer.from_file(str(p))
    except Exception as e:  # tokenizers raises a bare Exception for JSON/format errors
        first = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise ValueError(f"{p}: not an HF tokenizers tokenizer.json ({first[:200]})") from None


def train_tokenizer(texts_iter: Iterable[str], vocab_size: int) -> Tokenizer:
    """Train a byte-level BPE (GPT-2 recipe, Radford et al. 2019): lossless on any UTF-8 text.

    Deterministic for the same texts in the same order (checked by test_train_is_deterministic).
    """
    from tokenizers import decoders, models, pre_tokenizers, trainers

    n_bytes = len(pre_tokenizers.ByteLevel.alphabet())  # 256
    if vocab_size < n_bytes + 1:
        raise ValueError(f"vocab_size {vocab_size} is too small for byte-level BPE (needs >= {n_bytes + 1})")
    tok = Tokenizer(models.BPE())
    # add_prefix_space=False: text is encoded as is, so decode(encode(text)) == text.
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=2,  # GPT-2/HF default recipe: a merge must occur at least twice
        special_tokens=[EOS_TOKEN],  # id 0
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),  # all 256 bytes: no unknown tokens
        show_progress=False,
    )
    tok.train_from_iterator(texts_iter, trainer=trainer)
    return tok


def find_eos_id(tok: Tokenizer) -> int:
    for name in EOS_CANDIDATES:
        i = tok.token_to_id(name)
        if i is not None:
            return i
    raise ValueError(f"tokenizer has no end-of-document token (looked for {', '.join(EOS_CANDIDATES)})")


def _prepare(tok: Tokenizer) -> Tokenizer:
    # Text that happens to contain "<|endoftext|>" must encode as text, not as the control token
    # (special-token injection; tiktoken refuses it by default for the same reason).
    tok.encode_special_tokens = True
    tok.no_padding()
    tok.no_truncation()
    return tok


# ---------------------------------------------------------------------------- inputs


def document_parts(out_dir: Path) -> list[Path]:
    parts = sorted((out_dir / "documents").glob("*.parquet"))
    if not parts:
        raise FileNotFoundError(f"{out_dir / 'documents'}: no documents/*.parquet (run `assay curate` first)")
    return parts


def kept_doc_ids(out_dir: Path) -> pa.Array | None:
    """doc_ids whose provenance decision is `kept`; None when the directory has no provenance/."""
    parts = sorted((out_dir / "provenance").glob("*.parquet"))
    if not parts:
        return None
    ids = []
    for p in parts:
        t = pq.read_table(p, columns=["doc_id", "decision"])
        ids.append(t.filter(pc.equal(t["decision"], KEPT))["doc_id"].combine_chunks())
    return pa.concat_arrays(ids) if ids else pa.array([], pa.string())


def iter_texts(parts: list[Path], skip: dict[str, list[int]], batch_rows: int = 1024) -> Iterator[str]:
    """Kept documents' texts in part order, then row order (the deterministic training order)."""
    for p in parts:
        drop = set(skip.get(p.name, ()))
        row = 0
        for batch in pq.ParquetFile(p).iter_batches(batch_size=batch_rows, columns=["text"]):
            for text in batch.column(0).to_pylist():
                if row not in drop:
                    yield text or ""
                row += 1


# ---------------------------------------------------------------------------- phase 1: encode a part


def _atomic_write_bytes(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def encode_batch(tok: Tokenizer, texts: list[str], dtype: np.dtype) -> pa.ListArray:
    """Encode texts into one Arrow list array of ids (no special tokens added)."""
    encode = getattr(tok, "encode_batch_fast", tok.encode_batch)  # _fast skips offsets (tokenizers >= 0.20)
    encs = encode(texts, add_special_tokens=False)
    ids = [np.asarray(e.ids, dtype=dtype) for e in encs]
    lengths = np.fromiter((len(a) for a in ids), dtype=np.int64, count=len(ids))
    offsets = np.zeros(len(ids) + 1, dtype=np.int32)
    np.cumsum(lengths, out=offsets[1:])
    flat = np.concatenate(ids) if ids else np.zeros(0, dtype=dtype)
    return pa.ListArray.from_arrays(pa.array(offsets), pa.array(flat))


def encode_part(
    part: str, out_dir: str, tokenizer_path: str, marker: dict[str, Any], skip_rows: list[int]
) -> dict[str, Any]:
    """One task: encode `documents/<part>` into `_work/tokenize/<stem>.arrow`, then write its marker."""
    root = Path(out_dir)
    work = root / "_work" / "tokenize"
    stem = Path(part).stem
    tok = _prepare(load_tokenizer(tokenizer_path))
    dtype = ids_dtype(tok.get_vocab_size(with_added_tokens=True))
    schema = token_schema(dtype)
    drop = set(skip_rows)
    tmp = work / f"{stem}.arrow.tmp"
    n_docs = n_tokens = row = 0
    with pa.OSFile(str(tmp), "wb") as sink, pa.ipc.new_file(sink, schema) as writer:
        pf = pq.ParquetFile(root / "documents" / part)
        for batch in pf.iter_batches(batch_size=ENCODE_BATCH_DOCS, columns=["doc_id", "text"]):
            doc_ids = batch.column(0).to_pylist()
            texts = batch.column(1).to_pylist()
            keep = [i for i in range(len(texts)) if row + i not in drop]
            row += len(texts)
            if len(keep) < len(texts):
                doc_ids = [doc_ids[i] for i in keep]
                texts = [texts[i] for i in keep]
            if not texts:
                continue
            ids = encode_batch(tok, [t or "" for t in texts], dtype)
            lengths = pc.list_value_length(ids).cast(pa.int64())
            writer.write_batch(pa.record_batch([pa.array(doc_ids, pa.string()), ids, lengths], schema=schema))
            n_docs += len(texts)
            n_tokens += int(pc.sum(lengths).as_py() or 0)
    os.replace(tmp, work / f"{stem}.arrow")
    done = {**marker, "n_docs": n_docs, "n_tokens": n_tokens, "n_skipped": len(drop)}
    _atomic_write_bytes(work / f"{stem}.done", (json.dumps(done, sort_keys=True) + "\n").encode())
    return done


# ---------------------------------------------------------------------------- phase 2: shards


def token_schema(dtype: np.dtype, metadata: dict[str, str] | None = None) -> pa.Schema:
    value = pa.uint16() if np.dtype(dtype) == np.uint16 else pa.uint32()
    schema = pa.schema(
        [
            pa.field("doc_id", pa.string(), nullable=False),
            pa.field("input_ids", pa.list_(value), nullable=False),
            pa.field("n_tokens", pa.int64(), nullable=False),
        ]
    )
    return schema.with_metadata({f"assay.{k}": str(v) for k, v in metadata.items()}) if metadata else schema


def plan_shards(n_tokens: np.ndarray, shard_tokens: int) -> list[tuple[int, int]]:
    """Greedy cut of documents (in order) into [start, stop) ranges of >= shard_tokens tokens (last may be
    smaller), never over Arrow's int32 list-offset limit."""
    cuts, start, acc = [], 0, 0
    for i, n in enumerate(n_tokens.tolist()):
        if acc and acc + n > MAX_LIST_VALUES:
            cuts.append((start, i))
            start, acc = i, 0
        acc += n
        if acc >= shard_tokens:
            cuts.append((start, i + 1))
            start, acc = i + 1, 0
    if start < len(n_tokens) or not cuts:
        cuts.append((start, len(n_tokens)))
    return cuts


def write_shard(path: Path, table: pa.Table, schema: pa.Schema) -> None:
    """One record batch per shard, so the reader gets zero-copy views; temp file + rename."""
    columns = [table[name].combine_chunks() for name in TOKEN_FIELDS]
    rb = pa.record_batch(columns, schema=schema)
    tmp = path.with_name(path.name + ".tmp")
    with pa.OSFile(str(tmp), "wb") as sink, pa.ipc.new_file(sink, schema) as writer:
        writer.write_batch(rb)
    os.replace(tmp, path)


# ---------------------------------------------------------------------------- driver


def _resolve_tokenizer(
    out: Path, tokenizer: str | os.PathLike[str] | None, train_vocab_size: int | None, parts: list[Path],
    skip: dict[str, list[int]],
) -> tuple[Path, str]:
    """Put the tokenizer at OUT/tokenizer.json; return (path, how it was obtained)."""
    target = out / "tokenizer.json"
    if tokenizer is not None and train_vocab_size is not None:
        raise ValueError("give either a tokenizer file or a vocabulary size to train one, not both")
    if train_vocab_size is not None:
        tok = train_tokenizer(iter_texts(parts, skip), train_vocab_size)
        _atomic_write_bytes(target, tok.to_str(pretty=True).encode())
        return target, f"trained: byte-level BPE, vocab {train_vocab_size}, on the kept documents"
    if tokenizer is None:
        if target.exists():
            load_tokenizer(target)
            return target, "existing OUT/tokenizer.json"
        raise ValueError("no tokenizer: pass a tokenizer.json, or train one (--train-tokenizer --vocab-size N)")
    src = Path(tokenizer)
    load_tokenizer(src)  # validate before copying
    if not (target.exists() and target.resolve() == src.resolve()):
        _atomic_write_bytes(target, src.read_bytes())
    return target, f"given: {src}"


def _skip_rows(parts: list[Path], kept: pa.Array | None) -> dict[str, list[int]]:
    """Per part, the rows of documents/ whose provenance decision is not `kept` (e.g. taken down)."""
    if kept is None:
        return {}
    skip = {}
    for p in parts:
        ids = pq.read_table(p, columns=["doc_id"])["doc_id"]
        mask = pc.invert(pc.is_in(ids, value_set=kept)).combine_chunks()
        rows = np.flatnonzero(mask.to_numpy(zero_copy_only=False)).tolist()
        if rows:
            skip[p.name] = rows
    return skip


def _want(part: Path, tok_sha: str, rows: list[int]) -> dict[str, Any]:
    """A part's marker key: what its encoded file depends on."""
    return {"part": part.name, "documents_sha256": sha256_file(part), "tokenizer_sha256": tok_sha,
            "skip_sha256": hashlib.sha256(json.dumps(rows).encode()).hexdigest()}


@dataclass(frozen=True)
class EncodeTask:
    """Encode one documents part: a picklable task for any executor."""

    out_dir: str
    part: str
    tokenizer_path: str
    key: dict[str, Any]
    skip_rows: list[int]
    size: int

    @property
    def label(self) -> str:
        return self.part


def encode_task(task: EncodeTask, report: Any) -> dict[str, Any]:
    done = encode_part(task.part, task.out_dir, task.tokenizer_path, task.key, task.skip_rows)
    report({"documents": done["n_docs"] + done["n_skipped"]})
    return done


def _encode_all(out: Path, parts: list[Path], skip: dict[str, list[int]], tok_path: Path, tok_sha: str,
                executor: Any, progress: bool) -> dict[str, dict[str, Any]]:
    """Phase 1 over every part through the executor; finished parts (marker matches) are reused."""
    from curate.exec import LocalExecutor, Progress

    work = out / "_work" / "tokenize"
    work.mkdir(parents=True, exist_ok=True)
    tasks = [EncodeTask(str(out), p.name, str(tok_path), _want(p, tok_sha, skip.get(p.name, [])),
                        skip.get(p.name, []), p.stat().st_size) for p in parts]
    markers: dict[str, dict[str, Any]] = {}
    for t in tasks:
        stem = Path(t.part).stem
        done_path = work / f"{stem}.done"
        if done_path.exists() and (work / f"{stem}.arrow").exists():
            done = json.loads(done_path.read_text())
            if all(done.get(k) == v for k, v in t.key.items()):
                markers[t.part] = done
    executor = executor or LocalExecutor(2)
    with Progress("tokenize", len(tasks), progress) as bar:
        for t, done in executor.map(encode_task, tasks, is_done=lambda t: t.part in markers,
                                    cost=lambda t: t.size, progress=bar):
            markers[t.part] = done
    return markers


def tokenize_corpus(out_dir: str | os.PathLike[str], config: Any = None, *, executor: Any = None,
                    progress: bool = True) -> dict[str, Any]:
    """Tokenize `OUT/documents` into `OUT/tokens/shard-*.arrow`; update run.json; return its `tokenize` section.

    `config` is a `TokenizeConfig` (tokenizer file, or vocab_size to train one, shard_tokens,
    shuffle_seed); `executor` runs the per-part encode tasks (default: 2 local processes).
    """
    from curate.config import TokenizeConfig

    cfg = config or TokenizeConfig()
    out = Path(out_dir)
    started = now_iso()
    manifest = read_manifest(out)
    run_id = str(manifest.get("run_id", ""))
    parts = document_parts(out)
    skip = _skip_rows(parts, kept_doc_ids(out))
    vocab = None if cfg.tokenizer is not None else cfg.vocab_size
    tok_path, tok_source = _resolve_tokenizer(out, cfg.tokenizer, vocab, parts, skip)
    tok_sha = sha256_file(tok_path)
    tok = load_tokenizer(tok_path)
    vocab_size = tok.get_vocab_size(with_added_tokens=True)
    eos_id = find_eos_id(tok)
    dtype = ids_dtype(vocab_size)
    markers = _encode_all(out, parts, skip, tok_path, tok_sha, executor, progress)
    table, shards = _write_shards(out, parts, dtype, cfg, {"tokenizer_sha256": tok_sha, "run_id": run_id,
                                                          "eos_id": eos_id, "vocab_size": vocab_size})
    section = {
        "tokenizer": {
            "path": "tokenizer.json", "sha256": tok_sha, "source": tok_source, "vocab_size": vocab_size,
            "eos_id": eos_id, "eos_token": tok.id_to_token(eos_id), "dtype": dtype.name,
        },
        "config": {
            "tokenizer": str(cfg.tokenizer) if cfg.tokenizer is not None else None, "train_vocab_size": vocab,
            "shard_tokens": cfg.shard_tokens, "shuffle_seed": cfg.shuffle_seed, "format_version": FORMAT_VERSION,
        },
        "parts": [markers[p.name] for p in parts],
        "shards": shards,
        "n_docs": int(len(table)),
        "n_skipped_not_kept": sum(len(v) for v in skip.values()),
        "n_tokens": int(sum(s["n_tokens"] for s in shards)),
        "started": started,
        "ended": now_iso(),
    }
    manifest = read_manifest(out)  # re-read: keep whatever else was written meanwhile
    manifest["tokenize"] = section
    write_manifest(out, manifest)
    return section


def _write_shards(out: Path, parts: list[Path], dtype: np.dtype, cfg: Any,
                  meta: dict[str, Any]) -> tuple[pa.Table, list[dict[str, Any]]]:
    """Phase 2: the encoded parts in a deterministic order (part order, or a seeded permutation) cut into shards."""
    work = out / "_work" / "tokenize"
    tables = []
    for p in parts:
        with pa.memory_map(str(work / f"{p.stem}.arrow")) as src:
            tables.append(pa.ipc.open_file(src).read_all())
    table = pa.concat_tables(tables) if tables else token_schema(dtype).empty_table()
    ids = table["doc_id"]
    if pc.count_distinct(ids).as_py() != len(ids):
        counts = pc.value_counts(ids)
        dup = counts.filter(pc.greater(counts.field("counts"), 1))[0]["values"].as_py()
        raise ValueError(f"documents/ holds duplicate doc_ids, e.g. {dup!r}")
    if cfg.shuffle_seed is not None:
        # numpy PCG64 (default_rng): stable across platforms and numpy versions
        order = np.random.default_rng(cfg.shuffle_seed).permutation(len(table))
        table = table.take(pa.array(order))
    lengths = table["n_tokens"].to_numpy()
    tokens_dir = out / "tokens"
    tokens_dir.mkdir(parents=True, exist_ok=True)
    shards = []
    for k, (a, b) in enumerate(plan_shards(lengths, cfg.shard_tokens)):
        n_tok = int(lengths[a:b].sum())
        path = tokens_dir / f"shard-{k:05d}.arrow"
        shard_meta = {**meta, "n_tokens": n_tok, "format_version": FORMAT_VERSION}
        write_shard(path, table.slice(a, b - a), token_schema(dtype, shard_meta))
        shards.append({"path": f"tokens/{path.name}", "sha256": sha256_file(path), "n_docs": b - a, "n_tokens": n_tok})
    keep = {s["path"].split("/")[-1] for s in shards}
    for stale in tokens_dir.glob("shard-*.arrow"):  # left by an earlier run with other settings
        if stale.name not in keep:
            stale.unlink()
    return table, shards


def clean_work(out_dir: str | os.PathLike[str]) -> None:
    """Remove the intermediate per-part files (they only speed up reruns)."""
    shutil.rmtree(Path(out_dir) / "_work" / "tokenize", ignore_errors=True)
