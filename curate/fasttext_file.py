"""fastText's model file (.bin, .ftz): its layout walked and checked, and read into arrays for a predict.

The layout is fastText's `FastText::loadModel` (src/fasttext.cc, dictionary.cc, quantmatrix.cc,
productquantizer.cc): magic and version, `Args`, the dictionary (entries, then the kept n-gram
buckets of a pruned model), the input matrix, the output matrix. fastText's own loader trusts the
file: on a truncated one it reads past the end without noticing (measured: on a 5 kB prefix of
lid.176.ftz it grew one string to 10 GB before we stopped it; a 300 kB prefix of a 40 MB model
loads "fine" and scores garbage). So `walk` checks the layout ends exactly at the end of the file
before anything loads it (the quality classifier's `check_model`, lid's model).

`read_arrays` reads what the compiled predict (`curate/filters/_fasttext.pyx`) needs, for the
variant it reproduces (supervised, hierarchical softmax, no word n-grams, quantized input): the
vocabulary, the rows a token adds, the output tree. fastText's own predict spends most of its time
in a `std::unordered_map` lookup per character n-gram (lid.176: 42% of a predict in
`Dictionary::pushHash`, perf, 2026-12-02); the arrays replace that map with a flat one.
"""

from __future__ import annotations

import mmap
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

MAGIC = 793712314  # FASTTEXT_FILEFORMAT_MAGIC_INT32 (src/fasttext.cc)
VERSIONS = (11, 12)  # the file versions fastText 0.9 loads; 11: old supervised models, no n-grams
MODEL_KINDS = {1: "cbow", 2: "skipgram", 3: "supervised"}  # model_name (src/args.h)
HIERARCHICAL_SOFTMAX = 1  # loss_name::hs (src/args.h)
# magic, version, then Args: dim, ws, epoch, minCount, neg, wordNgrams, loss, model, bucket, minn, maxn,
# lrUpdateRate (int32) and t (double); then the Dictionary: size, nwords, nlabels (int32), ntokens,
# pruneidx_size (int64).
_HEADER = struct.Struct("<14id3i2q")
_LABEL_ENTRY = 1  # entry_type::label
KSUB = 256  # centroids per sub-quantizer: 1 << nbits_, nbits_ = 8 (src/productquantizer.h)
LABEL = b"__label__"  # Args::label's default (not saved in the file)


@dataclass(frozen=True)
class Layout:
    """Where the parts of a checked model file are."""

    kind: str  # "supervised", "cbow", "skipgram"
    labels: list[str]  # with their prefix, by label id
    version: int
    dim: int
    word_ngrams: int
    loss: int
    bucket: int
    minn: int
    maxn: int
    nwords: int
    prune_size: int  # -1: never pruned
    entries_at: int  # the first dictionary entry
    prune_at: int  # the (bucket, row) pairs of a pruned model
    quantized: bool  # the input matrix
    input_at: int
    qout: bool  # the output matrix
    output_at: int


def _pq_end(mm: mmap.mmap, pos: int) -> int:
    """End of a ProductQuantizer: dim, nsubq, dsub, lastdsub (int32), dim x 256 float centroids."""
    dim = struct.unpack_from("<4i", mm, pos)[0]
    if dim < 0:
        raise ValueError("negative quantizer size")
    return pos + 16 + 4 * dim * KSUB


def _matrix_end(mm: mmap.mmap, pos: int, quantized: bool) -> int:
    """End of a DenseMatrix (m, n int64; m x n floats) or a QuantMatrix (qnorm, m, n, codesize, codes,
    quantizer; with qnorm m norm codes and a second quantizer)."""
    if not quantized:
        m, n = struct.unpack_from("<2q", mm, pos)
        if m < 0 or n < 0:
            raise ValueError("negative matrix size")
        return pos + 16 + 4 * m * n
    qnorm, m, _, codesize = struct.unpack_from("<?2qi", mm, pos)
    if m < 0 or codesize < 0:
        raise ValueError("negative matrix size")
    pos = _pq_end(mm, pos + 21 + codesize)
    return _pq_end(mm, pos + m) if qnorm else pos


def _walk(mm: mmap.mmap) -> Layout:
    try:
        head = _HEADER.unpack_from(mm, 0)
    except struct.error:
        raise ValueError("not a fastText model (too short for its header)") from None
    if head[0] != MAGIC or head[1] not in VERSIONS:
        raise ValueError("not a fastText model (no fastText header)")
    size, nwords, nlabels, prune = head[15], head[16], head[17], head[19]
    if min(size, nwords, nlabels) < 0 or nwords + nlabels != size:
        raise ValueError("not a fastText model (inconsistent dictionary header)")
    pos, labels = _HEADER.size, []
    try:
        for _ in range(size):  # entries: word bytes, NUL, count (int64), type (int8)
            end = mm.find(b"\0", pos)
            if end < 0:
                raise ValueError("truncated in its dictionary")
            if mm[end + 9] == _LABEL_ENTRY:
                labels.append(mm[pos:end].decode("utf-8", "replace"))
            pos = end + 10
        prune_at = pos
        pos += 8 * max(prune, 0)
        quantized = bool(mm[pos])
        input_at = pos + 1
        pos = _matrix_end(mm, input_at, quantized)
        qout = quantized and bool(mm[pos])  # read (and meaningful) only for a quantized model
        output_at = pos + 1
        pos = _matrix_end(mm, output_at, qout)
    except (struct.error, IndexError):
        raise ValueError("truncated (its layout runs past the end of the file)") from None
    if pos > len(mm):
        raise ValueError(f"truncated ({pos - len(mm):,} bytes short of its layout)")
    if pos < len(mm):
        raise ValueError(f"not a fastText model ({len(mm) - pos:,} bytes after its layout)")
    return Layout(kind=MODEL_KINDS.get(head[9], f"unknown ({head[9]})"), labels=labels, version=head[1],
                  dim=head[2], word_ngrams=head[7], loss=head[8], bucket=head[10], minn=head[11],
                  maxn=head[12],
                  nwords=nwords, prune_size=prune, entries_at=_HEADER.size, prune_at=prune_at,
                  quantized=quantized, input_at=input_at, qout=qout, output_at=output_at)


def walk(path: str | Path) -> Layout:
    """The layout of a fastText model file, or a ValueError saying what is wrong with it. Reads the
    file (memory-mapped); does not load it."""
    with open(path, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as mm:
        return _walk(mm)


@dataclass(frozen=True)
class FastTextArrays:
    """What the compiled predict reads: the vocabulary, the rows a token adds, the output tree."""

    dim: int
    minn: int
    maxn: int
    bucket: int
    words: list[bytes]  # the vocabulary's words, by id
    labels: list[str]  # label names without the prefix, by label id (= tree leaf)
    label_counts: np.ndarray  # int64: the Huffman tree's weights
    prune: np.ndarray | None  # int32[bucket]: a bucket's row after nwords, -1 if pruned; None: none pruned
    input_rows: np.ndarray  # float32[rows, dim]: what adding a row adds (norm x centroid, as addcode does)
    output_rows: np.ndarray  # float32[labels, dim]: the output rows (their centroids)
    output_norms: np.ndarray  # float32[labels]: the factor dotRow applies after the sum


def _expand(codes: np.ndarray, data: bytes, pos: int) -> np.ndarray:
    """float32[rows, dim]: each row's centroids side by side (ProductQuantizer::get_centroids), from
    the quantizer at `pos`."""
    dim, nsubq, dsub, lastdsub = struct.unpack_from("<4i", data, pos)
    centroids = np.frombuffer(data, dtype="<f4", count=dim * KSUB, offset=pos + 16)
    rows = np.empty((codes.shape[0], dim), dtype=np.float32)
    for m in range(nsubq):
        d = lastdsub if m == nsubq - 1 else dsub
        table = centroids[m * KSUB * dsub:m * KSUB * dsub + KSUB * d].reshape(KSUB, d)
        rows[:, m * dsub:m * dsub + d] = table[codes.reshape(codes.shape[0], nsubq)[:, m]]
    return rows


def _quant_matrix(data: bytes, pos: int) -> tuple[np.ndarray, np.ndarray]:
    """(rows of centroids, norms) of the QuantMatrix at `pos` (norms 1 where it keeps none)."""
    qnorm, m, _, codesize = struct.unpack_from("<?2qi", data, pos)
    codes = np.frombuffer(data, dtype="u1", count=codesize, offset=pos + 21)
    pq_at = pos + 21 + codesize
    rows = _expand(codes.reshape(m, -1), data, pq_at)
    if not qnorm:
        return rows, np.ones(m, dtype=np.float32)
    norms_at = pq_at + 16 + 4 * struct.unpack_from("<i", data, pq_at)[0] * KSUB
    norm_codes = np.frombuffer(data, dtype="u1", count=m, offset=norms_at)
    return rows, _expand(norm_codes.reshape(m, 1), data, norms_at + m)[:, 0].copy()


def reproducible(layout: Layout) -> bool:
    """The variant `read_arrays` reads and the compiled predict reproduces."""
    return (layout.kind == "supervised" and layout.version == 12 and layout.loss == HIERARCHICAL_SOFTMAX
            and layout.word_ngrams == 1 and layout.quantized)


def read_arrays(path: str | Path, layout: Layout) -> FastTextArrays:
    """The arrays of a model `walk` checked and `reproducible` accepted."""
    data = Path(path).read_bytes()
    words, counts, pos = [], [], layout.entries_at
    for _ in range(layout.nwords + len(layout.labels)):  # words first, then labels (Dictionary::threshold)
        end = data.index(b"\0", pos)
        words.append(data[pos:end])
        counts.append(struct.unpack_from("<q", data, end + 1)[0])
        pos = end + 10
    prune = None
    if layout.prune_size >= 0:  # 0: pruned to no n-gram at all
        pairs = np.frombuffer(data, dtype="<i4", count=2 * layout.prune_size, offset=layout.prune_at)
        prune = np.full(layout.bucket, -1, dtype=np.int32)
        prune[pairs[0::2]] = pairs[1::2]
    rows, norms = _quant_matrix(data, layout.input_at)
    if layout.qout:
        out_rows, out_norms = _quant_matrix(data, layout.output_at)
    else:
        m, n = struct.unpack_from("<2q", data, layout.output_at)
        out_rows = np.frombuffer(data, dtype="<f4", count=m * n, offset=layout.output_at + 16).reshape(m, n)
        out_norms = np.ones(m, dtype=np.float32)
    return FastTextArrays(
        dim=layout.dim, minn=layout.minn, maxn=layout.maxn, bucket=layout.bucket,
        words=words[:layout.nwords],
        labels=[w.removeprefix(LABEL).decode("utf-8", "replace") for w in words[layout.nwords:]],
        label_counts=np.array(counts[layout.nwords:], dtype=np.int64),
        prune=prune,
        input_rows=rows * norms[:, None],  # float32 x float32, rounded as addcode's alpha * c[n]
        output_rows=np.ascontiguousarray(out_rows, dtype=np.float32),
        output_norms=np.ascontiguousarray(out_norms, dtype=np.float32),
    )
