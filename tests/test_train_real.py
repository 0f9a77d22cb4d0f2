"""The tiny preset learns real text (Python docs WARC, curated, tokenized with a 512 BPE): its held-out
loss ends at most 0.7x the unigram entropy of the training tokens, and below an interpolated Kneser-Ney
bigram model fitted to the same training tokens and scored on the same held-out documents (issue 17)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from train.config import make_config
from train.data import open_corpora
from train.testing import bigram_heldout_loss, build_corpus, unigram_entropy
from train.trainer import train

pytestmark = pytest.mark.slow


@pytest.fixture(scope="session")
def docs_corpus(quickstart_dir: Path, tmp_path_factory) -> Path:
    """The real pipeline's Python 3.11 docs: the documents the Quickstart's curate run (every real WARC,
    run once in CI for the golden and Quickstart tests) kept from that WARC, in their order, tokenized
    with a byte-level BPE of vocab 512."""
    kept = pl.read_parquet(quickstart_dir / "out" / "corpus" / "documents" / "*.parquet")
    docs = kept.filter(pl.col("source_file").str.ends_with("/python-3.11-docs.warc.gz"))
    pairs = list(zip(docs["doc_id"].to_list(), docs["text"].to_list(), strict=True))
    return build_corpus(tmp_path_factory.mktemp("docs") / "python-docs", pairs, vocab_size=512)


@pytest.mark.timeout(1200)
def test_tiny_preset_beats_unigram_and_bigram(docs_corpus, tmp_path):
    cfg = make_config("tiny", data=[f"docs={docs_corpus}"],
                      overrides={"out_dir": tmp_path / "run", "threads": 1, "progress": False})
    [c] = open_corpora(cfg.data, cfg.seed, cfg.val_fraction)
    eos = np.array([c.shards.eos_id])
    train_docs = [np.concatenate([c.shards.doc(int(d)), eos]) for d in c.train_docs]  # as the model sees them
    val_docs = [np.concatenate([c.shards.doc(int(d)), eos]) for d in c.val_docs]
    h = unigram_entropy(train_docs, c.shards.vocab_size)  # the best context-free model
    bigram = bigram_heldout_loss(train_docs, val_docs, c.shards.vocab_size)
    assert 4.0 < h < math.log(c.shards.vocab_size) and bigram < h
    assert c.shards.n_docs > 100 and len(c.val_docs) >= 5

    run = train(cfg)
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    val = [r for r in rows if r["split"] == "val"]
    assert val[0]["val_loss"] > val[-1]["val_loss"]
    assert val[-1]["tokens"] == cfg.steps * cfg.batch_size * cfg.seq_len == 409_600  # the preset's budget
    assert val[-1]["val_loss"] <= 0.7 * h, (val[-1]["val_loss"], h)
    assert val[-1]["val_loss"] < bigram, (val[-1]["val_loss"], bigram)
