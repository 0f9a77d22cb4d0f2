"""The tokenizer of a corpus: an HF `tokenizer.json` given by the user, or a byte-level BPE trained here.

Whichever it is, it ends up at OUT/tokenizer.json, and its sha256 goes into every shard.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pyarrow.parquet as pq
from tokenizers import Tokenizer

from provenance.errors import ConfigError, InputError
from provenance.outdir import OutDir, write_bytes

if TYPE_CHECKING:  # only a type here: the encode workers need not import pydantic (0.2 s)
    from curate.tokens.config import TokenizeConfig

EOS_TOKEN = "<|endoftext|>"  # GPT-2's document separator (Radford et al. 2019); also GPT-NeoX, Pythia
# Names other tokenizers use for their end-of-document token (Llama 2: </s>, Llama 3: <|end_of_text|>).
EOS_CANDIDATES = (EOS_TOKEN, "<|end_of_text|>", "</s>", "<eos>", "<|eos|>", "<|im_end|>")


def ids_dtype(vocab_size: int) -> np.dtype:
    """uint16 while every id fits (ids 0..65535, so vocab_size <= 65536), else uint32."""
    if vocab_size <= 0:
        raise ValueError(f"vocab_size must be positive, got {vocab_size}")
    return np.dtype(np.uint16) if vocab_size <= 2**16 else np.dtype(np.uint32)


def load_tokenizer(path: str | os.PathLike[str]) -> Tokenizer:
    """Load an HF `tokenizer.json` (ours, GPT-2's, Llama's...), with a one-line error when it isn't one."""
    p = Path(path)
    if not p.exists():
        raise InputError(f"tokenizer file not found: {p}")
    if not p.is_file():
        raise InputError(f"{p}: not a file (expected an HF tokenizers tokenizer.json)")
    try:
        return Tokenizer.from_file(str(p))
    except Exception as e:  # tokenizers raises a bare Exception for JSON/format errors
        first = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise InputError(f"{p}: not an HF tokenizers tokenizer.json ({first[:200]})") from None


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
    raise InputError(f"tokenizer has no end-of-document token (looked for {', '.join(EOS_CANDIDATES)})")


def prepare(tok: Tokenizer) -> Tokenizer:
    """Set up for encoding documents: no padding, no truncation, special-token text encoded as text."""
    # Text that happens to contain "<|endoftext|>" must encode as text, not as the control token
    # (special-token injection; tiktoken refuses it by default for the same reason).
    tok.encode_special_tokens = True
    tok.no_padding()
    tok.no_truncation()
    return tok


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


def resolve_tokenizer(out: OutDir, cfg: TokenizeConfig, parts: list[Path],
                      skip: dict[str, list[int]]) -> tuple[Path, str]:
    """Put the tokenizer at OUT/tokenizer.json; return (path, how it was obtained).

    A given file is copied byte for byte; a vocabulary size trains a BPE on the kept documents.
    """
    target = out.tokenizer
    if cfg.tokenizer is None and cfg.vocab_size is not None:
        tok = train_tokenizer(iter_texts(parts, skip), cfg.vocab_size)
        write_bytes(target, tok.to_str(pretty=True).encode())
        return target, f"trained: byte-level BPE, vocab {cfg.vocab_size}, on the kept documents"
    if cfg.tokenizer is None:
        if target.exists():
            load_tokenizer(target)
            return target, "existing OUT/tokenizer.json"
        raise ConfigError("no tokenizer: pass a tokenizer.json, or train one "
                          "(--train-tokenizer --vocab-size N)")
    src = Path(cfg.tokenizer)
    load_tokenizer(src)  # validate before copying
    if not (target.exists() and target.resolve() == src.resolve()):
        write_bytes(target, src.read_bytes())
    return target, f"given: {src}"
