"""Scale-out benchmark: pages/s of `assay curate` on Ray with 1 and 2 workers, against local.

    python benchmarks/scale.py [--files NAME ...] [--shards 8] [--workers 1 2] [--repeats 3]

Inputs are real WARCs from ../shared/data/warc, re-sharded (byte-exact gzip members, records
dealt round-robin) into `--shards` files in a temp dir, so two workers get equal work the way
Common Crawl's equal-size segments do; the per-file task is what is being scaled, not the
luck of file sizes. Every measurement runs in a fresh process, and the clock starts before
either executor exists: it covers starting the local process pool or the local Ray cluster
(`ray.init(num_cpus=W)`, what `--executor ray` does without a cluster address; its share is
printed apart as "ray init s") and their worker processes, and the whole `curate()` call:
per-file tasks, global dedup (MinHash LSH as Ray tasks on Ray), finalize. CPU seconds of the
driver and every worker process are printed beside the wall time.

Prints a table and the two ratios of issue 8: Ray scaling 1 -> 2 workers (target >= 1.7x)
and Ray's overhead against the local executor at the same worker count (target <= 15%).
The configurations run `--repeats` rounds, in alternating order (local 1w, ray 1w, local 2w,
ray 2w; then the reverse), each with the load average at its start; the median counts.
"""

from __future__ import annotations

import os.path
import sys

# benchmarks/ holds a tokenize.py that would shadow the stdlib module: drop this folder from the path.
_HERE = os.path.dirname(os.path.realpath(__file__))
sys.path = [p for p in sys.path if os.path.realpath(p or ".") != _HERE]

import argparse  # noqa: E402
import itertools  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import resource  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # benchmarks.procs
DATA = Path(os.environ.get("ASSAY_SHARED_DATA", REPO.parent / "shared" / "data")) / "warc"
# Real pages of real sizes: the Python 3.11 docs (530 pages) and the multilingual Debian docs (262).
DEFAULT_FILES = ("python-3.11-docs.warc.gz", "debian-multilingual-docs.warc.gz")
# Records taken (round-robin over the files' records in order): the full 794 take ~10 min per
# 1-worker run on this shared 2-core machine; 200 keep the whole benchmark to a few minutes.
DEFAULT_RECORDS = 200


def reshard(files: list[Path], shards: int, dest: Path, max_records: int | None = None) -> list[Path]:
    """Deal the first `max_records` records of `files` (taken from each file in turn) round-robin into
    `shards` .warc.gz files, copying the raw gzip members."""
    from warcio.archiveiterator import ArchiveIterator

    outs = [open(dest / f"shard-{i:03d}.warc.gz", "wb") for i in range(shards)]  # noqa: SIM115
    members = []  # per file: the (start, end) byte range of each record's gzip member
    for path in files:
        with open(path, "rb") as f:
            it = ArchiveIterator(f)
            offsets = [it.offset for _ in it]
        offsets.append(path.stat().st_size)
        members.append([(path, a, b) for a, b in zip(offsets[:-1], offsets[1:], strict=True)])
    interleaved = [m for group in itertools.zip_longest(*members) for m in group if m is not None]
    for k, (path, a, b) in enumerate(interleaved[:max_records]):
        with open(path, "rb") as f:  # each record is its own gzip member (WARC 1.1 annex D)
            f.seek(a)
            outs[k % shards].write(f.read(b - a))
    for f in outs:
        f.close()
    return sorted(dest.glob("shard-*.warc.gz"))


def cpu_s() -> float:
    """CPU seconds of this process, its reaped children (the local pool's workers) and its live
    descendants (Ray's raylet, GCS and workers)."""
    from benchmarks.procs import descendants_cpu_s

    return descendants_cpu_s() + sum(r.ru_utime + r.ru_stime for r in map(
        resource.getrusage, (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)))


def child(executor: str, workers: int, inputs: list[str], out: str) -> dict:
    """One measurement (runs in its own process). The clock covers starting the executor."""
    from curate import curate, load_config

    cfg = load_config(overrides={"workers": workers, "executor": executor})
    init_s = 0.0
    c0, t = cpu_s(), time.perf_counter()
    if executor == "ray":  # what RayExecutor does first (ensure_ray); timed apart, inside the clock
        from curate.exec.ray_executor import ensure_ray

        ensure_ray(num_cpus=workers)
        init_s = time.perf_counter() - t
    manifest = curate(inputs, out, cfg)
    wall, cpu = time.perf_counter() - t, cpu_s() - c0
    import polars as pl

    prov = pl.read_parquet(Path(out) / "provenance" / "*.parquet", columns=["warc_type", "content_type"])
    pages = prov.filter(pl.col("warc_type") == "response").height
    return {"executor": executor, "workers": workers, "wall_s": wall, "cpu_s": cpu, "init_s": init_s,
            "records": manifest["counts"]["records"], "kept": manifest["counts"]["kept"], "pages": pages}


def measure(executor: str, workers: int, inputs: list[str], out: Path) -> dict:
    cmd = [sys.executable, __file__, "--child", executor, str(workers), str(out), *inputs]
    load = os.getloadavg()[0]
    res = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True)
    if res.returncode != 0:
        raise SystemExit(f"{executor} x{workers} failed:\n{res.stderr[-3000:]}")
    got = json.loads(res.stdout.strip().splitlines()[-1])
    got["load"] = load
    print(f"  {executor:5s} x{workers}: {got['wall_s']:.1f} s wall, {got['cpu_s']:.1f} s cpu "
          f"(load average {load:.1f})", flush=True)
    return got


def rounds(configs: list[tuple[str, int]], inputs: list[str], tmp: Path, repeats: int) -> dict:
    """Each configuration once per round, in alternating order; the run with the median wall time."""
    runs: dict[tuple[str, int], list[dict]] = {c: [] for c in configs}
    for r in range(repeats):
        for ex, w in (configs if r % 2 == 0 else configs[::-1]):
            runs[(ex, w)].append(measure(ex, w, inputs, tmp / f"out-{ex}-{w}-{r}"))
    out = {}
    for c, rs in runs.items():
        med = statistics.median(x["wall_s"] for x in rs)
        out[c] = {**min(rs, key=lambda x: abs(x["wall_s"] - med)), "wall_s": med,
                  "cpu_s": statistics.median(x["cpu_s"] for x in rs), "runs_s": [x["wall_s"] for x in rs]}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--files", nargs="+", default=list(DEFAULT_FILES),
                    help="WARC names in ../shared/data/warc")
    ap.add_argument("--records", type=int, default=DEFAULT_RECORDS, help="records to take (0: all)")
    ap.add_argument("--shards", type=int, default=8)
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--json", type=Path, help="also write the results here")
    ap.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        executor, workers, out, *inputs = args.child
        print(json.dumps(child(executor, int(workers), inputs, out)))
        return

    files = [DATA / n for n in args.files]
    missing = [str(f) for f in files if not f.is_file()]
    if missing:
        raise SystemExit(f"missing input: {', '.join(missing)} (real data lives in ../shared/data/warc)")
    with tempfile.TemporaryDirectory(prefix="assay-scale-") as tmpdir:
        tmp = Path(tmpdir)
        (tmp / "in").mkdir()
        inputs = [str(p) for p in reshard(files, args.shards, tmp / "in", args.records or None)]
        print(f"{len(inputs)} shards of {args.records or 'all'} records of {', '.join(args.files)}; "
              f"{os.cpu_count()} CPUs here, load average {os.getloadavg()[0]:.1f}", flush=True)
        configs = [(ex, w) for w in args.workers for ex in ("local", "ray")]
        results = rounds(configs, inputs, tmp, args.repeats)
        print(f"load average after: {os.getloadavg()[0]:.1f}; median of {args.repeats} rounds")

    print(f"\n{'executor':8s} {'workers':>7s} {'pages':>6s} {'wall s':>7s} {'pages/s':>8s} {'cpu s':>7s} "
          f"{'ray init s':>10s}")
    for (ex, w), r in results.items():
        print(f"{ex:8s} {w:7d} {r['pages']:6d} {r['wall_s']:7.1f} {r['pages'] / r['wall_s']:8.1f} "
              f"{r['cpu_s']:7.1f} {r['init_s']:10.1f}")
    summary: dict[str, float] = {}
    lo, hi = min(args.workers), max(args.workers)
    if lo != hi:
        for ex in ("local", "ray"):
            summary[f"{ex}_scaling_{lo}_to_{hi}"] = results[(ex, lo)]["wall_s"] / results[(ex, hi)]["wall_s"]
    for w in args.workers:
        summary[f"ray_overhead_vs_local_{w}w"] = (results[("ray", w)]["wall_s"]
                                                   / results[("local", w)]["wall_s"] - 1)
    print()
    for k, v in summary.items():
        target = (" (target >= 1.7x)" if k.startswith("ray_scaling")
                  else " (target <= 15%)" if "overhead" in k else "")
        print(f"{k:28s} {v * 100:+.1f}%{target}" if "overhead" in k else f"{k:28s} {v:.2f}x{target}")
    if args.json:
        args.json.write_text(json.dumps({"runs": [r for r in results.values()], "summary": summary},
                                        indent=1))


if __name__ == "__main__":
    main()
