"""`python -m train` / `torchrun --nproc-per-node N -m train ...`: one training process (or rank).

The same flags as `assay train run`; `assay train --nproc N` launches this module under torchrun.
"""

from __future__ import annotations

import argparse
import sys

from provenance.errors import UserError
from train.config import make_config


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m train", description=__doc__)
    p.add_argument("--preset", help="tiny | gpt2-small | 350m")
    p.add_argument("--config", help="train.toml (or a .json written by `assay train --nproc`)")
    p.add_argument("--data", action="append", default=[], metavar="NAME=DIR[:WEIGHT]")
    p.add_argument("-o", "--out", dest="out_dir")
    p.add_argument("--steps", type=int)
    p.add_argument("--stop-after", type=int)
    p.add_argument("--device")
    p.add_argument("--threads", type=int)
    p.add_argument("--compile", action="store_true", default=None)
    p.add_argument("--no-progress", dest="progress", action="store_false", default=None)
    p.add_argument("--allow-failed-synthetic", action="store_true", default=None)
    p.add_argument("--resume", action="store_true")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from train.trainer import train

    overrides = {k: getattr(args, k) for k in ("out_dir", "steps", "stop_after", "device", "threads",
                                                "compile", "progress", "allow_failed_synthetic")}
    try:
        cfg = make_config(args.preset, args.config, args.data, overrides)
        train(cfg, resume=args.resume)
    except UserError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
