"""Scale simulation of the global dedup stages: N documents' worth of per-file outputs, no text.

    python benchmarks/scale_dedup.py --docs 1000000 [--executors local ray] [--task-memory-mb 1024]

Writes what the per-file tasks of a crawl of `--docs` documents would leave (`_work/extract`
keys: doc_id, record_index, text hash, url, date; `_work/minhash` signatures), `--docs-per-file`
documents a file (Common Crawl: ~40,000 a WARC), with planted clusters spread over all files:

- exact clusters (`--exact-share` of the documents, 2 to 5 copies): one text hash, one signature;
- near clusters (`--near-share`, 2 to 5 members): a base signature and copies with 4 % of their
  112 values redrawn (estimated Jaccard ~0.96 to the base; each pair shares at least one of the
  14 bands but with probability 1 - 0.28^14, so a cluster is missed about once in 10^8);
- every other document a random signature (never a candidate of anything).

Generation is vectorised: a planted document's signature and text hash are counter hashes
(splitmix64) of (seed, cluster, member, position), so a cluster's members agree in whichever file
they fall, and `--workers` processes write files at a time (16 M documents, 400 files: ~9 min on
2 shared cores, where a generator per planted document took over 30).

Then it runs the global dedup stages (`curate.dedup.stage.run_dedup`: repeated ids, exact, near;
map and reduce tasks sized to `--task-memory-mb`) with each executor (local: a pool of
`--workers` processes; Ray: a local cluster of as many CPUs) and prints one JSON line per run:
docs, seconds (wall), task_cpu_seconds (the CPU time of every task together, measured inside
each: the work, which a busy machine does not stretch as it stretches wall time; "waves" gives
each wave's [seconds, largest task's peak RSS in MiB, task CPU seconds]), driver_peak_rss_mb
(the driver's own peak while the stages run; tasks run in other processes), task_peak_rss_mb
(the largest task, measured inside it), planted_clusters, found_clusters (planted clusters found
exactly), false_merges (found clusters mixing documents of two planted clusters or an unplanted
one), the partitions, the bytes the stages wrote, and, with
both executors, whether their decision files are byte-identical.
"""

from __future__ import annotations

import os.path
import sys

_HERE = os.path.dirname(os.path.realpath(__file__))
sys.path = [p for p in sys.path if os.path.realpath(p or ".") != _HERE]  # benchmarks/tokenize.py

import argparse  # noqa: E402
import binascii  # noqa: E402
import hashlib  # noqa: E402
import json  # noqa: E402
import multiprocessing as mp  # noqa: E402
import shutil  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pyarrow as pa  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402

from curate.dedup.config import NearDedupConfig  # noqa: E402
from curate.dedup.decisions import read_decisions  # noqa: E402
from curate.dedup.minhash import write_signatures  # noqa: E402
from curate.dedup.sources import RECORD_MASK  # noqa: E402
from provenance.outdir import OutDir, write_parquet  # noqa: E402
from provenance.schema import TS  # noqa: E402

CFG = NearDedupConfig()
MUTATE = 0.04  # share of a near copy's signature values redrawn
EXTRACT, MINHASH = "extract", "minhash"  # the per-file stage's work folders (curate.file_stage)


# --- the planted corpus -------------------------------------------------------------------------------


def plan_clusters(docs: int, exact_share: float, near_share: float,
                  seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Per document its planted cluster (-1: none), exact clusters first; [exact clusters, all clusters]."""
    rng = np.random.default_rng(seed)
    cluster = np.full(docs, -1, dtype=np.int64)
    sizes = []
    for share in (exact_share, near_share):
        n_members = int(docs * share)
        s = rng.integers(2, 6, n_members // 2 + 1)
        s = s[: np.searchsorted(np.cumsum(s), n_members) + 1]
        sizes.append(s)
    all_sizes = np.concatenate(sizes)
    where = rng.choice(docs, int(all_sizes.sum()), replace=False)  # members anywhere in the crawl
    ids = np.repeat(np.arange(len(all_sizes)), all_sizes)
    cluster[where] = ids
    return cluster, np.array([len(sizes[0]), len(all_sizes)])


_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser (Steele et al., 2014): a counter-based hash, vectorised over arrays."""
    with np.errstate(over="ignore"):
        z = x + _GOLDEN
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def _draw(*words: np.ndarray | int) -> np.ndarray:
    """A 64-bit value per combination of the broadcast words (seed, tag, cluster, ...): the same words give
    the same value in whichever file the document falls, with no generator per document."""
    h = np.uint64(0x5EED)
    for w in words:
        h = _mix(h ^ np.asarray(w, dtype=np.uint64))
    return h


def _u32(h: np.ndarray) -> np.ndarray:
    """Signature values in [0, 2^32 - 2]: 2^32 - 1 is the empty sentinel."""
    return ((h >> np.uint64(32)) % np.uint64(2**32 - 1)).astype(np.uint32)


def planted_rows(seed: int, clusters: np.ndarray, members: np.ndarray, exact: np.ndarray,
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Signatures and text hashes (32 bytes) of planted documents: a cluster's base signature from its
    number; near copies (member > 0) with MUTATE of the values redrawn; exact copies share one text hash."""
    c, m, perm = clusters[:, None], members[:, None], np.arange(CFG.num_perm)
    sigs = _u32(_draw(seed, 1, c, perm))
    edit = (_draw(seed, 2, c, m, perm) >> np.uint64(11)) * 2.0**-53 < MUTATE
    edit &= (~exact[:, None]) & (m > 0)
    sigs = np.where(edit, _u32(_draw(seed, 3, c, m, perm)), sigs)
    text = _draw(seed, 4, c, np.arange(4)).astype(">u8").view(np.uint8).reshape(len(clusters), 32)
    return sigs, text


def _hexes(raw: np.ndarray) -> list[str]:
    text = binascii.hexlify(raw.tobytes()).decode()
    return [text[64 * i : 64 * i + 64] for i in range(len(raw))]


def write_part(root: Path, part: int, lo: int, cluster: np.ndarray, member: np.ndarray, bounds: np.ndarray,
               seed: int) -> None:
    """One file's keys and signatures (documents lo..lo+len(cluster)-1, their planted clusters)."""
    out, n = OutDir(root), len(cluster)
    rng = np.random.default_rng([seed, 0, part, 0x5EED])
    sigs = rng.integers(0, 2**32 - 1, (n, CFG.num_perm), dtype=np.uint32)  # 2^32-1 is the empty sentinel
    raw = rng.integers(0, 256, (n, 32), dtype=np.uint8)
    at = np.flatnonzero(cluster >= 0)
    exact = cluster[at] < bounds[0]
    sigs[at], text = planted_rows(seed, cluster[at], member[at], exact)
    raw[at[exact]] = text[exact]  # a near copy keeps its own random text hash
    ids = [f"<urn:uuid:{i:032x}>" for i in range(lo, lo + n)]
    urls = [f"https://site{i % 100_003}.example/page/{i}" for i in range(lo, lo + n)]
    dates = pa.array(rng.integers(1_704_067_200, 1_735_689_600, n) * 1_000_000, pa.int64()).cast(TS)
    index = np.arange(n, dtype=np.int64)
    write_parquet(out.work_file(EXTRACT, f"part-{part:05d}"), pa.table({
        "doc_id": ids, "record_index": index, "text_hash": _hexes(raw),
        "url": urls, "warc_date": dates}))
    write_signatures(out.work_file(MINHASH, f"part-{part:05d}"), ids, dates, sigs, CFG, record_index=index)


def _write_part(job: tuple) -> None:
    write_part(*job)


def generate(root: Path, docs: int, per_file: int, exact_share: float, near_share: float, seed: int,
             workers: int = 1) -> None:
    """The per-file outputs, `workers` files at a time; each file depends only on the seed and its number."""
    cluster, bounds = plan_clusters(docs, exact_share, near_share, seed)
    member = member_of(cluster)
    jobs = [(root, part, lo, cluster[lo : lo + per_file], member[lo : lo + per_file], bounds, seed)
            for part, lo in enumerate(range(0, docs, per_file))]
    if workers > 1:
        with mp.get_context("spawn").Pool(workers) as pool:
            for _ in pool.imap_unordered(_write_part, jobs):
                pass
    else:
        for job in jobs:
            _write_part(job)
    np.save(root / "planted.npy", cluster)
    np.save(root / "bounds.npy", bounds)


def member_of(cluster: np.ndarray) -> np.ndarray:
    """Member number of each document within its planted cluster (in document order)."""
    member = np.zeros(len(cluster), dtype=np.int64)
    at = np.flatnonzero(cluster >= 0)
    order = at[np.argsort(cluster[at], kind="stable")]
    starts = np.concatenate(([True], np.diff(cluster[order]) != 0))
    pos = np.arange(len(order)) - np.maximum.accumulate(np.where(starts, np.arange(len(order)), 0))
    member[order] = pos
    return member


# --- the run --------------------------------------------------------------------------------------------


def run_stages(root: Path, executor_kind: str, workers: int, task_memory_mb: int,
               partitions: int = 0) -> dict:
    """In a fresh process: the global dedup stages over the generated parts; seconds and peak RSS."""
    from curate.dedup.stage import DedupRun, run_dedup
    from curate.exec import make_executor
    from curate.exec.rss import PeakRss

    out = OutDir(root)
    parts = out.work_parts(EXTRACT)
    records = sum(pq.read_metadata(p).num_rows for p in parts)
    executor = make_executor(executor_kind, workers)
    run = DedupRun(out, "run-scale", executor, len(parts), task_memory_mb, partitions, False, True, CFG)
    current = [(str(p), str(out.work_file(MINHASH, p.stem))) for p in parts]
    start = time.monotonic()
    try:
        with PeakRss() as driver:
            result = run_dedup(run, current, records, records)
    finally:
        executor.close()  # the local pool's processes (left running, they keep this process from exiting)
    seconds = time.monotonic() - start
    return {"seconds": round(seconds, 1), "driver_peak_rss_mb": driver.mb,
            "task_peak_rss_mb": max(w["max_task_peak_rss_mb"] for w in result.waves.values()),
            "partitions": {k.removesuffix("-reduce"): w["partitions"] for k, w in result.waves.items()
                           if "partitions" in w},
            "task_cpu_seconds": round(sum(w["task_cpu_s"] for w in result.waves.values()), 1),
            "waves": {k: [w["seconds"], w["max_task_peak_rss_mb"], w["task_cpu_s"]]
                      for k, w in result.waves.items()},
            "decision_files": [s.template for s in result.decisions],
            "decision_counts": [s.stop for s in result.decisions]}


def _child(root: str, kind: str, workers: int, budget: int, partitions: int, queue: mp.Queue) -> None:
    if kind == "ray":
        import ray

        ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False)
    queue.put(run_stages(Path(root), kind, workers, budget, partitions))


def found_clusters(root: Path, stats: dict, per_file: int) -> dict:
    """Compare the decisions with the planted clusters (reads every decision: a check, not the driver)."""
    planted = np.load(root / "planted.npy")
    bounds = np.load(root / "bounds.npy")
    parts = len(OutDir(root).work_parts(EXTRACT))
    files = [t.format(i) for t, n in zip(stats["decision_files"], stats["decision_counts"], strict=True)
             for i in range(n)]
    exact = [f for f in files if "/exact/" in f]
    groups: dict[str, list[int]] = {}
    for part in range(parts):
        t = read_decisions(exact, part)
        index, clusters = t.column("record_index").to_pylist(), t.column("dup_cluster").to_pylist()
        for idx, c in zip(index, clusters, strict=True):
            groups.setdefault(c, []).append(part * per_file + idx)
    near = pq.read_table(OutDir(root).work_file("dedup/near", "clusters"), columns=["node", "dup_cluster"])
    node = near.column("node").to_numpy()
    doc = (node >> 32) * per_file + (node & RECORD_MASK)
    for c, d in zip(near.column("dup_cluster").to_pylist(), doc.tolist(), strict=True):
        groups.setdefault(c, []).append(d)
    found = false = 0
    sizes = np.bincount(planted[planted >= 0])
    for members in groups.values():
        labels = set(planted[members].tolist())
        if len(labels) > 1 or -1 in labels:
            false += 1
        elif len(members) == sizes[labels.pop()]:
            found += 1
    return {"planted_clusters": int(bounds[1]), "found_clusters": found, "false_merges": false}


def _digest(stats: dict) -> str:
    h = hashlib.sha256()
    for t, n in zip(stats["decision_files"], stats["decision_counts"], strict=True):
        for i in range(n):
            h.update(Path(t.format(i)).read_bytes())
    return h.hexdigest()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--docs", type=int, default=1_000_000)
    ap.add_argument("--docs-per-file", type=int, default=40_000)
    ap.add_argument("--exact-share", type=float, default=0.02)
    ap.add_argument("--near-share", type=float, default=0.03)
    ap.add_argument("--executors", nargs="+", default=["local", "ray"], choices=["local", "ray"])
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--task-memory-mb", type=int, default=1024)
    ap.add_argument("--partitions", type=int, default=0, help="reduce partitions (default: from the budget)")
    ap.add_argument("--seed", type=int, default=19)
    ap.add_argument("--dir", type=Path, help="work here (default: a temp dir, removed afterwards)")
    args = ap.parse_args()
    base = Path(tempfile.mkdtemp(prefix="scale-dedup-", dir=args.dir))
    try:
        data = base / "data"
        start = time.monotonic()
        gen = mp.get_context("spawn").Process(target=generate, args=(
            data, args.docs, args.docs_per_file, args.exact_share, args.near_share, args.seed,
            args.workers))
        gen.start()
        gen.join()
        generated = round(time.monotonic() - start, 1)
        digests = {}
        root = data  # each executor's run starts from the same per-file outputs; its dedup files go after it
        for kind in args.executors:
            queue = mp.get_context("spawn").Queue()
            job = (str(root), kind, args.workers, args.task_memory_mb, args.partitions, queue)
            child = mp.get_context("spawn").Process(target=_child, args=job)
            child.start()
            stats = queue.get()
            child.join()
            written = sum(p.stat().st_size for p in (root / "_work" / "dedup").rglob("*") if p.is_file())
            digests[kind] = _digest(stats)
            line = {"docs": args.docs, "executor": kind, "files": len(OutDir(root).work_parts(EXTRACT)),
                    "task_memory_mb": args.task_memory_mb, **{k: stats[k] for k in (
                        "seconds", "task_cpu_seconds", "driver_peak_rss_mb", "task_peak_rss_mb", "partitions",
                        "waves")},
                    **found_clusters(root, stats, args.docs_per_file), "dedup_bytes_written": written,
                    "generate_seconds": generated}
            if len(digests) > 1:
                line["identical_to_" + args.executors[0]] = digests[kind] == digests[args.executors[0]]
            print(json.dumps(line), flush=True)
            shutil.rmtree(root / "_work" / "dedup")
    finally:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
