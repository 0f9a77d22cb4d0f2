"""Benchmark decontamination (issue 15): evaluation items planted into real pages are found, the index is
built once and memory-mapped, bad evaluation sets are one-line errors.

The planted WARC is built here from the real wget-crawl pages of ../shared/data; the evaluation items
are passages of the real articles of the extraction benchmark's ground truth.
"""

from __future__ import annotations

import hashlib
import json
import random
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from conftest import warc
from curate import InputError, curate, load_config, trace
from curate.decontaminate.config import DecontaminateConfig
from curate.decontaminate.index import index_key, load_eval_sets, save_index
from curate.decontaminate.step import DecontaminationFilter
from curate.dedup.config import NearDedupConfig
from curate.dedup.minhash import shingle_hashes, shingle_hashes_many
from curate.filters import Doc
from curate.report import contamination, documents_with_signals
from provenance.outdir import OutDir
from warc_builders import articles, eval_items, item_text, planted_warc, replace_words, write_jsonl

ASSAY = [sys.executable, "-m", "assay"]
PAGES = ("wget-crawl-2024-a.warc.gz", "wget-crawl-2024-b.warc.gz")  # 37 HTML pages
FIELDS = ["question", "answer"]


def decont_cfg(evals: Path, **extra: object):
    files = [{"path": str(evals), "fields": FIELDS, "id_field": "id"}]
    return load_config(overrides={"decontaminate.enabled": True, "workers": 1, "decontaminate.files": files,
                                  **extra})


def flat(text: str) -> str:
    return " ".join(text.split())


@pytest.fixture(scope="module")
def planted(tmp_path_factory) -> dict:
    """Every page gets two items: one verbatim, one with 10% of its words replaced. The evaluation set
    holds those items and ~300 more that appear nowhere (170-word passages + answers)."""
    tmp = tmp_path_factory.mktemp("planted")
    items = eval_items(150, 3)
    rng = random.Random(15)
    vocabulary = sorted({w for t in articles()[:20] for w in t.split()})
    verbatim, modified = items[0::2][:37], items[1::2][:37]
    edited = [replace_words(item_text(it), 0.1, rng, vocabulary) for it in modified]
    plants = [[item_text(v), m] for v, m in zip(verbatim, edited, strict=True)]
    urls = planted_warc([warc(n) for n in PAGES], tmp / "planted.warc.gz", plants)
    evals = write_jsonl(tmp / "evals.jsonl", items)
    out = tmp / "out"
    curate([str(tmp / "planted.warc.gz")], out, decont_cfg(evals))
    return {"out": out, "evals": evals, "items": items, "urls": urls, "verbatim": verbatim[:len(urls)],
            "modified": modified[:len(urls)], "edited": edited[:len(urls)]}


def extracted(out: Path) -> dict[str, str]:
    """The extracted text of every page with text (kept or removed), whitespace folded, by URL."""
    import polars as pl

    frames = [pl.read_parquet(out / folder / "*.parquet", columns=["url", "text"]) for folder in ("documents",
                                                                                               "rejected")]
    return {r["url"]: flat(r["text"]) for r in pl.concat(frames).iter_rows(named=True)}


def test_planted_items_are_found(planted: dict) -> None:
    texts = extracted(planted["out"])
    found = set(contamination(planted["out"])["sets"][0]["found"])
    in_corpus = {"verbatim": [], "modified": []}  # items whose page's extracted text holds them
    for url, v, m, e in zip(planted["urls"], planted["verbatim"], planted["modified"], planted["edited"],
                            strict=True):
        page = texts.get(url, "")
        if flat(item_text(v)) in page:
            in_corpus["verbatim"].append(v["id"])
        if flat(e) in page:
            in_corpus["modified"].append(m["id"])
    # The extractor keeps the planted paragraphs on most pages (it may drop a page's side column).
    assert len(in_corpus["verbatim"]) >= 0.8 * len(planted["urls"]), in_corpus
    assert set(in_corpus["verbatim"]) <= found  # recall 1.0
    recall = len(set(in_corpus["modified"]) & found) / len(in_corpus["modified"])
    assert recall >= 0.9, recall
    planted_ids = {it["id"] for it in planted["verbatim"] + planted["modified"]}
    assert found <= planted_ids  # the ~300 items planted nowhere are not found


def test_removals_name_the_set_and_item_and_every_record_has_one_row(planted: dict) -> None:
    import polars as pl

    out = planted["out"]
    prov = pl.read_parquet(out / "provenance" / "*.parquet")
    manifest = json.loads((out / "run.json").read_text())
    assert prov.height == manifest["counts"]["records"] and prov["doc_id"].n_unique() == prov.height
    removed = prov.filter(pl.col("step") == "decontaminate")
    assert removed.height >= 20 and set(removed["decision"]) == {"rejected"}
    ids = {it["id"] for it in planted["items"]}
    for reason in removed["reason"]:
        assert reason.startswith("evals.jsonl item ") and reason.split()[2].rstrip(":") in ids
        assert "shared 13-grams" in reason
    sets = manifest["decontaminate"]["sets"]
    assert sets[0]["sha256"] == hashlib.sha256(planted["evals"].read_bytes()).hexdigest()
    assert sets[0]["items"] == len(planted["items"]) and manifest["decontaminate"]["ngram"] == 13


def test_contamination_command_report_and_trace(planted: dict) -> None:
    out = planted["out"]
    s = contamination(out)
    doc = s["sets"][0]["documents"][0]
    r = subprocess.run([*ASSAY, "contamination", str(out)], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    x = s["sets"][0]
    summary_line = f"{x['items_found']} of {x['items']} items found in {len(x['documents'])}"
    assert summary_line in " ".join(r.stdout.split())
    assert doc["doc_id"] in r.stdout and doc["url"] in r.stdout
    html = (out / "report.html").read_text()
    assert 'id="contamination"' in html and doc["doc_id"] in html
    t = trace(out, doc["doc_id"])
    assert t["contamination"]["items"] >= 1 and t["contamination"]["matches"][0]["set"] == "evals.jsonl"
    clean = [d for d in documents_with_signals(OutDir(out)).iter_rows(named=True)
             if json.loads(d["signals"])["decontaminate"]["items"] == 0]
    assert clean and trace(out, clean[0]["doc_id"])["contamination"]["items"] == 0
    assert "quality" not in t  # the step was off


def test_min_overlap_counts_distinct_shared_ngrams(tmp_path: Path) -> None:
    words = articles()[3].split()[:40]
    evals = write_jsonl(tmp_path / "e.jsonl", [{"id": "x", "question": " ".join(words), "answer": "yes"}])
    cfg = DecontaminateConfig(enabled=True, files=[{"path": str(evals), "fields": FIELDS, "id_field": "id"}])
    index = load_eval_sets(cfg)
    assert save_index(index, index_key(cfg, index), tmp_path / "ix")
    assert not save_index(index, index_key(cfg, index), tmp_path / "ix")  # built once: a rerun finds it
    doc = Doc(text="Unrelated words. " + " ".join(words[10:25]) + " and more unrelated words.")  # 3 13-grams
    for min_overlap, flagged in ((1, True), (3, True), (4, False)):
        f = DecontaminationFilter(cfg.model_copy(update={"min_overlap": min_overlap}), tmp_path / "ix")
        signals = f.annotate(doc)
        assert signals["matched_ngrams"] == 3 and (signals["items"] == 1) == flagged
        assert (f.decide(signals) is not None) == flagged
    assert f.decide(DecontaminationFilter(cfg, tmp_path / "ix").annotate(doc)) == \
        "e.jsonl item x: 3 shared 13-grams"
    assert isinstance(f.index.grams, np.memmap) and isinstance(f.index.items, np.memmap)  # shared, not copied


def test_nothing_is_flagged_on_the_shared_warcs(quickstart_dir: Path, tmp_path: Path) -> None:
    """Every text extracted from every real WARC (the golden run's kept and removed documents: CI runs it
    once for the golden and Quickstart tests) against ~360 passages of unrelated articles: no match."""
    import polars as pl

    out = quickstart_dir / "out" / "corpus"
    texts = pl.concat([pl.read_parquet(out / f / "*.parquet", columns=["text"]) for f in ("documents",
                                                                                          "rejected")])
    evals = write_jsonl(tmp_path / "evals.jsonl", eval_items(60, 2))
    cfg = DecontaminateConfig(enabled=True, files=[{"path": str(evals), "fields": FIELDS, "id_field": "id"}])
    index = load_eval_sets(cfg)
    save_index(index, index_key(cfg, index), tmp_path / "ix")
    step = DecontaminationFilter(cfg, tmp_path / "ix")
    assert index.sets[0]["items"] >= 300 and texts.height >= 1000
    flagged = [t[:80] for t in texts["text"] if step.decide(step.annotate(Doc(text=t)))]
    assert flagged == []
    assert step.decide(step.annotate(Doc(text=item_text(eval_items(60, 2)[7])))) is not None  # it can match


@pytest.mark.timeout(300)
def test_index_holds_100k_items(tmp_path: Path) -> None:
    rng = random.Random(0)
    words = [w for t in articles()[:40] for w in t.split()]
    rows = []
    for k in range(100_000):
        start = rng.randrange(len(words) - 40)
        rows.append({"id": f"q{k}", "question": " ".join(words[start:start + rng.randint(14, 40)]),
                     "answer": str(k)})
    cfg = DecontaminateConfig(enabled=True, files=[{"path": str(write_jsonl(tmp_path / "big.jsonl", rows)),
                                                    "fields": FIELDS, "id_field": "id"}])
    index = load_eval_sets(cfg)
    assert index.sets[0]["items"] == 100_000 and index.sets[0]["too_short"] == 0
    assert np.all(index.grams[1:] >= index.grams[:-1]) and index.nbytes == 12 * len(index.grams)
    save_index(index, index_key(cfg, index), tmp_path / "ix")
    last = rows[-1]
    doc = Doc(text=f"Quoted on a page: {last['question']} {last['answer']}. End.")
    signals = DecontaminationFilter(cfg, tmp_path / "ix").annotate(doc)
    assert "q99999" in {m["item"] for m in signals["matches"]}


def test_batched_ngram_hashes_equal_the_per_document_ones() -> None:
    texts = [t[:2000] for t in articles()[:30]] + ["", " ;; ", "short text", "日本語のテキストです。長い文章"]
    for n in (1, 5, 13):
        cfg = NearDedupConfig(ngram=n)
        per_text = [shingle_hashes(t, cfg) for t in texts]
        hashes, owner = shingle_hashes_many(texts, cfg)
        assert np.array_equal(hashes, np.concatenate(per_text))
        assert np.array_equal(owner, np.concatenate([np.full(len(h), i) for i, h in enumerate(per_text)]))
    hashes, owner = shingle_hashes_many(texts, NearDedupConfig(ngram=13), short=False)
    assert 32 not in set(owner.tolist()) and 31 not in set(owner.tolist())  # shorter than 13 words: none


def bad_sets(tmp: Path) -> list[tuple[dict, str]]:
    """(evaluation-set entry, what the one-line error must say) for each kind of bad set."""
    write_jsonl(tmp / "no-answer.jsonl", [{"id": "1", "question": "a question of many words " * 5}])
    (tmp / "empty.jsonl").write_text("\n\n")
    pq.write_table(pa.table({"question": ["q " * 20]}), tmp / "cols.parquet")
    write_jsonl(tmp / "short.jsonl", [{"question": "too short", "answer": "yes"}])
    return [
        ({"path": str(tmp / "missing.jsonl")}, "missing.jsonl: no such file"),
        ({"path": str(tmp / "no-answer.jsonl"), "fields": FIELDS},
         "no-answer.jsonl: line 1: no field 'answer'"),
        ({"path": str(tmp / "empty.jsonl")}, "empty.jsonl: empty evaluation set"),
        ({"path": str(tmp / "cols.parquet"), "fields": FIELDS}, "cols.parquet: no column 'answer'"),
        ({"path": str(tmp / "short.jsonl"), "fields": FIELDS},
         "short.jsonl: none of its 1 items has 13 words"),
    ]


def test_bad_evaluation_sets_are_one_line_errors_before_anything_is_written(tmp_path: Path) -> None:
    src = str(warc("cc-single-record.warc.gz"))
    for k, (entry, message) in enumerate(bad_sets(tmp_path)):
        cfg = load_config(overrides={"decontaminate.enabled": True, "decontaminate.files": [entry]})
        with pytest.raises(InputError, match=message.replace("(", r"\(").replace(")", r"\)")):
            curate([src], tmp_path / f"out{k}", cfg)
        assert not (tmp_path / f"out{k}").exists()
    empty = tmp_path / "empty.jsonl"
    (tmp_path / "bad.toml").write_text(f'[decontaminate]\nenabled = true\nfiles = ["{empty}"]\n')
    r = subprocess.run([*ASSAY, "curate", src, "-o", str(tmp_path / "cli"), "-c", str(tmp_path / "bad.toml")],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and r.stderr.strip().count("\n") == 0 and "empty evaluation set" in r.stderr
    assert not (tmp_path / "cli").exists()
    with pytest.raises(Exception, match="files: at least one evaluation set"):
        load_config(overrides={"decontaminate.enabled": True})
