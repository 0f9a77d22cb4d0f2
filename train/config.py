"""Training configuration: presets, TOML loading, and one-line errors for bad input.

A run is fully described by a `TrainConfig`; it is written into `run.json` and into every
checkpoint so a resume can check it continues the same run.
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from provenance.errors import ConfigError
from provenance.tomlfile import merge_tables


class ModelConfig(BaseModel):
    """Llama architecture hyperparameters (names follow HF `LlamaConfig` where one exists)."""

    model_config = ConfigDict(extra="forbid")

    vocab_size: int = Field(0, ge=0)  # 0 = take it from the corpus tokenizer
    d_model: int = Field(128, gt=0)
    n_layers: int = Field(4, gt=0)
    n_heads: int = Field(4, gt=0)
    n_kv_heads: int | None = None  # None = n_heads (no grouped-query attention)
    d_ff: int | None = None  # None = SwiGLU width 8/3 * d_model rounded up to 64 (Llama paper, sec. 2)
    max_seq_len: int = Field(128, gt=0)
    rope_theta: float = 10000.0  # RoFormer / Llama default
    norm_eps: float = 1e-5  # Llama 2 `rms_norm_eps`
    tie_embeddings: bool = True  # GPT-2 style; saves vocab*d_model parameters in small models
    init_std: float = 0.02  # GPT-2 / HF `initializer_range`

    @model_validator(mode="after")
    def _check(self) -> ModelConfig:
        if self.n_kv_heads is None:
            self.n_kv_heads = self.n_heads
        if self.d_ff is None:
            self.d_ff = 64 * ((8 * self.d_model // 3 + 63) // 64)
        if self.d_model % self.n_heads:
            raise ValueError(f"d_model {self.d_model} is not divisible by n_heads {self.n_heads}")
        if self.n_heads % self.n_kv_heads:
            raise ValueError(f"n_heads {self.n_heads} is not divisible by n_kv_heads {self.n_kv_heads}")
        if (self.d_model // self.n_heads) % 2:
            raise ValueError("head size must be even for rotary embeddings")
        return self

    @property
    def head_dim(self) -> int:
        return self.d_model // self.n_heads


class DataSource(BaseModel):
    """One corpus to mix in: an assay output directory with `tokens/*.arrow`."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1)
    path: Path
    weight: float = Field(1.0, gt=0)


class TrainConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    preset: str | None = None
    model: ModelConfig = ModelConfig()
    data: list[DataSource] = Field(default_factory=list)
    out_dir: Path | None = None

    # optimisation (defaults: nanoGPT / Chinchilla-style small-model recipes)
    steps: int = Field(200, gt=0)
    stop_after: int | None = Field(None, gt=0)  # stop (with a checkpoint) at this step; resume later
    batch_size: int = Field(16, gt=0)  # sequences per optimizer step, all ranks and micro-steps together
    micro_batch_size: int = Field(16, gt=0)  # sequences per forward pass per rank
    seq_len: int = Field(128, gt=0)
    lr: float = Field(3e-3, gt=0)
    min_lr_ratio: float = Field(0.1, ge=0, le=1)  # cosine floor = lr/10 (Chinchilla, Hoffmann et al. 2022)
    warmup_steps: int = Field(20, ge=0)
    weight_decay: float = Field(0.1, ge=0)  # GPT-3 / Llama
    beta1: float = 0.9
    beta2: float = 0.95  # GPT-3 / Llama
    grad_clip: float = Field(1.0, ge=0)  # 0 disables clipping
    seed: int = 1337  # nanoGPT
    split_seed: int | None = None  # seeds the validation split; None = `seed` (an ablation fixes it)

    # data
    val_fraction: float = Field(0.05, ge=0, lt=1)  # share of documents held out, per corpus
    # validation windows per corpus per eval: all held-out windows up to this many, else this many spread
    # evenly over them (32 took the first 4 of 10 held-out documents of a 200-page corpus)
    eval_windows: int = Field(256, gt=0)

    # bookkeeping
    eval_every: int = Field(50, gt=0)
    log_every: int = Field(10, gt=0)
    ckpt_every: int = Field(0, ge=0)  # 0 = only at the end (and at stop_after)
    progress: bool = True

    # hardware
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    compile: bool = False
    threads: int | None = Field(None, gt=0)  # torch intra-op threads; None = torch default

    allow_failed_synthetic: bool = False

    @model_validator(mode="after")
    def _check(self) -> TrainConfig:
        if self.seq_len > self.model.max_seq_len:
            self.model.max_seq_len = self.seq_len
        names = [d.name for d in self.data]
        if len(set(names)) != len(names):
            raise ValueError(f"data source names must be unique, got {names}")
        return self

    def resume_key(self) -> dict[str, Any]:
        """Fields a resumed run must share with the original (length and logging may change)."""
        keep = self.model_dump(
            mode="json",
            exclude={"steps", "stop_after", "eval_every", "log_every", "ckpt_every", "progress", "out_dir",
                     "device", "compile", "threads"},
        )
        for d in keep["data"]:
            d.pop("path")  # corpora may move between machines; their sha256s are checked instead
        return keep


# Presets: architecture + optimisation defaults. Sizes as in GPT-2 (Radford et al. 2019) with
# Llama blocks (SwiGLU, RMSNorm, RoPE); learning rates from nanoGPT / GPT-3 Table 2.1.
PRESETS: dict[str, dict[str, Any]] = {
    # head size 32 (vLLM's CPU backend accepts it). Batch 16 x 128 with the shuffled window order: the
    # runs compared are in docs/train.md (benchmarks/train_curve.py); on the Python docs (vocab 512) it
    # ends below 0.7x the unigram entropy and below a Kneser-Ney bigram (tests/test_train_real.py).
    "tiny": {
        "model": {"d_model": 128, "n_layers": 4, "n_heads": 4, "max_seq_len": 128},
        "seq_len": 128, "batch_size": 16, "micro_batch_size": 16, "lr": 3e-3, "warmup_steps": 20,
        "steps": 200, "eval_every": 50,
    },
    # ~124 M parameters with a 50k vocabulary (GPT-2 small)
    "gpt2-small": {
        "model": {"d_model": 768, "n_layers": 12, "n_heads": 12, "max_seq_len": 1024},
        "seq_len": 1024, "batch_size": 512, "micro_batch_size": 16, "lr": 6e-4, "warmup_steps": 700,
        "steps": 20000, "eval_every": 500, "ckpt_every": 1000,
    },
    # ~350 M parameters (GPT-2 medium shape: 24 x 1024, 16 heads of 64)
    "350m": {
        "model": {"d_model": 1024, "n_layers": 24, "n_heads": 16, "max_seq_len": 1024},
        "seq_len": 1024, "batch_size": 512, "micro_batch_size": 8, "lr": 3e-4, "warmup_steps": 700,
        "steps": 40000, "eval_every": 500, "ckpt_every": 1000,
    },
}


def _one_line(err: ValidationError) -> str:
    parts = []
    for e in err.errors():
        loc = ".".join(str(x) for x in e["loc"]) or "config"
        parts.append(f"{loc}: {e['msg']}")
    return "; ".join(parts)


def parse_data_spec(spec: str) -> dict[str, Any]:
    """`NAME=DIR:WEIGHT` (weight optional, default 1) -> a DataSource dict."""
    name, sep, rest = spec.partition("=")
    if not sep or not name or not rest:
        raise ConfigError(f"--data {spec!r}: expected NAME=DIR[:WEIGHT], e.g. human=out/corpus:0.8")
    path, weight = rest, 1.0
    head, sep, tail = rest.rpartition(":")
    if sep and head:
        try:
            weight = float(tail)
            path = head
        except ValueError:
            pass  # a ':' inside the path
    return {"name": name, "path": path, "weight": weight}


def load_config_file(path: str | Path) -> dict[str, Any]:
    p = Path(path)
    try:
        text = p.read_text()
    except OSError as e:
        raise ConfigError(f"{p}: cannot read config ({e.strerror})") from None
    try:
        return json.loads(text) if p.suffix == ".json" else tomllib.loads(text)
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as e:
        raise ConfigError(f"{p}: not valid {'JSON' if p.suffix == '.json' else 'TOML'}: {e}") from None


def make_config(
    preset: str | None = None,
    config_file: str | Path | None = None,
    data: list[str] | None = None,
    overrides: dict[str, Any] | None = None,
) -> TrainConfig:
    """Preset, then the config file, then flags (later wins). Raises ConfigError with one line."""
    raw: dict[str, Any] = load_config_file(config_file) if config_file else {}
    preset = preset or raw.get("preset")
    base: dict[str, Any] = {}
    if preset is not None:
        if preset not in PRESETS:
            raise ConfigError(f"unknown preset {preset!r}; choose one of {', '.join(PRESETS)}")
        base = merge_tables(PRESETS[preset], {"preset": preset})
    merged = merge_tables(base, raw)
    if preset is not None:
        merged["preset"] = preset
    if data:
        merged["data"] = [parse_data_spec(s) for s in data]
    merged = merge_tables(merged, {k: v for k, v in (overrides or {}).items() if v is not None})
    try:
        return TrainConfig.model_validate(merged)
    except ValidationError as e:
        raise ConfigError(_one_line(e)) from None
