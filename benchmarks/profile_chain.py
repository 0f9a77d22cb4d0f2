"""Where a record's time goes: cProfile of the per-record chain (`Chain.process`) in one process.

The pages of the three documentation WARCs of `curate_vs_datatrove.py` (python-3.11-docs,
postgresql-15-docs, debian-multilingual-docs), read once into memory, then every record through
the default chain with the chosen extractor, under cProfile. Prints the total, the time in the
extractor alone and the top functions by own time and by cumulative time, so a before/after
comparison names what changed.

    .venv/bin/python benchmarks/profile_chain.py [--extractor resiliparse] [--limit N] [--top 25]
    .venv/bin/python benchmarks/profile_chain.py --limit 100 --bare-ratio 3   # bare loop / chain
    .venv/bin/python benchmarks/profile_chain.py --limit 100 --steps 3        # seconds per check
    .venv/bin/python benchmarks/profile_chain.py --bare-ratio 9 --warcs cc-2020-34-slice.warc.gz
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from curate_vs_datatrove import WARCS, shared_warc_dir  # noqa: E402  (the same pages and data folder)

from curate import load_config  # noqa: E402
from curate.read.decode import decode_html, looks_like_html  # noqa: E402
from curate.read.extract import extract_text  # noqa: E402
from curate.read.inputs import InputFile  # noqa: E402
from curate.read.warc import read_warc  # noqa: E402
from curate.record_checks import Chain  # noqa: E402


def load(limit: int | None, warcs: tuple[str, ...] = WARCS) -> list[tuple[InputFile, object]]:
    """(file, record) of the response records of the WARCs, the first `limit` of each."""
    out = []
    for i, name in enumerate(warcs):
        path = shared_warc_dir() / name
        file = InputFile(i, str(path), f"{i:064d}", path.stat().st_size)
        recs = [r for r in read_warc(path, file.sha256) if r.warc_type == "response"][:limit]
        out += [(file, r) for r in recs]
    return out


def bare_ratio(chain: Chain, records: list, extractor: str, rounds: int) -> None:
    """Side by side, in this process, alternating order: the bare decode+extract loop and the chain."""

    def bare() -> None:
        for _, rec in records:
            if looks_like_html(rec.content_type, rec.payload):
                html, _, _ = decode_html(rec.payload, rec.content_type)
                if html:
                    extract_text(html, extractor)

    def full() -> None:
        for file, rec in records:
            chain.process(file, rec, "bench")

    times: dict[str, list[float]] = {"bare": [], "chain": []}
    for r in range(rounds):
        for name, fn in (("bare", bare), ("chain", full))[:: 1 if r % 2 == 0 else -1]:
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
    med = {k: statistics.median(v) for k, v in times.items()}
    print(f"{len(records)} records, {extractor}, {rounds} rounds in alternating order, medians: bare "
          f"{med['bare']:.1f} s, chain {med['chain']:.1f} s, bare/chain {med['bare'] / med['chain']:.2f}")


def by_step(chain: Chain, records: list, rounds: int) -> None:
    """Wall seconds of each check and of each filter's `annotate`, no profiler (median of rounds)."""
    import curate.record_checks as rc

    spent: dict[str, list[float]] = {}

    def timed(name: str, fn):
        def run(*args):
            t0 = time.perf_counter()
            try:
                return fn(*args)
            finally:
                spent[name][-1] += time.perf_counter() - t0
        spent[name] = []
        return run

    checks = rc.CHECKS
    rc.CHECKS = tuple(timed(c.__name__, c) for c in checks)
    for f in chain.text_filters:
        f.annotate = timed(f"  filter {f.name}", f.annotate)
    totals = []
    try:
        for _ in range(rounds):
            for v in spent.values():
                v.append(0.0)
            t0 = time.perf_counter()
            for file, rec in records:
                chain.process(file, rec, "bench")
            totals.append(time.perf_counter() - t0)
    finally:
        rc.CHECKS = checks
    total = statistics.median(totals)
    print(f"{len(records)} records, median of {rounds} rounds: {total:.2f} s")
    for name, v in spent.items():
        med = statistics.median(v)
        if med >= 0.005:
            print(f"  {name:28s} {med:7.2f} s  {100 * med / total:5.1f}%")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--extractor", default="resiliparse", choices=("resiliparse", "trafilatura"))
    ap.add_argument("--limit", type=int, default=None, help="only the first N records of each WARC")
    ap.add_argument("--top", type=int, default=25)
    ap.add_argument("--out", default=None, help="also write the raw profile here (pstats format)")
    ap.add_argument("--bare-ratio", type=int, default=0, metavar="ROUNDS",
                    help="instead of profiling: time the bare loop and the chain side by side")
    ap.add_argument("--steps", type=int, default=0, metavar="ROUNDS",
                    help="instead of profiling: wall time per check and per filter, no profiler")
    ap.add_argument("--warcs", nargs="+", default=list(WARCS), metavar="NAME",
                    help="WARC files of ../shared/data/warc (default: the three documentation crawls)")
    ap.add_argument("--numpy-ngrams", action="store_true",
                    help="Gopher repetition with the numpy n-gram counts (the fallback), for before/after")
    args = ap.parse_args()
    if args.numpy_ngrams:
        import curate.filters.gopher as gopher
        from curate.filters.text import NumpyNGrams

        gopher.NGrams = NumpyNGrams
    records = load(args.limit, tuple(args.warcs))
    chain = Chain(load_config(overrides={"extract.extractor": args.extractor, "lid.threshold": 0.65}))
    chain.process(*records[0], "warm-up")
    if args.steps:
        by_step(chain, records, args.steps)
        return
    if args.bare_ratio:
        bare_ratio(chain, records, args.extractor, args.bare_ratio)
        return
    prof = cProfile.Profile()
    t0 = time.perf_counter()
    prof.enable()
    for file, rec in records:
        chain.process(file, rec, "profile")
    prof.disable()
    total = time.perf_counter() - t0
    print(f"{len(records)} records, {args.extractor}: {total:.1f} s under cProfile "
          f"({len(records) / total:.1f} records/s)")
    stats = pstats.Stats(prof)
    if args.out:
        stats.dump_stats(args.out)
    stats.sort_stats("tottime").print_stats(args.top)
    stats.sort_stats("cumulative").print_stats(args.top)


if __name__ == "__main__":
    main()
