"""MinHash near-dedup side by side, one run, same documents, same work on each side:

(a) assay: curate.dedup.minhash + curate.dedup.lsh. Signatures = shingle hashing, permutations and
    writing the signature Parquet files (datatrove's stage 1 writes its signature files too); end to
    end = signatures + find_clusters (banding, components: every document's cluster id).
(b) datasketch: MinHash(scheme="affine32").update_batch over the same 32-bit shingle hashes, as
    tests/test_minhash.py checks it (so its signatures equal ours), then MinHashLSH insert + query
    and the same connected components.
(c) datatrove's MinHash stages with their defaults (own venv, a subprocess): signatures = stage 1
    (signature files written); end to end = stages 1-3 (signatures, buckets, clusters: the cluster
    ids). Its filter stage (stage 4, which rewrites the documents) runs after the clock, only to read
    the cluster ids back for the recall column.

Documents: the three docs WARCs (python-3.11, postgresql-15, debian-multilingual) after
exact dedup, plus 300 seeded near-duplicate variants of their pages (the real set holds no
pair with Jaccard >= 0.8). Each side first runs once over the first 50 documents (warm-up:
imports, numpy/datatrove code paths), then --repeats times over all, in alternating order
(a b c, c b a, ...); the median is reported. Prints signatures/s, end-to-end docs/s, ratios,
recall against brute-force Jaccard (pairs >= 0.8), the configuration, the load average, and the
memory figures of docs/minhash-memory.md.

Times are CPU seconds of one process (time.process_time): the work is single-threaded in all
three, and CPU time stays meaningful on a shared, loaded machine where wall time does not.

Usage: .venv/bin/python benchmarks/minhash.py [--no-datatrove] [--variants N] [--repeats N]
(bash benchmarks/setup_datatrove_venv.sh first for (c)).
"""

from __future__ import annotations

import sys
from pathlib import Path

# benchmarks/tokenize.py (another benchmark) would shadow the stdlib `tokenize` module: drop this
# script's folder from the import path before anything imports it.
HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import tracemalloc  # noqa: E402

import numpy as np  # noqa: E402
import pyarrow as pa  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))  # tests/test_minhash.py imports tests/dedup_reference.py

from curate.dedup.config import NearDedupConfig  # noqa: E402
from curate.dedup.lsh import candidate_edges, cluster_labels, find_clusters  # noqa: E402
from curate.dedup.minhash import (  # noqa: E402
    read_signatures,
    shingle_hashes,
    shingle_hashes32,
    signatures,
    write_signatures,
)
from provenance.schema import TS  # noqa: E402
from tests.test_minhash import (  # noqa: E402  (the test's document set and brute force)
    exact_jaccard_all_pairs,
    load_docs_cached,
    near_variants,
)

CFG = NearDedupConfig()
DT_VENV = REPO / "benchmarks" / ".venv-datatrove"


def recall(labels: list, i: np.ndarray, j: np.ndarray) -> float:
    return float(np.mean([labels[a] is not None and labels[a] != -1 and labels[a] == labels[b]
                          for a, b in zip(i.tolist(), j.tolist(), strict=True)]))


def run_ours(files: dict[str, list[dict]], work: Path) -> dict:
    """Signatures computed and written (one Parquet file per input file), then clustered."""
    work.mkdir(parents=True, exist_ok=True)
    t0 = time.process_time()
    paths = []
    for name, docs in files.items():
        p = work / f"{name}.sig.parquet"
        write_signatures(p, [d["doc_id"] for d in docs], pa.array([d["warc_date"] for d in docs], TS),
                         signatures([d["text"] for d in docs], CFG), CFG)
        paths.append(p)
    t_sig = time.process_time() - t0
    clusters = find_clusters(paths, CFG)
    total = time.process_time() - t0
    cluster_of = dict(zip(clusters.column("doc_id").to_pylist(), clusters.column("dup_cluster").to_pylist(),
                          strict=True))
    ids = [d["doc_id"] for docs in files.values() for d in docs]
    return {"signature_s": t_sig, "total_s": total, "labels": [cluster_of.get(x) for x in ids],
            "paths": paths}


def ours_memory(paths: list[Path]) -> dict:
    """Stored bytes, the clustering stage's traced peak (signatures read + banding + components), and
    the banding alone (outside the timed runs)."""
    tracemalloc.start()
    find_clusters(paths, CFG)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    _, all_sigs = read_signatures(paths, CFG)
    t1 = time.process_time()
    edges = candidate_edges(all_sigs, CFG)
    return {"stored_bytes": sum(p.stat().st_size for p in paths), "cluster_peak_bytes": peak,
            "banding_s": time.process_time() - t1, "edges": len(edges), "sigs": all_sigs}


def run_datasketch(docs: list[dict]) -> dict:
    """datasketch's batch API over the same 32-bit shingle hashes (tests/test_minhash.py's use)."""
    from datasketch import MinHash, MinHashLSH

    t0 = time.process_time()
    mhs = []
    for d in docs:
        m = MinHash(num_perm=CFG.num_perm, seed=CFG.seed, hashfunc=lambda x: x,
                    scheme="affine32")
        m.update_batch(shingle_hashes32(d["text"], CFG).tolist())
        mhs.append(m)
    t_sig = time.process_time() - t0
    lsh = MinHashLSH(num_perm=CFG.num_perm, params=(CFG.bands, CFG.rows))
    for k, m in enumerate(mhs):
        lsh.insert(k, m)
    edges = [(k, other) for k, m in enumerate(mhs) for other in lsh.query(m) if other != k]
    labels = cluster_labels(len(docs), np.array(edges, dtype=np.int64).reshape(-1, 2))
    total = time.process_time() - t0
    sizes = np.bincount(labels)
    return {"signature_s": t_sig, "total_s": total,
            "labels": [int(x) if sizes[x] > 1 else None for x in labels]}


def datasketch_index_bytes(sigs: np.ndarray) -> tuple[float, float]:
    """(seconds, traced bytes) to insert LeanMinHash of our signatures into MinHashLSH and query all."""
    from datasketch import LeanMinHash, MinHash, MinHashLSH

    lean = [LeanMinHash(MinHash(num_perm=CFG.num_perm, seed=CFG.seed, hashvalues=s, scheme="affine32"))
            for s in sigs]
    tracemalloc.start()
    t0 = time.process_time()
    lsh = MinHashLSH(num_perm=CFG.num_perm, params=(CFG.bands, CFG.rows))
    for k, m in enumerate(lean):
        lsh.insert(k, m)
    index_bytes = tracemalloc.get_traced_memory()[0]
    for m in lean:
        lsh.query(m)
    secs = time.process_time() - t0
    tracemalloc.stop()
    return secs, index_bytes


def write_jsonl(docs: list[dict], path: Path) -> Path:
    with open(path, "w", encoding="utf-8") as f:
        for d in docs:
            f.write(json.dumps({"id": d["doc_id"], "text": d["text"]}) + "\n")
    return path


def run_datatrove(src: Path, warm: Path, work: Path) -> dict:
    """One subprocess: a warm-up over `warm`, then the timed stages over `src` (CPU seconds inside)."""
    work.mkdir(parents=True)
    out = work / "datatrove.json"
    subprocess.run([str(DT_VENV / "bin" / "python"), "-P", str(REPO / "benchmarks" / "minhash_datatrove.py"),
                    str(src), str(work / "dt"), str(out), str(warm)], check=True, capture_output=True)
    res = json.loads(out.read_text())
    res["labels"] = [x if x != -1 else None for x in res["labels"]]
    return res


def run_sides(files: dict[str, list[dict]], docs: list[dict], tmp: Path, repeats: int,
              with_dt: bool) -> dict[str, list[dict]]:
    """Warm-up once per side over the first 50 documents, then `repeats` rounds in alternating order."""
    src = write_jsonl(docs, tmp / "docs.jsonl")
    warm_docs = docs[:50]
    warm = write_jsonl(warm_docs, tmp / "warm.jsonl")
    sides = {"assay": lambda k: run_ours(files, tmp / f"a{k}"),
             "datasketch": lambda k: run_datasketch(docs)}
    if with_dt:
        sides["datatrove"] = lambda k: run_datatrove(src, warm, tmp / f"c{k}")
    run_ours({"warm": warm_docs}, tmp / "warm-a")
    run_datasketch(warm_docs)
    runs: dict[str, list[dict]] = {k: [] for k in sides}
    for r in range(repeats):
        for name in (list(sides) if r % 2 == 0 else list(reversed(sides))):
            runs[name].append(sides[name](r))
            got = runs[name][-1]
            print(f"  round {r} {name:10s} signatures {got['signature_s']:6.2f} s cpu, "
                  f"end to end {got['total_s']:6.2f} s cpu", flush=True)
    return runs


def median_run(runs: list[dict]) -> dict:
    out = dict(runs[0])
    for k in ("signature_s", "total_s"):
        out[k] = statistics.median(r[k] for r in runs)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--no-datatrove", action="store_true")
    ap.add_argument("--variants", type=int, default=300)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    with_dt = not args.no_datatrove and (DT_VENV / "bin" / "python").exists()
    if not args.no_datatrove and not with_dt:
        print(f"(c) skipped: {DT_VENV} missing; run bash benchmarks/setup_datatrove_venv.sh")

    files = load_docs_cached(REPO / ".pytest_cache" / "d" / "minhash-docs")
    real = [d for docs in files.values() for d in docs]
    files["variants"] = near_variants(real, args.variants)
    docs = [d for f in files.values() for d in f]
    n = len(docs)
    n_shingles = sum(len(np.unique(shingle_hashes(d["text"], CFG))) for d in docs)
    i, j, jac = exact_jaccard_all_pairs([shingle_hashes(d["text"], CFG) for d in docs])
    hi = jac >= 0.8
    import datasketch

    print(f"documents: {n} ({len(real)} real after exact dedup + {args.variants} variants), "
          f"{n_shingles} distinct shingles, {int(hi.sum())} pairs with Jaccard >= 0.8")
    print(f"configuration: assay and datasketch {datasketch.__version__} {CFG.ngram}-word shingles, "
          f"{CFG.num_perm} permutations = {CFG.bands} bands x {CFG.rows} rows, 32-bit; "
          f"datatrove MinhashConfig "
          f"defaults (5-grams, 14 buckets x 8 hashes, 64-bit); warm-up on 50 documents, median of "
          f"{args.repeats} rounds in alternating order; CPU seconds of one process; "
          f"load average {os.getloadavg()[0]:.1f}", flush=True)

    with tempfile.TemporaryDirectory() as tmp:
        runs = run_sides(files, docs, Path(tmp), args.repeats, with_dt)
        a, b = median_run(runs["assay"]), median_run(runs["datasketch"])
        c = median_run(runs["datatrove"]) if with_dt else None
        mem = ours_memory(a["paths"])
    print(f"load average after: {os.getloadavg()[0]:.1f}")

    rows = [("(a) assay", a), ("(b) datasketch batch", b)] + ([("(c) datatrove", c)] if c else [])
    print(f"\n{'(median)':22s} {'signatures/s':>13s} {'end-to-end docs/s':>18s} {'recall@0.8':>11s}")
    for name, r in rows:
        print(f"{name:22s} {n / r['signature_s']:13.0f} {n / r['total_s']:18.0f} "
              f"{recall(r['labels'], i[hi], j[hi]):11.4f}")
    print(f"\nratios (a)/(b): signatures {b['signature_s'] / a['signature_s']:.1f}x, "
          f"end to end {b['total_s'] / a['total_s']:.1f}x")
    if c:
        print(f"ratios (a)/(c): signatures {c['signature_s'] / a['signature_s']:.1f}x, "
              f"end to end {c['total_s'] / a['total_s']:.1f}x")

    ds_s, ds_bytes = datasketch_index_bytes(mem["sigs"])
    print(f"\nbanding alone over the same signatures: "
          f"numpy band_buckets+edges {mem['banding_s'] * 1e3:.1f} ms, "
          f"datasketch MinHashLSH insert+query of LeanMinHash {ds_s * 1e3:.1f} ms")
    print("memory (bytes per document):")
    print(f"  signatures in RAM (uint32 x {CFG.num_perm})      {4 * CFG.num_perm}")
    print(f"  signature Parquet on disk (ours, zstd)        {mem['stored_bytes'] / n:.0f}")
    if c:
        print(f"  signature files on disk (datatrove)           {c['signature_bytes'] / n:.0f}")
    print(f"  find_clusters traced peak (ours)              {mem['cluster_peak_bytes'] / n:.0f}")
    print(f"  datasketch MinHashLSH index (dict storage)    {ds_bytes / n:.0f}")


if __name__ == "__main__":
    main()
