"""`make bench`: run every benchmark script in this folder, one after another, side by side with
its peer, and print their ratios. Pass names to run a subset: `python benchmarks/run_all.py minhash`."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).parent
ORDER = ["curate_vs_datatrove", "minhash", "tokenize_shards", "train_throughput", "generate", "scale",
         "record_worker"]


def main(names: list[str]) -> int:
    wanted = names or ORDER
    failures = 0
    for name in wanted:
        script = HERE / f"{name}.py"
        if not script.exists():
            print(f"== {name}: no such benchmark ({script})")
            failures += 1
            continue
        print(f"\n== {name} ==", flush=True)
        failures += subprocess.call([sys.executable, str(script)]) != 0
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
