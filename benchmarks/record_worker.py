"""The supervised record worker's overhead (curate/supervisor.py) against the bare chain in one process.

Same records, same config, side by side in one run, with repeats (medians):

(a) bare: `Chain.process(file, rec)` in this process (no time limit: nothing could stop C code);
(b) supervised: `RecordWorker.rows(file, records)`, as a file task calls it: the records pickled to a
    child process (a few ahead, by a sender thread), the check and its start published in shared
    memory at every check, the rows pickled back.

Two record sets from the real python-3.11-docs.warc.gz (530 pages, 4-150 KB of HTML each):

- `blocked`: a URL block list that stops every page at its 6th check (before decoding), so (a) does
  almost nothing and (b) - (a) is the worker's cost per record: the payload and the row through the
  pipe, the status writes, the wait;
- `full`: the default chain (decode, extract, signals, lid, filters), the real cost of a record.

It also prints the worker's start-up: a fresh worker's first record (spawn, the child's imports, the
language model, the warm-up page), paid once per task process and again after every kill (issue 18).

Target (issue 14): under 1 ms of overhead per record. Prints ms per record for both, the overhead and
the ratio. Times are wall clock (the worker is another process); run it on a quiet machine.

Usage: .venv/bin/python benchmarks/record_worker.py [--repeats 3] [--limit N]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from curate import load_config  # noqa: E402
from curate.read.inputs import InputFile  # noqa: E402
from curate.read.warc import read_warc  # noqa: E402
from curate.record_checks import Chain  # noqa: E402
from curate.supervisor import RecordWorker  # noqa: E402

DOCS = REPO.parent / "shared" / "data" / "warc" / "python-3.11-docs.warc.gz"


def _time(rows, records, file) -> float:  # noqa: ANN001
    """Seconds to get the rows of `records` from `rows(file, records, run_id)`."""
    t0 = time.perf_counter()
    for _ in rows(file, records, "run-bench"):
        pass
    return time.perf_counter() - t0


def _in_process(chain: Chain):  # noqa: ANN202
    return lambda file, records, run_id: (chain.process(file, rec, run_id) for rec in records)


def measure(overrides: dict, records: list, file: InputFile, repeats: int) -> tuple[float, float]:
    """(bare, supervised) median seconds per record."""
    cfg = load_config(overrides=overrides)
    chain, worker = Chain(cfg), RecordWorker(cfg)
    worker.process(file, records[0], "warm-up")  # start the worker (its imports, lid.176) off the clock
    bare, supervised = [], []
    try:
        for _ in range(repeats):  # interleaved, so load changes hit both alike
            bare.append(_time(_in_process(chain), records, file) / len(records))
            supervised.append(_time(worker.rows, records, file) / len(records))
    finally:
        worker.close()
    return statistics.median(bare), statistics.median(supervised)


def start_up(records: list, file: InputFile, repeats: int) -> float:
    """Median seconds from a fresh worker to its first row (start-up plus one record)."""
    cfg, times = load_config(), []
    for _ in range(repeats):
        worker = RecordWorker(cfg)
        try:
            times.append(_time(worker.rows, records[:1], file))
        finally:
            worker.close()
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--limit", type=int, default=None, help="only the first N records")
    args = ap.parse_args()
    file = InputFile(0, str(DOCS), "0" * 64, DOCS.stat().st_size)
    records = [r for r in read_warc(DOCS, file.sha256) if r.warc_type == "response"][: args.limit]
    mb = sum(len(r.payload) for r in records) / 1e6
    print(f"{len(records)} pages of {DOCS.name} ({mb:.1f} MB of HTML), {args.repeats} repeats, medians")
    print(f"start-up  {start_up(records, file, args.repeats):.2f} s to a new worker's first row")
    for name, overrides in (("blocked", {"filters.url.regexes": ["."]}), ("full", {})):
        bare, sup = measure(overrides, records, file, args.repeats)
        print(f"{name:8s} bare {bare * 1e3:8.3f} ms/record  supervised {sup * 1e3:8.3f} ms/record  "
              f"overhead {(sup - bare) * 1e3:+.3f} ms/record  ratio {sup / bare:.2f}x")


if __name__ == "__main__":
    main()
