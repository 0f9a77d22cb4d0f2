"""The quality step (keep_top_fraction) and decontamination keep curate's invariants (issue 15): one
provenance row per record, byte-identical reruns, 1 vs 2 workers and local vs Ray identical, a killed
run resumes to the same result; the top fraction is exact over the run; and on the shared WARCs,
without planted items, nothing is flagged against an evaluation set of unrelated text.

The classifier here is trained in seconds on real articles (a JSONL file against a folder of .txt
files); what it learned does not matter to these invariants, only that its scores spread.
"""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path

import polars as pl
import pytest

from conftest import warc
from curate import TrainConfig, contamination, curate, load_config, train_classifier
from warc_builders import articles, eval_items, write_jsonl

pytestmark = pytest.mark.slow
INPUTS = ("cc-2020-34-slice.warc.gz", "clueweb09-ja-quirk.warc.gz", "wget-crawl-2024-a.warc.gz",
          "wget-crawl-2024-b.warc.gz")
COMPARED = ("provenance/*.parquet", "documents/*.parquet", "rejected/*.parquet")
FRACTION = 0.5


def tree_digest(out: Path) -> dict[str, str]:
    return {str(p.relative_to(out)): hashlib.sha256(p.read_bytes()).hexdigest()
            for pattern in COMPARED for p in sorted(out.glob(pattern))}


@pytest.fixture(scope="module")
def steps(tmp_path_factory) -> dict:
    """A model, an evaluation set of ~360 passages of the extraction benchmark's articles, and the config
    with both steps on."""
    tmp = tmp_path_factory.mktemp("learned-steps")
    texts = articles()
    write_jsonl(tmp / "pos.jsonl", [{"text": t} for t in texts[:90]])
    (tmp / "neg").mkdir()
    for i, t in enumerate(texts[90:]):
        (tmp / "neg" / f"{i:03d}.txt").write_text(t)
    train_classifier([str(tmp / "pos.jsonl")], [str(tmp / "neg")], tmp / "model",
                     TrainConfig(lr=1.0, epoch=25, bucket=10_000))
    evals = write_jsonl(tmp / "evals.jsonl", eval_items(60, 2))
    overrides = {"filters.quality.enabled": True, "filters.quality.model": str(tmp / "model" / "model.bin"),
                 "filters.quality.keep_top_fraction": FRACTION, "decontaminate.enabled": True,
                 "decontaminate.files": [{"path": str(evals), "fields": ["question", "answer"],
                                          "id_field": "id"}]}
    return {"overrides": overrides, "inputs": [str(warc(n)) for n in INPUTS]}


def run(steps: dict, out: Path, **extra: object) -> dict:
    return curate(steps["inputs"], out, load_config(overrides={**steps["overrides"], **extra}))


@pytest.fixture(scope="module")
def reference(steps, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("reference")
    run(steps, out, workers=1)
    return out


def test_one_row_per_record_and_exact_top_fraction(reference: Path) -> None:
    manifest = json.loads((reference / "run.json").read_text())
    prov = pl.read_parquet(reference / "provenance" / "*.parquet")
    c = manifest["counts"]
    assert prov.height == c["records"] == c["kept"] + c["rejected"] + c["duplicate"] + c["error"]
    assert prov["doc_id"].n_unique() == prov.height
    sel = manifest["quality"]["selection"]
    by_quality = prov.filter(pl.col("step") == "quality")
    # Scored at the end of the chain: what the top fraction removed, and what dedup then saw.
    assert sel["scored"] == by_quality.height + c["kept"] + c["duplicate"] >= 20
    assert sel["kept"] == math.ceil(FRACTION * sel["scored"]) == c["kept"] + c["duplicate"]
    score = pl.col("signals").str.json_path_match("$.quality.score").cast(pl.Float64)
    kept = pl.read_parquet(reference / "documents" / "*.parquet").select(score).to_series()
    removed = (pl.read_parquet(reference / "rejected" / "*.parquet").filter(pl.col("step") == "quality")
               .select(score).to_series())
    assert kept.min() >= sel["cutoff"] >= removed.max()
    assert all(r.startswith("quality_score=") and f"of {sel['scored']}" in r for r in by_quality["reason"])


def test_nothing_is_flagged_on_the_real_warcs(reference: Path) -> None:
    s = contamination(reference)
    assert s["documents"] == 0 and s["sets"][0]["items"] >= 300 and s["sets"][0]["items_found"] == 0
    prov = pl.read_parquet(reference / "provenance" / "*.parquet")
    assert prov.filter(pl.col("step") == "decontaminate").height == 0


def test_two_workers_give_the_same_bytes(steps, reference: Path, tmp_path: Path) -> None:
    run(steps, tmp_path / "two", workers=2)
    assert tree_digest(tmp_path / "two") == tree_digest(reference)


def test_a_rerun_and_a_killed_run_resumed_give_the_same_bytes(steps, reference: Path, tmp_path: Path) -> None:
    out = tmp_path / "resumed"
    run(steps, out, workers=1)
    assert tree_digest(out) == tree_digest(reference)
    index = out / "_work" / "decontaminate" / "grams.npy"
    built = index.stat().st_mtime_ns
    # As if killed during the second file: its part and marker are gone, the outputs not yet written.
    (out / "_work" / "extract" / "part-00001.done").unlink()
    (out / "_work" / "extract" / "part-00001.parquet").unlink()
    for folder in ("provenance", "documents", "rejected"):
        for p in (out / folder).glob("*.parquet"):
            p.unlink()
    manifest = run(steps, out, workers=1)
    assert manifest["resumed_tasks"] == len(INPUTS) - 1
    assert tree_digest(out) == tree_digest(reference)
    assert index.stat().st_mtime_ns == built  # the index was built once, not again on resume


@pytest.fixture(scope="module")
def ray_cluster():
    import ray

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()


@pytest.mark.timeout(900)
def test_ray_gives_the_same_bytes(ray_cluster, steps, reference: Path, tmp_path: Path) -> None:
    manifest = run(steps, tmp_path / "ray", executor="ray", workers=2)
    assert manifest["config"]["executor"] == "ray"
    assert tree_digest(tmp_path / "ray") == tree_digest(reference)
