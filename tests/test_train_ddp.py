"""DDP: `torchrun --nproc-per-node 2 -m train` (gloo, CPU) matches one process at the same global batch."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from conftest import REPO, warc
from train.config import make_config
from train.testing import build_corpus, warc_texts
from train.trainer import train

pytestmark = pytest.mark.slow

SMALL = {"model": {"d_model": 64, "n_layers": 2, "n_heads": 2}, "seq_len": 64, "batch_size": 8,
         "micro_batch_size": 4, "warmup_steps": 2, "steps": 5, "eval_every": 5, "eval_windows": 4,
         "log_every": 1, "threads": 1, "progress": False}


def _losses(run):
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    return ([r["loss"] for r in rows if r["split"] == "train"],
            [r["val_loss"] for r in rows if r["split"] == "val"])


def test_two_gloo_processes_match_one(tmp_path):
    docs = warc_texts(str(warc("python-3.11-docs.warc.gz")), 24)
    corpus = build_corpus(tmp_path / "py", docs, vocab_size=512, shard_tokens=20_000)

    # one process: 2 micro-batches of 4 accumulated per step
    single = train(make_config("tiny", data=[f"py={corpus}"],
                               overrides={**SMALL, "out_dir": tmp_path / "one"}))

    # two processes: one micro-batch of 4 each, gradients averaged by DDP
    cfg = make_config("tiny", data=[f"py={corpus}"], overrides={**SMALL, "out_dir": tmp_path / "two"})
    cfg_file = tmp_path / "two.json"
    cfg_file.write_text(cfg.model_dump_json())
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    proc = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
         "-m", "train", "--config", str(cfg_file)],
        capture_output=True, text=True, env=env, timeout=600, cwd=REPO,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]

    one, val_one = _losses(single)
    two, val_two = _losses(tmp_path / "two")
    assert len(one) == len(two) == 5
    assert max(abs(a - b) for a, b in zip(one, two, strict=True)) < 1e-5
    assert abs(val_one[-1] - val_two[-1]) < 1e-5
    assert one[-1] < one[0]  # it trained
    man = json.loads((tmp_path / "two" / "run.json").read_text())
    assert man["status"] == "complete" and man["counts"]["tokens"] == 5 * 8 * 64
    assert len(list((tmp_path / "two" / "checkpoints").iterdir())) == 1
