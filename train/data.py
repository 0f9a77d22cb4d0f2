"""Token data for training: corpora with mixing weights, packing, a document-level validation split,
and a loader state small enough to write as JSON (exact resume).

Packing: each corpus is a stream of its training documents, in a seeded per-epoch permutation,
each followed by EOS (documents in shards carry no EOS). A sample is `seq_len + 1` consecutive
tokens of that stream; the next sample from the same corpus starts `seq_len` tokens later, so
every token is a target exactly once (nanoGPT's x/y shift; GPT-3 style packing across documents).

Mixing: each sample comes from one corpus, chosen by smooth weighted round-robin (the corpus
furthest below its weight's share so far; nginx's upstream balancer). All samples have the same
length, so each corpus's token share stays within one sample of its weight at every step, and the
choice is a pure function of the counts (nothing random to save for resume).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from provenance.errors import ConfigError, NotARunError
from provenance.gates import check_mixable
from provenance.manifest import now_iso, read_manifest
from train.config import DataSource

STATE_VERSION = 1


class Shards(Protocol):
    """The part of `curate.TokenShards` the trainer uses."""

    shard_paths: list[Path]
    n_docs: int
    eos_id: int
    vocab_size: int
    tokenizer_sha256: str
    run_id: str

    def shard_sha256(self, i: int) -> str: ...
    def doc(self, i: int) -> np.ndarray: ...
    def doc_id(self, i: int) -> str: ...
    def doc_shard(self, i: int) -> tuple[int, int]: ...


def split_documents(shards: Shards, val_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(train, val) document indices. Documents are ranked by a seeded hash of their doc_id, so the
    split does not depend on shard order and a document never moves between train and val."""
    n = shards.n_docs
    keys = [hashlib.blake2b(f"{seed}:{shards.doc_id(i)}".encode(), digest_size=8).digest() for i in range(n)]
    ranked = np.array(sorted(range(n), key=keys.__getitem__), dtype=np.int64)
    n_val = int(round(val_fraction * n))
    if val_fraction > 0 and n >= 2:
        n_val = min(max(n_val, 1), n - 1)
    return np.sort(ranked[n_val:]), np.sort(ranked[:n_val])


class DocStream:
    """Documents (+ EOS each) read as one token stream; a cursor (epoch, position, offset) says where."""

    def __init__(self, shards: Shards, docs: np.ndarray, seed: int | None,
                 on_read: Callable[[int], None] | None = None) -> None:
        if len(docs) == 0:
            raise ConfigError("a corpus has no documents to read "
                              "(empty corpus, or all held out for validation)")
        self.shards, self.docs, self.seed, self.on_read = shards, docs, seed, on_read
        self.eos = shards.eos_id
        self._epoch, self._order = -1, docs

    def order(self, epoch: int) -> np.ndarray:
        if self.seed is None:
            return self.docs
        if epoch != self._epoch:
            rng = np.random.default_rng([self.seed, epoch])
            self._epoch, self._order = epoch, self.docs[rng.permutation(len(self.docs))]
        return self._order

    def _doc(self, d: int) -> np.ndarray:
        if self.on_read is not None:
            self.on_read(int(d))
        return self.shards.doc(int(d))

    def read(self, cursor: tuple[int, int, int], n: int) -> tuple[np.ndarray, tuple[int, int, int]]:
        """n tokens from `cursor` on, and the cursor after them (wrapping into the next epoch)."""
        out = np.empty(n, dtype=np.int64)
        epoch, pos, off = cursor
        filled = 0
        while filled < n:
            order = self.order(epoch)
            if pos >= len(order):
                epoch, pos, off = epoch + 1, 0, 0
                continue
            ids = self._doc(order[pos])
            length = len(ids) + 1  # + EOS
            take = min(n - filled, length - off)
            body = min(off + take, len(ids)) - off  # tokens from the document itself
            if body > 0:
                out[filled:filled + body] = ids[off:off + body]
            if body < take:
                out[filled + take - 1] = self.eos
            filled += take
            off += take
            if off == length:
                pos, off = pos + 1, 0
        if pos >= len(self.docs):  # one canonical cursor for "end of epoch e" == "start of epoch e + 1"
            epoch, pos = epoch + 1, 0
        return out, (epoch, pos, off)

    def total_tokens(self) -> int:
        return int(sum(len(self.shards.doc(int(d))) + 1 for d in self.docs))


@dataclass
class Corpus:
    """One named corpus in the mix, with its document split."""

    name: str
    path: Path
    weight: float
    shards: Shards
    train_docs: np.ndarray
    val_docs: np.ndarray
    manifest: dict[str, Any] = field(default_factory=dict)
    synthetic: dict[str, Any] | None = None  # the gate policy's record for a synthetic set (provenance.gates)


def open_shards(path: Path) -> Shards:
    from curate import TokenShards

    try:
        return TokenShards(path)  # a missing or empty corpus: curate's own one-line UserError
    except (OSError, ValueError) as e:  # unreadable shard files
        raise ConfigError(f"{path}: not a tokenized corpus ({e})") from None


def _manifest_or_empty(path: Path) -> dict[str, Any]:
    try:
        return read_manifest(path)
    except NotARunError:
        return {}  # token shards without a run.json (tests, in-memory data): nothing to gate


def open_corpora(sources: list[DataSource], seed: int, val_fraction: float,
                 allow_failed_synthetic: bool = False,
                 shards: dict[str, Shards] | None = None) -> list[Corpus]:
    """Open and check every source: one tokenizer for all, and the synthetic-gate policy
    (`provenance.gates.check_mixable`: a synthetic set must have passed, unless allowed).

    `shards` lets callers pass already-open readers by name (tests, in-memory data)."""
    if not sources:
        raise ConfigError("no training data: give at least one --data NAME=DIR[:WEIGHT]")
    corpora = []
    for src in sources:
        manifest = _manifest_or_empty(src.path)
        synthetic = check_mixable(src.name, src.path, manifest, allow_failed_synthetic)
        sh = (shards or {}).get(src.name) or open_shards(src.path)
        train_docs, val_docs = split_documents(sh, val_fraction, seed)
        corpora.append(Corpus(src.name, Path(src.path), src.weight, sh, train_docs, val_docs, manifest,
                              synthetic))
    shas = {c.shards.tokenizer_sha256 for c in corpora}
    if len(shas) > 1:
        detail = ", ".join(f"{c.name}={c.shards.tokenizer_sha256[:12]}" for c in corpora)
        raise ConfigError(f"corpora were tokenized with different tokenizers ({detail}); "
                          "retokenize them with one")
    return corpora


class MixedLoader:
    """Packed `(seq_len + 1)`-token samples from several corpora in proportion to their weights."""

    def __init__(self, corpora: list[Corpus], seq_len: int, seed: int) -> None:
        self.corpora, self.seq_len = corpora, seq_len
        total = sum(c.weight for c in corpora)
        self.weights = np.array([c.weight / total for c in corpora])
        self.first_read: dict[tuple[int, int], str] = {}  # (corpus, shard) -> ISO time
        self.streams = [
            DocStream(c.shards, c.train_docs, seed=_stream_seed(seed, i), on_read=self.reader(i))
            for i, c in enumerate(corpora)
        ]
        self.counts = [0] * len(corpora)
        self.cursors: list[tuple[int, int, int]] = [(0, 0, 0)] * len(corpora)

    def reader(self, ci: int) -> Callable[[int], None]:
        shards = self.corpora[ci].shards

        def on_read(doc: int) -> None:
            key = (ci, shards.doc_shard(doc)[0])
            if key not in self.first_read:
                self.first_read[key] = now_iso()
        return on_read

    def next_corpus(self) -> int:
        total = sum(self.counts) + 1
        deficit = self.weights * total - np.array(self.counts)
        return int(np.argmax(deficit))  # ties -> the first listed corpus

    def next_sample(self) -> tuple[int, np.ndarray]:
        ci = self.next_corpus()
        stream, cur = self.streams[ci], self.cursors[ci]
        body, after = stream.read(cur, self.seq_len)
        last, _ = stream.read(after, 1)
        self.cursors[ci] = after
        self.counts[ci] += 1
        return ci, np.concatenate([body, last])

    def next_batch(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        """(n, seq_len + 1) token windows and the corpus index of each."""
        picked = [self.next_sample() for _ in range(n)]
        return np.stack([s for _, s in picked]), np.array([c for c, _ in picked])

    def tokens_by_corpus(self) -> dict[str, int]:
        return {c.name: n * self.seq_len for c, n in zip(self.corpora, self.counts, strict=True)}

    def state_dict(self) -> dict[str, Any]:
        return {
            "version": STATE_VERSION,
            "seq_len": self.seq_len,
            "corpora": [
                {"name": c.name, "samples": n, "cursor": list(cur)}
                for c, n, cur in zip(self.corpora, self.counts, self.cursors, strict=True)
            ],
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state.get("version") != STATE_VERSION or state.get("seq_len") != self.seq_len:
            raise ConfigError("checkpoint loader state does not match this run (version or seq_len differ)")
        names = [c["name"] for c in state["corpora"]]
        if names != [c.name for c in self.corpora]:
            raise ConfigError(f"checkpoint was written for corpora {names}, "
                              f"this run has {[c.name for c in self.corpora]}")
        self.counts = [int(c["samples"]) for c in state["corpora"]]
        self.cursors = [tuple(int(x) for x in c["cursor"]) for c in state["corpora"]]  # type: ignore[misc]


def _stream_seed(seed: int, corpus_index: int) -> int:
    return int.from_bytes(hashlib.blake2b(f"{seed}:{corpus_index}".encode(), digest_size=8).digest(),
                          "little")


def val_windows(corpus: Corpus, seq_len: int, max_windows: int,
                on_read: Callable[[int], None] | None = None) -> np.ndarray | None:
    """Fixed validation windows (n, seq_len + 1) from the held-out documents, in document order."""
    if len(corpus.val_docs) == 0:
        return None
    stream = DocStream(corpus.shards, corpus.val_docs, seed=None, on_read=on_read)
    n = max(1, min(max_windows, (stream.total_tokens() - 1) // seq_len))
    cur: tuple[int, int, int] = (0, 0, 0)
    rows = []
    for _ in range(n):
        body, cur = stream.read(cur, seq_len)
        last, _ = stream.read(cur, 1)
        rows.append(np.concatenate([body, last]))
    return np.stack(rows)
