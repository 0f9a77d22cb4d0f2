"""Config options users change, end to end through the CLI (issue 14): a flag overrides the file,
`lid.languages`, `signals.redact_pii`, `signals.drop_opted_out`, `--overwrite`, and WET and ARC inputs
that produce kept documents. One `assay curate` run over real pages (some edited to carry the signal
a test needs) checks them all."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest
from warc_bytes import arc_file, http_block, real_page, record, warc_gz

from conftest import REPO, warc
from curate.read.extract import extract_text

pytestmark = pytest.mark.slow

CONFIG = """\
workers = 1
[extract]
extractor = "resiliparse"
[lid]
languages = ["en", "es"]
[signals]
redact_pii = true
drop_opted_out = true
"""


def assay(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "assay", *args], cwd=REPO, capture_output=True, text=True,
                          timeout=1200)


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> dict:
    tmp = tmp_path_factory.mktemp("cli-options")
    page = real_page()
    pii = page.replace(b"<p>", b"<p>Write to jane.doe@example.com or to bob.smith@example.org. ", 1)
    noai = page.replace(b"<head>", b'<head><meta name="robots" content="noai, noimageai">', 1)
    crafted = tmp / "crafted.warc.gz"
    crafted.write_bytes(warc_gz([record(b"https://pii.example/contact", http_block(pii)),
                                 record(b"https://noai.example/page", http_block(noai))]))
    arc = tmp / "classes.arc.gz"
    classes = http_block(real_page("faq/general.html"))
    arc.write_bytes(arc_file([(b"https://arc.example/classes", classes)]))
    wet = tmp / "whatnow.warc.wet.gz"  # a WET file (conversion records: text the crawler extracted)
    text = extract_text(real_page("tutorial/whatnow.html").decode()).encode()
    wet.write_bytes(warc_gz([record(b"https://wet.example/whatnow", text, warc_type=b"conversion",
                                    content_type=b"text/plain")]))
    cfg = tmp / "options.toml"
    cfg.write_text(CONFIG)
    inputs = [str(crafted), str(arc), str(wet), str(warc("cc-2024-22-single.warc.wet.gz")),
              str(warc("cc-2020-34-slice.warc.gz"))]
    out = tmp / "out"
    r = assay("curate", *inputs, "-o", str(out), "-c", str(cfg), "--extractor", "trafilatura",
              "--workers", "2", "--no-near-dedup")
    assert r.returncode == 0, r.stderr[-3000:]
    return {"out": out, "inputs": inputs, "cfg": cfg,
            "prov": pl.read_parquet(out / "provenance" / "*.parquet"),
            "docs": pl.read_parquet(out / "documents" / "*.parquet")}


def test_flags_override_the_file(run: dict) -> None:
    config = json.loads((run["out"] / "run.json").read_text())["config"]
    assert config["extract"]["extractor"] == "trafilatura" and config["workers"] == 2  # flags
    assert config["near_dedup"]["enabled"] is False
    assert config["lid"]["languages"] == ["en", "es"] and config["signals"]["redact_pii"] is True  # file


def test_lid_languages_keeps_only_those(run: dict) -> None:
    kept = run["prov"].filter(pl.col("decision") == "kept")
    assert set(kept["lang"]) <= {"en", "es"}
    off = run["prov"].filter(pl.col("step") == "lid", pl.col("reason").str.contains("not in en,es"))
    assert {"zh", "ru"} <= set(off["lang"])


def test_redact_pii_replaces_addresses_in_kept_text(run: dict) -> None:
    [doc] = run["docs"].filter(pl.col("url") == "https://pii.example/contact").iter_rows(named=True)
    assert "<EMAIL>" in doc["text"] and "jane.doe@example.com" not in doc["text"]
    row = run["prov"].filter(pl.col("url") == "https://pii.example/contact").row(0, named=True)
    assert row["pii_redacted"] is True and row["pii_counts"]["email"] == 2


def test_drop_opted_out_rejects_noai_pages(run: dict) -> None:
    row = run["prov"].filter(pl.col("url") == "https://noai.example/page").row(0, named=True)
    assert (row["decision"], row["step"], row["reason"], row["noai"]) == ("rejected", "opt_out", "noai", True)


def test_wet_and_arc_inputs_give_kept_documents(run: dict) -> None:
    by_url = {r["url"]: r for r in run["prov"].iter_rows(named=True)}
    assert by_url["https://arc.example/classes"]["decision"] == "kept"
    wet = by_url["https://wet.example/whatnow"]
    assert wet["decision"] == "kept" and wet["charset_source"] == "wet" and wet["warc_type"] == "conversion"
    cc = by_url["https://an.wikipedia.org/wiki/Escopete"]  # Common Crawl's own WET: read, with its reason
    assert cc["warc_type"] == "conversion" and cc["lang"] == "es"


def test_overwrite_through_the_cli(run: dict, tmp_path: Path) -> None:
    out = run["out"]
    again = ["curate", *run["inputs"], "-o", str(out), "-c", str(run["cfg"])]  # another config: other run
    r = assay(*again)
    assert r.returncode == 2 and "holds curate run" in r.stderr and "--overwrite" in r.stderr, r.stderr
    (out / "documents" / "letter.docx").write_bytes(b"mine")
    r = assay(*again, "--overwrite")
    assert r.returncode == 0, r.stderr[-3000:]
    outputs = {e["path"] for e in json.loads((out / "run.json").read_text())["outputs"]}
    assert (out / "documents" / "letter.docx").read_bytes() == b"mine"
    assert "documents/letter.docx" not in outputs
    assert json.loads((out / "run.json").read_text())["config"]["extract"]["extractor"] == "resiliparse"
