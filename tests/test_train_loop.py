"""The training loop end to end on a small real corpus: exact resume, run.json, metrics, checkpoints."""

from __future__ import annotations

import json
from datetime import datetime

import pytest
import torch
from safetensors.torch import load_file

from conftest import warc
from provenance.manifest import read_manifest, sha256_file
from train import load_model
from train.config import ConfigError, make_config
from train.testing import build_corpus, warc_texts
from train.trainer import train

pytestmark = pytest.mark.slow

SMALL = {"model": {"d_model": 64, "n_layers": 2, "n_heads": 2}, "seq_len": 64, "batch_size": 8,
         "micro_batch_size": 4, "warmup_steps": 2, "eval_every": 4, "eval_windows": 4, "log_every": 1,
         "threads": 1, "progress": False}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    docs = warc_texts(str(warc("python-3.11-docs.warc.gz")), 24)
    return build_corpus(tmp_path_factory.mktemp("loop") / "py", docs, vocab_size=512, shard_tokens=20_000)


def _cfg(corpus, out, **over):
    return make_config("tiny", data=[f"py={corpus}:1"], overrides={**SMALL, "out_dir": out, **over})


def _metrics(run):
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


def test_exact_resume_is_bitwise_identical(corpus, tmp_path):
    n = 8
    straight = train(_cfg(corpus, tmp_path / "straight", steps=n))
    halves = train(_cfg(corpus, tmp_path / "halves", steps=n, stop_after=n // 2))
    assert read_manifest(halves)["status"] == "stopped"
    assert [p.name for p in (halves / "checkpoints").iterdir()] == ["step-000004"]
    train(_cfg(corpus, tmp_path / "halves", steps=n), resume=True)

    a, b = _metrics(straight), _metrics(halves)
    assert ([r for r in a if r["split"] == "train"][-1]["loss"]
            == [r for r in b if r["split"] == "train"][-1]["loss"])
    assert [r["step"] for r in a] == [r["step"] for r in b]  # no duplicated rows after the resume
    wa = load_file(straight / "checkpoints/step-000008/model.safetensors")
    wb = load_file(halves / "checkpoints/step-000008/model.safetensors")
    assert wa.keys() == wb.keys() and all(torch.equal(wa[k], wb[k]) for k in wa)
    oa = load_file(straight / "checkpoints/step-000008/optimizer.safetensors")
    ob = load_file(halves / "checkpoints/step-000008/optimizer.safetensors")
    assert all(torch.equal(oa[k], ob[k]) for k in oa)
    # the weights moved: a resume that silently restarted from scratch would differ from a fresh 8-step run
    # only here
    w4 = load_file(halves / "checkpoints/step-000004/model.safetensors")
    assert not torch.equal(w4["embed_tokens.weight"], wb["embed_tokens.weight"])

    man = read_manifest(halves)
    assert man["status"] == "complete" and man["counts"]["steps"] == n and len(man["resumed_at"]) == 1
    assert man["counts"]["tokens"] == n * 8 * 64


def test_run_directory_contents(corpus, tmp_path):
    run = train(_cfg(corpus, tmp_path / "run", steps=6, ckpt_every=3))
    man = read_manifest(run)
    assert man["kind"] == "train" and man["status"] == "complete"
    [d] = man["data"]
    src = read_manifest(corpus)
    assert d["name"] == "py" and d["weight"] == 1.0 and d["run_id"] == src["run_id"]
    assert d["tokenizer_sha256"] == sha256_file(corpus / "tokenizer.json")
    shard_files = sorted((corpus / "tokens").glob("*.arrow"))
    assert len(shard_files) >= 2
    consumed = {e["path"]: e for e in man["shards_consumed"]}
    for e in consumed.values():
        assert e["sha256"] == sha256_file(e["path"]) and e["corpus"] == "py"
        assert datetime.fromisoformat(e["first_read_at"]).tzinfo is not None
    assert set(consumed) <= {str(p) for p in shard_files}
    assert man["config"]["model"]["vocab_size"] == 512 and man["model"]["params"] > 0
    assert (run / "tokenizer.json").read_bytes() == (corpus / "tokenizer.json").read_bytes()
    assert (run / "loss.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["step-000003", "step-000006"]
    for ck in (run / "checkpoints").iterdir():
        assert sorted(p.name for p in ck.iterdir()) == ["model.safetensors", "optimizer.safetensors",
                                                         "state.json"]
        state = json.loads((ck / "state.json").read_text())
        assert state["loader"]["corpora"][0]["samples"] == state["step"] * 8
    rows = _metrics(run)
    train_rows = [r for r in rows if r["split"] == "train"]
    val_rows = [r for r in rows if r["split"] == "val"]
    assert [r["step"] for r in train_rows] == [1, 2, 3, 4, 5, 6] and [r["step"] for r in val_rows] == [4, 6]
    assert all(r["tokens_per_s"] > 0 and r["grad_norm"] > 0 for r in train_rows)
    assert val_rows[-1]["val_ppl"] == pytest.approx(2.718281828 ** val_rows[-1]["val_loss"], rel=1e-6)
    assert train_rows[-1]["loss"] < train_rows[0]["loss"]

    model = load_model(run)  # the public loader: latest checkpoint
    x = torch.randint(0, 512, (1, 16))
    again = load_model(run / "checkpoints/step-000006")
    with torch.no_grad():
        assert torch.equal(model(x)[0], again(x)[0])
    with pytest.raises(ConfigError, match="already holds a training run"):
        train(_cfg(corpus, run, steps=6))
    with pytest.raises(ConfigError, match="different config"):
        train(_cfg(corpus, run, steps=6, lr=1e-4), resume=True)
