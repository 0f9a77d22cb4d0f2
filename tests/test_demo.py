"""`assay demo --small`: the whole loop runs, every output exists, and the numbers agree.

The report's numbers are recomputed here from the provenance / token shards / metrics with
polars and pyarrow (not with the report's own code), and the disclosure's counts are checked
against the same provenance.
"""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path

import polars as pl
import pyarrow as pa
import pytest
from demo_run import small_demo

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    return small_demo(tmp_path_factory)


@pytest.fixture(scope="module")
def out(demo) -> Path:
    return demo["out"]


@pytest.fixture(scope="module")
def rep(out) -> dict:
    return json.loads((out / "report.json").read_text())


def _prov(out: Path) -> pl.DataFrame:
    return pl.read_parquet(out / "corpus" / "provenance" / "*.parquet")


def test_cli_prints_one_line_the_report_path(demo, out):
    lines = demo["stdout"].splitlines()
    assert lines == [str(out.resolve() / "report.html")]
    assert demo["report"].is_file()
    assert "[demo] total" in demo["stderr"]  # stage progress went to stderr


def test_every_output_exists(out):
    expected = [
        "sample-crawl/pydoc-sample.warc.gz", "report.html", "report.json", "demo.json", "declarations.toml",
        "corpus/run.json", "corpus/tokenizer.json", "corpus/report.html",
        "train/run.json", "train/metrics.jsonl", "train/tokenizer.json",
        "model/config.json", "model/model.safetensors", "model/tokenizer.json",
        "synth/run.json", "synth/documents/part-00000.parquet", "synth/provenance/part-00000.parquet",
        "synth/synth/part-00000.parquet", "synth-validation/report.json", "synth-validation/report.html",
        "disclosure/ab2013.json", "disclosure/ab2013.md", "disclosure/ab2013.html",
    ]
    missing = [p for p in expected if not (out / p).is_file() or (out / p).stat().st_size == 0]
    assert not missing
    for sub in ("provenance", "documents", "rejected"):
        assert list((out / "corpus" / sub).glob("*.parquet")), sub
    assert list((out / "corpus" / "tokens").glob("shard-*.arrow"))
    assert list((out / "train" / "checkpoints").glob("step-*/model.safetensors"))


def test_report_numbers_equal_provenance(out, rep):
    prov = _prov(out)
    c = rep["corpus"]
    assert c["records"] == prov.height
    by = dict(prov.group_by("decision").len().iter_rows())
    for d in ("kept", "rejected", "duplicate", "error"):
        assert c["decisions"][d] == by.get(d, 0), d
    assert sum(c["decisions"].values()) == prov.height
    funnel = {(r["decision"], r["step"]): r["len"] for r in c["funnel"]}
    assert funnel == {(d, s): n for d, s, n in prov.group_by(["decision", "step"]).len().iter_rows()}
    kept = prov.filter(pl.col("decision") == "kept")
    assert {r["lang"]: r["len"] for r in c["languages"]} == dict(kept.group_by("lang").len().iter_rows())
    assert {r["domain"]: r["len"] for r in c["domains"]} == dict(kept.group_by("domain").len().iter_rows())
    # the sample crawl holds mirrored pages: the exact-dedup step must have found them
    assert c["decisions"]["duplicate"] >= 1
    assert c["dedup"]["duplicates_removed"] == by.get("duplicate", 0)


def test_token_counts_agree(out, rep):
    per_doc = []
    for shard in sorted((out / "corpus" / "tokens").glob("*.arrow")):
        with pa.memory_map(str(shard)) as src:
            t = pa.ipc.open_file(src).read_all()
        per_doc += t.column("n_tokens").to_pylist()
        assert all(len(x) == n for x, n in zip(t.column("input_ids").to_pylist(),
                                               t.column("n_tokens").to_pylist(), strict=True))
    manifest = json.loads((out / "corpus" / "run.json").read_text())
    assert rep["corpus"]["tokens"]["n_tokens"] == sum(per_doc) == manifest["tokenize"]["n_tokens"] > 0
    assert rep["corpus"]["tokens"]["documents"] == len(per_doc) == rep["corpus"]["decisions"]["kept"]


def test_training_numbers_agree(out, rep):
    rows = [json.loads(x) for x in (out / "train" / "metrics.jsonl").read_text().splitlines() if x.strip()]
    train_rows = [r for r in rows if r["split"] == "train"]
    run = json.loads((out / "train" / "run.json").read_text())
    demo_cfg = json.loads((out / "demo.json").read_text())["settings"]
    t = rep["train"]
    assert t["steps"] == run["counts"]["steps"] == train_rows[-1]["step"] == demo_cfg["train_steps"]
    assert t["final_train_loss"] == train_rows[-1]["loss"]
    assert t["final_train_loss"] < t["first_train_loss"]  # it learned something
    assert run["status"] == "complete"
    corpus_run = json.loads((out / "corpus" / "run.json").read_text())
    assert run["data"][0]["run_id"] == corpus_run["run_id"]  # trained on this corpus


def test_synthetic_set_and_gates_agree(out, rep):
    from provenance.manifest import sha256_file

    man = json.loads((out / "synth" / "run.json").read_text())
    docs = pl.read_parquet(out / "synth" / "documents" / "*.parquet")
    prov = pl.read_parquet(out / "synth" / "provenance" / "*.parquet")
    val = json.loads((out / "synth-validation" / "report.json").read_text())
    s = rep["synth"]
    assert s["kept"] == docs.height == prov.filter(pl.col("decision") == "kept").height > 0
    assert s["seeds"] == prov.height
    assert man["generator"]["weights_sha256"] == sha256_file(out / "model" / "model.safetensors")
    assert man["seeds"]["run_id"] == json.loads((out / "corpus" / "run.json").read_text())["run_id"]
    assert s["overall"] == val["gates"]["overall"] == man["gates"]["overall"] in ("pass", "fail")
    verdicts = pl.read_parquet(out / "synth" / "synth" / "*.parquet")["gate_verdict"].unique().to_list()
    assert [json.loads(v)["overall"] for v in verdicts] == [s["overall"]]


def test_disclosure_counts_agree_with_provenance(out, rep):
    d = json.loads((out / "disclosure" / "ab2013.json").read_text())
    items = {it["number"]: it for it in d["items"]}
    assert sorted(items) == list(range(1, 13))
    prov = _prov(out)
    kept = prov.filter(pl.col("decision") == "kept").height
    synth_kept = pl.read_parquet(out / "synth" / "documents" / "*.parquet").height
    sets = {Path(x["dataset"]).name: x for x in items[3]["evidence"]["datasets"]}
    assert sets["corpus"]["documents"] == kept and sets["corpus"]["records_read"] == prov.height
    assert sets["corpus"]["tokens"] == rep["corpus"]["tokens"]["n_tokens"]
    assert sets["synth"]["documents"] == synth_kept
    assert items[3]["evidence"]["total"] == kept + synth_kept
    assert items[12]["answer"].startswith("Yes")  # synthetic data was generated
    assert [it["answer"] for it in rep["disclosure"]["items"]] == [items[n]["answer"] for n in range(1, 13)]


def test_ablation_raw_against_curated_is_in_the_report(out, rep):
    """The demo's ablation: raw (the same crawl, extraction only) against the demo's curated corpus, two
    seeds each, the same tokens per run; the report's section shows ablate.json's numbers."""
    a = json.loads((out / "ablation" / "ablate.json").read_text())
    settings = json.loads((out / "demo.json").read_text())["settings"]
    runs = [(r["variant"], r["seed"]) for r in a["runs"]]
    assert runs == [("raw", 0), ("raw", 1), ("curated", 0), ("curated", 1)]
    assert {r["tokens"] for r in a["runs"]} == {a["ablation"]["tokens_per_run"]}
    assert a["ablation"]["tokens_per_run"] >= settings["ablation_tokens"]
    assert a["ablation"]["baseline"] == "raw"
    raw = json.loads((out / "ablation" / "variants" / "raw" / "run.json").read_text())
    corpus = json.loads((out / "corpus" / "run.json").read_text())
    assert raw["counts"]["records"] == corpus["counts"]["records"]  # the same crawl
    assert raw["counts"]["kept"] > corpus["counts"]["kept"]  # nothing filtered, nothing deduplicated
    assert a["variants"]["curated"]["run_id"] == corpus["run_id"]
    p = _Numbers()
    p.feed((out / "report.html").read_text())
    for ev, per_variant in a["summary"].items():
        for v, s in per_variant.items():
            assert float(p.found[f"ablation.{ev}.{v}.mean"]) == pytest.approx(s["mean"], rel=1e-3)
        verdict = per_variant["curated"]["vs_baseline"]["verdict"]
        assert p.found[f"ablation.{ev}.curated.verdict"] == verdict


class _Numbers(HTMLParser):
    """Collects data-n="key" -> text from the report page."""

    def __init__(self) -> None:
        super().__init__()
        self.found: dict[str, str] = {}
        self._key: str | None = None

    def handle_starttag(self, tag, attrs):
        self._key = dict(attrs).get("data-n")

    def handle_data(self, data):
        if self._key is not None:
            self.found[self._key] = data
            self._key = None


def test_page_shows_the_report_json_numbers(out, rep):
    p = _Numbers()
    p.feed((out / "report.html").read_text())
    n = p.found

    def num(key):
        return int(n[key].replace(",", ""))

    c = rep["corpus"]
    assert num("corpus.records") == c["records"]
    for d, v in c["decisions"].items():
        assert num(f"corpus.{d}") == v
    for r in c["funnel"]:
        assert num(f"corpus.funnel.{r['decision']}.{r['step'] or ''}") == r["len"]
    assert num("corpus.tokens") == c["tokens"]["n_tokens"]
    assert num("train.steps") == rep["train"]["steps"]
    assert float(n["train.final_train_loss"]) == pytest.approx(rep["train"]["final_train_loss"], rel=1e-3)
    assert num("synth.kept") == rep["synth"]["kept"]
    assert n["synth.overall"] == rep["synth"]["overall"]


def test_report_is_self_contained_and_links_resolve(out):
    page = (out / "report.html").read_text()
    assert "<script" not in page.lower()
    refs = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert refs and not [r for r in refs if re.match(r"(?i)(https?:|//|ftp:)", r)]
    assert page.count('src="data:image/png;base64,') >= 5  # funnel, languages, dups, tokens, loss, gate plots
    for r in refs:
        if r.startswith(("data:", "#")):
            continue
        assert (out / r).is_file(), r
    assert 'href="disclosure/ab2013.html"' in page


def test_missing_warc_is_a_one_line_error(tmp_path):
    import subprocess
    import sys

    assay = Path(sys.executable).with_name("assay")
    proc = subprocess.run([str(assay), "demo", "--warc", str(tmp_path / "nope.warc.gz"),
                           "-o", str(tmp_path / "o")],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and proc.stdout == ""
    assert "no such WARC file" in proc.stderr and "Traceback" not in proc.stderr
