"""Disclosures of a real synthetic question-answer set (vLLM, a random Llama) beside the web corpus it was
seeded from: label types (AB 2013 item 4), generation period (item 10), EU 2.5, dataset-card bias gates,
Croissant annotation fields (issue 20). Slow: one vLLM engine load."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import polars as pl
import pytest

from conftest import warc
from provenance.disclosure import build_disclosure, write_disclosure
from provenance.manifest import read_manifest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("VLLM_NO_USAGE_STATS", "1")

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> Path:
    from curate import curate, load_config
    from synth.generate import Sampling, generate
    from synth.testing import random_llama
    from synth.validate import validate

    root = tmp_path_factory.mktemp("synthdisc")
    web = root / "web"
    curate([str(warc("wget-crawl-2024-a.warc.gz"))], web,
           load_config(overrides={"tokenize.enabled": True, "tokenize.vocab_size": 512}))
    texts = pl.read_parquet(web / "documents" / "*.parquet")["text"].to_list()
    model = random_llama(root / "model", texts, vocab_size=512)
    generate(model, web, root / "qa", "qa", sampling=Sampling(max_tokens=32), max_seeds=6,
             params={"max_words": 60}, progress=False)
    validate(root / "qa", web, root / "qa-validation")
    return root


def _item(d: dict, n: int) -> dict:
    return next(i for i in d["items"] if i["number"] == n)


@pytest.mark.timeout(900)
def test_synthetic_qa_set_is_disclosed_from_its_records(runs: Path, tmp_path: Path) -> None:
    web, qa = runs / "web", runs / "qa"
    man = read_manifest(qa)
    docs = pl.read_parquet(qa / "documents" / "*.parquet")
    labelled = sum(bool(re.search(r"Question:.*?Answer:", t, re.DOTALL)) for t in docs["text"].to_list())
    d = build_disclosure([web, qa])
    # (4) label type of the labelled set, with how many records hold a pair in the task's format
    labels = _item(d, 4)["evidence"]["synthetic_labels"]
    got = [(x["task"], x["labelled_records"], x["records"]) for x in labels]
    assert got == [("qa", labelled, docs.height)] and docs.height > 0
    assert "label type question-answer pairs" in _item(d, 4)["answer"]
    assert f"{labelled:,} of {docs.height:,} records contain at least one" in _item(d, 4)["answer"]
    # (10) when the set was generated, as its run.json records
    assert f"qa from {man['started']} to {man['finished']}" in _item(d, 10)["answer"]
    assert _item(d, 10)["evidence"]["synthetic_generation"][0]["to"] == man["finished"]
    paths = write_disclosure([web, qa], tmp_path / "disc")
    eu = json.loads(paths["eu-summary.json"].read_text())
    synth = next(e for e in eu["entries"] if e["number"] == "2.5")
    assert synth["basis"] == "derived" and synth["answer"].startswith("Yes.")
    models = next(e for e in eu["entries"] if e["title"].startswith("Models used"))
    assert man["generator"]["model"] in models["answer"]
    size = next(e for e in eu["entries"] if e["title"].startswith("Training data size"))
    assert size["basis"] == "not_provided" and str(qa.resolve()) in size["answer"]  # qa is not tokenized
    # the card: a QA task, machine-generated annotations, and the bias gates as run.json records them
    from huggingface_hub import DatasetCard

    card = DatasetCard.load(paths["README.md"])
    assert "question-answering" in card.data.task_categories
    assert card.data.annotations_creators == ["machine-generated"]
    bias = {k: v for k, v in man["gates"]["per_gate"].items()
            if k.startswith(("identity_tvd_", "sentiment_gap_"))}
    assert bias and all(f"qa: {k} {v}".replace("_", "\\_") in card.text for k, v in bias.items())
    import mlcroissant as mlc

    ds = mlc.Dataset(jsonld=paths["croissant.json"])
    doc = json.loads(paths["croissant.json"].read_text())
    assert {r["@id"] for r in doc["recordSet"]} == {"web-documents", "web-tokens", "qa-documents"}
    assert ds.metadata.machine_annotation_tools == [man["generator"]["model"]]
    assert all(f"qa: gate {k} {v}" in doc["rai:dataBiases"] for k, v in man["gates"]["per_gate"].items())
