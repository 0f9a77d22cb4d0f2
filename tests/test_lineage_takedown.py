"""Lineage over run manifests, and takedown of a domain from a corpus curated from the real wget-crawl
WARCs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import polars as pl
import pyarrow as pa
import pytest

from conftest import REPO, warc
from curate import TakedownError, curate, load_config, takedown
from provenance.disclosure import build_disclosure
from provenance.lineage import build_lineage, format_tree, to_prov_json, warc_files
from provenance.manifest import now_iso, read_manifest, sha256_file, write_manifest

WGET = ("wget-crawl-2024-a.warc.gz", "wget-crawl-2024-b.warc.gz")
DOMAIN = "creativecommons.org"


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> Path:
    """ROOT/web (curated + tokenized, 2 shards), ROOT/train-a (read every shard), ROOT/train-b (only shards
    without creativecommons.org), ROOT/qa (a synthetic set seeded from web). The train/synth manifests have
    the shape train.trainer.RunRecord / synth write; the slow test below uses a real training run."""
    root = tmp_path_factory.mktemp("runs")
    web = root / "web"
    cfg = load_config(overrides={"tokenize.enabled": True, "tokenize.vocab_size": 512,
                                 "tokenize.shard_tokens": 20_000})
    curate([str(warc(n)) for n in WGET], web, cfg)
    man = read_manifest(web)
    shards = man["tokenize"]["shards"]
    assert len(shards) >= 2
    holding = {s["path"] for s in shards if DOMAIN in _shard_domains(web, web / s["path"])}
    assert holding and len(holding) < len(shards)

    def train_manifest(name: str, chosen: list[dict]) -> None:
        write_manifest(root / name, {
            "kind": "train", "run_id": f"{name}-id", "status": "done",
            "data": [{"name": "web", "path": str(web), "weight": 1.0, "run_id": man["run_id"],
                      "kind": "curate", "tokenizer_sha256": man["tokenize"]["tokenizer"]["sha256"]}],
            "shards_consumed": [{"corpus": "web", "path": str(web / s["path"]), "sha256": s["sha256"],
                                 "first_read_at": f"2025-05-0{i + 1}T10:00:00+00:00"}
                                for i, s in enumerate(chosen)],
            "started_at": "2025-05-01T09:59:00+00:00",
        })

    train_manifest("train-a", shards)
    train_manifest("train-b", [s for s in shards if s["path"] not in holding])
    write_manifest(root / "qa", {"kind": "synth", "run_id": "qa-id",
                                 "seeds": {"path": str(web), "run_id": man["run_id"]},
                                 "generator": {"model": "tiny-llama", "weights_sha256": "0" * 64},
                                 "task": "qa", "gates": {"overall": "pass"},
                                 "purpose": "reading comprehension", "started_at": now_iso()})
    return root


def _shard_domains(corpus: Path, shard: Path) -> set[str]:
    with pa.memory_map(str(shard)) as f:
        ids = set(pa.ipc.open_file(f).read_all()["doc_id"].to_pylist())
    prov = pl.read_parquet(corpus / "provenance" / "*.parquet")
    return set(prov.filter(pl.col("doc_id").is_in(list(ids)))["domain"].to_list())


def _token_docs(corpus: Path) -> dict[str, list[int]]:
    out = {}
    for shard in sorted((corpus / "tokens").glob("*.arrow")):
        with pa.memory_map(str(shard)) as f:
            t = pa.ipc.open_file(f).read_all()
        out.update(zip(t["doc_id"].to_pylist(), t["input_ids"].to_pylist(), strict=True))
    return out


def test_lineage_from_training_run_and_synthetic_set_back_to_warcs(runs: Path, tmp_path: Path) -> None:
    tree = build_lineage(runs / "train-a")
    assert tree.kind == "train" and [p.kind for p in tree.parents] == ["curate"]
    wants = {sha256_file(warc(n)) for n in WGET}
    assert {w["sha256"] for w in warc_files(tree)} == wants
    synth = build_lineage(runs / "qa")
    assert (synth.parents[0].path == str((runs / "web").resolve())
            and {w["sha256"] for w in warc_files(synth)} == wants)
    text = format_tree(tree)
    assert "train train-a-id" in text and "wget-crawl-2024-a.warc.gz" in text and "UNRESOLVED" not in text
    prov = to_prov_json(tree)
    assert {f"sha256:{s}" for s in wants} <= set(prov["entity"])
    assert "assay:run-train-a-id" in prov["activity"] and len(prov["wasDerivedFrom"]) >= 3
    # a moved corpus is still found by run_id; a missing one is reported, not a crash
    moved = tmp_path / "t"
    m = read_manifest(runs / "train-a")
    m["data"][0]["path"] = "/nowhere/web"
    write_manifest(moved / "train", m)
    assert build_lineage(moved / "train", roots=[runs]).parents[0].kind == "curate"
    assert "UNRESOLVED data:web" in format_tree(build_lineage(moved / "train"))
    r = subprocess.run([sys.executable, "-m", "assay", "lineage", str(runs / "train-a"),
                        "--prov-json", str(tmp_path / "p.json")],
                       capture_output=True, text=True, cwd=REPO)
    assert r.returncode == 0 and "wget-crawl-2024-b.warc.gz" in r.stdout
    assert json.loads((tmp_path / "p.json").read_text())["activity"]


def test_takedown_by_domain(runs: Path, tmp_path: Path) -> None:
    web = runs / "web"
    before = {p: sha256_file(p) for p in sorted(web.rglob("*")) if p.is_file() and "_work" not in p.parts}
    prov0 = pl.read_parquet(web / "provenance" / "*.parquet")
    victims = set(prov0.filter((pl.col("domain") == DOMAIN)
                               & (pl.col("decision") == "kept"))["doc_id"].to_list())
    assert victims
    new = tmp_path / "web-v2"
    man = takedown(web, new, domain=DOMAIN)
    td = man["takedown"]

    # documents, tokens: every document of the domain is gone, the rest is untouched
    docs = pl.read_parquet(new / "documents" / "*.parquet")
    assert DOMAIN not in docs["domain"].to_list()
    assert docs.height == pl.read_parquet(web / "documents" / "*.parquet").height - len(victims)
    assert DOMAIN not in pl.read_parquet(new / "rejected" / "*.parquet")["domain"].to_list()
    old_tokens, new_tokens = _token_docs(web), _token_docs(new)
    assert not victims & set(new_tokens) and set(new_tokens) == set(old_tokens) - victims
    assert all(new_tokens[d] == old_tokens[d] for d in new_tokens)  # same tokenizer: ids comparable
    assert sha256_file(new / "tokenizer.json") == sha256_file(web / "tokenizer.json")
    # provenance: same rows, the victims marked taken-down with the request
    prov = pl.read_parquet(new / "provenance" / "*.parquet")
    assert prov.height == prov0.height
    down = prov.filter(pl.col("decision") == "taken-down")
    assert set(down["doc_id"].to_list()) == victims and down["reason"].str.starts_with(td["request_id"]).all()
    # run.json records the request, and names the training run(s) that read the affected shards
    assert man["kind"] == "takedown" and td["request"] == {"selector": "domain", "value": DOMAIN}
    assert man["parent"]["run_id"] == read_manifest(web)["run_id"]
    assert [r["run_id"] for r in td["affected_training_runs"]] == ["train-a-id"]
    assert [r["run_id"] for r in td["unaffected_training_runs_of_corpus"]] == ["train-b-id"]
    assert ({s["sha256"] for s in td["affected_shards"]}
            == set(td["affected_training_runs"][0]["consumed_affected_shards"]))
    # a fresh disclosure no longer lists the domain; OUT itself is unchanged
    d = build_disclosure([new])
    domains = {x["domain"] for x in d["items"][0]["evidence"]["domains"]}
    assert DOMAIN not in domains and domains and DOMAIN not in d["items"][0]["answer"]
    assert d["items"][2]["evidence"]["datasets"][0]["documents"] == docs.height
    assert {p: sha256_file(p) for p in before} == before
    # lineage: the new version leads back to its parent and the WARCs
    tree = build_lineage(new, roots=[runs])
    assert tree.kind == "takedown" and tree.parents[0].path == str(web.resolve())
    # determinism: the same request on the same corpus gives byte-identical data files
    again = tmp_path / "web-v2b"
    takedown(web, again, domain=DOMAIN)
    for sub in ("provenance", "documents", "tokens"):
        for p in sorted((new / sub).glob("*")):
            assert sha256_file(p) == sha256_file(again / sub / p.name), p


def test_takedown_other_selectors_and_errors(runs: Path, tmp_path: Path) -> None:
    web = runs / "web"
    kept = pl.read_parquet(web / "provenance" / "*.parquet").filter(pl.col("decision") == "kept")
    blog = set(kept.filter(pl.col("url").str.contains(r"github\.io/20\d\d/"))["doc_id"].to_list())
    m = takedown(web, tmp_path / "re", url_regex=r"github\.io/20\d\d/")
    assert m["takedown"]["removed_documents"] == len(blog) > 0
    ids_file = tmp_path / "ids.txt"
    one = kept["doc_id"][0]
    ids_file.write_text(f"# request 42\n{one}\n\n")
    r = subprocess.run([sys.executable, "-m", "assay", "takedown", str(web), "--doc-ids", str(ids_file),
                        "-o", str(tmp_path / "ids")],
                       capture_output=True, text=True, cwd=REPO)
    assert r.returncode == 0, r.stderr
    assert one not in pl.read_parquet(tmp_path / "ids" / "documents" / "*.parquet")["doc_id"].to_list()
    with pytest.raises(TakedownError, match="exactly one"):
        takedown(web, tmp_path / "x", domain="a.org", url_regex="b")
    with pytest.raises(TakedownError, match="not empty"):
        takedown(web, tmp_path / "re", domain="a.org")
    r = subprocess.run([sys.executable, "-m", "assay", "takedown", str(web), "--url-regex", "(",
                        "-o", str(tmp_path / "y")],
                       capture_output=True, text=True, cwd=REPO)
    assert r.returncode == 2 and "--url-regex" in r.stderr and r.stderr.strip().count("\n") == 0


@pytest.mark.slow
def test_takedown_names_a_real_training_run(runs: Path, tmp_path: Path) -> None:
    from train.config import TrainConfig
    from train.trainer import train

    root = tmp_path / "root"
    root.mkdir()
    web = runs / "web"
    cfg = TrainConfig(model={"d_model": 32, "n_layers": 1, "n_heads": 2, "max_seq_len": 32},
                      data=[{"name": "web", "path": str(web)}], out_dir=root / "tiny", steps=3, batch_size=4,
                      micro_batch_size=4, seq_len=32, warmup_steps=1, eval_every=100, log_every=1,
                      progress=False, device="cpu", eval_windows=2)
    train(cfg)
    consumed = {s["sha256"] for s in read_manifest(root / "tiny")["shards_consumed"]}
    man = takedown(web, tmp_path / "v2", domain=DOMAIN, runs=[root])
    affected = {s["sha256"] for s in man["takedown"]["affected_shards"]}
    names = [r["run_id"] for r in man["takedown"]["affected_training_runs"]]
    assert names == ([read_manifest(root / "tiny")["run_id"]] if affected & consumed else [])
    assert [p.kind for p in build_lineage(root / "tiny").parents] == ["curate"]


def test_disclosure_over_corpus_synthetic_set_and_training_run(runs: Path) -> None:
    d = build_disclosure([runs / "web", runs / "qa", runs / "train-a"])
    items = {i["number"]: i for i in d["items"]}
    assert (items[11]["basis"] == "derived"
            and items[11]["answer"].startswith("First used 2025-05-01T10:00:00+00:00"))
    assert (items[11]["evidence"]["training_runs"][0]["manifest"]["sha256"]
            == sha256_file(runs / "train-a" / "run.json"))
    assert items[12]["basis"] == "derived" and items[12]["answer"].startswith("Yes.")
    assert "reading comprehension" in items[12]["answer"] and "tiny-llama" in items[12]["answer"]
    assert [i["kind"] for i in d["inputs"]] == ["curate", "synth", "train"]
