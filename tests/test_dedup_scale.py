"""Issue 19: global dedup as partitioned executor tasks, dedup against an earlier corpus, URL dedup,
streamed per-file rows, a driver killed mid-reduce, and the scale simulation on a small crawl.

Real pages from ../shared/data/warc throughout; the quality filters are off where a test is about
dedup decisions (documentation pages would otherwise be rejected by the C4 / FineWeb rules first).
"""

from __future__ import annotations

import functools
import hashlib
import io
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from dedup_reference import reference_decisions
from typer.testing import CliRunner
from warcio.archiveiterator import ArchiveIterator

from assay.cli import app
from conftest import REPO, warc
from curate import curate, load_config
from curate.dedup.shuffle import FileSet, partitions_for, read_partition, write_partitioned
from curate.dedup.url import normalize_url
from provenance.errors import UserError

ASSAY = [sys.executable, "-m", "assay"]
OUTPUTS = ("provenance", "documents", "rejected")
DECIDED = ("doc_id", "decision", "step", "reason", "dup_cluster", "dup_of")
NO_QUALITY = "".join(f"[filters.{f}]\nenabled = false\n"
                     for f in ("gopher_repetition", "gopher_quality", "c4", "fineweb_quality"))


def tree_digest(out: Path, folders: tuple[str, ...] = OUTPUTS) -> dict[str, str]:
    return {str(p.relative_to(out)): hashlib.sha256(p.read_bytes()).hexdigest()
            for sub in folders for p in sorted((out / sub).glob("*.parquet"))}


def config_file(tmp: Path, extra: str = "") -> Path:
    path = tmp / "dedup.toml"
    path.write_text(extra + NO_QUALITY)
    return path


def python_pages(n: int) -> list[bytes]:
    return _tutorial_pages()[:n]


@functools.cache
def _tutorial_pages() -> list[bytes]:
    """HTML bodies of the Python tutorial's long chapters (30 KB and more of HTML, 11 of them: long
    English prose every step keeps), in file order."""
    pages = []
    with open(warc("python-3.11-docs.warc.gz"), "rb") as f:
        for rec in ArchiveIterator(f):
            url = rec.rec_headers.get_header("WARC-Target-URI") or ""
            if rec.rec_type == "response" and "/tutorial/" in url and not url.endswith("index.html"):
                body = rec.content_stream().read()
                if len(body) >= 30_000:
                    pages.append(body)
    assert len(pages) >= 9
    return pages


def edited(page: bytes, every: int = 40) -> bytes:
    """A near copy: the first word of every `every`-th paragraph changed (5-gram Jaccard stays ~0.9)."""
    counter = iter(range(10**9))
    out = re.sub(rb"(?<=<p>)(\w+)", lambda m: b"Indeed" if next(counter) % every == 0 else m.group(1), page)
    assert out != page
    return out


def write_warc(path: Path, records: list[tuple[str, bytes, str]]) -> Path:
    """(url, html, WARC-Date) response records, each with a fresh record id."""
    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    base = int(hashlib.sha256(path.name.encode()).hexdigest()[:24], 16)  # record ids differ from file to file
    with open(path, "wb") as f:
        w = WARCWriter(f, gzip=True)
        for i, (url, body, date) in enumerate(records):
            http = StatusAndHeaders("200 OK", [("Content-Type", "text/html; charset=utf-8")],
                                    protocol="HTTP/1.1")
            rid = f"<urn:uuid:{uuid.UUID(int=base + i)}>"
            w.write_record(w.create_warc_record(url, "response", payload=io.BytesIO(body), http_headers=http,
                                                warc_headers_dict={"WARC-Date": date, "WARC-Record-ID": rid}))
    return path


def provenance(out: Path) -> list[dict]:
    rows = []
    for p in sorted((out / "provenance").glob("*.parquet")):
        rows += [dict(r, part=p.stem) for r in pq.read_table(p).to_pylist()]
    return rows


# --- partitioned files and their sizing ------------------------------------------------------------


def test_partitioned_file_round_trip(tmp_path: Path) -> None:
    t = pa.table({"x": np.arange(10), "s": [f"r{i}" for i in range(10)]})
    part = np.array([3, 0, 3, 1, 0, 3, 3, 1, 0, 0])  # partition 2 stays empty
    counts = write_partitioned(tmp_path / "a.parts", t, part, 4)
    assert counts == [4, 2, 0, 4]
    write_partitioned(tmp_path / "b.parts", t.slice(0, 2), np.array([2, 2]), 4)
    files = FileSet(str(tmp_path / "{}.parts"), 0, 0)
    paths = [str(tmp_path / "a.parts"), str(tmp_path / "b.parts")]
    assert files.paths() == []
    got = {p: read_partition(paths, p, t.schema) for p in range(4)}
    assert got[0].column("x").to_pylist() == [1, 4, 8, 9]  # row order kept within a partition
    assert got[2].column("s").to_pylist() == ["r0", "r1"]  # from the second file only
    assert got[3].column("x").to_pylist() == [0, 2, 5, 6]
    assert sum(len(v) for v in got.values()) == 12
    with pytest.raises(ValueError, match="partition 4"):
        read_partition(paths, 4, t.schema)
    (tmp_path / "c.parts").write_bytes(b"not a partitioned file at all")
    with pytest.raises(ValueError, match="not a partitioned file"):
        read_partition([str(tmp_path / "c.parts")], 0, t.schema)


def test_partition_count_follows_the_memory_budget() -> None:
    from curate.dedup.config import NearDedupConfig
    from curate.dedup.keyed import hash128
    from curate.dedup.near import band_row_bytes

    assert partitions_for(1_000, 220, 1 << 30) == 1  # fits: one partition, the one-task path
    assert partitions_for(10_000_000, 220, 1 << 30) == 3  # 2.2 GB of rows in 1 GiB tasks
    cfg = NearDedupConfig()
    budget = (1024 - 256) << 20
    # 16 M signatures x 14 bands: each band row's bytes, spread so that no reduce task passes its budget
    n = partitions_for(16_000_000 * cfg.bands, band_row_bytes(cfg), budget)
    assert n > 1 and 16_000_000 * cfg.bands * band_row_bytes(cfg) / n <= budget
    assert band_row_bytes(cfg.model_copy(update={"verify": True})) > band_row_bytes(cfg)
    a, b = hash128(["<urn:uuid:1>", "<urn:uuid:1>", "<urn:uuid:2>"])
    assert a[0] == a[1] and b[0] == b[1] and (a[0], b[0]) != (a[2], b[2])


def test_url_normalisation() -> None:
    same = ["http://www.Example.com:80/a?b=2&a=1#top", "https://example.com/a?a=1&b=2", "HTTPS://EXAMPLE.COM./a?a=1&b=2"]
    assert len({normalize_url(u) for u in same}) == 1
    assert normalize_url("https://example.com") == normalize_url("https://example.com/")
    assert normalize_url("https://example.com/A") != normalize_url("https://example.com/a")  # paths keep case
    assert normalize_url("https://example.com:8443/a") != normalize_url("https://example.com/a")
    assert normalize_url("http://[::1/broken") == "http://[::1/broken"  # unparsable: itself


# --- the distributed stage against the one-process algorithm, on real pages -----------------------


@pytest.fixture(scope="module")
def dedup_inputs(tmp_path_factory) -> tuple[list[str], Path]:
    """Real WARCs with every kind of duplicate: the ClueWeb09 shop pages (28 exact copies), a WARC of
    Python pages with edited copies (near), and a WARC given twice under two names (repeated record ids)."""
    root = tmp_path_factory.mktemp("dedup-inputs")
    pages = python_pages(4)
    near = write_warc(root / "near.warc.gz", [
        ("https://a.example/1", pages[0], "2024-01-01T00:00:00Z"),
        ("https://a.example/2", pages[1], "2024-01-02T00:00:00Z"),
        ("https://b.example/1", edited(pages[0]), "2023-06-01T00:00:00Z"),  # earlier: the representative
        ("https://b.example/2", edited(pages[1], 25), "2024-03-01T00:00:00Z"),
        ("https://c.example/3", pages[2], "2024-01-03T00:00:00Z"),
        ("https://c.example/4", pages[3], "2024-01-04T00:00:00Z"),
    ])
    (root / "again").mkdir()
    shutil.copy(warc("cc-single-record.warc.gz"), root / "again" / "cc-single-record-copy.warc.gz")
    inputs = [str(warc(n)) for n in ("clueweb09-ja-quirk.warc.gz", "cc-single-record.warc.gz")]
    return inputs + [str(near), str(root / "again" / "cc-single-record-copy.warc.gz")], root


@pytest.fixture(scope="module")
def partitioned_run(tmp_path_factory, dedup_inputs) -> tuple[Path, dict]:
    """The dedup inputs curated through the CLI with every dedup step in 3 reduce partitions, one worker:
    the driver SIGKILLed (issue 14's ASSAY_FAULT hook) after the first of the 3 exact-reduce tasks, then
    the same command again. Returns the output and what the killed run had left."""
    inputs, root = dedup_inputs
    cfg = root / "partitioned.toml"
    cfg.write_text("dedup_partitions = 3\n" + NO_QUALITY)
    out = tmp_path_factory.mktemp("partitioned") / "out"
    cmd = [*ASSAY, "curate", *inputs, "-o", str(out), "-c", str(cfg), "--workers", "1"]
    env = {**os.environ, "ASSAY_FAULT": "kill-after-wave:exact-reduce:1"}
    killed = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True)
    exact = out / "_work" / "dedup" / "exact"
    left = {"returncode": killed.returncode, "stderr": killed.stderr[-2000:],
            "run_json": (out / "run.json").exists(),
            "near_reduces": len(list((out / "_work" / "dedup").glob("near/reduce-*.done"))),
            "exact_done": {p.name: p.stat().st_mtime_ns for p in exact.glob("*.done")}}
    curate(inputs, out, load_config(cfg, {"workers": 1}))  # the same run again (in this process)
    return out, left


@pytest.fixture(scope="module")
def uninterrupted_run(tmp_path_factory, dedup_inputs) -> Path:
    """The same inputs in one uninterrupted run, in this process, partitions from the memory budget (one),
    the per-file rows streamed in row groups of 4 (instead of 1,024)."""
    inputs, root = dedup_inputs
    out = tmp_path_factory.mktemp("uninterrupted")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("curate.part_writer.ROW_GROUP_ROWS", 4)
        curate(inputs, out, load_config(config_file(root), {"workers": 1}), overwrite=True)
    return out


def test_exact_dedup_normalisation_collapses_every_unicode_whitespace_as_the_regex() -> None:
    """normalize_for_hash's split/join is `re.sub(r"\\s+", " ", s).strip()` after NFKC + lower, on every
    whitespace character (and the \\x1c-\\x1f separators) and on the real pages."""
    import unicodedata

    from curate.dedup.text_hash import normalize_for_hash

    spaces = [chr(c) for c in range(0x110000) if re.match(r"\s", chr(c))]
    assert "\u3000" in spaces and "\x1c" in spaces and "\u2028" in spaces
    texts = ["".join(["  A", *spaces, "b\u00a0C ", sp, "ﬁ", sp * 3]) for sp in spaces] + ["", " ", "x"]
    with open(warc("wget-crawl-2024-a.warc.gz"), "rb") as f:
        texts += [r.content_stream().read().decode("utf-8", "replace") for r in ArchiveIterator(f)][:40]
    for text in texts:
        expected = re.sub(r"\s+", " ", unicodedata.normalize("NFKC", text).lower()).strip()
        assert normalize_for_hash(text) == expected


@pytest.mark.timeout(600)
def test_distributed_dedup_equals_the_one_process_algorithm(partitioned_run, uninterrupted_run: Path) -> None:
    out, _ = partitioned_run
    parts = sorted((out / "_work" / "extract").glob("*.parquet"))
    want = reference_decisions(parts, sorted((out / "_work" / "minhash").glob("*.parquet")),
                               load_config().near_dedup)
    before = {(p.stem, r["record_index"]): r for p in parts for r in pq.read_table(p).to_pylist()}
    rows = provenance(out)
    for r in rows:
        key = (r["part"], r["record_index"])
        expected = {**{f: before[key][f] for f in DECIDED}, **want.get(key, {})}
        assert {f: r[f] for f in DECIDED} == expected, key
    steps = {r["step"] for r in rows if r["decision"] == "duplicate"}
    reasons = {r["reason"] for r in rows if r["decision"] == "duplicate"}
    assert steps == {"exact_dedup", "near_dedup"} and "repeated WARC-Record-ID" in reasons
    partitions = json.loads((out / "run.json").read_text())["memory"]["partitions"]
    assert partitions == {"ids": 3, "exact": 3, "near": 3}
    # One partition (the whole run in one reduce task), rows streamed in small row groups: the same bytes.
    partitions = json.loads((uninterrupted_run / "run.json").read_text())["memory"]["partitions"]
    assert partitions == {"ids": 1, "exact": 1, "near": 1}
    assert tree_digest(uninterrupted_run) == tree_digest(out)


@pytest.mark.timeout(600)
def test_driver_killed_during_the_exact_reduce_resumes_to_the_same_output(partitioned_run,
                                                                          uninterrupted_run: Path) -> None:
    out, left = partitioned_run
    assert left["returncode"] == -signal.SIGKILL, left["stderr"]
    assert sum(k.startswith("reduce-") for k in left["exact_done"]) == 1  # one of the 3 reduces had finished
    assert not left["run_json"] and left["near_reduces"] == 0
    exact = out / "_work" / "dedup" / "exact"
    after = {p.name: p.stat().st_mtime_ns for p in exact.glob("*.done")}
    assert {k: after[k] for k in left["exact_done"]} == left["exact_done"]  # finished tasks not redone
    assert len(list(exact.glob("reduce-*.done"))) == 3
    assert tree_digest(out) == tree_digest(uninterrupted_run)


# --- dedup against an earlier corpus ------------------------------------------------------------


def _sha_tree(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.mark.timeout(900)
def test_dedup_against_an_earlier_corpus(tmp_path: Path) -> None:
    pages = python_pages(9)
    cfg = config_file(tmp_path)
    a_warc = write_warc(tmp_path / "a.warc.gz", [(f"https://docs.example/{i}", p, "2024-01-01T00:00:00Z")
                                                 for i, p in enumerate(pages[:5])])
    a = tmp_path / "A"
    curate([str(a_warc)], a, load_config(cfg))
    a_docs = {r["url"]: r["doc_id"] for r in pq.read_table(a / "documents").to_pylist()}
    assert len(a_docs) == 5
    a_run = json.loads((a / "run.json").read_text())["run_id"]
    a_files = _sha_tree(a)
    # This month's crawl: A's pages again (new URLs and record ids), edited copies, and new pages.
    b_records = [(f"https://mirror.example/{i}", pages[i], "2024-02-01T00:00:00Z") for i in (0, 1)]
    b_records += [(f"https://edit.example/{i}", edited(pages[i]), "2024-02-01T00:00:00Z") for i in (2, 3)]
    b_records += [(f"https://new.example/{i}", pages[i], "2024-02-01T00:00:00Z") for i in (5, 6, 7, 8)]
    b_warc = write_warc(tmp_path / "b.warc.gz", b_records)
    b = tmp_path / "B"
    r = CliRunner().invoke(app, ["curate", str(b_warc), "-o", str(b), "-c", str(cfg),
                                 "--dedup-against", str(a)])  # the CLI, in this process
    assert r.exit_code == 0, r.output[-2000:]
    rows = {row["url"]: row for row in provenance(b) if row["warc_type"] == "response"}
    for i, step in ((0, "exact_dedup"), (1, "exact_dedup"), (2, "near_dedup"), (3, "near_dedup")):
        url = f"https://{'mirror' if step == 'exact_dedup' else 'edit'}.example/{i}"
        row = rows[url]
        assert (row["decision"], row["step"]) == ("duplicate", step), row
        assert row["dup_of"] == a_docs[f"https://docs.example/{i}"] and row["reason"].endswith(a_run)
    assert all(rows[f"https://new.example/{i}"]["decision"] == "kept" for i in (5, 6, 7, 8))
    assert _sha_tree(a) == a_files  # read, never written
    manifest = json.loads((b / "run.json").read_text())
    [earlier] = manifest["dedup_against"]
    assert earlier["run_id"] == a_run and earlier["hashes_reused"] == earlier["documents"] == 5
    assert earlier["signatures_reused"] == 5
    report = CliRunner().invoke(app, ["dedup-report", str(b)], terminal_width=200)
    assert report.exit_code == 0
    assert f"(run {a_run}) absorbed 4 documents" in report.output.replace("\n", " ")
    # Without A's _work/ the keys are recomputed from its documents: the same decisions.
    a2 = tmp_path / "A2"
    shutil.copytree(a, a2, ignore=shutil.ignore_patterns("_work"))
    b2 = tmp_path / "B2"
    curate([str(b_warc)], b2, load_config(cfg, {"dedup_against": [str(a2)]}))
    assert tree_digest(b2) == tree_digest(b)
    [earlier2] = json.loads((b2 / "run.json").read_text())["dedup_against"]
    assert earlier2["hashes_reused"] == earlier2["signatures_reused"] == 0
    with pytest.raises(UserError, match="not a finished assay corpus"):
        curate([str(b_warc)], tmp_path / "C", load_config(cfg, {"dedup_against": [str(tmp_path)]}))
    with pytest.raises(UserError, match="is the output directory"):
        curate([str(b_warc)], b, load_config(cfg, {"dedup_against": [str(b)]}), overwrite=True)


# --- URL dedup ------------------------------------------------------------------------------------


def test_url_dedup_keeps_the_latest_capture(tmp_path: Path) -> None:
    pages = python_pages(5)
    path = write_warc(tmp_path / "url.warc.gz", [
        ("http://www.docs.example/page?b=2&a=1", pages[0], "2024-01-01T00:00:00Z"),
        ("https://docs.example/page?a=1&b=2", pages[1], "2024-03-01T00:00:00Z"),  # the latest capture
        ("https://docs.example/page?a=1&b=2#x", pages[2], "2024-02-01T00:00:00Z"),
        ("https://docs.example/other", pages[3], "2024-01-01T00:00:00Z"),
        ("https://docs.example/Page?a=1&b=2", pages[4], "2023-01-01T00:00:00Z"),  # another path
    ])
    cfg = config_file(tmp_path)
    out = tmp_path / "on"
    curate([str(path)], out, load_config(cfg, {"url_dedup.enabled": True}))
    rows = sorted((r for r in provenance(out) if r["warc_type"] == "response"),
                  key=lambda r: r["record_index"])
    assert [r["decision"] for r in rows] == ["duplicate", "kept", "duplicate", "kept", "kept"]
    for r in (rows[0], rows[2]):
        assert r["step"] == "url_dedup" and r["dup_of"] == rows[1]["doc_id"]
        assert rows[1]["doc_id"] in r["reason"]


# --- the per-file stage streams its rows ----------------------------------------------------------


def test_per_file_rows_are_streamed_in_row_groups(partitioned_run, uninterrupted_run: Path) -> None:
    """The per-file task writes its rows a row group at a time (4 rows here, 1,024 by default): the
    same rows and signatures, the same outputs (test above), each task's peak RSS in run.json."""
    out, _ = partitioned_run
    for part in sorted((uninterrupted_run / "_work" / "extract").glob("*.parquet")):
        rows = pq.read_metadata(part).num_rows
        assert pq.ParquetFile(part).num_row_groups == -(-rows // 4), part.name  # 4 records a row group
        assert pq.ParquetFile(out / "_work" / "extract" / part.name).num_row_groups == 1
    for sub in ("extract", "minhash"):
        for part in sorted((out / "_work" / sub).glob("*.parquet")):
            assert pq.read_table(uninterrupted_run / "_work" / sub / part.name).equals(pq.read_table(part))
    peak = json.loads((uninterrupted_run / "run.json").read_text())["memory"]["max_task_peak_rss_mb"]
    assert 0 < peak["extract"] < 1536 and 0 < peak["finalize"] < 1536, peak  # the file task's: with its
    # record worker's (curate/exec/rss.py); a CC-sized WARC's: benchmarks/file_task_memory.py


# --- the scale simulation -------------------------------------------------------------------------


@pytest.mark.timeout(600)
def test_scale_simulation_finds_every_planted_cluster(tmp_path: Path) -> None:
    """benchmarks/scale_dedup.py on 10,000 documents in 5 files, in 3 partitions: every planted cluster
    found, no false merge, the driver and the tasks small. (Ray gives the same partitioned decisions:
    tests/test_ray.py; the JSON lines at 1 M, 4 M and 16 M documents: docs/scale.md.)"""
    r = subprocess.run([sys.executable, "benchmarks/scale_dedup.py", "--docs", "10000", "--docs-per-file",
                        "2000", "--task-memory-mb", "512", "--partitions", "3", "--executors", "local",
                        "--workers", "1", "--dir", str(tmp_path)], cwd=REPO, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-3000:]
    [x] = [json.loads(line) for line in r.stdout.splitlines() if line.startswith("{")]
    assert x["docs"] == 10000 and x["files"] == 5 and x["partitions"] == {"ids": 3, "exact": 3, "near": 3}
    assert x["planted_clusters"] > 100 and x["found_clusters"] == x["planted_clusters"], x
    assert x["false_merges"] == 0 and x["driver_peak_rss_mb"] < 1024 and x["task_peak_rss_mb"] < 512, x
