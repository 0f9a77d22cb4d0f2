"""Token data for training: corpora with mixing weights, packing, a document-level validation split,
and a loader state small enough to write as JSON (exact resume).

Packing: each corpus is a stream of its training documents, in a seeded per-epoch permutation,
each followed by EOS (documents in shards carry no EOS), cut into windows of `seq_len + 1` tokens
that overlap by one (window k starts at token k * seq_len: nanoGPT's x/y shift, GPT-3 style packing
across documents), so every token of the stream is a target exactly once.

Window order: the windows are drawn in a seeded random order within each pass over the data (a
permutation per block of one epoch's worth of windows), not one after another. Consecutive windows
of one stream come from the same document, so a batch of them is one or two documents; measured on
a 200-page multilingual corpus, batches of 4 x 128 consecutive tokens came from a single document
69% of the time, and the shuffled order reached a held-out loss of 5.79 instead of 6.67 at the same
614k tokens (docs/train.md). Which window comes next is a pure function of the seed and of how many
windows the corpus has given, so the loader's state is one count per corpus.

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

STATE_VERSION = 2  # 2: shuffled windows; the state is one sample count per corpus


class Shards(Protocol):
    """The part of `curate.TokenShards` the trainer uses."""

    shard_paths: list[Path]
    n_docs: int
    eos_id: int
    vocab_size: int
    tokenizer_sha256: str
    run_id: str
    doc_token_starts: np.ndarray

    def shard_sha256(self, i: int) -> str: ...
    def doc(self, i: int) -> np.ndarray: ...
    def doc_id(self, i: int) -> str: ...
    def doc_shard(self, i: int) -> tuple[int, int]: ...


def split_documents(shards: Shards, val_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(train, val) document indices. A document is held out when a seeded hash of its doc_id, read as a
    number in [0, 1), is below `val_fraction`: the split does not depend on shard order or on which other
    documents the corpus holds, so two corpora cut from the same crawl (an ablation's variants) hold out
    the same documents, and none of one's held-out documents is in the other's training set."""
    n = shards.n_docs
    u = np.array([_unit_hash(f"{seed}:{shards.doc_id(i)}") for i in range(n)])
    val = u < val_fraction
    if val_fraction > 0 and n >= 2:  # a tiny corpus still gets one held-out and one training document
        if not val.any():
            val[int(np.argmin(u))] = True
        if val.all():
            val[int(np.argmax(u))] = False
    return np.flatnonzero(~val).astype(np.int64), np.flatnonzero(val).astype(np.int64)


def _unit_hash(key: str) -> float:
    """A stable number in [0, 1) for `key` (blake2b)."""
    return int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8).digest(), "little") / 2.0**64


class DocStream:
    """Documents (+ EOS each) read as one token stream, epoch after epoch; a cursor (epoch, position,
    offset) says where. Window k of the stream is its tokens [k * seq_len, (k + 1) * seq_len + 1)."""

    def __init__(self, shards: Shards, docs: np.ndarray, seed: int | None,
                 on_read: Callable[[int], None] | None = None) -> None:
        if len(docs) == 0:
            raise ConfigError("a corpus has no documents to read "
                              "(empty corpus, or all held out for validation)")
        self.shards, self.docs, self.seed, self.on_read = shards, docs, seed, on_read
        self.eos = shards.eos_id
        self.lengths = np.diff(shards.doc_token_starts)[docs] + 1  # + EOS
        self.epoch_tokens = int(self.lengths.sum())
        self._epochs: dict[int, tuple[np.ndarray, np.ndarray]] = {}  # epoch -> (order, token starts)

    def _epoch(self, epoch: int) -> tuple[np.ndarray, np.ndarray]:
        """The epoch's document order and each document's first token in it (the last two epochs cached:
        a pass of shuffled windows can straddle an epoch boundary)."""
        if epoch not in self._epochs:
            perm = np.arange(len(self.docs))
            if self.seed is not None:
                perm = np.random.default_rng([self.seed, epoch]).permutation(len(self.docs))
            if len(self._epochs) >= 2:
                del self._epochs[min(self._epochs)]
            self._epochs[epoch] = (self.docs[perm], np.concatenate([[0], np.cumsum(self.lengths[perm])]))
        return self._epochs[epoch]

    def order(self, epoch: int) -> np.ndarray:
        return self._epoch(epoch)[0]

    def locate(self, token: int) -> tuple[int, int, int]:
        """The cursor of the stream's `token`-th token."""
        epoch, within = divmod(token, self.epoch_tokens)
        starts = self._epoch(epoch)[1]
        pos = int(np.searchsorted(starts, within, side="right")) - 1
        return epoch, pos, within - int(starts[pos])

    def window(self, k: int, seq_len: int) -> np.ndarray:
        """Window k: `seq_len + 1` tokens from token k * seq_len on."""
        return self.read(self.locate(k * seq_len), seq_len + 1)[0]

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
        return self.epoch_tokens


class WindowOrder:
    """Which window of a stream is its i-th sample: windows come in blocks of one epoch's worth
    (`per_block`), each block in its own seeded permutation, so every window is drawn exactly once and
    the order is a pure function of (seed, i)."""

    def __init__(self, per_block: int, seed: int) -> None:
        self.per_block, self.seed = max(1, per_block), seed
        self._block, self._perm = -1, np.zeros(0, dtype=np.int64)

    def __call__(self, i: int) -> int:
        block, j = divmod(i, self.per_block)
        if block != self._block:
            self._block = block
            self._perm = np.random.default_rng([self.seed, block, 1]).permutation(self.per_block)
        return block * self.per_block + int(self._perm[j])


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
    """`(seq_len + 1)`-token windows from several corpora in proportion to their weights, each corpus's
    windows in a seeded shuffled order."""

    def __init__(self, corpora: list[Corpus], seq_len: int, seed: int) -> None:
        self.corpora, self.seq_len = corpora, seq_len
        total = sum(c.weight for c in corpora)
        self.weights = np.array([c.weight / total for c in corpora])
        self.first_read: dict[tuple[int, int], str] = {}  # (corpus, shard) -> ISO time
        seeds = [_stream_seed(seed, i) for i in range(len(corpora))]
        self.streams = [DocStream(c.shards, c.train_docs, seed=s, on_read=self.reader(i))
                        for i, (c, s) in enumerate(zip(corpora, seeds, strict=True))]
        self.orders = [WindowOrder(st.epoch_tokens // seq_len, s)
                       for st, s in zip(self.streams, seeds, strict=True)]
        self.counts = [0] * len(corpora)

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
        window = self.streams[ci].window(self.orders[ci](self.counts[ci]), self.seq_len)
        self.counts[ci] += 1
        return ci, window

    def next_batch(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        """(n, seq_len + 1) token windows and the corpus index of each."""
        picked = [self.next_sample() for _ in range(n)]
        return np.stack([s for _, s in picked]), np.array([c for c, _ in picked])

    def tokens_by_corpus(self) -> dict[str, int]:
        return {c.name: n * self.seq_len for c, n in zip(self.corpora, self.counts, strict=True)}

    def epochs_by_corpus(self) -> dict[str, float]:
        """Passes over each corpus's training tokens so far (more than 1: its data was repeated)."""
        return {c.name: n * self.seq_len / st.epoch_tokens
                for c, n, st in zip(self.corpora, self.counts, self.streams, strict=True)}

    def state_dict(self) -> dict[str, Any]:
        return {
            "version": STATE_VERSION,
            "seq_len": self.seq_len,
            "corpora": [{"name": c.name, "samples": n}
                        for c, n in zip(self.corpora, self.counts, strict=True)],
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state.get("version") != STATE_VERSION or state.get("seq_len") != self.seq_len:
            raise ConfigError("checkpoint loader state does not match this run (version or seq_len differ)")
        names = [c["name"] for c in state["corpora"]]
        if names != [c.name for c in self.corpora]:
            raise ConfigError(f"checkpoint was written for corpora {names}, "
                              f"this run has {[c.name for c in self.corpora]}")
        self.counts = [int(c["samples"]) for c in state["corpora"]]


def _stream_seed(seed: int, corpus_index: int) -> int:
    return int.from_bytes(hashlib.blake2b(f"{seed}:{corpus_index}".encode(), digest_size=8).digest(),
                          "little")


def val_windows(corpus: Corpus, seq_len: int, max_windows: int,
                on_read: Callable[[int], None] | None = None) -> np.ndarray | None:
    """Validation windows (n, seq_len + 1) of the held-out documents: all of them, or `max_windows`
    spread evenly over the whole held-out stream (so every part of it, not its first documents, is
    scored; each document in proportion to its length)."""
    if len(corpus.val_docs) == 0:
        return None
    stream = DocStream(corpus.shards, corpus.val_docs, seed=None, on_read=on_read)
    n_all = max(1, (stream.total_tokens() - 1) // seq_len)
    picks = np.unique(np.linspace(0, n_all - 1, min(n_all, max_windows)).round().astype(np.int64))
    return np.stack([stream.window(int(k), seq_len) for k in picks])
