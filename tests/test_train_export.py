"""Export to a Hugging Face directory: transformers logits match, vLLM (CPU) loads and generates."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

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
    """vLLM is checked on this shape only: the tied-MHA shape is the tiny preset's, which vLLM loads in
    the README Quickstart test (tests/test_quickstart.py) and the synth tests (one vLLM start-up each)."""
    return _train(corpus, tmp_path_factory, GQA_UNTIED)


@pytest.fixture(params=["tied_mha_run", "gqa_untied_run"], ids=["tied-mha", "gqa-untied"])
def run(request):
    """Each shape trained once per module, shared with the vLLM test."""
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


VLLM_SCRIPT = textwrap.dedent("""
    import json, sys
    from vllm import LLM, SamplingParams
    from vllm.v1.attention.backends.cpu_attn import CPUAttentionBackend

    if __name__ == "__main__":
        llm = LLM(model=sys.argv[1], dtype="float32", gpu_memory_utilization=0.2, enforce_eager=True, seed=0)
        outs = llm.generate(["The Python", "import os"], \
[SamplingParams(max_tokens=12, seed=s, temperature=0.8) for s in (1, 2)])
        print("RESULT", json.dumps({"texts": [o.outputs[0].text for o in outs],
                                    "n_tokens": [len(o.outputs[0].token_ids) for o in outs],
                                    "head_sizes": CPUAttentionBackend.get_supported_head_sizes()}))
""")


@pytest.mark.slow
def test_vllm_loads_export_and_generates(gqa_untied_run, tmp_path):
    hf_dir = export_hf(gqa_untied_run, tmp_path / "hf")
    script = tmp_path / "gen.py"
    script.write_text(VLLM_SCRIPT)
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "VLLM_NO_USAGE_STATS": "1", "TRANSFORMERS_OFFLINE": "1"}
    proc = subprocess.run([sys.executable, str(script), str(hf_dir)], capture_output=True, text=True, env=env,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    [line] = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
    result = json.loads(line.removeprefix("RESULT "))
    assert all(n > 0 for n in result["n_tokens"])
    assert tuple(result["head_sizes"]) == VLLM_CPU_HEAD_SIZES  # our export check uses vLLM's real list
