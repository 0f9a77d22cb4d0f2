"""Learning curves of the bundled trainer on a real corpus: held-out loss against tokens and seconds.

    python benchmarks/train_curve.py CORPUS_DIR --run b16:batch=16,lr=3e-3,steps=1000 \
        --run b4-consecutive:batch=4,lr=3e-3,steps=300,order=consecutive [--threads 2] [--json out.json]

Each `--run NAME:KEY=VALUE,...` trains the `tiny` preset with those overrides (batch = batch_size =
micro_batch_size, lr, steps, warmup, and order = shuffled | consecutive: `consecutive` draws the windows
of each stream one after another, as the loader did before issue 17) and evaluates every held-out window
every `--eval-every` steps. Printed beside every run: the corpus's unigram entropy (the best context-free
model), 0.7 of it, and an interpolated Kneser-Ney bigram model's held-out loss, all on the same split.
The runs are measured one after another in the same process, so their seconds compare; tokens are exact.
docs/train.md reports the runs that chose the `tiny` preset.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

KEYS = {"batch": int, "lr": float, "steps": int, "warmup": int, "order": str, "seq": int}


def parse_run(spec: str) -> tuple[str, dict]:
    name, _, rest = spec.partition(":")
    opts = {}
    for kv in filter(None, rest.split(",")):
        k, _, v = kv.partition("=")
        if k not in KEYS:
            raise SystemExit(f"--run {spec!r}: unknown key {k!r}; use {', '.join(KEYS)}")
        opts[k] = KEYS[k](v)
    return name, opts


def baselines(corpus: Path, seed: int) -> dict[str, float]:
    """Unigram entropy (training tokens) and the smoothed bigram's held-out loss, on the trainer's split."""
    from train.config import DataSource, TrainConfig
    from train.data import open_corpora
    from train.testing import bigram_heldout_loss, unigram_entropy

    [c] = open_corpora([DataSource(name="c", path=corpus)], seed, TrainConfig().val_fraction)
    eos = np.array([c.shards.eos_id])
    tr = [np.concatenate([c.shards.doc(int(d)), eos]) for d in c.train_docs]
    va = [np.concatenate([c.shards.doc(int(d)), eos]) for d in c.val_docs]
    h = unigram_entropy(tr, c.shards.vocab_size)
    return {"unigram_entropy": h, "target_0.7x": 0.7 * h,
            "bigram_heldout": bigram_heldout_loss(tr, va, c.shards.vocab_size),
            "train_tokens": int(sum(map(len, tr))), "heldout_tokens": int(sum(map(len, va)))}


def run_one(corpus: Path, opts: dict, threads: int, eval_every: int, out: Path) -> list[dict]:
    from train import data
    from train.config import make_config
    from train.trainer import train

    batch = opts.get("batch", 16)
    over = {"out_dir": out, "batch_size": batch, "micro_batch_size": batch, "lr": opts.get("lr", 3e-3),
            "steps": opts.get("steps", 300), "warmup_steps": opts.get("warmup", 20), "eval_every": eval_every,
            "eval_windows": 10**6, "log_every": eval_every, "threads": threads, "progress": False}
    if "seq" in opts:
        over["seq_len"] = opts["seq"]
    cfg = make_config("tiny", data=[f"c={corpus}"], overrides=over)
    original = data.WindowOrder.__call__
    if opts.get("order") == "consecutive":
        data.WindowOrder.__call__ = lambda self, i: i  # the loader before issue 17
    try:
        train(cfg)
    finally:
        data.WindowOrder.__call__ = original
    rows = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    return [{"tokens": r["tokens"], "seconds": r["elapsed_s"], "val_loss": r["val_loss"]}
            for r in rows if r["split"] == "val"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("corpus", type=Path, help="a tokenized assay corpus")
    ap.add_argument("--run", action="append", required=True, metavar="NAME:KEY=VALUE,...")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--eval-every", type=int, default=100)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    base = baselines(args.corpus, 1337)
    print(" ".join(f"{k} {v:.3f}" if isinstance(v, float) else f"{k} {v:,}" for k, v in base.items()))
    results = {"baselines": base, "threads": args.threads, "runs": {}}
    with tempfile.TemporaryDirectory() as tmp:
        for i, spec in enumerate(args.run):
            name, opts = parse_run(spec)
            curve = run_one(args.corpus, opts, args.threads, args.eval_every, Path(tmp) / f"r{i}")
            results["runs"][name] = {"options": opts, "curve": curve}
            last = curve[-1]
            print(f"{name:24s} {opts}  final {last['val_loss']:.3f} "
                  f"({last['val_loss'] / base['unigram_entropy']:.3f} x unigram, "
                  f"bigram {base['bigram_heldout']:.3f}) at {last['tokens']:,} tokens, "
                  f"{last['seconds']:.0f} s")
            print("    curve: " + "  ".join(f"{r['tokens'] // 1000}k/{r['seconds']:.0f}s:{r['val_loss']:.2f}"
                                           for r in curve))
            if args.json:
                args.json.write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
