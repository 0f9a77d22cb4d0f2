"""The files a training run keeps beside its checkpoints: run.json, metrics.jsonl, loss.png, tokenizer.json.

`RunRecord` writes RUN/run.json (rank 0 only): the config, the corpora (with the synthetic-gate
policy's record of each synthetic set), every shard consumed with its sha256 and first-read time
(kept across resumes), counts and times.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import uuid
from pathlib import Path
from typing import Any

from provenance.errors import NotARunError
from provenance.manifest import now_iso, read_manifest, write_manifest
from provenance.outdir import TOKENIZER, OutDir, write_text
from train.checkpoint import CKPT_DIR
from train.config import TrainConfig
from train.data import Corpus, MixedLoader
from train.model import Llama

METRICS = "metrics.jsonl"
LOSS_PLOT = "loss.png"


def _corpus_entry(c: Corpus) -> dict[str, Any]:
    return {"name": c.name, "path": str(c.path), "weight": c.weight, "run_id": c.shards.run_id,
            "tokenizer_sha256": c.shards.tokenizer_sha256, "kind": c.manifest.get("kind"),
            "n_docs": c.shards.n_docs, "train_docs": int(len(c.train_docs)), "val_docs": int(len(c.val_docs))}


class RunRecord:
    """Builds and rewrites RUN/run.json (rank 0 only); keeps shards' first-read times across resumes."""

    def __init__(self, out: Path, cfg: TrainConfig, corpora: list[Corpus], model: Llama,
                 resume: bool) -> None:
        self.out, self.cfg, self.corpora = out, cfg, corpora
        prev: dict[str, Any] = {}
        if resume:
            with contextlib.suppress(NotARunError):
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
        # the synthetic-gate policy's record of each synthetic set: its verdict, and whether only
        # --allow-failed-synthetic let it in (provenance.gates.check_mixable)
        synth = [{"corpus": c.name, "path": c.synthetic["path"], "gates_overall": c.synthetic["verdict"],
                  "override": c.synthetic["override"]} for c in self.corpora if c.synthetic]
        manifest = {
            "kind": "train",
            "run_id": self.run_id,
            "status": status,
            "config": self.cfg.model_dump(mode="json"),
            "data": [_corpus_entry(c) for c in self.corpora],
            "allow_failed_synthetic": self.cfg.allow_failed_synthetic,
            "synthetic_sets": synth,
            "synthetic_override": [e for e in synth if e["override"]],
            "shards_consumed": sorted(self.consumed.values(),
                                      key=lambda e: (e["first_read_at"], e["corpus"], e["path"])),
            "model": self.model_info,
            "counts": {"steps": step, "tokens": step * self.cfg.batch_size * self.cfg.seq_len,
                       "tokens_by_corpus": loader.tokens_by_corpus(),
                       "epochs_by_corpus": {k: round(v, 4) for k, v in loader.epochs_by_corpus().items()}},
            "outputs": {"checkpoints": f"{CKPT_DIR}/", "metrics": METRICS, "loss_plot": LOSS_PLOT,
                        "tokenizer": TOKENIZER},
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
    fig.savefig(out / LOSS_PLOT)
    plt.close(fig)


def start_files(out: Path, corpora: list[Corpus], start: int, resumed: bool) -> None:
    """RUN/tokenizer.json (the corpora's), and metrics.jsonl without rows logged after the restored step."""
    out.mkdir(parents=True, exist_ok=True)
    tok = OutDir(corpora[0].path).tokenizer
    if tok.exists():
        shutil.copyfile(tok, OutDir(out).tokenizer)
    metrics_path = out / METRICS
    kept = []
    if resumed and metrics_path.exists():
        rows = [ln for ln in metrics_path.read_text().splitlines() if ln.strip()]
        kept = [ln for ln in rows if json.loads(ln)["step"] <= start]
    write_text(metrics_path, "".join(ln + "\n" for ln in kept))
