"""The tiny preset learns real text: held-out loss falls well below the unigram entropy (Python docs WARC)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from conftest import warc
from train.config import make_config
from train.data import open_corpora
from train.testing import unigram_entropy
from train.trainer import train

pytestmark = pytest.mark.slow


@pytest.fixture(scope="session")
def docs_corpus(tmp_path_factory):
    """The real pipeline: curate the Python 3.11 docs WARC, then tokenize (byte-level BPE, vocab 512)."""
    from curate import TokenizeConfig, curate, make_executor, tokenize_corpus

    out = tmp_path_factory.mktemp("docs") / "python-docs"
    curate([str(warc("python-3.11-docs.warc.gz"))], out)
    tokenize_corpus(out, TokenizeConfig(vocab_size=512), executor=make_executor("local", 1), progress=False)
    return out


def test_tiny_preset_beats_unigram_entropy(docs_corpus, tmp_path):
    cfg = make_config("tiny", data=[f"docs={docs_corpus}"],
                      overrides={"out_dir": tmp_path / "run", "threads": 1, "progress": False})
    [c] = open_corpora(cfg.data, cfg.seed, cfg.val_fraction)
    eos = np.array([c.shards.eos_id])
    # the best context-free model of the training tokens (EOS included, as the model sees them)
    h = unigram_entropy([np.concatenate([c.shards.doc(int(d)), eos]) for d in c.train_docs],
                        c.shards.vocab_size)
    assert 4.0 < h < math.log(c.shards.vocab_size)
    assert c.shards.n_docs > 100 and len(c.val_docs) >= 5

    run = train(cfg)
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    val = [r for r in rows if r["split"] == "val"]
    assert val[0]["val_loss"] > val[-1]["val_loss"]
    # "well below": held-out perplexity at most half the unigram perplexity
    assert val[-1]["val_loss"] < h - math.log(2), (val[-1]["val_loss"], h)
