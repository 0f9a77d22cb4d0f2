"""Helpers for tests and benchmarks: small tokenized corpora built from real WARC pages.

`build_corpus` writes an assay output directory the way the curate stage does (documents/*.parquet
with the shared DOCUMENT_SCHEMA plus run.json), then tokenizes it with the real tokenizer stage.
"""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from provenance.manifest import now_iso, write_manifest
from provenance.outdir import DOCUMENTS, OutDir, part_name, write_parquet
from provenance.schema import DOCUMENT_SCHEMA


@functools.lru_cache(maxsize=8)
def warc_texts(path: str, limit: int) -> tuple[tuple[str, str], ...]:
    """(doc_id, main text) of the first `limit` HTML responses of a WARC that trafilatura can extract."""
    import trafilatura
    from warcio.archiveiterator import ArchiveIterator

    out: list[tuple[str, str]] = []
    with open(path, "rb") as f:
        for rec in ArchiveIterator(f):
            if rec.rec_type != "response":
                continue
            rid = rec.rec_headers.get_header("WARC-Record-ID") or f"{path}:{len(out)}"
            text = trafilatura.extract(rec.content_stream().read().decode("utf-8", "replace"))
            if text:
                out.append((rid, text))
            if len(out) >= limit:
                break
    return tuple(out)


def build_corpus(out: Path, docs: list[tuple[str, str]] | tuple[tuple[str, str], ...], vocab_size: int = 1024,
                 manifest: dict[str, Any] | None = None, tokenizer: Path | None = None,
                 shard_tokens: int = 50_000) -> Path:
    """A tokenized assay output directory holding `docs`; `manifest` adds/overrides run.json keys."""
    from curate import TokenizeConfig, tokenize_corpus

    out = Path(out)
    run_id = hashlib.sha256(repr(sorted(d for d, _ in docs)).encode()).hexdigest()[:16]
    n = len(docs)
    table = pa.table(
        {
            "doc_id": [d for d, _ in docs], "text": [t for _, t in docs], "url": [None] * n,
            "domain": [None] * n,
            "lang": ["en"] * n, "lang_score": [1.0] * n, "warc_date": [None] * n, "source_file": [None] * n,
            "offset": [None] * n, "license": [None] * n, "n_chars": [len(t) for _, t in docs],
            "signals": ["{}"] * n, "run_id": [run_id] * n,
        },
        schema=DOCUMENT_SCHEMA,
    )
    write_parquet(OutDir(out).part(DOCUMENTS, part_name(0)), table)
    write_manifest(out, {"kind": "curate", "run_id": run_id, "started_at": now_iso(), **(manifest or {})})
    cfg = TokenizeConfig(tokenizer=tokenizer, vocab_size=vocab_size, shard_tokens=shard_tokens)
    tokenize_corpus(out, cfg, progress=False)  # one documents part: one task, run in this process
    return out


def unigram_entropy(token_arrays: list[np.ndarray], vocab_size: int) -> float:
    """Entropy (nats) of the empirical unigram distribution: the loss of the best context-free model."""
    counts = np.bincount(np.concatenate(token_arrays).astype(np.int64),
                         minlength=vocab_size).astype(np.float64)
    p = counts[counts > 0] / counts.sum()
    return float(-(p * np.log(p)).sum())


def bigram_heldout_loss(train_arrays: list[np.ndarray], heldout_arrays: list[np.ndarray],
                        vocab_size: int) -> float:
    """Held-out cross-entropy (nats per token) of an interpolated Kneser-Ney bigram model (Kneser & Ney
    1995; discount D = n1 / (n1 + 2 n2), Ney et al. 1994), the baseline a model with context must beat.

    Pairs are read within each array (a document followed by its EOS); the continuation distribution is
    add-one smoothed so an unseen token keeps some mass."""
    v = np.int64(vocab_size)

    def pairs(arrays: list[np.ndarray]) -> np.ndarray:
        return np.concatenate([a[:-1].astype(np.int64) * v + a[1:] for a in arrays if len(a) > 1])

    codes, counts = np.unique(pairs(train_arrays), return_counts=True)
    n1, n2 = np.sum(counts == 1), np.sum(counts == 2)
    d = n1 / (n1 + 2 * n2) if n1 + n2 else 0.75
    prev, nxt = codes // v, codes % v
    ctx_count = np.bincount(prev, weights=counts, minlength=vocab_size)  # c(v)
    ctx_types = np.bincount(prev, minlength=vocab_size)  # N1+(v, .)
    cont = (np.bincount(nxt, minlength=vocab_size) + 1.0) / (len(codes) + vocab_size)  # P_cont(w)
    test = pairs(heldout_arrays)
    idx = np.searchsorted(codes, test)
    idx = np.minimum(idx, len(codes) - 1)
    c = np.where(codes[idx] == test, counts[idx], 0).astype(np.float64)
    tv, tw = test // v, test % v
    cv = ctx_count[tv]
    seen = cv > 0
    p = cont[tw].copy()
    p[seen] = (np.maximum(c[seen] - d, 0) + d * ctx_types[tv[seen]] * cont[tw[seen]]) / cv[seen]
    return float(-np.log(p).mean())
