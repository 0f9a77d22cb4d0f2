"""Training throughput: `assay train` against a plain nanoGPT-style loop, side by side.

Both train the same Llama (train/model.py) at the same size, batch, sequence length and optimizer
(AdamW, weight decay on matrices, grad clipping, the same micro-batching). The reference loop has
no data loader, no logging, no checkpoints: it reuses random token batches already in memory, so
the ratio measures everything the trainer adds (packing and mixing, schedule, metrics, progress).
Target: trainer >= 0.95x the reference.

MFU = model FLOPs/token (6N + 12 L T d; PaLM appendix B) x tokens/s / peak. On a CPU the peak is
measured (a large fp32 matmul on the same threads); on a GPU it is the datasheet dense bf16 peak.

    python benchmarks/train_throughput.py                     # tiny preset on this CPU
    python benchmarks/train_throughput.py --preset gpt2-small --steps 30   # on a GPU
"""

from __future__ import annotations

import sys
from pathlib import Path

# benchmarks/tokenize.py would shadow the stdlib `tokenize` (which torch imports): drop this script's folder.
HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]

import argparse  # noqa: E402
import json  # noqa: E402
import statistics  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

import torch  # noqa: E402

REPO = HERE.parent
sys.path.insert(0, str(REPO))
WARC = REPO.parent / "shared" / "data" / "warc" / "python-3.11-docs.warc.gz"

# Dense bf16 peak FLOP/s by device name (NVIDIA datasheets, without sparsity).
GPU_PEAK_BF16 = {"H200": 989e12, "H100": 989e12, "A100": 312e12, "L4": 121e12, "A10": 125e12, "4090": 165e12}


def cpu_peak_flops(threads: int, n: int = 1024, reps: int = 5) -> float:
    """Achieved fp32 matmul FLOP/s on this CPU: the practical ceiling for the training matmuls."""
    torch.set_num_threads(threads)
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b
    best = float("inf")
    for _ in range(reps):
        t = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - t)
    return 2 * n**3 / best


def gpu_peak_flops() -> float | None:
    name = torch.cuda.get_device_name()
    return next((v for k, v in GPU_PEAK_BF16.items() if k in name), None)


def reference_loop(cfg, steps: int, device: torch.device) -> float:
    """nanoGPT's train.py inner loop with in-memory batches; returns tokens/s after 2 warm-up steps."""
    from train.model import Llama
    from train.trainer import lr_at, make_optimizer

    torch.manual_seed(cfg.seed)
    model = Llama(cfg.model).to(device)
    opt, _ = make_optimizer(model, cfg, device.type)
    accum = cfg.batch_size // cfg.micro_batch_size
    data = torch.randint(0, cfg.model.vocab_size, (4, cfg.batch_size, cfg.seq_len + 1), device=device)
    ctx = (torch.autocast("cuda", dtype=torch.bfloat16) if device.type == "cuda"
           else torch.autocast("cpu", enabled=False))
    t0 = 0.0
    for step in range(steps):
        if step == 2:
            if device.type == "cuda":
                torch.cuda.synchronize()
            t0 = time.perf_counter()
        for g in opt.param_groups:
            g["lr"] = lr_at(step, cfg)
        batch = data[step % 4]
        for m in range(accum):
            xy = batch[m * cfg.micro_batch_size:(m + 1) * cfg.micro_batch_size]
            with ctx:
                _, loss = model(xy[:, :-1], xy[:, 1:])
            (loss / accum).backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        opt.step()
        opt.zero_grad(set_to_none=True)
        if step % 10 == 0:
            loss.item()  # nanoGPT logs every log_interval steps
    if device.type == "cuda":
        torch.cuda.synchronize()
    return (steps - 2) * cfg.batch_size * cfg.seq_len / (time.perf_counter() - t0)


def trainer_run(cfg, out: Path) -> float:
    """`assay train` (train.train) and its own tokens/s, from metrics.jsonl, after 2 warm-up steps."""
    from train.trainer import train

    train(cfg.model_copy(update={"out_dir": out}))
    rows = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    tr = [r for r in rows if r["split"] == "train"]
    first, last = tr[1], tr[-1]  # row i is logged after step i+1: measure steps 3..N
    return (last["tokens"] - first["tokens"]) / (last["elapsed_s"] - first["elapsed_s"])


def loader_cost_ms(cfg, n: int = 200) -> float:
    """Milliseconds the trainer's data path (mixing + packing from memory-mapped shards) takes per step."""
    from train.data import MixedLoader, open_corpora

    loader = MixedLoader(open_corpora(cfg.data, cfg.seed, cfg.val_fraction), cfg.seq_len, cfg.seed)
    t = time.perf_counter()
    for _ in range(n):
        torch.from_numpy(loader.next_batch(cfg.batch_size)[0])
    return (time.perf_counter() - t) * 1000 / n


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--preset", default="tiny")
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--batch-size", type=int, default=None,
                    help="default: the preset's micro-batch (no accumulation)")
    ap.add_argument("--threads", type=int, default=torch.get_num_threads())
    ap.add_argument("--repeats", type=int, default=5,
                    help="alternating runs of each; the best is compared "
                         "(timeit's rule: noise only slows a run down)")
    ap.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = ap.parse_args()

    from train.config import make_config
    from train.testing import build_corpus, warc_texts

    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    torch.set_num_threads(args.threads)
    tmp = Path(tempfile.mkdtemp(prefix="assay-bench-train-"))
    corpus = build_corpus(tmp / "corpus", warc_texts(str(WARC), 40), vocab_size=2048)
    over = {"steps": args.steps, "log_every": 1, "eval_every": 10**9, "eval_windows": 1, "progress": False,
            "threads": args.threads, "warmup_steps": 2}
    cfg = make_config(args.preset, data=[f"py={corpus}"], overrides=over)
    mb = args.batch_size or cfg.micro_batch_size
    cfg = cfg.model_copy(update={"batch_size": mb, "micro_batch_size": mb})
    cfg.model.vocab_size = 2048

    ref, ours = [], []
    for i in range(args.repeats):
        ref.append(reference_loop(cfg, args.steps, device))
        ours.append(trainer_run(cfg, tmp / f"run{i}"))
    r, o = max(ref), max(ours)
    loader_ms = loader_cost_ms(cfg)

    from train.model import Llama

    with torch.device("meta"):
        fpt = Llama(cfg.model).flops_per_token(cfg.seq_len)
    if device.type == "cuda":
        peak, peak_note = gpu_peak_flops(), f"{torch.cuda.get_device_name()} dense bf16 datasheet peak"
    else:
        peak, peak_note = (cpu_peak_flops(args.threads),
                           f"measured fp32 1024^3 matmul, {args.threads} thread(s)")
    result = {
        "preset": args.preset, "device": str(device), "threads": args.threads, "steps": args.steps,
        "batch_size": mb, "seq_len": cfg.seq_len, "flops_per_token": fpt,
        "reference_tokens_per_s": round(r, 1), "assay_tokens_per_s": round(o, 1), "ratio": round(o / r, 3),
        "median_ratio": round(statistics.median(ours) / statistics.median(ref), 3),
        "reference_runs": [round(x, 1) for x in ref], "assay_runs": [round(x, 1) for x in ours],
        "peak_flops": peak, "peak": peak_note, "loader_ms_per_step": round(loader_ms, 3),
        "loader_share_of_step": round(loader_ms / 1000 * o / (mb * cfg.seq_len), 5),
        "mfu_reference": round(fpt * r / peak, 4) if peak else None,
        "mfu_assay": round(fpt * o / peak, 4) if peak else None,
    }
    from rich.console import Console
    from rich.table import Table

    t = Table(title=f"training throughput: {args.preset}, batch {mb} x {cfg.seq_len}, {device} "
                    f"({args.threads} threads)")
    for col in ("loop", "tokens/s (best)", "runs", "MFU"):
        t.add_column(col)
    t.add_row("plain reference", f"{r:,.0f}", ", ".join(f"{x:,.0f}" for x in ref),
              f"{result['mfu_reference']:.1%}" if peak else "-")
    t.add_row("assay train", f"{o:,.0f}", ", ".join(f"{x:,.0f}" for x in ours),
              f"{result['mfu_assay']:.1%}" if peak else "-")
    Console().print(t)
    print(f"ratio assay/reference = {o / r:.3f} best, {result['median_ratio']:.3f} median (target >= 0.95); "
          f"MFU peak: {peak_note} = {peak / 1e9:,.1f} GFLOP/s")
    print(f"trainer data path: {loader_ms:.3f} ms/step = {result['loader_share_of_step']:.2%} of a step")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
