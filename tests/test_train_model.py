"""The Llama model and the config presets (fast: random weights, no data)."""

from __future__ import annotations

import math

import pytest
import torch

from train.config import PRESETS, ModelConfig, TrainConfig, make_config
from train.model import Llama
from train.trainer import lr_at


def _meta_params(preset: str, vocab: int) -> int:
    cfg = make_config(preset).model.model_copy(update={"vocab_size": vocab})
    with torch.device("meta"):
        return Llama(cfg).num_params()


def test_preset_sizes():
    assert set(PRESETS) == {"tiny", "gpt2-small", "350m"}
    assert abs(_meta_params("gpt2-small", 50257) / 124e6 - 1) < 0.02  # GPT-2 small: 124 M
    assert 330e6 < _meta_params("350m", 50257) < 380e6
    tiny = make_config("tiny")
    assert tiny.model.head_dim == 32 and tiny.seq_len == 128


@pytest.mark.parametrize("n_kv_heads,tie", [(4, True), (2, False), (1, True)])
def test_logits_match_hf_llama(n_kv_heads, tie):
    """Same weights in transformers' LlamaForCausalLM give the same logits (RoPE convention, GQA, tying)."""
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    cfg = ModelConfig(vocab_size=301, d_model=64, n_layers=2, n_heads=4, n_kv_heads=n_kv_heads,
                      tie_embeddings=tie, max_seq_len=64)
    ours = Llama(cfg).eval()
    hf = LlamaForCausalLM(LlamaConfig(
        vocab_size=301, hidden_size=64, intermediate_size=cfg.d_ff, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=n_kv_heads, max_position_embeddings=64,
        rms_norm_eps=cfg.norm_eps, rope_theta=cfg.rope_theta, tie_word_embeddings=tie)).eval()
    sd = {(k if k.startswith("lm_head") else f"model.{k}"): v for k, v in ours.state_dict().items()}
    result = hf.load_state_dict(sd, strict=False)
    assert not result.unexpected_keys and not result.missing_keys
    x = torch.randint(0, 301, (2, 40))
    with torch.no_grad():
        diff = (ours(x)[0] - hf(x).logits).abs().max().item()
    assert diff < 1e-4


def test_causal_and_loss():
    torch.manual_seed(0)
    m = Llama(ModelConfig(vocab_size=97, d_model=64, n_layers=2, n_heads=2, max_seq_len=32)).eval()
    x = torch.randint(0, 97, (1, 20))
    y = x.clone()
    y[0, 10:] = (y[0, 10:] + 1) % 97  # change the future: earlier logits must not move
    with torch.no_grad():
        a, loss = m(x, torch.randint(0, 97, (1, 20)))
        b, _ = m(y)
    assert torch.equal(a[0, :10], b[0, :10]) and not torch.allclose(a[0, 10:], b[0, 10:])
    assert abs(loss.item() - math.log(97)) < 0.5  # near-uniform at init (std 0.02)
    with pytest.raises(ValueError, match="max_seq_len"):
        m(torch.zeros(1, 33, dtype=torch.long))


def test_lr_schedule_warmup_then_cosine_to_floor():
    cfg = TrainConfig(steps=100, warmup_steps=10, lr=1e-3, min_lr_ratio=0.1)
    lrs = [lr_at(s, cfg) for s in range(101)]
    assert lrs[0] == pytest.approx(1e-4) and lrs[9] == pytest.approx(1e-3)
    assert all(a >= b for a, b in zip(lrs[10:], lrs[11:], strict=False))
    assert lrs[100] == pytest.approx(1e-4)
