"""Read token shards (`OUT/tokens/shard-*.arrow`) memory-mapped: the contract between tokenizer and trainer.

Every shard is an Arrow IPC file, one row per document (`doc_id`, `input_ids`, `n_tokens`), so any
token can be traced to its document and from there to its WARC record (`assay trace`). Opening
the shards reads only their footers and metadata; documents are zero-copy numpy views into the
mapped files, so the OS page cache, not Python, holds the corpus.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa

from provenance.errors import InputError
from provenance.outdir import TOKENS, OutDir, sha256_file

META_KEYS = ("tokenizer_sha256", "run_id", "eos_id", "vocab_size", "n_tokens", "format_version")


class _Shard:
    """One memory-mapped shard; its arrays are views, never copies (unless the file has several batches)."""

    def __init__(self, path: Path):
        self.path = path
        self._mmap = pa.memory_map(str(path))
        try:
            reader = pa.ipc.open_file(self._mmap)
        except pa.ArrowInvalid as e:
            raise InputError(f"{path}: not an Arrow IPC token shard ({e})") from None
        self.schema = reader.schema
        missing = {"doc_id", "input_ids", "n_tokens"} - set(self.schema.names)
        if missing:
            raise InputError(f"{path}: not a token shard, missing columns {sorted(missing)}")
        raw = self.schema.metadata or {}
        self.meta = {k.decode().removeprefix("assay."): v.decode() for k, v in raw.items()}
        table = reader.read_all()  # zero-copy over the memory map: touches no data pages
        if table["input_ids"].num_chunks > 1:
            table = table.combine_chunks()
        self.n_docs = table.num_rows
        self._table = table
        col = table["input_ids"]
        self.value_type = col.type.value_type
        arr = col.chunk(0) if col.num_chunks else pa.array([], col.type)
        self._offsets = arr.offsets.to_numpy()  # int32, absolute into `values`
        self._values = arr.values.to_numpy(zero_copy_only=True) if len(arr.values) else np.zeros(
            0, dtype=self.value_type.to_pandas_dtype()
        )
        meta_tokens = self.meta.get("n_tokens")
        n_values = int(self._offsets[-1] - self._offsets[0])
        self.n_tokens = int(meta_tokens) if meta_tokens is not None else n_values

    def doc(self, row: int) -> np.ndarray:
        return self._values[self._offsets[row] : self._offsets[row + 1]]

    def doc_lengths(self) -> np.ndarray:
        return self._table["n_tokens"].to_numpy()

    def span(self, start: int, stop: int) -> np.ndarray:
        """Tokens [start, stop) of this shard's concatenated documents (a view)."""
        base = self._offsets[0]
        return self._values[base + start : base + stop]

    def doc_ids(self) -> list[str]:
        return self._table["doc_id"].to_pylist()

    def doc_id(self, row: int) -> str:
        return self._table["doc_id"][row].as_py()


class TokenShards:
    """Random access by document and by global token offset over a directory of token shards."""

    def __init__(self, path: str | os.PathLike[str]):
        root = Path(path)
        tokens_dir = OutDir(root).folder(TOKENS) if OutDir(root).folder(TOKENS).is_dir() else root
        if not tokens_dir.is_dir():
            raise InputError(f"{root}: no such directory (expected OUT or OUT/{TOKENS})")
        self.root = tokens_dir
        self.shard_paths: list[Path] = sorted(tokens_dir.glob("*.arrow"))
        if not self.shard_paths:
            raise InputError(f"{tokens_dir}: no *.arrow token shards (run `assay tokenize` first)")
        self._shards = [_Shard(p) for p in self.shard_paths]
        first = self._shards[0]
        for s in self._shards[1:]:
            for key in ("tokenizer_sha256", "eos_id", "vocab_size"):
                if s.meta.get(key) != first.meta.get(key):
                    raise InputError(f"{s.path}: {key} {s.meta.get(key)!r} differs from "
                                     f"{first.path}'s {first.meta.get(key)!r}")
            if s.value_type != first.value_type:
                raise InputError(f"{s.path}: input_ids type {s.value_type} differs from "
                                 f"{first.path}'s {first.value_type}")
        self.tokenizer_sha256: str = first.meta.get("tokenizer_sha256", "")
        self.run_id: str = first.meta.get("run_id", "")
        self.eos_id: int = int(first.meta["eos_id"]) if "eos_id" in first.meta else -1
        self.vocab_size: int = int(first.meta["vocab_size"]) if "vocab_size" in first.meta else -1
        self.dtype: np.dtype = np.dtype(first.value_type.to_pandas_dtype())
        counts = np.array([s.n_docs for s in self._shards], dtype=np.int64)
        self._doc_starts = np.concatenate([[0], np.cumsum(counts)])
        tok_counts = np.array([s.n_tokens for s in self._shards], dtype=np.int64)
        self._shard_tok_starts = np.concatenate([[0], np.cumsum(tok_counts)])
        self.n_docs: int = int(self._doc_starts[-1])
        self.n_tokens: int = int(self._shard_tok_starts[-1])
        self._tok_starts: np.ndarray | None = None  # per document, built on first token-offset query
        self._index: dict[str, int] | None = None
        self._sha: dict[int, str] = {}

    # -- per shard
    def shard_sha256(self, i: int) -> str:
        if i not in self._sha:
            self._sha[i] = sha256_file(self.shard_paths[i])
        return self._sha[i]

    def shard_n_tokens(self, i: int) -> int:
        return self._shards[i].n_tokens

    def shard_n_docs(self, i: int) -> int:
        return self._shards[i].n_docs

    # -- by document
    def __len__(self) -> int:
        return self.n_docs

    def _check_doc(self, i: int) -> int:
        if i < 0:
            i += self.n_docs
        if not 0 <= i < self.n_docs:
            raise IndexError(f"document {i} out of range (0..{self.n_docs - 1})")
        return i

    def doc_shard(self, i: int) -> tuple[int, int]:
        i = self._check_doc(i)
        s = int(np.searchsorted(self._doc_starts, i, side="right")) - 1
        return s, i - int(self._doc_starts[s])

    def doc(self, i: int) -> np.ndarray:
        s, r = self.doc_shard(i)
        return self._shards[s].doc(r)

    def doc_id(self, i: int) -> str:
        s, r = self.doc_shard(i)
        return self._shards[s].doc_id(r)

    def index_of(self, doc_id: str) -> int:
        if self._index is None:
            index: dict[str, int] = {}
            for s, shard in enumerate(self._shards):
                base = int(self._doc_starts[s])
                for r, d in enumerate(shard.doc_ids()):
                    index[d] = base + r
            self._index = index
        try:
            return self._index[doc_id]
        except KeyError:
            raise KeyError(f"doc_id {doc_id!r} is not in {self.root}") from None

    # -- by global token offset (documents concatenated in shard order, no EOS)
    @property
    def doc_token_starts(self) -> np.ndarray:
        """Global token offset of every document, plus n_tokens at the end (reads only `n_tokens`)."""
        if self._tok_starts is None:
            lengths = [s.doc_lengths() for s in self._shards]
            self._tok_starts = np.concatenate([[0], np.cumsum(np.concatenate(lengths), dtype=np.int64)])
        return self._tok_starts

    def locate(self, token_offset: int) -> tuple[int, int]:
        if not 0 <= token_offset < self.n_tokens:
            raise IndexError(f"token offset {token_offset} out of range (0..{self.n_tokens - 1})")
        starts = self.doc_token_starts
        d = int(np.searchsorted(starts, token_offset, side="right")) - 1  # skips empty documents
        return d, token_offset - int(starts[d])

    def tokens(self, start: int, stop: int) -> np.ndarray:
        """Tokens [start, stop) across documents and shards; a view when the range lies in one shard."""
        start, stop = max(0, start), min(stop, self.n_tokens)
        if stop <= start:
            return np.zeros(0, dtype=self.dtype)
        first = int(np.searchsorted(self._shard_tok_starts, start, side="right")) - 1
        pieces = []
        s = first
        while s < len(self._shards) and int(self._shard_tok_starts[s]) < stop:
            base = int(self._shard_tok_starts[s])
            end = min(stop, int(self._shard_tok_starts[s + 1]))
            pieces.append(self._shards[s].span(max(start, base) - base, end - base))
            s += 1
        return pieces[0] if len(pieces) == 1 else np.concatenate(pieces)

    def iter_docs(self, seed: int | None = None) -> Iterator[tuple[str, np.ndarray]]:
        """(doc_id, ids) in shard order, or in a seeded permutation (numpy PCG64, stable across platforms)."""
        if seed is None:
            for shard in self._shards:
                for r, d in enumerate(shard.doc_ids()):
                    yield d, shard.doc(r)
            return
        for i in np.random.default_rng(seed).permutation(self.n_docs).tolist():
            s, r = self.doc_shard(i)
            yield self._shards[s].doc_id(r), self._shards[s].doc(r)

    def __repr__(self) -> str:
        return (f"TokenShards({str(self.root)!r}, shards={len(self.shard_paths)}, docs={self.n_docs}, "
                f"tokens={self.n_tokens})")
