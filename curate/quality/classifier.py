"""A fastText supervised classifier as a quality scorer: check a model file, load it, score texts.

Any fastText supervised model works (`assay quality train`'s, DCLM's `dclm-baseline-1.0-fasttext`,
FineWeb-Edu-style ones): the score of a text is the probability the model gives the configured
label. fastText `.bin` / `.ftz` files are a plain binary format read by fastText's C++ loader (no
pickle). That loader trusts the file: on a truncated one it reads past the end without noticing
(measured: on a 5 kB prefix of lid.176.ftz it grew one string to 10 GB before we stopped it; a
300 kB prefix of a 40 MB model loads "fine" and scores garbage). So `check_model` first walks the
file's layout itself (header, dictionary, matrices, as fastText's `FastText::loadModel` reads them)
and accepts it only when the layout ends exactly at the end of the file; the labels come from that
walk, so checking a model does not load it.
"""

from __future__ import annotations

import mmap
import os
import struct
from functools import lru_cache
from pathlib import Path
from typing import Any

from provenance.errors import ConfigError

FASTTEXT_MAGIC = 793712314  # fastText's FASTTEXT_FILEFORMAT_MAGIC_INT32 (src/fasttext.cc)
FASTTEXT_VERSIONS = (11, 12)  # the file versions fastText 0.9 loads
MODEL_KINDS = {1: "cbow", 2: "skipgram", 3: "supervised"}  # fastText's model_name enum (src/args.h)
# magic, version, then Args: dim, ws, epoch, minCount, neg, wordNgrams, loss, model, bucket, minn, maxn,
# lrUpdateRate (int32) and t (double); then the Dictionary: size, nwords, nlabels (int32), ntokens,
# pruneidx_size (int64).
_HEADER = struct.Struct("<14id3i2q")
_LABEL_ENTRY = 1  # fastText's entry_type::label
_KSUB = 256  # product quantizer centroids per sub-quantizer (fastText's nbits = 8)
SCORE_DIGITS = 6  # DCLM's published threshold is 0.018112: six decimals keep it exact in signals


def one_line(text: str) -> str:
    """fastText predicts one line: newlines (and all runs of whitespace) become one space."""
    return " ".join(text.split())


def normalize(text: str, lowercase: bool) -> str:
    """The text a classifier sees: one line (DCLM's `" ".join(content.strip().splitlines())`, every
    whitespace run folded), lower-cased when the model was trained on lower-cased text."""
    line = one_line(text)
    return line.lower() if lowercase else line


def _pq_end(mm: mmap.mmap, pos: int) -> int:
    """End of a ProductQuantizer: dim, nsubq, dsub, lastdsub (int32), dim x 256 float centroids."""
    dim = struct.unpack_from("<4i", mm, pos)[0]
    if dim < 0:
        raise ValueError("negative quantizer size")
    return pos + 16 + 4 * dim * _KSUB


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


def read_layout(path: Path) -> tuple[str, list[str]]:
    """(model kind, labels) of a fastText model file, or a ValueError saying what is wrong with it."""
    with open(path, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as mm:
        try:
            head = _HEADER.unpack_from(mm, 0)
        except struct.error:
            raise ValueError("not a fastText model (too short for its header)") from None
        if head[0] != FASTTEXT_MAGIC or head[1] not in FASTTEXT_VERSIONS:
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
            pos += 8 * max(prune, 0)
            quant = bool(mm[pos])
            pos = _matrix_end(mm, pos + 1, quant)
            pos = _matrix_end(mm, pos + 1, quant and bool(mm[pos]))
        except (struct.error, IndexError):
            raise ValueError("truncated (its layout runs past the end of the file)") from None
        if pos > len(mm):
            raise ValueError(f"truncated ({pos - len(mm):,} bytes short of its layout)")
        if pos < len(mm):
            raise ValueError(f"not a fastText model ({len(mm) - pos:,} bytes after its layout)")
    return MODEL_KINDS.get(head[9], f"unknown ({head[9]})"), labels


def check_model(path: Path | None, label: str, key: str = "filters.quality.model") -> list[str]:
    """Check that `path` is a whole fastText supervised model with `label`; its labels, else a ConfigError
    (one line naming the file and the problem). Reads the file; does not load it."""
    if path is None:
        raise ConfigError(f"{key}: required when the quality step is enabled")
    if not path.is_file():
        raise ConfigError(f"{key}: {path}: no such file")
    try:
        kind, labels = read_layout(path)
    except ValueError as exc:
        raise ConfigError(f"{key}: {path}: {exc}") from None
    if kind != "supervised":
        raise ConfigError(f"{key}: {path}: a fastText {kind} model, not a supervised classifier")
    if label not in labels:
        shown = ", ".join(labels[:10]) + (" ..." if len(labels) > 10 else "")
        raise ConfigError(f"{key.rsplit('.', 1)[0]}.label: {path} has no label {label!r} (labels: {shown})")
    return labels


@lru_cache(maxsize=2)
def _load(path: str):  # noqa: ANN202 (fasttext has no types)
    import fasttext

    fasttext.FastText.eprint = lambda *args, **kwargs: None  # its load-time warning
    return fasttext.load_model(path)


class Classifier:
    """`score(text) -> P(label | text)` from a fastText supervised model (loaded once per process)."""

    def __init__(self, path: str | os.PathLike[str], label: str, lowercase: bool = False) -> None:
        self.model = _load(str(path))
        self.label = label
        self.lowercase = lowercase

    def score(self, text: str) -> float:
        return probability(self.model, normalize(text, self.lowercase), self.label)


def probability(model: Any, line: str, label: str) -> float:
    """P(label | line) from a loaded fastText model, rounded (stable JSON across runs)."""
    labels, probs = model.predict(line, k=-1)  # every label: the configured one need not be the top one
    p = next((float(pr) for lab, pr in zip(labels, probs, strict=True) if lab == label), 0.0)
    return round(min(max(p, 0.0), 1.0), SCORE_DIGITS)  # softmax output can pass 1 by a rounding step
