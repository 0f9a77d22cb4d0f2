"""The training loop, top to bottom: data -> model -> AdamW with warmup + cosine -> eval -> checkpoints.

Follows nanoGPT's train.py (Karpathy) in shape: gradient accumulation over micro-batches, DDP with
`no_sync` on all but the last micro-step, bf16 autocast on CUDA (fp32 on CPU), clip, step.
Everything a resume needs (weights, AdamW moments, loader counts) is in the checkpoint, so
N steps straight and N/2 + resume + N/2 give bitwise the same weights on a CPU.
"""

from __future__ import annotations

import contextlib
import json
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.nn.parallel import DistributedDataParallel as DDP

from curate import checkpoint_written
from provenance.errors import ConfigError
from train import distributed
from train.checkpoint import (
    CKPT_DIR,
    WEIGHTS,
    latest_checkpoint,
    load_model_file,
    load_optimizer,
    read_state,
    save_checkpoint,
)
from train.config import TrainConfig
from train.data import Corpus, MixedLoader, Shards, open_corpora, val_windows
from train.model import Llama
from train.run_record import METRICS, RunRecord, plot_losses, start_files


def lr_at(step: int, cfg: TrainConfig) -> float:
    """Linear warmup, then cosine decay to min_lr_ratio * lr at the last step (nanoGPT `get_lr`)."""
    if step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    span = max(1, cfg.steps - cfg.warmup_steps)
    progress = min(1.0, (step - cfg.warmup_steps) / span)
    min_lr = cfg.lr * cfg.min_lr_ratio
    return min_lr + 0.5 * (1.0 + math.cos(math.pi * progress)) * (cfg.lr - min_lr)


def make_optimizer(model: Llama, cfg: TrainConfig, device_kind: str) -> tuple[torch.optim.AdamW, list[str]]:
    """AdamW; weight decay on matrices only, not on norms (nanoGPT `configure_optimizers`)."""
    named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    decay = [(n, p) for n, p in named if p.dim() >= 2]
    no_decay = [(n, p) for n, p in named if p.dim() < 2]
    groups = [
        {"params": [p for _, p in decay], "weight_decay": cfg.weight_decay},
        {"params": [p for _, p in no_decay], "weight_decay": 0.0},
    ]
    opt = torch.optim.AdamW(groups, lr=cfg.lr, betas=(cfg.beta1, cfg.beta2), fused=device_kind == "cuda")
    return opt, [n for n, _ in decay] + [n for n, _ in no_decay]


def resolve_device(name: str, d: distributed.Dist) -> torch.device:
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda" and d.enabled:
        name = f"cuda:{d.local_rank}"
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"device {name!r} requested but CUDA is not available")
    return torch.device(name)


@torch.no_grad()
def evaluate(model: Llama, windows: dict[str, np.ndarray], micro: int, device: torch.device,
             autocast: contextlib.AbstractContextManager) -> dict[str, float]:
    """Mean validation loss per corpus and pooled over all windows (every window has seq_len targets)."""
    model.eval()
    out: dict[str, float] = {}
    total, count = 0.0, 0
    for name, w in windows.items():
        losses = []
        for i in range(0, len(w), micro):
            t = torch.from_numpy(w[i:i + micro]).to(device)
            with autocast:
                _, loss = model(t[:, :-1], t[:, 1:])
            losses.append(loss.item() * len(t))
        out[f"val_loss/{name}"] = sum(losses) / len(w)
        total, count = total + sum(losses), count + len(w)
    out["val_loss"] = total / count
    out["val_ppl"] = math.exp(min(out["val_loss"], 50.0))
    model.train()
    return out


def _progress(enabled: bool) -> contextlib.AbstractContextManager:
    """A rich progress bar with loss and tokens/s (rank 0 only), or nothing."""
    if not enabled:
        return contextlib.nullcontext(None)
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    return Progress(TextColumn("[bold]train"), BarColumn(), MofNCompleteColumn(),
                    TextColumn("loss {task.fields[loss]}"), TextColumn("{task.fields[tps]} tok/s"),
                    TimeRemainingColumn(), transient=False)


@dataclass
class Session:
    """What one training process holds once set up: data, model, optimizer, and where it writes.

    `model` is what runs forward (compiled and/or DDP-wrapped); `raw_model` is what is saved."""

    cfg: TrainConfig
    out: Path
    dist: distributed.Dist
    device: torch.device
    corpora: list[Corpus]
    loader: MixedLoader
    val: dict[str, np.ndarray]
    raw_model: Llama
    model: torch.nn.Module
    optimizer: torch.optim.AdamW
    param_names: list[str]
    record: RunRecord | None
    start: int

    @property
    def per_rank(self) -> int:
        return self.cfg.batch_size // self.dist.world_size

    @property
    def accum(self) -> int:
        return self.per_rank // self.cfg.micro_batch_size

    @property
    def tokens_per_step(self) -> int:
        return self.cfg.batch_size * self.cfg.seq_len

    @property
    def autocast(self) -> contextlib.AbstractContextManager:
        """bf16 autocast on CUDA (nanoGPT), plain fp32 on CPU."""
        if self.device.type == "cuda":
            return torch.autocast("cuda", dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def local_batch(self) -> torch.Tensor:
        """Every rank draws the same global batch and takes its own slice of it."""
        batch, _ = self.loader.next_batch(self.cfg.batch_size)
        r = self.dist.rank
        return torch.from_numpy(batch[r * self.per_rank:(r + 1) * self.per_rank]).to(self.device)

    def sync(self, micro: int) -> contextlib.AbstractContextManager:
        """DDP all-reduces gradients once per step, on the last micro-batch."""
        skip = self.dist.enabled and micro < self.accum - 1
        return self.model.no_sync() if skip else contextlib.nullcontext()

    def clip(self) -> torch.Tensor:
        if self.cfg.grad_clip <= 0:
            return torch.zeros(())
        return torch.nn.utils.clip_grad_norm_(self.raw_model.parameters(), self.cfg.grad_clip)

    def evaluate(self) -> dict[str, float]:
        return evaluate(self.raw_model, self.val, self.cfg.micro_batch_size, self.device, self.autocast)

    def log(self, row: dict[str, Any]) -> None:
        if self.dist.is_main:
            with open(self.out / METRICS, "a") as f:
                f.write(json.dumps(row) + "\n")

    def checkpoint(self, step: int, status: str) -> None:
        if self.dist.is_main:
            cfg = self.cfg
            extra = {"tokens": step * self.tokens_per_step, "loader": self.loader.state_dict(),
                     "config": cfg.model_dump(mode="json"), "eos_id": self.corpora[0].shards.eos_id,
                     "run_id": self.record.run_id}
            save_checkpoint(self.out, step, self.raw_model, self.optimizer, self.param_names, extra)
            self.record.note_reads(self.loader.first_read)
            self.record.write(status, step, self.loader)
            plot_losses(self.out)
            checkpoint_written(self.out, step)  # ASSAY_FAULT's kill-after-checkpoint (curate/faults.py)
        distributed.barrier(self.dist)


class TrainLog:
    """Train-loss rows in metrics.jsonl (mean over each log interval, tokens/s) and the progress bar."""

    def __init__(self, s: Session, bar: Any, end: int) -> None:
        self.s, self.bar, self.end = s, bar, end
        self.task = bar.add_task("train", total=end, completed=s.start, loss="-", tps="-") if bar else None
        self.loss_sum = torch.zeros((), device=s.device)
        self.steps = 0
        self.t_start = self.t_log = time.perf_counter()

    def step(self, done: int, loss: torch.Tensor, lr: float, grad_norm: torch.Tensor) -> None:
        self.loss_sum += loss
        self.steps += 1
        if done % self.s.cfg.log_every and done != self.end:
            if self.bar is not None:
                self.bar.update(self.task, completed=done)
            return
        mean_loss = distributed.mean_across(self.s.dist, self.loss_sum / self.steps).item()
        now = time.perf_counter()
        tps = self.steps * self.s.tokens_per_step / (now - self.t_log)
        self.s.log({"split": "train", "step": done, "loss": mean_loss, "lr": lr,
                    "grad_norm": float(grad_norm), "tokens": done * self.s.tokens_per_step,
                    "tokens_per_s": round(tps, 1),
                    "elapsed_s": self.elapsed()})
        if self.bar is not None:
            self.bar.update(self.task, completed=done, loss=f"{mean_loss:.3f}", tps=f"{tps:,.0f}")
        self.loss_sum.zero_()
        self.t_log, self.steps = time.perf_counter(), 0

    def elapsed(self) -> float:
        """Seconds since this process started training (a resumed run counts from its restart)."""
        return round(time.perf_counter() - self.t_start, 3)

    def pause(self) -> None:
        """Time spent outside training steps (evaluation) is not training throughput."""
        self.t_log = time.perf_counter()


def train(config: TrainConfig, resume: bool = False, shards: dict[str, Shards] | None = None) -> Path:
    """Train per `config` into `config.out_dir`; with `resume`, continue from its latest checkpoint.

    Runs as one process, or as one rank of a torchrun job (WORLD_SIZE set). Returns the run dir."""
    s = setup(config, resume, shards)
    cfg, end = s.cfg, min(s.cfg.steps, s.cfg.stop_after or s.cfg.steps)
    s.model.train()
    with _progress(cfg.progress and s.dist.is_main) as bar:
        log = TrainLog(s, bar, end)
        for step in range(s.start, end):
            lr = lr_at(step, cfg)
            for g in s.optimizer.param_groups:
                g["lr"] = lr
            step_loss = torch.zeros((), device=s.device)
            for micro, xy in enumerate(s.local_batch().split(cfg.micro_batch_size)):
                with s.sync(micro):
                    with s.autocast:
                        _, loss = s.model(xy[:, :-1], xy[:, 1:])
                    (loss / s.accum).backward()
                step_loss += loss.detach() / s.accum
            grad_norm = s.clip()
            s.optimizer.step()
            s.optimizer.zero_grad(set_to_none=True)
            done = step + 1
            log.step(done, step_loss, lr, grad_norm)
            if s.val and (done % cfg.eval_every == 0 or done == end):
                s.log({"split": "val", "step": done, "tokens": done * s.tokens_per_step, **s.evaluate(),
                       "elapsed_s": log.elapsed()})
                log.pause()
            if done == end or (cfg.ckpt_every and done % cfg.ckpt_every == 0):
                status = "complete" if done == cfg.steps else ("stopped" if done == end else "running")
                s.checkpoint(done, status)
    if s.start >= end and s.dist.is_main:
        s.record.write("complete" if end == cfg.steps else "stopped", s.start, s.loader)
    distributed.teardown(s.dist)
    return s.out


def setup(config: TrainConfig, resume: bool, shards: dict[str, Shards] | None) -> Session:
    """Everything before the first step: device, data, model, optimizer, restore, the run's files."""
    cfg = config.model_copy(deep=True)
    if cfg.out_dir is None:
        raise ConfigError("out_dir is required (-o RUN)")
    out = Path(cfg.out_dir)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    cuda = cfg.device.startswith("cuda") or (cfg.device == "auto" and torch.cuda.is_available())
    d = distributed.setup("cuda" if cuda else "cpu")
    device = resolve_device(cfg.device, d)
    corpora, loader, val = open_data(cfg, d, shards)

    torch.manual_seed(cfg.seed)
    model = Llama(cfg.model).to(device)
    optimizer, param_names = make_optimizer(model, cfg, device.type)
    ckpt = latest_checkpoint(out) if resume else None
    if ckpt is not None:
        start = restore(ckpt, cfg, model, optimizer, param_names, loader)
    elif not resume and (out / CKPT_DIR).exists():
        raise ConfigError(f"{out} already holds a training run; pass --resume or choose another -o")
    else:
        start = 0
    distributed.barrier(d)
    record = None
    if d.is_main:
        record = RunRecord(out, cfg, corpora, model, resume=ckpt is not None)
        start_files(out, corpora, start, resumed=ckpt is not None)
        record.note_reads(loader.first_read)
        record.write("running", start, loader)

    wrapped: torch.nn.Module = torch.compile(model) if cfg.compile else model
    if d.enabled:
        wrapped = DDP(wrapped, device_ids=[d.local_rank] if device.type == "cuda" else None)
    return Session(cfg, out, d, device, corpora, loader, val, model, wrapped, optimizer, param_names, record,
                   start)


def open_data(cfg: TrainConfig, d: distributed.Dist,
              shards: dict[str, Shards] | None) -> tuple[list[Corpus], MixedLoader, dict[str, np.ndarray]]:
    """The corpora (checked: gate policy, one tokenizer, vocab and batch sizes), loader, validation windows.

    Sets `cfg.model.vocab_size` from the tokenizer when the config leaves it 0."""
    split_seed = cfg.seed if cfg.split_seed is None else cfg.split_seed
    corpora = open_corpora(cfg.data, split_seed, cfg.val_fraction, cfg.allow_failed_synthetic, shards)
    vocab = max(c.shards.vocab_size for c in corpora)
    if cfg.model.vocab_size == 0:
        cfg.model.vocab_size = vocab
    elif cfg.model.vocab_size < vocab:
        raise ConfigError(f"model.vocab_size {cfg.model.vocab_size} is smaller than the tokenizer's {vocab}")
    if cfg.batch_size % (cfg.micro_batch_size * d.world_size):
        raise ConfigError(f"batch_size {cfg.batch_size} must be a multiple of micro_batch_size "
                          f"{cfg.micro_batch_size} x {d.world_size} process(es)")
    loader = MixedLoader(corpora, cfg.seq_len, cfg.seed)
    val = {c.name: w for ci, c in enumerate(corpora)
           if (w := val_windows(c, cfg.seq_len, cfg.eval_windows, loader.reader(ci))) is not None}
    return corpora, loader, val


def restore(ckpt: Path, cfg: TrainConfig, model: Llama, optimizer: torch.optim.Optimizer,
            param_names: list[str], loader: MixedLoader) -> int:
    """Load weights, AdamW moments and loader counts from `ckpt`; returns its step."""
    state = read_state(ckpt)
    saved = TrainConfig.model_validate(state["config"])
    if saved.resume_key() != cfg.resume_key():
        raise ConfigError(f"{ckpt}: checkpoint was written with a different config; resume with the same one")
    load_model_file(model, ckpt / WEIGHTS)
    load_optimizer(optimizer, param_names, ckpt, state)
    loader.load_state_dict(state["loader"])
    return int(state["step"])
