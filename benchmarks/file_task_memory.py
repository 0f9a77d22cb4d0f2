"""Peak RSS of one per-file task on a Common Crawl-sized WARC (issue 19, item 4).

    python benchmarks/file_task_memory.py [--records 40000] [--extractor resiliparse] [--keep DIR]

A Common Crawl WARC is ~1 GB with ~40,000 response records. This script builds one from the
shared pages (the Python, PostgreSQL and Debian documentation WARCs in ../shared/data/warc):
record i is page i mod n with a unique URL, record id and date, plus an inline
`<script type="application/json">` of 18 KB of seeded base64 (real pages carry inline JS/JSON
of that order; it makes the file CC-sized without making extraction slower), then runs
`curate.file_stage.process_file` on it in a fresh child process and prints, as one JSON line, the
peak RSS the task reports (its own process plus its record worker, `curate.exec.rss.PeakRss`) and
the largest single process's `ru_maxrss`. The whole per-file task is
measured: reading, extraction, language ID, filters, signals, MinHash, writing the parts.

The budget (issue 19): under 1.5 GB per worker. Before issue 19 the task held every row of
its file (text included) until the end; it now streams rows to Parquet in row groups
(`curate/part_writer.py`), so its peak no longer grows with the file.
"""

from __future__ import annotations

import os.path
import sys

_HERE = os.path.dirname(os.path.realpath(__file__))
sys.path = [p for p in sys.path if os.path.realpath(p or ".") != _HERE]  # benchmarks/tokenize.py

import argparse  # noqa: E402
import base64  # noqa: E402
import io  # noqa: E402
import json  # noqa: E402
import multiprocessing as mp  # noqa: E402
import resource  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402
from queue import Empty  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("ASSAY_SHARED_DATA", REPO.parent / "shared" / "data")) / "warc"
PAGES_FROM = ("python-3.11-docs.warc.gz", "postgresql-15-docs.warc.gz", "debian-multilingual-docs.warc.gz")
BLOB_BYTES = 18_000  # inline JSON per page (base64 of seeded random bytes: gzip leaves ~75 % of it)


def shared_pages() -> list[bytes]:
    """The HTML bodies of the response records of PAGES_FROM, in file order."""
    from warcio.archiveiterator import ArchiveIterator

    pages = []
    for name in PAGES_FROM:
        with open(DATA / name, "rb") as f:
            for rec in ArchiveIterator(f):
                if rec.rec_type == "response":
                    pages.append(rec.content_stream().read())
    return pages


def build_warc(path: Path, records: int, seed: int = 19) -> Path:
    """`records` response records cycling over the shared pages, each with its own inline blob."""
    import numpy as np
    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    pages = shared_pages()
    rng = np.random.default_rng(seed)
    with open(path, "wb") as f:
        writer = WARCWriter(f, gzip=True)
        for i in range(records):
            blob = base64.b64encode(rng.bytes(BLOB_BYTES * 3 // 4))
            page = pages[i % len(pages)].replace(
                b"</body>", b'<script type="application/json">"' + blob + b'"</script></body>', 1)
            http = StatusAndHeaders("200 OK", [("Content-Type", "text/html; charset=utf-8")],
                                    protocol="HTTP/1.1")
            date = f"2024-{1 + i % 12:02d}-{1 + i % 28:02d}T00:00:00Z"
            rec = writer.create_warc_record(f"https://site{i % 997}.example/p/{i}", "response",
                                            payload=io.BytesIO(page), http_headers=http,
                                            warc_headers_dict={"WARC-Date": date})
            writer.write_record(rec)
    return path


def _run_task(warc: str, out: str, extractor: str, queue: mp.Queue) -> None:
    """In the child: the per-file task on the one file, exactly as an executor runs it."""
    from curate.config import load_config
    from curate.exec.base import no_report
    from curate.file_stage import FileTask, process_file
    from curate.runner import start_run

    cfg = load_config(overrides={"workers": 1, "extract.extractor": extractor})
    ctx, _ = start_run([warc], out, cfg, overwrite=True, progress=False)
    queue.put(process_file(FileTask(ctx.for_tasks(), ctx.files[0]), no_report))


def measure(warc: Path, out: Path, extractor: str) -> dict:
    queue = mp.get_context("spawn").Queue()
    child = mp.get_context("spawn").Process(target=_run_task, args=(str(warc), str(out), extractor, queue))
    start = time.monotonic()
    child.start()
    counts = None
    while counts is None and (child.is_alive() or not queue.empty()):
        try:
            counts = queue.get(timeout=5)
        except Empty:  # the child died without an answer: its traceback is on stderr
            pass
    child.join()
    if child.exitcode != 0:
        raise SystemExit(f"the task failed (exit {child.exitcode})")
    peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    # task_peak_rss_mb: what the task reports (its process + its record worker, each measured inside);
    # largest_process_peak_mb: ru_maxrss over the child and its record worker (the larger of the two)
    return {"seconds": round(time.monotonic() - start, 1), "records_done": counts["records"],
            "task_peak_rss_mb": counts["peak_rss_mb"], "largest_process_peak_mb": round(peak_kib / 1024, 1)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--records", type=int, default=40_000)
    ap.add_argument("--extractor", default="resiliparse", choices=["resiliparse", "trafilatura"])
    ap.add_argument("--keep", type=Path, help="build (or reuse) the WARC here instead of a temp dir")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        warc = (args.keep or Path(tmp)) / f"cc-sized-{args.records}.warc.gz"
        if not warc.exists():
            warc.parent.mkdir(parents=True, exist_ok=True)
            build_warc(warc, args.records)
        size_mb = round(warc.stat().st_size / 2**20, 1)
        result = measure(warc, Path(tmp) / "out", args.extractor)
    print(json.dumps({"records": args.records, "warc_mb": size_mb, "extractor": args.extractor, **result,
                      "budget_mb": 1536}))


if __name__ == "__main__":
    main()
