"""The curation pipeline on the real WARC files in ../shared/data/warc (issue 2)."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest
from warcio.archiveiterator import ArchiveIterator
from warcio.exceptions import ArchiveLoadFailed

from conftest import REPO, warc
from curate import curate, load_config
from curate.read.warc import is_warc_path

ASSAY = [sys.executable, "-m", "assay"]
OUTPUT_DIRS = ("provenance", "documents", "rejected")


def count_records(path: Path) -> tuple[int, bool]:
    """Records warcio can iterate in a file, and whether reading stopped on an error.
    Written independently of curate.read.warc: a plain loop, with a gzip fallback for files
    whose gzip members span several records (warcio refuses those)."""

    def loop(stream) -> tuple[int, bool]:  # noqa: ANN001
        n = 0
        try:
            for record in ArchiveIterator(stream, arc2warc=True):
                n += 1
                record.content_stream().read()  # read bodies, as any consumer does
        except ArchiveLoadFailed as exc:
            return n, "FALLBACK" if "non-chunked" in str(exc) else True
        except Exception:
            return n, True
        return n, False

    with open(path, "rb") as f:
        n, failed = loop(f)
    if failed == "FALLBACK":
        with gzip.open(path, "rb") as f:
            return loop(f)
    return n, failed is True


def no_quality_filters(tmp_path: Path) -> Path:
    """A config with the four quality filters off, for tests about other decisions."""
    path = tmp_path / "no-quality-filters.toml"
    path.write_text("".join(f"[filters.{f}]\nenabled = false\n" for f in
                            ("gopher_repetition", "gopher_quality", "c4", "fineweb_quality")))
    return path


def all_warc_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file() and is_warc_path(p))


@pytest.fixture(scope="session")
def curated_all(tmp_path_factory, warc_dir: Path) -> Path:
    """One run (2 workers) over every file in ../shared/data/warc that the Quickstart's curate does not
    read: malformed/, WET, ARC. The top-level *.warc.gz (most of the bytes) are the Quickstart's run
    (conftest.quickstart_dir, shared with the golden test): CI curates them once."""
    out = tmp_path_factory.mktemp("curate-all")
    rest = [str(p) for p in all_warc_files(warc_dir) if p not in set(warc_dir.glob("*.warc.gz"))]
    curate(rest, out, load_config(overrides={"workers": 2}))
    return out


@pytest.fixture(scope="session")
def all_runs(curated_all: Path, quickstart_dir: Path) -> list[Path]:
    """The two runs that together read every file in ../shared/data/warc once."""
    return [curated_all, quickstart_dir / "out" / "corpus"]


def read_all(runs: list[Path], table: str) -> pl.DataFrame:
    return pl.concat([pl.read_parquet(run / table / "*.parquet") for run in runs], how="diagonal_relaxed")


@pytest.mark.slow
@pytest.mark.timeout(1800)  # the first test to ask for the two session runs pays for them
def test_every_record_gets_one_provenance_row(all_runs: list[Path], warc_dir: Path) -> None:
    runs = all_runs
    prov = read_all(runs, "provenance")
    files = all_warc_files(warc_dir)
    assert len(files) >= 25
    by_file = dict(prov.group_by("source_file").len().iter_rows())
    for path in files:
        n, failed = count_records(path)
        got = by_file.get(str(path.resolve()), 0)
        if failed:  # warcio stops at the damage; assay resumes after it and reads at least as many
            assert got >= n + 1, path.name
        else:
            assert got == n, path.name
    for run in runs:
        rows = pl.read_parquet(run / "provenance" / "*.parquet")
        counts = rows["decision"].value_counts()
        assert set(counts["decision"]) <= {"kept", "rejected", "duplicate", "error"}
        assert int(counts["count"].sum()) == rows.height
        manifest = json.loads((run / "run.json").read_text())
        c = manifest["counts"]
        assert c["kept"] + c["rejected"] + c["duplicate"] + c["error"] == c["records"] == rows.height
        assert rows["doc_id"].n_unique() == rows.height  # every row addressable
        assert {e["sha256"] for e in manifest["inputs"]} == set(rows["source_sha256"].unique())


@pytest.mark.slow
@pytest.mark.timeout(1800)  # pays for the session runs when run alone
def test_malformed_files_give_error_rows_and_keep_what_is_readable(all_runs: list[Path],
                                                                   warc_dir: Path) -> None:
    prov = read_all(all_runs, "provenance")
    mal = prov.filter(pl.col("source_file").str.contains("/malformed/"))
    errors = mal.filter(pl.col("decision") == "error")
    by_name = {Path(f).name: g for (f,), g in errors.group_by("source_file")}
    # The really broken files: a clipped record, and a gzip that is not a WARC after its first record.
    assert "truncated-record" in by_name["resiliparse-clipped.warc.gz"]["reason"][0]
    assert any("unreadable-archive" in r for r in by_name["warcio-example-wrong-chunks.warc.gz"]["reason"])
    assert all(r and len(r) > 10 for r in errors["reason"])  # readable reasons, not empty
    # Their readable records are still processed: the iana page in the chunked WARC is kept,
    # and records of the multi-record-gzip file were read past warcio's refusal.
    assert mal.filter(pl.col("decision") == "kept").height >= 1
    nonchunked = mal.filter(pl.col("source_file").str.ends_with("bad-non-chunked.warc.gz"))
    assert nonchunked.height > 1 and "response" in nonchunked["warc_type"].to_list()


@pytest.mark.slow
@pytest.mark.timeout(1800)  # pays for the session runs when run alone
def test_non_html_and_non_response_records_are_rejected_with_reasons(all_runs: list[Path]) -> None:
    prov = read_all(all_runs, "provenance")
    iana = prov.filter(pl.col("source_file").str.ends_with("/iana.warc.gz"))
    reasons = set(iana["reason"].drop_nulls())
    assert {"warc-type:revisit", "warc-type:request", "warc-type:warcinfo"} <= reasons
    assert any(r.startswith("not-html:") for r in reasons)  # images, css, js of the capture
    assert iana.filter(pl.col("reason") == "warc-type:revisit").height == 123


@pytest.mark.slow
@pytest.mark.timeout(1800)  # pays for the session runs when run alone
def test_charsets_decode_and_languages_are_detected(all_runs: list[Path]) -> None:
    prov = read_all(all_runs, "provenance")
    slice_ = prov.filter(pl.col("source_file").str.ends_with("cc-2020-34-slice.warc.gz"))
    assert {"zh", "ru", "en"} <= set(slice_["lang"].drop_nulls())
    assert {"cp1251", "gb18030"} <= set(slice_["charset"].drop_nulls())
    docs = read_all(all_runs, "documents")
    ru = docs.filter(pl.col("url") == "http://01spb.ru/company/")["text"][0]
    assert "Стратегия пожарной безопасности" in ru  # windows-1251 page, decoded
    rejected = read_all(all_runs, "rejected")
    zh_text = "\n".join(rejected.filter(pl.col("lang") == "zh")["text"].to_list())
    assert "\ufffd" not in zh_text and any("\u4e00" <= ch <= "\u9fff" for ch in zh_text)


def test_clueweb_duplicates(tmp_path: Path) -> None:
    src = warc("clueweb09-ja-quirk.warc.gz")
    # Default config: the shop pages are removed by quality filters first (FineWeb order); none is
    # kept silently and every one carries its reason.
    out = tmp_path / "default"
    curate([str(src)], out)
    prov = pl.read_parquet(out / "provenance" / "*.parquet")
    pages = prov.filter(pl.col("warc_type") == "response")
    assert (pages.height == 29
            and pages["reason"].null_count() == pages.filter(pl.col("decision") == "kept").height)
    # With the quality filters off, exact dedup sees them: one representative, 28 duplicates.
    cfg_path = no_quality_filters(tmp_path)
    out2 = tmp_path / "nofilters"
    curate([str(src)], out2, load_config(cfg_path))
    prov2 = pl.read_parquet(out2 / "provenance" / "*.parquet")
    dups = prov2.filter(pl.col("decision") == "duplicate")
    assert dups.height == 28
    assert dups["step"].unique().to_list() == ["exact_dedup"]
    assert dups["dup_cluster"].n_unique() == 1 and dups["dup_of"].n_unique() == 1
    rep = dups["dup_of"][0]
    assert prov2.filter(pl.col("doc_id") == rep)["decision"][0] == "kept"
    rejected = pl.read_parquet(out2 / "rejected" / "*.parquet")
    assert rejected.filter(pl.col("decision") == "duplicate").height == 28  # text kept for inspection


def _tree_digest(out: Path) -> dict[str, str]:
    return {
        f"{sub}/{p.name}": hashlib.sha256(p.read_bytes()).hexdigest()
        for sub in OUTPUT_DIRS
        for p in sorted((out / sub).glob("*.parquet"))
    }


RESUME_INPUTS = ("wget-crawl-2024-a.warc.gz", "wget-crawl-2024-b.warc.gz", "cc-2020-34-slice.warc.gz",
                 "solidaritenum-fr.warc.gz", "ia-urls-wget.warc.gz")


def test_rerun_is_byte_identical_and_worker_count_does_not_matter(tmp_path: Path) -> None:
    inputs = [str(warc(n)) for n in RESUME_INPUTS[:3]]
    a, b = tmp_path / "a", tmp_path / "b"
    curate(inputs, a, load_config(overrides={"workers": 1}))
    curate(inputs, b, load_config(overrides={"workers": 2}))
    da, db = _tree_digest(a), _tree_digest(b)
    assert da and da == db
    # A rerun over a finished output dir recomputes nothing and changes nothing.
    before = {p: os.path.getmtime(a / "_work" / "extract" / p) for p in os.listdir(a / "_work" / "extract")}
    manifest = curate(inputs, a, load_config())
    assert manifest["resumed_tasks"] == len(inputs)
    assert before == {p: os.path.getmtime(a / "_work" / "extract" / p)
                      for p in os.listdir(a / "_work" / "extract")}
    assert _tree_digest(a) == da


@pytest.mark.slow
def test_sigkill_and_resume_gives_the_same_output(tmp_path: Path) -> None:
    inputs = [str(warc(n)) for n in RESUME_INPUTS]
    ref = tmp_path / "ref"
    curate(inputs, ref, load_config())
    out = tmp_path / "killed"
    # The driver SIGKILLs itself right after its 2nd file task (curate/faults.py): a deterministic point.
    cmd = [*ASSAY, "curate", *inputs, "-o", str(out), "--workers", "1"]
    killed = subprocess.run(cmd, cwd=REPO, env={**os.environ, "ASSAY_FAULT": "kill-after-tasks:2"},
                            capture_output=True, text=True)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    assert not (out / "run.json").exists()
    finished_before = len(list((out / "_work" / "extract").glob("*.done")))
    assert finished_before == 2
    result = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert json.loads((out / "run.json").read_text())["resumed_tasks"] == finished_before
    assert _tree_digest(out) == _tree_digest(ref)


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*ASSAY, *args], cwd=REPO, capture_output=True, text=True)


def test_bad_config_is_one_line_error_and_writes_nothing(tmp_path: Path) -> None:
    src = str(warc("cc-single-record.warc.gz"))
    bad_key = tmp_path / "bad-key.toml"
    bad_key.write_text("[lid]\nthreshhold = 0.5\n")
    bad_value = tmp_path / "bad-value.toml"
    bad_value.write_text("[lid]\nthreshold = 'high'\n")
    broken = tmp_path / "broken.toml"
    broken.write_text("[lid\nthreshold = 0.5\n")
    for cfg, needle in ((bad_key, "lid.threshhold: unknown key"), (bad_value, "lid.threshold"),
                        (broken, "not valid TOML")):
        out = tmp_path / f"out-{cfg.stem}"
        r = run_cli("curate", src, "-o", str(out), "--config", str(cfg))
        assert r.returncode == 2
        lines = [ln for ln in r.stderr.strip().splitlines() if ln.strip()]
        assert len(lines) == 1 and needle in lines[0] and str(cfg) in lines[0], r.stderr
        assert not out.exists()


def test_missing_input_and_empty_directory_are_clear_errors(tmp_path: Path) -> None:
    r = run_cli("curate", str(tmp_path / "nope.warc.gz"), "-o", str(tmp_path / "o1"))
    assert r.returncode == 2 and "no such file or directory" in r.stderr
    empty = tmp_path / "empty"
    empty.mkdir()
    r = run_cli("curate", str(empty), "-o", str(tmp_path / "o2"))
    assert r.returncode == 2 and "holds no WARC" in r.stderr
    r = run_cli("curate", str(tmp_path / "*.warc.gz"), "-o", str(tmp_path / "o3"))
    assert r.returncode == 2 and "matches no file" in r.stderr
    synth_set = tmp_path / "synth"  # a synthetic set is mixed at training time, where its gates are checked
    synth_set.mkdir()
    (synth_set / "run.json").write_text(json.dumps({"kind": "synth", "gates": {"overall": "fail"}}))
    r = run_cli("curate", str(synth_set), "-o", str(tmp_path / "o4"))
    assert r.returncode == 2 and "assay synth directory" in r.stderr and "assay train run --data" in r.stderr


def test_print_config_shows_s_curve_threshold() -> None:
    r = run_cli("curate", "--print-config")
    assert r.returncode == 0
    assert "threshold = 0.65" in r.stdout
    # 50% point: (1 - 0.5^(1/14))^(1/8) = 0.685; S-curve threshold (1/14)^(1/8) = 0.719
    assert "14 bands x 8 rows" in r.stdout and "Jaccard 0.685 has a 50% chance" in r.stdout
    assert "S-curve threshold (1/b)^(1/r) = 0.719" in r.stdout


def test_extraction_limits_become_error_rows(tmp_path: Path) -> None:
    src = str(warc("python-3.11-docs.warc.gz"))
    cfg = load_config(overrides={"extract.max_html_bytes": 20_000, "near_dedup.enabled": False})
    curate([src], tmp_path / "cap", cfg)
    prov = pl.read_parquet(tmp_path / "cap" / "provenance" / "*.parquet")
    big = prov.filter(pl.col("payload_bytes") > 20_000)
    assert big.height > 50
    assert set(big["decision"]) == {"error"} and all(r.startswith("html-too-large:") for r in big["reason"])
    assert prov.filter(pl.col("payload_bytes") <= 20_000, pl.col("decision") == "kept").height > 10


def test_report_escapes_crawled_text(tmp_path: Path) -> None:
    import io
    import random

    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    path = tmp_path / "evil.warc.gz"
    rng = random.Random(7)
    words = ("garden river morning window letter summer market bridge winter station teacher story "
             "kitchen mountain village harbour evening painting library orchard meadow lantern").split()

    def sentence() -> str:
        return " ".join(rng.choice(words) for _ in range(12)).capitalize() + "."

    paras = [f"{sentence()} {sentence()} The page says &lt;script&gt;alert({i})&lt;/script&gt; here. "
             f"{sentence()}"
             for i in range(12)]
    body = ("<html><head><title>x</title></head><body><article>"
            + "".join(f"<p>{p}</p>" for p in paras) + "</article></body></html>").encode()
    with open(path, "wb") as f:
        w = WARCWriter(f, gzip=True)
        http = StatusAndHeaders("200 OK", [("Content-Type", "text/html; charset=utf-8")], protocol="HTTP/1.1")
        w.write_record(w.create_warc_record("http://evil.example/<script>alert(1)</script>", "response",
                                            payload=io.BytesIO(body), http_headers=http))
    out = tmp_path / "out"
    curate([str(path)], out, load_config(no_quality_filters(tmp_path)))
    docs = pl.read_parquet(out / "documents" / "*.parquet")
    assert docs.height == 1 and "<script>alert(0)</script>" in docs["text"][0]
    html = (out / "report.html").read_text()
    assert "<script>" not in html.lower()
    assert "&lt;script&gt;alert(0)&lt;/script&gt;" in html


def test_demo_sample_crawl_is_deterministic(tmp_path: Path) -> None:
    from assay.demo import SAMPLE_MODULES, build_sample_crawl

    a = build_sample_crawl(tmp_path / "a.warc.gz", SAMPLE_MODULES[:8])
    b = build_sample_crawl(tmp_path / "b.warc.gz", SAMPLE_MODULES[:8])
    assert a.read_bytes() == b.read_bytes()
    n, failed = count_records(a)
    assert not failed and n == 1 + 1 + 8 + 1  # warcinfo, robots.txt, 8 pages, 1 mirror copy


def test_near_duplicates_are_marked_in_provenance_and_kept_for_inspection(tmp_path: Path) -> None:
    """A real page and a lightly edited copy (later date, other URL): one kept, one `duplicate`
    from near_dedup with the representative's id; the copy's text is in rejected/."""
    import io
    import re

    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    pages = []
    with open(warc("python-3.11-docs.warc.gz"), "rb") as f:
        for rec in ArchiveIterator(f):
            if rec.rec_type == "response":
                body = rec.content_stream().read()
                if (b"tutorial" in rec.rec_headers.get_header("WARC-Target-URI").encode()
                        and len(body) > 30_000):
                    pages.append(body)
            if len(pages) == 3:
                break
    original = pages[0]
    # Change every 40th word of the page's paragraphs: Jaccard of 5-shingles stays high (~0.9).
    counter = iter(range(10**9))
    edited = re.sub(rb"(?<=<p>)(\w+)", lambda m: b"Indeed" if next(counter) % 40 == 0 else m.group(1),
                    original)
    assert edited != original
    path = tmp_path / "near.warc.gz"
    with open(path, "wb") as f:
        w = WARCWriter(f, gzip=True)
        for url, body, date in (("https://a.example/page", original, "2024-01-01T00:00:00Z"),
                                ("https://b.example/copy", edited, "2024-02-01T00:00:00Z"),
                                ("https://c.example/other", pages[1], "2024-03-01T00:00:00Z")):
            http = StatusAndHeaders("200 OK", [("Content-Type", "text/html; charset=utf-8")],
                                    protocol="HTTP/1.1")
            w.write_record(w.create_warc_record(url, "response", payload=io.BytesIO(body), http_headers=http,
                                                warc_headers_dict={"WARC-Date": date}))
    cfg_path = no_quality_filters(tmp_path)  # this test is about dedup decisions
    out = tmp_path / "out"
    curate([str(path)], out, load_config(cfg_path))
    prov = pl.read_parquet(out / "provenance" / "*.parquet").sort("record_index")
    a, b, c = prov.filter(pl.col("warc_type") == "response").iter_rows(named=True)
    assert a["decision"] == "kept" and c["decision"] == "kept"
    assert b["decision"] == "duplicate" and b["step"] == "near_dedup" and b["dup_of"] == a["doc_id"]
    assert a["dup_cluster"] == b["dup_cluster"] is not None
    rejected = pl.read_parquet(out / "rejected" / "*.parquet")
    assert rejected.filter(pl.col("doc_id") == b["doc_id"])["text"][0].count("Indeed") >= 1
    # Turned off, the copy is kept.
    out2 = tmp_path / "off"
    curate([str(path)], out2, load_config(cfg_path, {"near_dedup.enabled": False}))
    assert pl.read_parquet(out2 / "provenance" / "*.parquet")["decision"].to_list().count("kept") == 3
