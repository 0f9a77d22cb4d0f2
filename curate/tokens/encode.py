"""Phase 1 of tokenizing: one task per `documents/part-*.parquet`, encoded into `_work/tokenize/<part>.arrow`.

Each task encodes the part's kept documents with HF `tokenizers`' Rust batch encoder, writes its
file, then its completion marker, whose key is what the file depends on (the part's sha256, the
tokenizer's, the rows skipped); a rerun skips parts whose marker matches.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from tokenizers import Tokenizer

from curate.exec.base import Report
from curate.tokens.arrays import from_numpy, to_numpy
from curate.tokens.shards import token_schema
from curate.tokens.tokenizer import find_eos_id, ids_dtype, load_tokenizer, prepare
from provenance.outdir import DOCUMENTS, OutDir, read_marker, sha256_file, write_arrow, write_marker

STAGE = "tokenize"  # the work folder and marker stage of this phase
ENCODE_BATCH_DOCS = 512  # documents per Rust encode_batch call: enough to keep its threads busy


@dataclass(frozen=True)
class EncodeTask:
    """Encode one documents part: a picklable task for any executor."""

    root: str
    part: str  # the file name in documents/
    tokenizer_path: str
    key: dict[str, Any]
    skip_rows: list[int]  # rows of the part whose provenance decision is not `kept`
    size: int

    @property
    def label(self) -> str:
        return self.part

    @property
    def stem(self) -> str:
        return Path(self.part).stem


def marker_key(part: Path, tokenizer_sha256: str, skip_rows: list[int]) -> dict[str, Any]:
    """What a part's encoded file depends on."""
    return {"part": part.name, "documents_sha256": sha256_file(part), "tokenizer_sha256": tokenizer_sha256,
            "skip_sha256": hashlib.sha256(json.dumps(skip_rows).encode()).hexdigest()}


def finished(task: EncodeTask) -> dict[str, Any] | None:
    """The part's result when its file exists and its marker matches the task's key; else None."""
    out = OutDir(task.root)
    if not out.work_file(STAGE, task.stem, ".arrow").exists():
        return None
    return read_marker(out.marker(STAGE, task.stem), task.key)


def encode_batch(tok: Tokenizer, texts: list[str], dtype: np.dtype) -> pa.ListArray:
    """Encode texts into one Arrow list array of ids (no special tokens added)."""
    encode = getattr(tok, "encode_batch_fast", tok.encode_batch)  # _fast skips offsets (tokenizers >= 0.20)
    encs = encode(texts, add_special_tokens=False)
    ids = [np.asarray(e.ids, dtype=dtype) for e in encs]
    lengths = np.fromiter((len(a) for a in ids), dtype=np.int64, count=len(ids))
    offsets = np.zeros(len(ids) + 1, dtype=np.int32)
    np.cumsum(lengths, out=offsets[1:])
    flat = np.concatenate(ids) if ids else np.zeros(0, dtype=dtype)
    return pa.ListArray.from_arrays(from_numpy(offsets), from_numpy(flat))


def encode_texts(tokenizer_path: str | Path, texts: list[str]) -> tuple[list[np.ndarray], int]:
    """Each text's ids exactly as this stage encodes a document (no EOS), and the tokenizer's EOS id:
    for text that is not in a corpus (an evaluation set)."""
    tok = prepare(load_tokenizer(tokenizer_path))
    if not texts:
        return [], find_eos_id(tok)
    ids = encode_batch(tok, texts, ids_dtype(tok.get_vocab_size(with_added_tokens=True)))
    offsets, values = to_numpy(ids.offsets), to_numpy(ids.values)
    return [values[offsets[i]:offsets[i + 1]] for i in range(len(texts))], find_eos_id(tok)


def _encoded_batches(path: Path, tok: Tokenizer, dtype: np.dtype, drop: set[int],
                     counts: dict[str, int]) -> Iterator[pa.RecordBatch]:
    """(doc_id, input_ids, n_tokens) batches of the part's rows not in `drop`; adds to `counts`."""
    schema = token_schema(dtype)
    row = 0
    for batch in pq.ParquetFile(path).iter_batches(batch_size=ENCODE_BATCH_DOCS, columns=["doc_id", "text"]):
        keep = [i for i in range(batch.num_rows) if row + i not in drop]
        row += batch.num_rows
        if len(keep) < batch.num_rows:
            batch = batch.take(from_numpy(np.asarray(keep, dtype=np.int64)))
        if not batch.num_rows:
            continue
        ids = encode_batch(tok, [t or "" for t in batch.column(1).to_pylist()], dtype)
        lengths = pc.list_value_length(ids).cast(pa.int64())
        counts["n_docs"] += batch.num_rows
        counts["n_tokens"] += int(pc.sum(lengths).as_py() or 0)
        yield pa.record_batch([batch.column(0).cast(pa.string()), ids, lengths], schema=schema)


def encode_task(task: EncodeTask, report: Report) -> dict[str, Any]:
    """One task: encode the part into its work file, then write its marker; returns the marker's result."""
    out = OutDir(task.root)
    tok = prepare(load_tokenizer(task.tokenizer_path))
    dtype = ids_dtype(tok.get_vocab_size(with_added_tokens=True))
    counts = {"n_docs": 0, "n_tokens": 0}
    batches = _encoded_batches(out.part(DOCUMENTS, task.stem), tok, dtype, set(task.skip_rows), counts)
    write_arrow(out.work_file(STAGE, task.stem, ".arrow"), batches, token_schema(dtype))
    result = {**counts, "n_skipped": len(set(task.skip_rows))}
    write_marker(out.marker(STAGE, task.stem), task.key, result)
    report({"documents": counts["n_docs"] + result["n_skipped"]})
    return result
