"""The AB 2013 disclosure on a corpus curated from the real wget-crawl WARCs (issues 5 and 20)."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

from conftest import REPO, warc
from curate import curate, load_config
from provenance.declarations import DeclarationsError, load_declarations
from provenance.disclosure import NOT_PROVIDED, build_disclosure, count_range, write_disclosure
from provenance.manifest import read_manifest, sha256_file
from provenance.schema import PII_TYPES

WGET = ("wget-crawl-2024-a.warc.gz", "wget-crawl-2024-b.warc.gz")
EXAMPLE_DECLARATIONS = REPO / "examples" / "declarations.toml"


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("disclose") / "web"
    cfg = load_config(overrides={"tokenize.enabled": True, "tokenize.vocab_size": 512,
                                 "tokenize.shard_tokens": 20_000})
    curate([str(warc(n)) for n in WGET], out, cfg)
    return out


@pytest.fixture(scope="module")
def disclosure(corpus: Path, tmp_path_factory) -> dict:
    out = tmp_path_factory.mktemp("ab2013")
    paths = write_disclosure([corpus], out, formats=["ab2013"])
    assert sorted(paths) == ["ab2013.html", "ab2013.json", "ab2013.md"]
    return json.loads(paths["ab2013.json"].read_text()) | {"_dir": str(out)}


def item(d: dict, n: int) -> dict:
    return next(i for i in d["items"] if i["number"] == n)


def test_shape_twelve_items(disclosure: dict) -> None:
    assert [i["number"] for i in disclosure["items"]] == list(range(1, 13))
    for it in disclosure["items"]:
        assert set(it) == {"number", "title", "answer", "basis", "evidence"}
        assert it["basis"] in ("derived", "declared", "not_provided") and it["answer"]
        if it["basis"] == "not_provided":
            assert NOT_PROVIDED in it["answer"]
    assert disclosure["generated_at"] and len(disclosure["inputs"]) == 1
    # what no scan can know and nobody declared: NOT PROVIDED, never guessed
    for n in (2, 6, 8, 11):
        assert item(disclosure, n)["basis"] == "not_provided"
    for n in (1, 3, 4, 5, 7, 9, 10, 12):
        assert item(disclosure, n)["basis"] == "derived"
    assert "ongoing" in item(disclosure, 10)["answer"] and NOT_PROVIDED in item(disclosure, 10)["answer"]


def test_disclosed_figures_match_an_independent_polars_recount(corpus: Path, disclosure: dict) -> None:
    prov = pl.read_parquet(corpus / "provenance" / "*.parquet")
    kept = prov.filter(pl.col("decision") == "kept")
    n_kept = kept.height
    assert 0 < n_kept < prov.height
    # (3) counts: exact and as a range
    ev3 = item(disclosure, 3)["evidence"]["datasets"][0]
    assert ev3["documents"] == n_kept and ev3["records_read"] == prov.height
    assert ev3["range"] == count_range(n_kept) and f"{n_kept:,} documents" in item(disclosure, 3)["answer"]
    # (10) time period: WARC-Date of kept documents
    lo, hi = kept["warc_date"].min(), kept["warc_date"].max()
    ev10 = item(disclosure, 10)["evidence"]
    assert (ev10["min"] == lo.strftime("%Y-%m-%dT%H:%M:%SZ")
            and ev10["max"] == hi.strftime("%Y-%m-%dT%H:%M:%SZ"))
    assert ev10["min"].startswith("2024-04-25")
    # (1) domains with counts
    want = {r["domain"]: r["len"] for r in kept.group_by("domain").len().to_dicts()}
    got = {x["domain"]: x["documents"] for x in item(disclosure, 1)["evidence"]["domains"]}
    assert got == want and "creativecommons.org" in got
    top = max(want.items(), key=lambda kv: (kv[1], [-ord(c) for c in kv[0]]))
    assert f"{top[0]} ({top[1]})" in item(disclosure, 1)["answer"]
    # (7) PII totals, the documents holding any, and what the scan cannot see
    pii = {t: int(kept["pii_counts"].struct.field(t).sum()) for t in PII_TYPES}
    with_pii = kept.filter(pl.sum_horizontal([pl.col("pii_counts").struct.field(t) for t in PII_TYPES]) > 0)
    ans7 = item(disclosure, 7)["answer"]
    assert item(disclosure, 7)["evidence"]["pii_totals"] == pii
    assert sum(pii.values()) > 0 and f"email: {pii['email']:,}" in ans7
    assert ans7.startswith(f"Yes: {with_pii.height:,} of {n_kept:,} kept documents")
    assert "cannot detect names of people, postal addresses" in ans7 and NOT_PROVIDED in ans7
    # (9) every removal step with its count, as recorded
    steps = prov.filter(pl.col("decision") != "kept").group_by(["decision", "step"]).len().to_dicts()
    for s in steps:
        assert f"{s['step']} ({s['decision']}): {s['len']:,}" in item(disclosure, 9)["answer"]
    # evidence names the manifest it came from
    assert (item(disclosure, 3)["evidence"]["datasets"][0]["manifest"]["path"]
            == str(corpus.resolve() / "run.json"))


def test_licences_found_on_real_pages_are_disclosed(corpus: Path, disclosure: dict) -> None:
    kept = pl.read_parquet(corpus / "provenance" / "*.parquet").filter(pl.col("decision") == "kept")
    lic = {r["license"]: r["len"]
           for r in kept.filter(pl.col("license").is_not_null()).group_by("license").len().to_dicts()}
    # soldaini.net (a[rel=license]) and creativecommons.org pages carry CC BY 4.0; no other kept page does
    assert set(lic) == {"cc-by-4.0"}
    licensed_domains = set(kept.filter(pl.col("license").is_not_null())["domain"].to_list())
    assert (licensed_domains <= {"soldaini.net", "creativecommons.org"}
            and "creativecommons.org" in licensed_domains)
    ev5, ans5 = item(disclosure, 5)["evidence"], item(disclosure, 5)["answer"]
    assert ev5["licenses"]["cc-by-4.0"] == lic["cc-by-4.0"]
    assert ev5["licenses"]["none detected"] == kept.height - lic["cc-by-4.0"]
    # three questions answered apart: copyright-protected (CC-licensed pages are), CC licences, public domain
    assert ev5["copyright_protected_documents"] == kept.height and ev5["public_domain_documents"] == 0
    assert ev5["creative_commons_licensed_documents"] == lic["cc-by-4.0"]
    assert ans5.startswith(f"Copyright-protected material: Yes. {kept.height:,} of {kept.height:,}")
    assert f"{lic['cc-by-4.0']:,} carry a Creative Commons licence" in ans5
    assert "not entirely public domain" in ans5


def test_declarations_fill_what_no_scan_knows(corpus: Path, tmp_path: Path) -> None:
    d = build_disclosure([corpus], load_declarations(EXAMPLE_DECLARATIONS))
    assert item(d, 2)["basis"] == "declared" and "general English prose" in item(d, 2)["answer"]
    assert (item(d, 6)["basis"] == "declared"
            and item(d, 6)["answer"].startswith("Purchased: No. Licensed: No."))
    assert item(d, 8)["basis"] == "declared" and item(d, 8)["answer"].startswith("No")
    assert item(d, 11)["basis"] == "declared" and item(d, 11)["answer"].startswith("2025-05-01")
    assert "Data collection is not ongoing." in item(d, 10)["answer"]
    assert d["system"]["name"] == "Example Assistant" and d["exemptions"]["national_security"] is False
    bad = tmp_path / "bad.toml"
    for text, message in (('[licensing]\npurchased = "maybe"\n', "licensing.purchased: "),
                          ('[colection]\nongoing = true\n', "colection: unknown key"),
                          ('[eu]\nplacement_date = "next spring"\n', "eu.placement_date: "),
                          ('[eu.crawling]\nbehavior = "polite"\n', "eu.crawling.behavior: unknown key")):
        bad.write_text(text)
        with pytest.raises(DeclarationsError, match=f"bad.toml: {message}"):
            load_declarations(bad)


def test_release_date_before_2022_is_flagged_outside_the_statute(corpus: Path, tmp_path: Path) -> None:
    decl = tmp_path / "old.toml"
    decl.write_text('[system]\nname = "Old Bot"\nrelease_date = 2021-06-30\n')
    d = build_disclosure([corpus], load_declarations(decl))
    assert d["scope"]["in_scope"] is False and d["scope"]["release_date"] == "2021-06-30"
    assert "outside the scope of Civil Code 3111" in d["scope"]["note"]
    decl.write_text('[system]\nrelease_date = 2022-01-01\n')  # the first day in scope
    assert build_disclosure([corpus], load_declarations(decl))["scope"]["in_scope"] is True
    assert build_disclosure([corpus])["scope"]["in_scope"] is None  # not declared: not guessed
    paths = write_disclosure([corpus], tmp_path / "d", decl, formats=["ab2013"])
    assert "**Scope:**" in paths["ab2013.md"].read_text()


def test_previous_disclosure_lists_added_and_removed_datasets_and_takedowns(corpus: Path,
                                                                            tmp_path: Path) -> None:
    from curate import takedown

    v1 = tmp_path / "v1"
    write_disclosure([corpus], v1, formats=["ab2013"])
    new = tmp_path / "web-v2"
    man = takedown(corpus, new, domain="creativecommons.org")
    paths = write_disclosure([new], tmp_path / "v2", formats=["ab2013", "eu-summary"], previous=v1)
    ch = json.loads(paths["ab2013.json"].read_text())["changes"]
    old_id = read_manifest(corpus)["run_id"]
    assert [(r["run_id"], r["parent_run_id"]) for r in ch["added_datasets"]] == [(man["run_id"], old_id)]
    assert [r["run_id"] for r in ch["removed_datasets"]] == [old_id]
    kept = pl.read_parquet(corpus / "provenance" / "*.parquet").filter(pl.col("decision") == "kept")
    victims = kept.filter(pl.col("domain") == "creativecommons.org").height
    assert [(t["request_id"], t["removed_documents"]) for t in ch["new_takedowns"]] == [
        (man["takedown"]["request_id"], victims)] and victims > 0
    assert ch["previous"]["sha256"] == sha256_file(v1 / "ab2013.json")
    assert f"Takedown requests since: {man['takedown']['request_id']}" in paths["ab2013.md"].read_text()
    assert json.loads(paths["eu-summary.json"].read_text())["changes"] == ch
    # the same version compared with itself: nothing changed
    same = build_disclosure([new], previous=tmp_path / "v2" / "eu-summary.json")["changes"]
    assert not same["added_datasets"] and not same["removed_datasets"] and not same["new_takedowns"]
    r = subprocess.run([sys.executable, "-m", "assay", "disclose", str(new), "-o", str(tmp_path / "v3"),
                        "--previous", str(tmp_path / "nothing-here")],
                       capture_output=True, text=True, cwd=REPO)
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "nothing-here" in r.stderr


def test_outputs_and_cli(corpus: Path, tmp_path: Path) -> None:
    out = tmp_path / "disc"
    env_cmd = [sys.executable, "-m", "assay", "disclose", str(corpus), "-o", str(out),
               "--declarations", str(EXAMPLE_DECLARATIONS)]
    r = subprocess.run(env_cmd, capture_output=True, text=True, cwd=REPO,
                       env={**os.environ, "SOURCE_DATE_EPOCH": "1714000000"})
    assert r.returncode == 0, r.stderr
    assert {p.name for p in out.iterdir()} == {
        "ab2013.json", "ab2013.md", "ab2013.html", "eu-summary.json", "eu-summary.md", "eu-summary.html",
        "README.md", "croissant.json"}
    md, html = (out / "ab2013.md").read_text(), (out / "ab2013.html").read_text()
    assert (all(f"## {n}. " in md for n in range(1, 13))
            and all(f'id="item-{n}"' in html for n in range(1, 13)))
    assert json.loads((out / "ab2013.json").read_text())["generated_at"] == "2024-04-24T23:06:40Z"
    # a bad declarations file: one line, exit 2
    r = subprocess.run([*env_cmd[:-1], str(tmp_path / "missing.toml")], capture_output=True, text=True,
                       cwd=REPO)
    assert r.returncode == 2 and r.stderr.strip().count("\n") == 0 and "missing.toml" in r.stderr
    r = subprocess.run([sys.executable, "-m", "assay", "disclose", str(tmp_path), "-o", str(out)],
                       capture_output=True, text=True, cwd=REPO)
    assert r.returncode == 2 and "no run manifest" in r.stderr


EVIL_URL = "http://evil.example/<script>alert(1)</script>/[x](javascript:alert(4))"
EVIL_SOFTWARE = "<img src=x onerror=alert(2)> [y](javascript:alert(3))"
EVIL_NAME = "evil\n# pwned <b>x (javascript:alert(5)).warc.gz"  # a file name holding a newline


def _evil_warc(path: Path) -> None:
    """A real WARC whose file name, warcinfo record and target URI carry markup and Markdown links."""
    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    sentences = [
        "Our community garden opened early this year because the frost ended in late February.",
        "Volunteers planted tomatoes, beans and squash along the southern fence where sunlight lasts "
        "longest.",
        "A retired teacher organised a rota so that every bed is watered at least twice each week.",
        "Children from the nearby school visit on Thursdays to learn how compost turns scraps into soil.",
        "Last summer the harvest was shared with a food bank that feeds about ninety families.",
        "Rainwater collected from the shed roof now covers most of what the beds need in dry months.",
        "Several neighbours asked whether bees could be kept, and the council approved two hives.",
        "The committee meets on the first Monday of each month to plan repairs and new projects.",
        "Anyone may join; membership costs nothing, although donations of tools are always welcome.",
        "Next spring we hope to add raised beds so that older members can garden without kneeling.",
        "Photographs from the autumn festival are pinned to the noticeboard beside the gate.",
        "Questions about the garden can be left in the wooden box near the entrance.",
    ]
    body = ("<html><head><title>x</title></head><body><article>"
            + "".join(f"<p>{s}</p>" for s in sentences)
            + "<p>Our web form once echoed &lt;script&gt;alert(0)&lt;/script&gt; back to visitors.</p>"
            + "</article></body></html>").encode()
    with open(path, "wb") as f:
        w = WARCWriter(f, gzip=True)
        info = {"software": EVIL_SOFTWARE, "robots": "<i>none</i>"}
        w.write_record(w.create_warcinfo_record(path.name, info))
        http = StatusAndHeaders("200 OK", [("Content-Type", "text/html; charset=utf-8")], protocol="HTTP/1.1")
        w.write_record(w.create_warc_record(EVIL_URL, "response", payload=io.BytesIO(body),
                                            http_headers=http))


def _markdown_html(text: str) -> str:
    """What a CommonMark renderer makes of a Markdown file (YAML front matter dropped)."""
    from markdown_it import MarkdownIt

    if text.startswith("---\n"):
        text = text.split("\n---\n", 1)[1]
    return MarkdownIt("commonmark").enable("table").render(text)


def test_crawled_strings_are_escaped_in_every_format(tmp_path: Path) -> None:
    path = tmp_path / EVIL_NAME
    _evil_warc(path)
    corpus = tmp_path / "evil"
    curate([str(path)], corpus)
    assert "<script>alert(0)</script>" in pl.read_parquet(corpus / "documents" / "*.parquet")["text"][0]
    paths = write_disclosure([corpus], tmp_path / "disc")
    d = json.loads(paths["ab2013.json"].read_text())
    assert EVIL_URL in json.dumps(item(d, 1)["evidence"]["sample_urls"])  # JSON keeps the raw value
    eu = json.loads(paths["eu-summary.json"].read_text())
    crawler = next(e for e in eu["entries"] if e["title"].startswith("Crawler name"))
    assert crawler["basis"] == "derived" and EVIL_SOFTWARE in crawler["answer"]
    for name in ("ab2013.html", "eu-summary.html"):
        page = paths[name].read_text().lower()
        assert "<script" not in page and "<img" not in page and "<b>" not in page and "<i>" not in page, name
    assert "&lt;img src=x onerror=alert(2)&gt;" in paths["eu-summary.html"].read_text()
    for name in ("ab2013.md", "eu-summary.md", "README.md"):
        rendered = _markdown_html(paths[name].read_text()).lower()
        assert "<script" not in rendered and "<img" not in rendered and "<b>" not in rendered, name
        assert 'href="javascript:' not in rendered and "pwned</h1>" not in rendered, name
        assert "<h1>pwned" not in rendered and "\n# pwned" not in paths[name].read_text(), name
    assert "evil.example" in paths["README.md"].read_text()
