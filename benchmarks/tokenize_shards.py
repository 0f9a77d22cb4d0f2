"""Benchmark: `assay tokenize` tokens/s against (a) the raw encode floor and (b) datatrove's \
DocumentTokenizer.

Same texts (the kept pages of the Python / PostgreSQL / Debian documentation WARCs), same
tokenizer.json (a 16k byte-level BPE trained on them), each side in its own fresh process:

  (a) floor:     `Tokenizer.encode_batch_fast(texts, add_special_tokens=False)`, the call assay's
                 encode tasks make (curate/tokens/encode.py), over all texts already in memory, no
                 reading or writing; `encode_batch` (which also computes offsets) is shown for reference.
  ours:          `curate.tokenize_corpus(..., executor=LocalExecutor(--workers))`: read parquet, encode,
                 write part files, reshard, hash, update run.json (interpreter start-up excluded).
  (b) datatrove: JsonlReader -> DocumentTokenizer(shuffle_documents=False) on a
                 LocalPipelineExecutor with --workers tasks/workers, in benchmarks/.venv-datatrove
                 (created by benchmarks/setup_datatrove_venv.sh). It appends EOS to every document.

Every side runs with the same tokenizers thread pool (RAYON_NUM_THREADS = --threads, default every
CPU: what each of assay's worker processes gets when the variable is not set). tokens/s uses the same
numerator for every side (the documents' tokens, no EOS), so the ratios are ratios of wall time. Each
side runs --repeats times, in alternating order (floor, floor_offsets, ours, datatrove; then the
reverse); the median counts. CPU seconds (the process and its workers) are printed beside wall time.

    .venv/bin/python benchmarks/tokenize_shards.py [--corpus OUT_DIR] [--workers 2] [--threads N]
"""

from __future__ import annotations

import sys
from pathlib import Path

# This file is named like the stdlib `tokenize` module (pandas, linecache import it): take its folder
# off sys.path before anything else is imported.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import shutil  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
CACHE = HERE / "out" / "tokenize"  # git-ignored
DT_PY = HERE / ".venv-datatrove" / "bin" / "python"
WARCS = ("python-3.11-docs.warc.gz", "postgresql-15-docs.warc.gz", "debian-multilingual-docs.warc.gz")
VOCAB = 16_384  # "a 16k byte-level BPE" (the reference measurement)


def build_corpus(out: Path, warc_dir: Path) -> None:
    """An output directory shaped like `assay curate`'s: documents/ (one part per WARC), provenance/,
    run.json. Pages are extracted with resiliparse; every response record is kept."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    from resiliparse.extract.html2text import extract_plain_text
    from resiliparse.parse.encoding import bytes_to_str, detect_encoding
    from warcio.archiveiterator import ArchiveIterator

    from provenance.manifest import sha256_file, write_manifest
    from provenance.schema import DOCUMENT_SCHEMA, PARQUET_OPTIONS, PROVENANCE_SCHEMA, empty_pii

    tmp = out.with_name(out.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    (tmp / "documents").mkdir(parents=True)
    (tmp / "provenance").mkdir()
    for k, name in enumerate(WARCS):
        path = warc_dir / name
        sha = sha256_file(path)
        docs, prov = [], []
        with open(path, "rb") as f:
            it = ArchiveIterator(f)
            for idx, rec in enumerate(it):
                if rec.rec_type != "response":
                    continue
                rid = rec.rec_headers.get_header("WARC-Record-ID").strip("<>")
                html = rec.content_stream().read()
                text = extract_plain_text(bytes_to_str(html, detect_encoding(html)), main_content=True)
                row = {f.name: None for f in PROVENANCE_SCHEMA}
                row.update(doc_id=rid, source_file=name, source_sha256=sha, record_index=idx,
                           offset=it.get_record_offset(), warc_record_id=rid, warc_type="response",
                           url=rec.rec_headers.get_header("WARC-Target-URI"), pii_counts=empty_pii(),
                           decision="kept", run_id="bench-tokenize")
                prov.append(row)
                docs.append({**{f.name: None for f in DOCUMENT_SCHEMA}, "doc_id": rid, "text": text,
                             "url": row["url"], "n_chars": len(text), "run_id": "bench-tokenize"})
        pq.write_table(pa.Table.from_pylist(docs, DOCUMENT_SCHEMA),
                       tmp / "documents" / f"part-{k:05d}.parquet", **PARQUET_OPTIONS)
        pq.write_table(pa.Table.from_pylist(prov, PROVENANCE_SCHEMA),
                       tmp / "provenance" / f"part-{k:05d}.parquet", **PARQUET_OPTIONS)
    write_manifest(tmp, {"run_id": "bench-tokenize", "kind": "benchmark-corpus"})
    shutil.rmtree(out, ignore_errors=True)
    tmp.rename(out)


FLOOR = """
import json, os, resource, sys, time
import pyarrow.parquet as pq
from pathlib import Path
from tokenizers import Tokenizer
corpus, tok_path, fast = Path(sys.argv[1]), sys.argv[2], sys.argv[3] == "1"
texts = [t for p in sorted((corpus / "documents").glob("*.parquet")) \
for t in pq.read_table(p)["text"].to_pylist()]
tok = Tokenizer.from_file(tok_path)
enc = tok.encode_batch_fast if fast else tok.encode_batch
def cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime
t0, c0 = time.perf_counter(), cpu()
encs = enc(texts, add_special_tokens=False)
dt, dc = time.perf_counter() - t0, cpu() - c0
print(json.dumps({"seconds": dt, "cpu": dc, "tokens": sum(len(e.ids) for e in encs), "docs": len(texts)}))
"""

CPU = """
import resource
def cpu():
    return sum(r.ru_utime + r.ru_stime \
for r in map(resource.getrusage, (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)))
"""

OURS = CPU + """
import json, shutil, sys, time
from pathlib import Path
from curate import TokenizeConfig, tokenize_corpus
from curate.exec import LocalExecutor
if __name__ == "__main__":
    out, tok_path, workers = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    for d in ("_work", "tokens"):
        shutil.rmtree(out / d, ignore_errors=True)
    t0, c0 = time.perf_counter(), cpu()
    ex = LocalExecutor(workers)
    s = tokenize_corpus(out, TokenizeConfig(tokenizer=tok_path), executor=ex, progress=False)
    ex.close()  # its workers exit and are reaped: their CPU time counts in RUSAGE_CHILDREN
    dt, dc = time.perf_counter() - t0, cpu() - c0
    print(json.dumps({"seconds": dt, "cpu": dc, "tokens": s["n_tokens"], "docs": s["n_docs"], \
"shards": len(s["shards"])}))
"""

DATATROVE = CPU + """
import json, shutil, sys, time
from pathlib import Path
if __name__ == "__main__":
    from datatrove.executor import LocalPipelineExecutor
    from datatrove.pipeline.readers import JsonlReader
    from datatrove.pipeline.tokens import DocumentTokenizer
    jsonl, tok_path, out, workers = sys.argv[1], sys.argv[2], Path(sys.argv[3]), int(sys.argv[4])
    shutil.rmtree(out, ignore_errors=True)
    ex = LocalPipelineExecutor(
        pipeline=[JsonlReader(jsonl),
                  DocumentTokenizer(str(out / "tokens"), tokenizer_name_or_path=tok_path, \
eos_token="<|endoftext|>",
                                    shuffle_documents=False)],
        tasks=workers, workers=workers, logging_dir=str(out / "logs"), skip_completed=False,
        start_method="spawn")  # like ours; and its workers' CPU time then counts in RUSAGE_CHILDREN
    t0, c0 = time.perf_counter(), cpu()
    ex.run()
    dt, dc = time.perf_counter() - t0, cpu() - c0
    n = sum(p.stat().st_size for p in (out / "tokens").glob("*.ds")) // 2  # uint16 tokens, EOS included
    print(json.dumps({"seconds": dt, "cpu": dc, "tokens_with_eos": n}))
"""


def run_json(cmd: list[str], env: dict[str, str] | None = None) -> dict:
    res = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, env={**os.environ, **(env or {})})
    if res.returncode != 0:
        raise RuntimeError(f"{cmd[:3]} failed:\n{res.stderr[-3000:]}")
    return json.loads(res.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", type=Path, help="an `assay curate` output directory (default: build one)")
    ap.add_argument("--warc-dir", type=Path, default=REPO.parent / "shared" / "data" / "warc")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1,
                    help="RAYON_NUM_THREADS for every side (default: every CPU, tokenizers' own default)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--no-datatrove", action="store_true")
    args = ap.parse_args()
    sys.path.insert(0, str(REPO))
    CACHE.mkdir(parents=True, exist_ok=True)

    corpus = args.corpus or CACHE / "corpus"
    if args.corpus is None and not (corpus / "run.json").exists():
        print(f"building the corpus from {args.warc_dir} ...", flush=True)
        build_corpus(corpus, args.warc_dir)
    tok_path = CACHE / f"tokenizer-{VOCAB}.json"
    if not tok_path.exists():
        import pyarrow.parquet as pq

        from curate.tokens.tokenizer import train_tokenizer

        print(f"training a {VOCAB} byte-level BPE ...", flush=True)
        texts = [t for p in sorted((corpus / "documents").glob("*.parquet"))
                 for t in pq.read_table(p)["text"].to_pylist()]
        train_tokenizer(texts, VOCAB).save(str(tok_path))

    work = CACHE / "ours"  # a copy of the corpus, so the benchmark never writes into --corpus
    shutil.rmtree(work, ignore_errors=True)
    shutil.copytree(corpus, work, ignore=shutil.ignore_patterns("tokens", "_work", "tokenizer.json"))

    jsonl = CACHE / "jsonl"
    use_dt = not args.no_datatrove and DT_PY.exists()
    if use_dt and not jsonl.exists():
        import pyarrow.parquet as pq

        tmp = CACHE / "jsonl.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir()
        for p in sorted((corpus / "documents").glob("*.parquet")):
            with open(tmp / f"{p.stem}.jsonl", "w") as f:
                for d, t in zip(*(pq.read_table(p, columns=["doc_id", "text"])[c].to_pylist()
                                  for c in ("doc_id", "text")),
                                strict=True):
                    f.write(json.dumps({"id": d, "text": t}) + "\n")
        tmp.rename(jsonl)
    if not use_dt:
        print("datatrove: skipped "
              "(run benchmarks/setup_datatrove_venv.sh to create benchmarks/.venv-datatrove)")

    threads = {"RAYON_NUM_THREADS": str(args.threads), "TOKENIZERS_PARALLELISM": "true"}
    sides = {
        "floor": lambda: run_json([sys.executable, "-c", FLOOR, str(corpus), str(tok_path), "1"], threads),
        "floor_offsets": lambda: run_json([sys.executable, "-c", FLOOR, str(corpus), str(tok_path), "0"],
                                          threads),
        "ours": lambda: run_json([sys.executable, "-c", OURS, str(work), str(tok_path), str(args.workers)],
                                 threads),
    }
    if use_dt:
        sides["datatrove"] = lambda: run_json(
            [str(DT_PY), "-c", DATATROVE, str(jsonl), str(tok_path), str(CACHE / "dt-out"),
             str(args.workers)],
            {"HF_HUB_OFFLINE": "1", **threads})
    print(f"configuration: {args.workers} workers for ours and datatrove, RAYON_NUM_THREADS={args.threads} "
          f"for every side, {os.cpu_count()} CPUs, median of {args.repeats} in alternating order; "
          f"load average {os.getloadavg()[0]:.1f}", flush=True)
    runs: dict[str, list[dict]] = {k: [] for k in sides}
    for rep in range(args.repeats):
        for name in (list(sides) if rep % 2 == 0 else list(sides)[::-1]):
            r = sides[name]()
            runs[name].append(r)
            print(f"  rep {rep} {name:13s} {r['seconds']:7.2f} s wall  {r['cpu']:7.2f} s cpu", flush=True)
    print(f"load average after: {os.getloadavg()[0]:.1f}")
    best = {k: {**rs[0], "seconds": statistics.median(r["seconds"] for r in rs),
                "cpu": statistics.median(r["cpu"] for r in rs)} for k, rs in runs.items()}
    n_tokens = best["ours"]["tokens"]
    assert best["floor"]["tokens"] == n_tokens, (best["floor"]["tokens"], n_tokens)
    if "datatrove" in best:
        # datatrove appends one EOS per document and drops empty documents
        assert (n_tokens < best["datatrove"]["tokens_with_eos"]
                <= n_tokens + best["ours"]["docs"]), best["datatrove"]
    rate = {k: n_tokens / v["seconds"] for k, v in best.items()}
    cpu_rate = {k: n_tokens / v["cpu"] for k, v in best.items()}
    print(f"\n{best['ours']['docs']} documents, {n_tokens:,} tokens, vocab {VOCAB}, "
          f"{args.workers} workers, {args.threads} tokenizer threads per process, median of {args.repeats}")
    for k, v in rate.items():
        print(f"  {k:13s} {v:12,.0f} tokens/s wall ({best[k]['seconds']:.2f} s)   "
              f"{cpu_rate[k]:10,.0f} tokens per cpu-second ({best[k]['cpu']:.2f} s)")
    print(f"ours / (a) floor encode_batch_fast = {rate['ours'] / rate['floor']:.2f}x  (target >= 0.9x)")
    print(f"ours / encode_batch (offsets)      = {rate['ours'] / rate['floor_offsets']:.2f}x")
    if "datatrove" in rate:
        print(f"ours / (b) datatrove DocumentTokenizer = {rate['ours'] / rate['datatrove']:.2f}x  "
              "(target >= 1.2x)")
    print("cpu-time ratios (robust when other jobs share the cores): "
          f"ours/(a) = {cpu_rate['ours'] / cpu_rate['floor']:.2f}x"
          + (f", ours/(b) = {cpu_rate['ours'] / cpu_rate['datatrove']:.2f}x" if "datatrove" in cpu_rate
             else ""))
    print(json.dumps({"tokens": n_tokens, "tokens_per_s": {k: round(v) for k, v in rate.items()},
                      "tokens_per_cpu_s": {k: round(v) for k, v in cpu_rate.items()}}))


if __name__ == "__main__":
    main()
