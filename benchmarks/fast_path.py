"""Benchmark: each assay path against its extractor alone (the limit) and against datatrove (issue 18).

The same WARC parts as `curate_vs_datatrove.py` (the HTML pages of python-3.11-docs,
postgresql-15-docs and debian-multilingual-docs, or the first --pages-per-file of each), and in
the same run, each in a fresh process (interpreter start-up excluded, everything else timed):

  bare  <extractor>   read the WARC records, decode the charset, extract the text; nothing else
                      (the limit: what the per-record work around the extractor is measured against)
  assay <extractor>   `curate()` with that extractor, one worker, dedup and tokenizing off (the
                      FineWeb steps of curate_vs_datatrove.py, plus provenance, signals, report)
  assay trafilatura, full default run (near + exact dedup, tokenize), one worker
  assay trafilatura, 2 workers
  datatrove trafilatura, one worker (when benchmarks/.venv-datatrove exists: setup_datatrove_venv.sh)

Every run is repeated --repeats times, the order reversed on every other round (so a load change
hits both sides of a ratio alike), and the median is reported. Printed ratios (targets, issue 18):
assay/bare per extractor (resiliparse >= 0.5, trafilatura >= 0.9), the full run's share of time
outside extraction (1 - bare/full; <= 30% with trafilatura), 2 workers / 1 worker (>= 1.8) and
assay/datatrove. The load average is printed: figures taken on a busy machine say so.

    .venv/bin/python benchmarks/fast_path.py [--pages-per-file N] [--repeats 3] [--no-datatrove]
    .venv/bin/python benchmarks/fast_path.py --warcs cc-2020-34-slice.warc.gz   # another crawl

A small crawl (the CC slice and the wget crawls: 53 pages) measures a run's fixed cost (the record
worker's start, finalize, the report) more than its per-page work; `--copies N` runs each part N
times (byte-identical copies under other names, so N x the pages and parts) to measure the per-page
work on those pages too. With copies, the full run's dedup drops the copies after extraction.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from curate_vs_datatrove import DT_PY, OUT, WARCS, datatrove, prepare, run_json, shared_warc_dir  # noqa: E402

BARE = """
import json, sys, time
from pathlib import Path
from curate.read.decode import decode_html, looks_like_html
from curate.read.extract import extract_text
from curate.read.warc import read_warc
a = json.loads(sys.argv[1])
start, pages = time.perf_counter(), 0
for path in sorted(Path(a["warc_dir"]).glob("*.warc.gz")):
    for rec in read_warc(path, "0" * 64):
        if rec.warc_type != "response" or not looks_like_html(rec.content_type, rec.payload):
            continue
        html, _, _ = decode_html(rec.payload, rec.content_type)
        if html and extract_text(html, a["extractor"]).strip():
            pages += 1
print(json.dumps({"seconds": time.perf_counter() - start, "kept": pages}))
"""

OURS = """
import json, sys, time
from curate import curate, load_config
a = json.loads(sys.argv[1])
cfg = load_config(overrides={"workers": a["workers"], "extract.extractor": a["extractor"],
                             "lid.threshold": 0.65, **a["overrides"]})
start = time.perf_counter()
manifest = curate([a["warc_dir"]], a["out_dir"], cfg, overwrite=True)
print(json.dumps({"seconds": time.perf_counter() - start, "kept": manifest["counts"]["kept"]}))
"""
FASTEST = {"near_dedup.enabled": False, "exact_dedup.enabled": False, "tokenize.enabled": False}
FULL = {"tokenize.enabled": True}  # near and exact dedup are on by default


def python_run(script: str, args: dict, timeout: float) -> dict:
    return run_json([sys.executable, "-P", "-c", script, json.dumps(args)], timeout)


def assay(warc_dir: Path, name: str, extractor: str, workers: int, overrides: dict, timeout: float) -> dict:
    out = OUT / name
    shutil.rmtree(out, ignore_errors=True)
    return python_run(OURS, {"warc_dir": str(warc_dir), "out_dir": str(out), "extractor": extractor,
                             "workers": workers, "overrides": overrides}, timeout)


def runs(warc_dir: Path, timeout: float, with_datatrove: bool) -> dict:
    """label -> a function doing one timed run."""
    table = {
        "bare  resiliparse": lambda: python_run(BARE, {"warc_dir": str(warc_dir), "extractor": "resiliparse"},
                                                timeout),
        "assay resiliparse": lambda: assay(warc_dir, "fp-r1", "resiliparse", 1, FASTEST, timeout),
        "bare  trafilatura": lambda: python_run(BARE, {"warc_dir": str(warc_dir), "extractor": "trafilatura"},
                                                timeout),
        "assay trafilatura": lambda: assay(warc_dir, "fp-t1", "trafilatura", 1, FASTEST, timeout),
        "assay trafilatura full": lambda: assay(warc_dir, "fp-tf", "trafilatura", 1, FULL, timeout),
        "assay trafilatura 2 workers": lambda: assay(warc_dir, "fp-t2", "trafilatura", 2, FASTEST, timeout),
    }
    if with_datatrove:
        table["datatrove trafilatura"] = lambda: datatrove(warc_dir, OUT / "fp-dt", False, timeout)
    return table


def report(pages: int, seconds: dict[str, list[float]]) -> None:
    med = {k: statistics.median(v) for k, v in seconds.items()}
    for label, secs in seconds.items():
        spread = ", ".join(f"{s:.1f}" for s in secs)
        print(f"{label:30s} median {med[label]:7.1f} s  {pages / med[label]:7.1f} pages/s  ({spread})")
    print()
    ratios = [  # (name, numerator label, denominator label, op, target); 1 - x for the share
        ("assay/bare, resiliparse", "bare  resiliparse", "assay resiliparse", ">=", 0.5),
        ("assay/bare, trafilatura", "bare  trafilatura", "assay trafilatura", ">=", 0.9),
        ("full run: share outside extraction", "bare  trafilatura", "assay trafilatura full", "<=", 0.3),
        ("2 workers / 1 worker", "assay trafilatura", "assay trafilatura 2 workers", ">=", 1.8),
        ("assay/datatrove, trafilatura", "datatrove trafilatura", "assay trafilatura", ">=", 1.5),
    ]
    checks = [(n, med[a] / med[b], op, target) for n, a, b, op, target in ratios if a in med and b in med]
    checks = [(n, 1 - v if n.startswith("full") else v, op, t) for n, v, op, t in checks]
    for name, value, op, target in checks:
        met = value >= target if op == ">=" else value <= target
        print(f"{name:36s} {value:6.2f}  (target {op} {target}: {'met' if met else 'NOT met'})")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pages-per-file", type=int, default=0, help="first N pages of each WARC (0: all)")
    ap.add_argument("--part-pages", type=int, default=200, help="pages per input part (= per task)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--only", nargs="*", default=None, help="labels to run (default: all)")
    ap.add_argument("--no-datatrove", action="store_true", help="skip datatrove (its venv is not built)")
    ap.add_argument("--timeout", type=float, default=3600, help="seconds per run")
    ap.add_argument("--copies", type=int, default=1, help="run each part this many times (small crawls)")
    ap.add_argument("--warcs", nargs="+", default=list(WARCS), metavar="NAME",
                    help="WARC files of ../shared/data/warc (default: the three documentation crawls)")
    args = ap.parse_args()

    warc_dir = OUT / "warc"
    pages = prepare(shared_warc_dir(), warc_dir, args.pages_per_file, args.part_pages, patch=True,
                    warcs=tuple(args.warcs))
    for part in sorted(warc_dir.glob("*.warc.gz")):
        for k in range(1, args.copies):
            shutil.copyfile(part, part.with_name(part.name.replace(".warc.gz", f"-copy{k}.warc.gz")))
    pages *= args.copies
    with_dt = not args.no_datatrove and DT_PY.exists()
    if not with_dt:
        why = "" if args.no_datatrove else f" ({DT_PY} missing: setup_datatrove_venv.sh)"
        print(f"datatrove: not run{why}")
    table = runs(warc_dir, args.timeout, with_dt)
    labels = [k for k in table if args.only is None or k in args.only]
    n_parts = len(list(warc_dir.glob("*.warc.gz")))
    copies = f" x {args.copies} copies" if args.copies > 1 else ""
    print(f"{pages} HTML pages of {', '.join(args.warcs)}{copies}, {n_parts} parts, {args.repeats} repeats "
          f"in alternating order, medians; {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} "
          "at the start", flush=True)
    seconds: dict[str, list[float]] = {k: [] for k in labels}
    for r in range(args.repeats):
        for label in labels if r % 2 == 0 else labels[::-1]:
            seconds[label].append(table[label]()["seconds"])
        print(f"round {r + 1}: " + ", ".join(f"{k} {v[-1]:.1f}s" for k, v in seconds.items()), flush=True)
    print()
    report(pages, seconds)
    load = os.getloadavg()[0]
    print(f"load average at the end: {load:.1f}" + (" (figures taken under load)" if load > 1 else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
