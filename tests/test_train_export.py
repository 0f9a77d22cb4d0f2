"""Export to a Hugging Face directory: transformers logits match for both model shapes; vLLM (CPU) loads the
GQA, untied-head shape in tests/test_synth_generate.py (on that module's engine: one vLLM start-up fewer)."""

from __future__ import annotations

import json

import pytest
import torch

from conftest import warc
from train import export_hf, load_model
from train.checkpoint import save_checkpoint
from train.config import ModelConfig, TrainConfig, make_config
from train.export import VLLM_CPU_HEAD_SIZES, ExportError
from train.model import Llama
from train.testing import build_corpus, warc_texts
from train.trainer import make_optimizer, train

SMALL = {"seq_len": 64, "batch_size": 4, "micro_batch_size": 4, "warmup_steps": 1, "steps": 3,
         "eval_every": 3, "eval_windows": 2, "threads": 1, "progress": False}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    docs = warc_texts(str(warc("python-3.11-docs.warc.gz")), 24)
    return build_corpus(tmp_path_factory.mktemp("export") / "py", docs, vocab_size=512, shard_tokens=20_000)


GQA_UNTIED = {"n_kv_heads": 2, "tie_embeddings": False}


def _train(corpus, tmp_path_factory, shape: dict):
    model = {"d_model": 128, "n_layers": 2, "n_heads": 4, **shape}
    out = tmp_path_factory.mktemp("export-run") / "run"
    return train(make_config("tiny", data=[f"py={corpus}"],
                             overrides={**SMALL, "model": model, "out_dir": out}))


@pytest.fixture(scope="module")
def tied_mha_run(corpus, tmp_path_factory):
    return _train(corpus, tmp_path_factory, {})


@pytest.fixture(scope="module")
def gqa_untied_run(corpus, tmp_path_factory):
    """vLLM loads this shape in tests/test_synth_generate.py (test_vllm_serves_a_gqa_untied_export); the
    tied-MHA shape is the tiny preset's, which vLLM loads in the Quickstart, collapse and demo tests."""
    return _train(corpus, tmp_path_factory, GQA_UNTIED)


@pytest.fixture(params=["tied_mha_run", "gqa_untied_run"], ids=["tied-mha", "gqa-untied"])
def run(request):
    """Each shape trained once per module."""
    return request.getfixturevalue(request.param)


@pytest.mark.slow
def test_transformers_loads_export_and_logits_match(run, tmp_path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    hf_dir = export_hf(run, tmp_path / "hf")
    assert ({"config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"}
            <= {p.name for p in hf_dir.iterdir()})
    assert json.loads((hf_dir / "config.json").read_text())["architectures"] == ["LlamaForCausalLM"]
    hf = AutoModelForCausalLM.from_pretrained(hf_dir, dtype=torch.float32).eval()
    ours = load_model(run)
    tok = AutoTokenizer.from_pretrained(hf_dir)
    ids = torch.tensor([tok("def main():\n    return sorted(items, key=len)")["input_ids"]])
    assert ids.shape[1] > 5
    with torch.no_grad():
        diff = (hf(ids).logits - ours(ids)[0]).abs().max().item()
    assert diff < 1e-4
    assert tok.eos_token_id == json.loads((run / "checkpoints/step-000003/state.json").read_text())["eos_id"]


def test_unservable_head_size_is_refused(tmp_path):
    cfg = TrainConfig(model=ModelConfig(vocab_size=64, d_model=96, n_layers=1, n_heads=2, max_seq_len=16),
                      seq_len=16)
    model = Llama(cfg.model)
    opt, names = make_optimizer(model, cfg, "cpu")
    save_checkpoint(tmp_path, 0, model, opt, names, {"config": cfg.model_dump(mode="json"), "eos_id": 0})
    assert 48 not in VLLM_CPU_HEAD_SIZES
    with pytest.raises(ExportError, match="head size 48") as e:
        export_hf(tmp_path, tmp_path / "hf")
    assert "\n" not in str(e.value) and not (tmp_path / "hf").exists()

    from typer.testing import CliRunner

    from assay.cli import app

    res = CliRunner().invoke(app, ["train", "export", str(tmp_path), "-o", str(tmp_path / "hf")])
    assert res.exit_code == 2 and "head size 48" in res.output
