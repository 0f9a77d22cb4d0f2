"""MinHash near-dedup side by side, one run, same documents:

(a) assay: curate.dedup.minhash + curate.dedup.lsh (vectorised signatures -> Parquet -> numpy banding
    -> components)
(b) a plain datasketch loop: MinHash(num_perm).update per shingle, MinHashLSH.insert, query
(c) datatrove's four MinHash stages with their defaults (own venv, a subprocess)

Documents: the three docs WARCs (python-3.11, postgresql-15, debian-multilingual) after
exact dedup, plus 300 seeded near-duplicate variants of their pages (the real set holds no
pair with Jaccard >= 0.8). Prints signatures/s, end-to-end docs/s, ratios, recall against
brute-force Jaccard (pairs >= 0.8), and the memory figures of docs/minhash-memory.md.

Times are CPU seconds of one process (time.process_time): the work is single-threaded in all
three, and CPU time stays meaningful on a shared, loaded machine where wall time does not.

Usage: .venv/bin/python benchmarks/minhash.py [--no-datatrove] [--variants N]
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
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import tracemalloc  # noqa: E402

import numpy as np  # noqa: E402
import pyarrow as pa  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from curate.dedup.lsh import candidate_edges, cluster_labels, find_clusters  # noqa: E402
from curate.dedup.minhash import (  # noqa: E402
    NearDedupConfig,
    read_signatures,
    shingle_hashes,
    signatures,
    write_signatures,
)
from provenance.schema import TS  # noqa: E402
from tests.test_minhash import (  # noqa: E402  (the test's document set and brute force)
    exact_jaccard_all_pairs,
    load_docs_cached,
    near_variants,
    string_shingles,
)

CFG = NearDedupConfig()
DT_VENV = REPO / "benchmarks" / ".venv-datatrove"


def recall(labels: list, i: np.ndarray, j: np.ndarray) -> float:
    return float(np.mean([labels[a] is not None and labels[a] != -1 and labels[a] == labels[b]
                          for a, b in zip(i.tolist(), j.tolist(), strict=True)]))


def run_ours(files: dict[str, list[dict]], work: Path) -> dict:
    t0 = time.process_time()
    sigs = {name: signatures([d["text"] for d in docs], CFG) for name, docs in files.items()}
    t_sig = time.process_time() - t0
    paths = []
    for name, docs in files.items():
        p = work / f"{name}.sig.parquet"
        write_signatures(p, [d["doc_id"] for d in docs], pa.array([d["warc_date"] for d in docs], TS),
                         sigs[name], CFG)
        paths.append(p)
    clusters = find_clusters(paths, CFG)
    total = time.process_time() - t0
    cluster_of = dict(zip(clusters.column("doc_id").to_pylist(), clusters.column("dup_cluster").to_pylist(),
                          strict=True))
    ids = [d["doc_id"] for docs in files.values() for d in docs]
    # memory: stored bytes/doc, and the clustering stage's traced peak
    # (signatures read + banding + components)
    stored = sum(p.stat().st_size for p in paths)
    tracemalloc.start()
    find_clusters(paths, CFG)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    _, all_sigs = read_signatures(paths, CFG)
    t1 = time.process_time()
    edges = candidate_edges(all_sigs, CFG)
    t_band = time.process_time() - t1
    return {"signature_s": t_sig, "total_s": total, "labels": [cluster_of.get(x) for x in ids],
            "stored_bytes": stored, "cluster_peak_bytes": peak, "banding_s": t_band, "edges": len(edges),
            "sigs": all_sigs}


def run_datasketch(docs: list[dict]) -> dict:
    from datasketch import MinHash, MinHashLSH

    t0 = time.process_time()
    mhs = []
    for d in docs:
        m = MinHash(num_perm=CFG.num_perm, seed=CFG.seed)
        for s in string_shingles(d["text"], CFG.ngram):
            m.update(s.encode("utf-8"))
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


def run_datatrove(docs: list[dict], work: Path) -> dict | None:
    py = DT_VENV / "bin" / "python"
    if not py.exists():
        print(f"(c) skipped: {DT_VENV} missing; run bash benchmarks/setup_datatrove_venv.sh")
        return None
    src = work / "docs.jsonl"
    with open(src, "w", encoding="utf-8") as f:
        for d in docs:
            f.write(json.dumps({"id": d["doc_id"], "text": d["text"]}) + "\n")
    out = work / "datatrove.json"
    subprocess.run([str(py), "-P", str(REPO / "benchmarks" / "minhash_datatrove.py"), str(src),
                    str(work / "dt"), str(out)],
                   check=True, capture_output=True)
    res = json.loads(out.read_text())
    res["labels"] = [x if x != -1 else None for x in res["labels"]]
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--no-datatrove", action="store_true")
    ap.add_argument("--variants", type=int, default=300)
    args = ap.parse_args()

    files = load_docs_cached(REPO / ".pytest_cache" / "d" / "minhash-docs")
    real = [d for docs in files.values() for d in docs]
    files["variants"] = near_variants(real, args.variants)
    docs = [d for f in files.values() for d in f]
    n = len(docs)
    n_shingles = sum(len(np.unique(shingle_hashes(d["text"], CFG))) for d in docs)
    i, j, jac = exact_jaccard_all_pairs([shingle_hashes(d["text"], CFG) for d in docs])
    hi = jac >= 0.8
    print(f"documents: {n} ({len(real)} real after exact dedup + {args.variants} variants), "
          f"{n_shingles} distinct shingles, {int(hi.sum())} pairs with Jaccard >= 0.8")

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        a = run_ours(files, work)
        b = run_datasketch(docs)
        c = None if args.no_datatrove else run_datatrove(docs, work)

    rows = [("(a) assay", a), ("(b) datasketch loop", b)] + ([("(c) datatrove", c)] if c else [])
    print(f"\n{'':22s} {'signatures/s':>13s} {'end-to-end docs/s':>18s} {'recall@0.8':>11s}")
    for name, r in rows:
        print(f"{name:22s} {n / r['signature_s']:13.0f} {n / r['total_s']:18.0f} "
              f"{recall(r['labels'], i[hi], j[hi]):11.4f}")
    print(f"\nratios (a)/(b): signatures {b['signature_s'] / a['signature_s']:.1f}x, "
          f"end to end {b['total_s'] / a['total_s']:.1f}x")
    if c:
        print(f"ratios (a)/(c): signatures {c['signature_s'] / a['signature_s']:.1f}x, "
              f"end to end {c['total_s'] / a['total_s']:.1f}x")

    ds_s, ds_bytes = datasketch_index_bytes(a["sigs"])
    print(f"\nbanding alone over the same signatures: "
          f"numpy band_buckets+edges {a['banding_s'] * 1e3:.1f} ms, "
          f"datasketch MinHashLSH insert+query of LeanMinHash {ds_s * 1e3:.1f} ms")
    print("memory (bytes per document):")
    print(f"  signatures in RAM (uint32 x {CFG.num_perm})      {4 * CFG.num_perm}")
    print(f"  signature Parquet on disk (ours, zstd)        {a['stored_bytes'] / n:.0f}")
    if c:
        print(f"  signature files on disk (datatrove)           {c['signature_bytes'] / n:.0f}")
    print(f"  find_clusters traced peak (ours)              {a['cluster_peak_bytes'] / n:.0f}")
    print(f"  datasketch MinHashLSH index (dict storage)    {ds_bytes / n:.0f}")


if __name__ == "__main__":
    main()
