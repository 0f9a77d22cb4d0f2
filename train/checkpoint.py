"""Checkpoints without pickles: tensors in safetensors, everything else in JSON.

`RUN/checkpoints/step-NNNNNN/`:
  model.safetensors      model weights (fp32; a tied lm_head is stored once, as embed_tokens)
  optimizer.safetensors  AdamW moments and step counters, keyed by parameter name
  state.json             step, tokens, optimizer hyperparameters, loader state, config
A checkpoint directory is written under a temporary name and renamed when complete (`outdir.atomic_dir`).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from provenance.errors import ConfigError
from provenance.outdir import atomic_dir
from train.config import ModelConfig
from train.model import Llama

CKPT_DIR = "checkpoints"
WEIGHTS = "model.safetensors"  # also HF's name for the weights of an exported model
STATE = "state.json"
_TENSOR_KEYS = ("exp_avg", "exp_avg_sq", "step")


def checkpoint_name(step: int) -> str:
    return f"step-{step:06d}"


def model_tensors(model: Llama) -> dict[str, torch.Tensor]:
    sd = model.state_dict()
    if model.cfg.tie_embeddings:
        sd.pop("lm_head.weight")
    return {k: v.detach().contiguous() for k, v in sd.items()}


def save_model_file(model: Llama, path: Path) -> None:
    save_file(model_tensors(model), str(path),
              metadata={"format": "pt", "model_config": model.cfg.model_dump_json()})


def load_model_file(model: Llama, path: Path) -> None:
    state = load_file(str(path), device=str(model.embed_tokens.weight.device))
    missing, unexpected = model.load_state_dict(state, strict=False)
    allowed = {"lm_head.weight"} if model.cfg.tie_embeddings else set()
    if set(missing) - allowed or unexpected:
        raise ConfigError(f"{path}: weights do not match the model "
                          f"(missing {missing}, unexpected {unexpected})")


def save_checkpoint(run_dir: Path, step: int, model: Llama, optimizer: torch.optim.Optimizer,
                    param_names: list[str], extra: dict[str, Any]) -> Path:
    """Write checkpoint `step` atomically (a whole directory); `extra` (JSON-able) goes into state.json."""
    final = Path(run_dir) / CKPT_DIR / checkpoint_name(step)
    osd = optimizer.state_dict()
    tensors: dict[str, torch.Tensor] = {}
    for idx, st in osd["state"].items():
        for key in _TENSOR_KEYS:
            if key in st:
                tensors[f"{param_names[idx]}.{key}"] = st[key].detach().contiguous()
    groups = [
        {**{k: v for k, v in g.items() if k != "params"},
         "param_names": [param_names[i] for i in g["params"]]}
        for g in osd["param_groups"]
    ]
    state = {"step": step, "optimizer": {"param_groups": groups}, **extra}
    with atomic_dir(final) as tmp:
        save_model_file(model, tmp / WEIGHTS)
        save_file(tensors, str(tmp / "optimizer.safetensors"))
        (tmp / STATE).write_text(json.dumps(state, indent=2, default=str) + "\n")
    return final


def load_optimizer(optimizer: torch.optim.Optimizer, param_names: list[str], ckpt: Path,
                   state: dict[str, Any]) -> None:
    """Rebuild the optimizer's state_dict from safetensors + JSON and load it."""
    tensors = load_file(str(ckpt / "optimizer.safetensors"))
    index = {name: i for i, name in enumerate(param_names)}
    groups = []
    for g in state["optimizer"]["param_groups"]:
        g = dict(g)
        names = g.pop("param_names")
        if any(n not in index for n in names):
            raise ConfigError(f"{ckpt}: optimizer state names parameters this model lacks")
        g["params"] = [index[n] for n in names]
        if "betas" in g:
            g["betas"] = tuple(g["betas"])
        groups.append(g)
    per_param: dict[int, dict[str, torch.Tensor]] = {}
    for key, t in tensors.items():
        name, _, field = key.rpartition(".")
        per_param.setdefault(index[name], {})[field] = t
    optimizer.load_state_dict({"state": per_param, "param_groups": groups})


def latest_checkpoint(run_dir: Path) -> Path | None:
    root = Path(run_dir) / CKPT_DIR
    done = sorted(p for p in root.glob("step-*") if p.is_dir()) if root.exists() else []
    return done[-1] if done else None


def read_state(ckpt: Path) -> dict[str, Any]:
    return json.loads((Path(ckpt) / STATE).read_text())


def resolve_checkpoint(path: str | os.PathLike[str]) -> Path:
    """A run directory (its latest checkpoint) or a checkpoint directory."""
    p = Path(path)
    if (p / WEIGHTS).exists() and (p / STATE).exists():
        return p
    ckpt = latest_checkpoint(p)
    if ckpt is None:
        raise ConfigError(f"{p}: no checkpoint found "
                          f"(expected {CKPT_DIR}/step-NNNNNN/ or a checkpoint directory)")
    return ckpt


def load_model(path: str | os.PathLike[str], device: str = "cpu") -> Llama:
    """The model of a training run (latest checkpoint) or of one checkpoint directory, in eval mode."""
    ckpt = resolve_checkpoint(path)
    state = read_state(ckpt)
    cfg = ModelConfig.model_validate(state["config"]["model"])
    model = Llama(cfg).to(device)
    load_model_file(model, ckpt / WEIGHTS)
    return model.eval()
