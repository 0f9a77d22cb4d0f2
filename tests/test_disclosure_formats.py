"""The EU AI Act training-content summary, the dataset card and Croissant (issue 20), on a corpus curated
from real WARCs: two wget crawls (crawled by the provider) and a Common Crawl slice (a published crawl).
Every derived number is checked against an independent recount with polars / pyarrow / sha256."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from conftest import REPO, warc
from curate import curate, load_config
from provenance.declarations import load_declarations
from provenance.disclosure import NOT_PROVIDED, DisclosureError, write_disclosure
from provenance.disclosure.eu_general import text_size_bin
from provenance.disclosure.eu_summary import build_summary
from provenance.disclosure.facts import read_inputs
from provenance.disclosure.header import header
from provenance.manifest import sha256_file
from provenance.schema import PII_TYPES

WGET = ("wget-crawl-2024-a.warc.gz", "wget-crawl-2024-b.warc.gz")
CC = "cc-2020-34-slice.warc.gz"
EXAMPLE = REPO / "examples" / "declarations.toml"
os.environ.setdefault("HF_HUB_OFFLINE", "1")  # DatasetCard.load and mlcroissant must not reach the network


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("formats") / "web"
    cfg = load_config(overrides={"tokenize.enabled": True, "tokenize.vocab_size": 512,
                                 "tokenize.shard_tokens": 20_000})
    curate([str(warc(n)) for n in (*WGET, CC)], out, cfg)
    return out


@pytest.fixture(scope="module")
def disc(corpus: Path, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("disc")
    write_disclosure([corpus], out, EXAMPLE)
    return out


@pytest.fixture(scope="module")
def kept(corpus: Path) -> pl.DataFrame:
    return pl.read_parquet(corpus / "provenance" / "*.parquet").filter(pl.col("decision") == "kept")


def entries(d: dict, title_start: str) -> dict:
    return next(e for e in d["entries"] if e["title"].startswith(title_start))


def tokens_on_disk(corpus: Path) -> int:
    total = 0
    for shard in sorted((corpus / "tokens").glob("*.arrow")):
        with pa.memory_map(str(shard)) as f:
            total += sum(len(x) for x in pa.ipc.open_file(f).read_all()["input_ids"].to_pylist())
    return total


def test_eu_summary_numbers_equal_a_recount(corpus: Path, disc: Path, kept: pl.DataFrame) -> None:
    d = json.loads((disc / "eu-summary.json").read_text())
    assert [n for n in d["sections"] if "." not in n] == ["1", "2", "3"]
    # 1.3 size: the template's bin of the tokens in the shards
    tokens = tokens_on_disk(corpus)
    size = entries(d, "Training data size")
    assert size["evidence"]["tokens"] == tokens
    assert size["answer"] == f"{text_size_bin(tokens)} ({tokens:,} tokens)."
    assert text_size_bin(tokens) == "Less than 1 billion tokens"
    assert text_size_bin(10**9 - 1).startswith("Less") and text_size_bin(10**9).startswith("1 billion")
    assert text_size_bin(10**13).startswith("1 billion") and text_size_bin(10**13 + 1).startswith("More")
    # 1.3 languages with shares, latest collection date
    langs = {r["lang"]: r["len"] for r in kept.group_by("lang").len().to_dicts()}
    assert len(langs) > 1
    got = {x["lang"]: x["documents"] for x in entries(d, "Linguistic")["evidence"]["languages"]}
    assert got == langs
    top = max(langs, key=lambda k: (langs[k], k))
    assert f"{top} {100 * langs[top] / kept.height:.1f}%" in entries(d, "Linguistic")["answer"]
    latest = kept["warc_date"].max()
    assert entries(d, "Latest date")["answer"].startswith(latest.strftime("%m/%Y"))
    # 2.1: the Common Crawl file is a published crawl (its warcinfo says so), with its kept documents
    cc_sha = sha256_file(warc(CC))
    cc_docs = kept.filter(pl.col("source_sha256") == cc_sha).height
    public = entries(d, "Publicly available datasets used")
    assert public["basis"] == "derived" and cc_docs > 0
    assert [(p["name"], p["documents"]) for p in public["evidence"]["published_crawls"]] == [
        ("Common Crawl CC-MAIN-2020-34", cc_docs)]


def test_eu_summary_crawled_domains_equal_a_recount_by_bytes(corpus: Path, disc: Path, kept: pl.DataFrame,
                                                             tmp_path: Path) -> None:
    d = json.loads((disc / "eu-summary.json").read_text())
    own = kept.filter(pl.col("source_sha256") != sha256_file(warc(CC)))
    by_bytes = (own.group_by("domain").agg(pl.col("payload_bytes").sum().alias("bytes"), pl.len().alias("n"))
                .sort(["bytes", "domain"], descending=[True, False]))
    n = by_bytes.height
    want = [(r["domain"], r["bytes"], r["n"]) for r in by_bytes.head(math.ceil(0.10 * n)).to_dicts()]
    top = entries(d, "Most relevant domain names")
    assert [(x["domain"], x["bytes"], x["documents"]) for x in top["evidence"]["domains"]] == want
    assert top["evidence"]["domains_crawled"] == n and "top 10%" in top["title"]
    # bytes, not document count: the byte ranking differs from the document ranking here
    by_docs = (own.group_by("domain").len().sort(["len", "domain"], descending=[True, False])
               ["domain"].to_list())
    assert [w[0] for w in want] != by_docs[:len(want)]
    # 2.3 crawler and robots policy from the wget warcinfo records; the collection period of the crawl
    assert entries(d, "Crawler name")["answer"] == "Wget/1.21.4 (darwin23.0.0) (from warcinfo records)."
    assert "robots classic" in entries(d, "General description of crawler")["answer"]
    period = entries(d, "Period of data collection")["evidence"]
    assert period["min"] == own["warc_date"].min().strftime("%Y-%m-%dT%H:%M:%SZ")
    # SMEs: 5% or 1,000 domains, whichever is lower
    decl = tmp_path / "sme.toml"
    decl.write_text("[eu]\nsme = true\n")
    f = read_inputs([corpus])
    dl = load_declarations(decl)
    sme = entries(build_summary(f, dl, header(f, dl)), "Most relevant domain names")
    assert sme["evidence"]["listed"] == min(math.ceil(0.05 * n), 1000) and "5%" in sme["title"]


def test_eu_summary_processing_and_declarations(corpus: Path, disc: Path) -> None:
    prov = pl.read_parquet(corpus / "provenance" / "*.parquet")
    d = json.loads((disc / "eu-summary.json").read_text())
    tdm = entries(d, "Measures implemented to respect")
    assert tdm["evidence"]["tdm_reserved"][str(corpus.resolve())]["all"] == int(prov["tdm_reserved"].sum())
    assert tdm["evidence"]["noai"][str(corpus.resolve())]["all"] == int(prov["noai"].sum())
    illegal = entries(d, "General description of measures taken")
    removed = prov.filter(pl.col("step") == "url").height
    assert f"{removed:,} record(s) removed" in illegal["answer"] and illegal["basis"] == "derived"
    # declared answers say so; the example declarations leave user data description out: NOT PROVIDED
    assert entries(d, "Date of placement")["answer"] == "2025-09-01"
    assert entries(d, "Date of placement")["basis"] == "declared"
    assert entries(d, "Were crawlers used")["answer"] == "Yes"
    services = entries(d, "Description of those services")
    assert services["answer"] == NOT_PROVIDED and services["basis"] == "not_provided"
    bare = build_summary(read_inputs([corpus]), load_declarations(None), {"generated_at": "x"})
    for e in bare["entries"]:
        assert e["basis"] in ("derived", "declared", "not_provided")
        if e["basis"] == "not_provided":
            assert NOT_PROVIDED in e["answer"]
    assert {e["title"][:20] for e in bare["entries"] if e["basis"] == "declared"} == set()
    html = (disc / "eu-summary.html").read_text()
    assert all(f'id="section-{s}"' in html for s in d["sections"])


def test_dataset_card_loads_offline_and_its_numbers_equal_a_recount(corpus: Path, disc: Path,
                                                                    kept: pl.DataFrame) -> None:
    from huggingface_hub import DatasetCard

    card = DatasetCard.load(disc / "README.md")
    prov = pl.read_parquet(corpus / "provenance" / "*.parquet")
    langs = set(kept["lang"].drop_nulls().unique().to_list())
    lic = set(kept["license"].drop_nulls().unique().to_list())
    assert set(card.data.language) == langs and len(langs) > 1
    assert set(card.data.license) == lic | ({"unknown"} if kept["license"].null_count() else set())
    assert card.data.size_categories == ["n<1K"] and kept.height < 1000
    assert card.data.pretty_name == "Example web corpus" and card.data.task_categories == ["text-generation"]
    assert card.data.multilinguality == ["multilingual"]
    text = card.text
    for section in ("## Dataset Details", "## Uses", "## Dataset Structure", "### Source Data",
                    "#### Personal and Sensitive Information", "## Bias, Risks, and Limitations"):
        assert section in text
    assert "[More Information Needed]" not in text and NOT_PROVIDED in text  # e.g. the paper
    assert f"{kept.height:,} web documents kept from {prov.height:,} WARC records of 3 WARC file(s)" in text
    with_pii = kept.filter(pl.sum_horizontal([pl.col("pii_counts").struct.field(t) for t in PII_TYPES]) > 0)
    assert f"Yes: {with_pii.height:,} of {kept.height:,} kept documents" in text
    assert f"{tokens_on_disk(corpus):,} tokens in all" in text


def test_croissant_validates_and_its_files_and_numbers_equal_a_recount(corpus: Path, disc: Path,
                                                                      kept: pl.DataFrame) -> None:
    import mlcroissant as mlc

    ds = mlc.Dataset(jsonld=disc / "croissant.json")  # raises ValidationError on any error
    assert not ds.metadata.ctx.issues.errors
    doc = json.loads((disc / "croissant.json").read_text())
    objects = [n for n in doc["distribution"] if n["@type"] == "cr:FileObject"]
    on_disk = sorted([*(corpus / "documents").glob("*.parquet"), *(corpus / "tokens").glob("*.arrow")])
    assert sorted((disc / o["contentUrl"]).resolve() for o in objects) == [p.resolve() for p in on_disk]
    for o in objects:
        path = disc / o["contentUrl"]
        assert o["sha256"] == sha256_file(path) and o["contentSize"] == f"{path.stat().st_size} B"
    docs = next(r for r in doc["recordSet"] if r["@id"] == "web-documents")
    assert [f["name"] for f in docs["field"]] == pq.read_schema(on_disk[0]).names
    assert set(doc["inLanguage"]) == set(kept["lang"].drop_nulls().unique().to_list())
    lo, hi = ds.metadata.data_collection_timeframe
    assert (lo, hi) == (kept["warc_date"].min(), kept["warc_date"].max())
    raw = doc["rai:dataCollectionRawData"]
    assert all(sha256_file(warc(n)) in raw for n in (*WGET, CC))
    assert "Wget/1.21.4" in doc["rai:dataCollection"] and "Apache Nutch 1.17" in doc["rai:dataCollection"]
    with_pii = kept.filter(pl.sum_horizontal([pl.col("pii_counts").struct.field(t) for t in PII_TYPES]) > 0)
    assert f"{with_pii.height:,} of {kept.height:,}" in ds.metadata.personal_sensitive_information[0]
    # written beside the datasets, mlcroissant reads the documents themselves through the FileSet
    beside = write_disclosure([corpus], corpus.parent, formats=["croissant"])["croissant.json"]
    rows = list(mlc.Dataset(jsonld=beside).records("web-documents"))
    assert sorted(r["web-documents/doc_id"].decode() for r in rows) == sorted(
        pl.read_parquet(corpus / "documents" / "*.parquet")["doc_id"].to_list())


def test_cli_writes_the_formats_asked_for(corpus: Path, tmp_path: Path) -> None:
    out = tmp_path / "two"
    r = subprocess.run([sys.executable, "-m", "assay", "disclose", str(corpus), "-o", str(out),
                        "--format", "eu-summary,croissant"], capture_output=True, text=True, cwd=REPO)
    assert r.returncode == 0, r.stderr
    assert sorted(p.name for p in out.iterdir()) == ["croissant.json", "eu-summary.html", "eu-summary.json",
                                                     "eu-summary.md"]
    with pytest.raises(DisclosureError, match="unknown format model-card"):  # a UserError: exit 2 in the CLI
        write_disclosure([corpus], tmp_path / "x", formats=["ab2013", "model-card"])
    bad = tmp_path / "bad.toml"
    bad.write_text("[dataset]\nlicence = 'cc-by-4.0'\n")
    r = subprocess.run([sys.executable, "-m", "assay", "disclose", str(corpus), "-o", str(tmp_path / "y"),
                        "--declarations", str(bad)], capture_output=True, text=True, cwd=REPO)
    assert r.returncode == 2 and r.stderr.strip() == f"error: {bad}: dataset.licence: unknown key"


def test_reruns_are_byte_identical(corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1714000000")
    a = write_disclosure([corpus], tmp_path / "a", EXAMPLE)
    b = write_disclosure([corpus], tmp_path / "b", EXAMPLE)
    assert len(a) == 8 and all(sha256_file(a[k]) == sha256_file(b[k]) for k in a)


def test_a_moved_warc_file_names_no_crawler(tmp_path: Path) -> None:
    import shutil

    src = tmp_path / "crawl.warc.gz"
    shutil.copy(warc(WGET[1]), src)
    corpus = tmp_path / "web"
    curate([str(src)], corpus)
    src.rename(tmp_path / "moved.warc.gz")
    f = read_inputs([corpus])
    assert f.corpora[0]["warcinfo"][0]["unavailable"].startswith("WARC file not found")
    d = build_summary(f, load_declarations(None), header(f, load_declarations(None)))
    crawler = entries(d, "Crawler name")
    assert (crawler["answer"], crawler["basis"]) == (NOT_PROVIDED, "not_provided")  # not guessed
    decl = tmp_path / "d.toml"
    decl.write_text('[eu.crawling]\nnames = ["ExampleBot/2.0"]\n')
    dl = load_declarations(decl)
    crawler = entries(build_summary(f, dl, header(f, dl)), "Crawler name")
    assert (crawler["answer"], crawler["basis"]) == ("ExampleBot/2.0", "declared")
