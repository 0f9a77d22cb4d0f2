"""The learned quality classifier (issue 15): `assay quality train`, the `quality` curate step with a
threshold, its card, run.json, report, trace and disclosure, and one-line errors for bad models.

The classifier is trained here on documents curated from the real WARCs of ../shared/data:
positives from python-3.11-docs, negatives from cc-2020-34-slice and wget-crawl-2024-a extracted
with the filters off; it is scored on documents it never saw (postgresql-15-docs against
wget-crawl-2024-b). To keep CI short the two documentation WARCs are cut to real subsets: the Python
pages under 20 kB of HTML (70 pages) and the first 80 PostgreSQL records.
"""

from __future__ import annotations

import hashlib
import json
import struct
import subprocess
import sys
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from conftest import warc
from curate import ConfigError, InputError, TrainConfig, curate, load_config, summary, trace, train_classifier
from curate.quality.classifier import Classifier
from curate.quality.metrics import roc_auc
from curate.quality.sources import read_source
from provenance.disclosure import write_disclosure
from warc_builders import FILTERS_OFF, articles, subset_warc, write_jsonl

ASSAY = [sys.executable, "-m", "assay"]
# fastText's supervised tutorial settings for a small training set (lr 1.0, 25 epochs): DCLM's lr 0.1 x 5
# epochs makes 2M updates on its 400k documents, here ~350, and leaves every score at 0.5000 (measured:
# ROC-AUC 0.83 on this test's data). 100k buckets: a 40 MB model instead of 800 MB.
SMALL_SET = TrainConfig(lr=1.0, epoch=25, bucket=100_000)


def docs_of(out: Path) -> list[str]:
    return pq.read_table(out / "documents").column("text").to_pylist()


@pytest.fixture(scope="module")
def corpora(tmp_path_factory) -> dict[str, Path]:
    tmp = tmp_path_factory.mktemp("quality-corpora")
    py = subset_warc(warc("python-3.11-docs.warc.gz"), tmp / "py.warc.gz",
                     lambda i, rec, payload: rec.rec_type == "response" and len(payload) < 20_000)
    pg = subset_warc(warc("postgresql-15-docs.warc.gz"), tmp / "pg.warc.gz",
                     lambda i, rec, payload: rec.rec_type == "response" and i <= 80)
    runs = {"positive": ([py], {}), "negative": ([warc("cc-2020-34-slice.warc.gz"),
                                                  warc("wget-crawl-2024-a.warc.gz")], FILTERS_OFF),
            "docs": ([pg], {}), "web": ([warc("wget-crawl-2024-b.warc.gz")], FILTERS_OFF)}
    for name, (inputs, overrides) in runs.items():
        curate([str(p) for p in inputs], tmp / name, load_config(overrides={"workers": 2, **overrides}))
    return {**{name: tmp / name for name in runs}, "docs_warc": pg}


@pytest.fixture(scope="module")
def model(corpora, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("model")
    train_classifier([str(corpora["positive"])], [str(corpora["negative"])], out, SMALL_SET)
    return out


def card_of(model_dir: Path) -> dict:
    return json.loads((model_dir / "card.json").read_text())


def test_classifier_ranks_unseen_documentation_above_web_pages(corpora, model) -> None:
    clf = Classifier(model / "model.bin", "__label__hq", card_of(model)["normalization"]["lowercase"])
    docs, web = docs_of(corpora["docs"]), docs_of(corpora["web"])
    assert len(docs) >= 30 and len(web) >= 10
    auc = roc_auc([clf.score(t) for t in docs + web], [True] * len(docs) + [False] * len(web))
    assert auc >= 0.9, auc


def test_card_says_what_the_model_saw(corpora, model) -> None:
    card = card_of(model)
    assert card["model"]["sha256"] == hashlib.sha256((model / "model.bin").read_bytes()).hexdigest()
    pos, neg = card["sources"]["positive"], card["sources"]["negative"]
    assert [s["path"] for s in pos] == [str(corpora["positive"])] and pos[0]["kind"] == "corpus"
    assert pos[0]["documents"] == len(docs_of(corpora["positive"]))
    assert neg[0]["documents"] == len(docs_of(corpora["negative"])) and len(pos[0]["sha256"]) == 64
    per_class = card["split"]["per_class"]  # balanced: the smaller class decides
    assert per_class == min(pos[0]["documents"], neg[0]["documents"]) == pos[0]["used"] == neg[0]["used"]
    assert card["split"]["heldout"]["positive"] == card["split"]["heldout"]["negative"] >= 3
    hp = card["hyperparameters"]
    assert (hp["wordNgrams"], hp["dim"], hp["ws"], hp["minCount"], hp["thread"]) == (2, 100, 5, 1, 1)  # DCLM
    assert (hp["lr"], hp["epoch"], hp["bucket"]) == (1.0, 25, 100_000) and card["fasttext_version"]
    held = card["heldout"]
    assert 0.5 <= held["roc_auc"] <= 1.0 and 0 <= held["precision"] <= 1 and 0 <= held["recall"] <= 1
    kept = [row["kept"] for row in held["thresholds"]]
    assert len(kept) == 19 and kept == sorted(kept, reverse=True)  # a higher threshold keeps no more


def test_a_published_model_with_its_own_label_scores_text() -> None:
    """Any fastText supervised model given by path, here lid.176.ftz (quantized) with the label `en`."""
    from curate.filters.lid import packaged_model_path
    from curate.quality.classifier import check_model

    lid = packaged_model_path()
    assert len(check_model(lid, "__label__en")) == 176
    clf = Classifier(lid, "__label__en")
    english, german = articles()[0], "Die Katze sitzt auf der Matte und schaut aus dem Fenster in den Garten."
    assert clf.score(english) > 0.9 > 0.1 > clf.score(german)


def test_training_is_deterministic(corpora, model, tmp_path: Path) -> None:
    pos, neg = [str(corpora["positive"])], [str(corpora["negative"])]
    again = train_classifier(pos, neg, tmp_path / "a", SMALL_SET)
    assert (tmp_path / "a" / "model.bin").read_bytes() == (model / "model.bin").read_bytes()
    assert again == card_of(model)
    other = train_classifier(pos, neg, tmp_path / "b", SMALL_SET.model_copy(update={"seed": 1}))
    assert other["model"]["sha256"] != again["model"]["sha256"]


def test_sources_of_every_kind(tmp_path: Path) -> None:
    texts = articles()[:6]
    write_jsonl(tmp_path / "a.jsonl", [{"body": t} for t in texts])
    pq.write_table(pa.table({"body": texts}), tmp_path / "a.parquet")
    (tmp_path / "txt").mkdir()
    for i, t in enumerate(texts):
        (tmp_path / "txt" / f"{i}.txt").write_text(t)
    for path, kind in (("a.jsonl", "jsonl"), ("a.parquet", "parquet"), ("txt", "txt-folder")):
        src = read_source(tmp_path / path, text_field="body")
        assert (src.kind, src.texts) == (kind, tuple(texts))
    assert read_source(tmp_path / "a.jsonl", "body").sha256 == hashlib.sha256(
        (tmp_path / "a.jsonl").read_bytes()).hexdigest()
    (tmp_path / "empty").mkdir()
    for path, message in (("a.jsonl", "line 1: no field 'text'"), ("a.parquet", "no column 'text'"),
                          ("nope", "no such file or directory"), ("empty", "no documents")):
        with pytest.raises(InputError, match=message):
            read_source(tmp_path / path)


def test_quality_step_with_a_threshold(model, corpora, tmp_path: Path) -> None:
    cfg = load_config(overrides={"filters.quality.enabled": True, "filters.quality.threshold": 0.5,
                                 "filters.quality.model": str(model / "model.bin")})
    out = tmp_path / "out"  # the documents the classifier never saw: PostgreSQL docs and web pages
    manifest = curate([str(corpora["docs_warc"]), str(warc("wget-crawl-2024-b.warc.gz"))], out, cfg)
    prov = pl.read_parquet(out / "provenance" / "*.parquet")
    assert prov.height == manifest["counts"]["records"] and prov["doc_id"].n_unique() == prov.height
    docs = pl.read_parquet(out / "documents" / "*.parquet")
    removed = pl.read_parquet(out / "rejected" / "*.parquet")
    score = pl.col("signals").str.json_path_match("$.quality.score").cast(pl.Float64)
    assert docs.select(score.min()).item() >= 0.5
    by_step = removed.filter(pl.col("step") == "quality").with_columns(score.alias("score"))
    assert by_step.height >= 5 and docs.height >= 20
    for row in by_step.iter_rows(named=True):
        assert row["score"] < 0.5 and row["reason"] == f"quality_score={row['score']}<0.5"
    assert removed.select(score.is_null().sum()).item() == 0  # every extracted document was scored
    q = manifest["quality"]
    assert q["sha256"] == hashlib.sha256((model / "model.bin").read_bytes()).hexdigest()
    assert q["card"] == card_of(model) and q["threshold"] == 0.5 and q["label"] == "__label__hq"
    gone = by_step["doc_id"][0]
    t = trace(out, gone)
    assert t["quality"]["score"] < 0.5 and t["quality"]["threshold"] == 0.5
    assert "quality" not in t["steps_passed"] and "fineweb_quality" in t["steps_passed"]
    s = summary(out)
    assert s["quality"]["rejected"] == by_step.height and s["quality"]["kept"] == docs.height
    assert sum(b["kept"] for b in s["quality"]["histogram"]) == docs.height
    assert 'id="quality"' in (out / "report.html").read_text()
    answer = write_disclosure([out], tmp_path / "disclosure")["json"].read_text()
    item9 = next(i for i in json.loads(answer)["items"] if i["number"] == 9)["answer"]
    assert "fastText quality classifier" in item9 and str(corpora["positive"]) in item9
    assert "score >= 0.5" in item9


def bad_models(model: Path, tmp: Path) -> list[tuple[Path, str, str]]:
    """(model file, label, what the one-line error says) for each kind of unusable model."""
    (tmp / "not-a-model.bin").write_bytes(b"\x00" * 200)
    whole = (model / "model.bin").read_bytes()
    (tmp / "truncated.bin").write_bytes(whole[: len(whole) // 2])
    kind = 36  # the header's model kind (int32 after magic, version and 7 other args): 2 is skipgram
    (tmp / "skipgram.bin").write_bytes(whole[:kind] + struct.pack("<i", 2) + whole[kind + 4:])
    return [(tmp / "missing.bin", "__label__hq", "no such file"),
            (tmp / "not-a-model.bin", "__label__hq", "not a fastText model"),
            (tmp / "truncated.bin", "__label__hq", "truncated"),
            (tmp / "skipgram.bin", "__label__hq", "a fastText skipgram model, not a supervised classifier"),
            (model / "model.bin", "__label__edu", "has no label '__label__edu'")]


def test_unusable_models_are_one_line_errors_before_anything_is_written(model, tmp_path: Path) -> None:
    src = str(warc("cc-single-record.warc.gz"))
    for k, (path, label, message) in enumerate(bad_models(model, tmp_path)):
        cfg = load_config(overrides={"filters.quality.enabled": True, "filters.quality.model": str(path),
                                     "filters.quality.label": label,
                                     "filters.quality.keep_top_fraction": 0.1})
        with pytest.raises(ConfigError, match=message) as err:
            curate([src], tmp_path / f"out{k}", cfg)
        assert str(path) in str(err.value) and not (tmp_path / f"out{k}").exists()
    truncated = tmp_path / "truncated.bin"
    (tmp_path / "bad.toml").write_text(f'[filters.quality]\nenabled = true\nmodel = "{truncated}"\n'
                                       "threshold = 0.2\n")
    r = subprocess.run([*ASSAY, "curate", src, "-o", str(tmp_path / "cli"), "-c", str(tmp_path / "bad.toml")],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and r.stderr.strip().count("\n") == 0 and "truncated" in r.stderr
    assert not (tmp_path / "cli").exists()
    for overrides, message in (({}, "model: a fastText model file is required"),
                               ({"filters.quality.model": "m.bin"},
                                "exactly one of threshold or keep_top_fraction"),
                               ({"filters.quality.model": "m.bin", "filters.quality.threshold": 0.1,
                                 "filters.quality.keep_top_fraction": 0.1}, "exactly one of")):
        with pytest.raises(ConfigError, match=message):
            load_config(overrides={"filters.quality.enabled": True, **overrides})


def test_quality_train_command(tmp_path: Path) -> None:
    texts = articles()
    write_jsonl(tmp_path / "pos.jsonl", [{"text": t} for t in texts[:40]])
    (tmp_path / "neg").mkdir()
    for i, t in enumerate(texts[100:140]):
        (tmp_path / "neg" / f"{i:03d}.txt").write_text(t)
    args = [*ASSAY, "quality", "train", "--positive", str(tmp_path / "pos.jsonl"), "--negative",
            str(tmp_path / "neg"), "-o", str(tmp_path / "m"), "--bucket", "10000", "--epoch", "25",
            "--lr", "1.0"]
    r = subprocess.run(args, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert "held-out (8 documents): ROC-AUC" in r.stdout and (tmp_path / "m" / "card.json").is_file()
    again = subprocess.run(args, capture_output=True, text=True, timeout=120)
    assert again.returncode == 2 and "exists; use another -o or --overwrite" in again.stderr
