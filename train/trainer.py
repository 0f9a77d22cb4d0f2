"""The training loop, top to bottom: data -> model -> AdamW with warmup + cosine -> eval -> checkpoints.

Follows nanoGPT's train.py (Karpathy) in shape: gradient accumulation over micro-batches, DDP with
`no_sync` on all but the last micro-step, bf16 autocast on CUDA (fp32 on CPU), clip, step.
Everything a resume needs (weights, AdamW moments, loader cursors) is in the checkpoint, so
N steps straight and N/2 + resume + N/2 give bitwise the same weights on a CPU.
"""

from __future__ import annotations

import contextlib
import json
import math
import shutil
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.nn.parallel import DistributedDataParallel as DDP

from provenance.manifest import now_iso, read_manifest, write_manifest
from train import distributed
from train.checkpoint import latest_checkpoint, load_model_file, load_optimizer, read_state, save_checkpoint
from train.config import ConfigError, TrainConfig
from train.data import Corpus, MixedLoader, Shards, gate_verdict, open_corpora, val_windows
from train.model import Llama

METRICS = "metrics.jsonl"


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


def _corpus_entry(c: Corpus) -> dict[str, Any]:
    return {"name": c.name, "path": str(c.path), "weight": c.weight, "run_id": c.shards.run_id,
            "tokenizer_sha256": c.shards.tokenizer_sha256, "kind": c.manifest.get("kind"),
            "n_docs": c.shards.n_docs, "train_docs": int(len(c.train_docs)), "val_docs": int(len(c.val_docs))}


class RunRecord:
    """Builds and rewrites RUN/run.json (rank 0 only); keeps shards' first-read times across resumes."""

    def __init__(self, out: Path, cfg: TrainConfig, corpora: list[Corpus], model: Llama, resume: bool) -> None:
        self.out, self.cfg, self.corpora = out, cfg, corpora
        prev: dict[str, Any] = {}
        if resume:
            with contextlib.suppress(FileNotFoundError, ValueError):
                prev = read_manifest(out)
        self.run_id = prev.get("run_id") or uuid.uuid4().hex
        self.started_at = prev.get("started_at") or now_iso()
        self.resumed_at = [*prev.get("resumed_at", []), now_iso()] if resume and prev else []
        self.consumed: dict[tuple[str, str], dict[str, Any]] = {
            (e["corpus"], e["path"]): e for e in prev.get("shards_consumed", [])
        }
        self.model_info = {"params": model.num_params(), "non_embedding_params": model.num_params(True),
                           "flops_per_token": model.flops_per_token(cfg.seq_len), **model.cfg.model_dump()}

    def note_reads(self, first_read: dict[tuple[int, int], str]) -> None:
        for (ci, si), when in sorted(first_read.items()):
            c = self.corpora[ci]
            path = str(c.shards.shard_paths[si])
            if (c.name, path) not in self.consumed:
                self.consumed[(c.name, path)] = {"corpus": c.name, "path": path,
                                                 "sha256": c.shards.shard_sha256(si), "first_read_at": when}

    def write(self, status: str, step: int, loader: MixedLoader, extra: dict[str, Any] | None = None) -> None:
        synth = [
            {"corpus": c.name, "gates_overall": gate_verdict(c.manifest),
             "allowed_failed": gate_verdict(c.manifest) == "fail"}
            for c in self.corpora if c.manifest.get("kind") == "synth"
        ]
        manifest = {
            "kind": "train",
            "run_id": self.run_id,
            "status": status,
            "config": self.cfg.model_dump(mode="json"),
            "data": [_corpus_entry(c) for c in self.corpora],
            "allow_failed_synthetic": self.cfg.allow_failed_synthetic,
            "synthetic_sets": synth,
            "shards_consumed": sorted(self.consumed.values(), key=lambda e: (e["first_read_at"], e["corpus"], e["path"])),
            "model": self.model_info,
            "counts": {"steps": step, "tokens": step * self.cfg.batch_size * self.cfg.seq_len,
                       "tokens_by_corpus": loader.tokens_by_corpus()},
            "outputs": {"checkpoints": "checkpoints/", "metrics": METRICS, "loss_plot": "loss.png",
                        "tokenizer": "tokenizer.json"},
            "started_at": self.started_at,
            "resumed_at": self.resumed_at,
            "ended_at": now_iso() if status != "running" else None,
            **(extra or {}),
        }
        write_manifest(self.out, manifest)


def loss_figure(rows: list[dict], figsize: tuple[float, float] = (6, 4)):  # noqa: ANN201 (matplotlib Figure)
    """Training and validation loss against step, from metrics.jsonl rows (Agg backend)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tr = [(r["step"], r["loss"]) for r in rows if r.get("split") == "train"]
    va = [(r["step"], r["val_loss"]) for r in rows if r.get("split") == "val"]
    fig, ax = plt.subplots(figsize=figsize, dpi=100)
    if tr:
        ax.plot(*zip(*tr, strict=True), label="train")
    if va:
        ax.plot(*zip(*va, strict=True), marker="o", label="validation")
    ax.set_xlabel("step")
    ax.set_ylabel("cross-entropy (nats/token)")
    ax.grid(alpha=0.3)
    ax.legend()
    return fig


def plot_losses(out: Path) -> None:
    """RUN/loss.png from metrics.jsonl: training loss and validation loss against step."""
    import matplotlib.pyplot as plt

    rows = [json.loads(line) for line in (out / METRICS).read_text().splitlines() if line.strip()]
    fig = loss_figure(rows)
    fig.tight_layout()
    fig.savefig(out / "loss.png")
    plt.close(fig)


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


def train(config: TrainConfig, resume: bool = False, shards: dict[str, Shards] | None = None) -> Path:
    """Train per `config` into `config.out_dir`; with `resume`, continue from its latest checkpoint.

    Runs as one process, or as one rank of a torchrun job (WORLD_SIZE set). Returns the run dir."""
    cfg = config.model_copy(deep=True)
    if cfg.out_dir is None:
        raise ConfigError("out_dir is required (-o RUN)")
    out = Path(cfg.out_dir)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    device_kind = "cuda" if (cfg.device.startswith("cuda") or (cfg.device == "auto" and torch.cuda.is_available())) else "cpu"
    d = distributed.setup(device_kind)
    device = resolve_device(cfg.device, d)

    # ---- data
    corpora = open_corpora(cfg.data, cfg.seed, cfg.val_fraction, cfg.allow_failed_synthetic, shards)
    vocab = max(c.shards.vocab_size for c in corpora)
    if cfg.model.vocab_size == 0:
        cfg.model.vocab_size = vocab
    elif cfg.model.vocab_size < vocab:
        raise ConfigError(f"model.vocab_size {cfg.model.vocab_size} is smaller than the tokenizer's {vocab}")
    per_rank = cfg.batch_size // d.world_size
    if cfg.batch_size % (cfg.micro_batch_size * d.world_size):
        raise ConfigError(f"batch_size {cfg.batch_size} must be a multiple of micro_batch_size "
                          f"{cfg.micro_batch_size} x {d.world_size} process(es)")
    accum = per_rank // cfg.micro_batch_size
    loader = MixedLoader(corpora, cfg.seq_len, cfg.seed)
    val = {c.name: w for ci, c in enumerate(corpora)
           if (w := val_windows(c, cfg.seq_len, cfg.eval_windows, loader.reader(ci))) is not None}

    # ---- model and optimizer
    torch.manual_seed(cfg.seed)
    model = Llama(cfg.model).to(device)
    optimizer, param_names = make_optimizer(model, cfg, device.type)
    start = 0
    ckpt = latest_checkpoint(out) if resume else None
    if ckpt is not None:
        state = read_state(ckpt)
        saved = TrainConfig.model_validate(state["config"])
        if saved.resume_key() != cfg.resume_key():
            raise ConfigError(f"{ckpt}: checkpoint was written with a different config; resume with the same one")
        load_model_file(model, ckpt / "model.safetensors")
        load_optimizer(optimizer, param_names, ckpt, state)
        loader.load_state_dict(state["loader"])
        start = int(state["step"])
    elif not resume and (out / "checkpoints").exists():
        raise ConfigError(f"{out} already holds a training run; pass --resume or choose another -o")
    distributed.barrier(d)

    record = RunRecord(out, cfg, corpora, model, resume=ckpt is not None) if d.is_main else None
    if d.is_main:
        out.mkdir(parents=True, exist_ok=True)
        tok = corpora[0].path / "tokenizer.json"
        if tok.exists():
            shutil.copyfile(tok, out / "tokenizer.json")
        metrics_path = out / METRICS
        kept = []
        if ckpt is not None and metrics_path.exists():  # drop rows logged after the checkpoint we resume from
            kept = [ln for ln in metrics_path.read_text().splitlines() if ln.strip() and json.loads(ln)["step"] <= start]
        metrics_path.write_text("".join(ln + "\n" for ln in kept))
        record.note_reads(loader.first_read)
        record.write("running", start, loader)

    raw_model = model
    if cfg.compile:
        model = torch.compile(model)
    if d.enabled:
        model = DDP(model, device_ids=[d.local_rank] if device.type == "cuda" else None)
    autocast = (torch.autocast("cuda", dtype=torch.bfloat16) if device.type == "cuda" else contextlib.nullcontext())

    def checkpoint(step: int, status: str) -> None:
        if d.is_main:
            extra = {"tokens": step * cfg.batch_size * cfg.seq_len, "loader": loader.state_dict(),
                     "config": cfg.model_dump(mode="json"), "eos_id": corpora[0].shards.eos_id,
                     "run_id": record.run_id}
            save_checkpoint(out, step, raw_model, optimizer, param_names, extra)
            record.note_reads(loader.first_read)
            record.write(status, step, loader)
            plot_losses(out)
        distributed.barrier(d)

    def log(row: dict[str, Any]) -> None:
        if d.is_main:
            with open(out / METRICS, "a") as f:
                f.write(json.dumps(row) + "\n")

    # ---- loop
    end = min(cfg.steps, cfg.stop_after or cfg.steps)
    tokens_per_step = cfg.batch_size * cfg.seq_len
    loss_sum = torch.zeros((), device=device)
    t_log, steps_since = time.perf_counter(), 0
    t_start = t_log
    model.train()
    with _progress(cfg.progress and d.is_main) as bar:
        task = bar.add_task("train", total=end, completed=start, loss="-", tps="-") if bar else None
        for step in range(start, end):
            lr = lr_at(step, cfg)
            for g in optimizer.param_groups:
                g["lr"] = lr
            batch, _ = loader.next_batch(cfg.batch_size)  # every rank draws the same global batch ...
            local = torch.from_numpy(batch[d.rank * per_rank:(d.rank + 1) * per_rank]).to(device)  # ... and takes its slice
            step_loss = torch.zeros((), device=device)
            for micro in range(accum):
                xy = local[micro * cfg.micro_batch_size:(micro + 1) * cfg.micro_batch_size]
                skip_sync = d.enabled and micro < accum - 1  # all-reduce gradients once, on the last micro-step
                with model.no_sync() if skip_sync else contextlib.nullcontext():
                    with autocast:
                        _, loss = model(xy[:, :-1], xy[:, 1:])
                    (loss / accum).backward()
                step_loss += loss.detach() / accum
            grad_norm = (torch.nn.utils.clip_grad_norm_(raw_model.parameters(), cfg.grad_clip)
                         if cfg.grad_clip > 0 else torch.zeros(()))
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            loss_sum += step_loss
            steps_since += 1
            done = step + 1

            if done % cfg.log_every == 0 or done == end:
                mean_loss = distributed.mean_across(d, loss_sum / steps_since).item()
                now = time.perf_counter()
                tps = steps_since * tokens_per_step / (now - t_log)
                log({"split": "train", "step": done, "loss": mean_loss, "lr": lr, "grad_norm": float(grad_norm),
                     "tokens": done * tokens_per_step, "tokens_per_s": round(tps, 1),
                     "elapsed_s": round(now - t_start, 3)})
                if bar is not None:
                    bar.update(task, completed=done, loss=f"{mean_loss:.3f}", tps=f"{tps:,.0f}")
                loss_sum.zero_()
                t_log, steps_since = time.perf_counter(), 0
            elif bar is not None:
                bar.update(task, completed=done)
            if val and (done % cfg.eval_every == 0 or done == end):
                log({"split": "val", "step": done, "tokens": done * tokens_per_step,
                     **evaluate(raw_model, val, cfg.micro_batch_size, device, autocast)})
                t_log = time.perf_counter()  # eval time is not training throughput
            if done == end or (cfg.ckpt_every and done % cfg.ckpt_every == 0):
                checkpoint(done, "complete" if done == cfg.steps else ("stopped" if done == end else "running"))
    if start >= end and d.is_main:
        record.write("complete" if end == cfg.steps else "stopped", start, loader)
    distributed.teardown(d)
    return out
