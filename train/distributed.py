"""Data-parallel training: process-group setup under torchrun, and a launcher for `--nproc N`.

torchrun sets RANK / WORLD_SIZE / LOCAL_RANK; we use NCCL on GPUs and gloo on CPUs (PyTorch DDP docs).
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.distributed as dist

from provenance.outdir import write_text
from train.config import TrainConfig


@dataclass(frozen=True)
class Dist:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def setup(device_kind: str) -> Dist:
    """Join the process group when launched by torchrun; a single process otherwise."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return Dist()
    rank, local = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    if not dist.is_initialized():
        backend = "nccl" if device_kind == "cuda" else "gloo"
        if backend == "nccl":
            torch.cuda.set_device(local)
        dist.init_process_group(backend=backend)
    return Dist(rank, world, local)


def teardown(d: Dist) -> None:
    if d.enabled and dist.is_initialized():
        dist.destroy_process_group()


def barrier(d: Dist) -> None:
    if d.enabled:
        dist.barrier()


def mean_across(d: Dist, value: torch.Tensor) -> torch.Tensor:
    if d.enabled:
        value = value.detach().clone()
        dist.all_reduce(value, op=dist.ReduceOp.SUM)
        value /= d.world_size
    return value


def launch(config: TrainConfig, nproc: int, resume: bool = False) -> int:
    """Run `torchrun --nproc-per-node N -m train` on this machine with `config`; returns the exit code."""
    assert config.out_dir is not None
    out = Path(config.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    cfg_path = out / "launch-config.json"
    write_text(cfg_path, config.model_dump_json(indent=2))
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={nproc}",
           "-m", "train", "--config", str(cfg_path)]
    if resume:
        cmd.append("--resume")
    env = dict(os.environ)
    env.setdefault("OMP_NUM_THREADS", str(config.threads or 1))
    return subprocess.call(cmd, env=env)
