"""`assay ablate`: reruns give the same numbers, a killed ablation resumes to them, bad input is one line
and writes nothing, `curate:` variants run the curation, and lineage and takedown follow the runs.

The models are small (2 layers of 64) and the budgets a few steps: these tests check the bookkeeping and
the determinism; docs/ablation.md is the measurement on real data.
"""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys

import numpy as np
import pytest
import torch
from test_cli_errors import assay, one_line_error

from conftest import REPO, warc
from curate import TokenShards
from provenance.lineage import build_lineage, warc_files
from provenance.manifest import read_manifest, sha256_file
from train.ablate import AblateConfig, ablate, parse_eval, parse_variant, read_ablation
from train.ablate.stats import NO_DIFFERENCE, paired
from train.data import split_documents
from train.evaluate import eval_set, score
from train.testing import build_corpus, warc_texts

SMALL = {"model": {"d_model": 64, "n_layers": 2, "n_heads": 2}, "seq_len": 64, "batch_size": 8,
         "micro_batch_size": 8, "warmup_steps": 2}
STEPS = 4
BUDGET = STEPS * 8 * 64 - 100  # not a whole number of steps: rounded up to STEPS, never fewer tokens


@pytest.fixture(scope="module")
def corpora(tmp_path_factory):
    """Two variants cut from the same real pages (one holds the other), one tokenizer; and a news set."""
    root = tmp_path_factory.mktemp("ablate")
    docs = warc_texts(str(warc("python-3.11-docs.warc.gz")), 24)
    small = build_corpus(root / "small", docs[:14], vocab_size=512, shard_tokens=20_000)
    big = build_corpus(root / "big", docs, tokenizer=small / "tokenizer.json", shard_tokens=20_000)
    gt = json.loads((warc("python-3.11-docs.warc.gz").parents[1] / "extraction" / "scrapinghub"
                     / "ground-truth.json").read_text())
    news = root / "news.jsonl"
    news.write_text("".join(json.dumps({"text": gt[k]["articleBody"]}) + "\n" for k in sorted(gt)[:8]))
    return {"small": small, "big": big, "news": news, "root": root}


def _config(c, out, **over):
    base = {"variants": [parse_variant(f"small={c['small']}"), parse_variant(f"big={c['big']}")],
            "evals": [parse_eval(f"news={c['news']}")], "budget_tokens": BUDGET, "seeds": 2,
            "train_overrides": SMALL, "threads": 1, "progress": False, "out_dir": out}
    return AblateConfig(**{**base, **over})


def _numbers(a):
    """Everything in ablate.json that is a measurement (not a path or a run id)."""
    return [(r["variant"], r["seed"], r["tokens"], r["steps"], r["epochs"], r["curve"], r["eval"])
            for r in a["runs"]], a["summary"]


@pytest.fixture(scope="module")
def reference(corpora):
    return ablate(_config(corpora, corpora["root"] / "ref"))


@pytest.mark.slow
def test_ablate_json_records_every_run(corpora, reference):
    a = read_ablation(reference)
    assert a["ablation"]["tokens_per_run"] == STEPS * 8 * 64 >= BUDGET and a["ablation"]["steps"] == STEPS
    pairs = [(r["variant"], r["seed"]) for r in a["runs"]]
    assert pairs == [("small", 0), ("small", 1), ("big", 0), ("big", 1)]
    assert set(a["evals"]) == {"news", "heldout:small", "heldout:big"}
    assert a["evals"]["news"]["documents"] == 8
    for r in a["runs"]:
        corpus = corpora[r["variant"]]
        assert r["tokens"] == STEPS * 8 * 64 and r["variant_run_id"] == read_manifest(corpus)["run_id"]
        assert set(r["corpus_sha256s"]) <= {sha256_file(p) for p in (corpus / "tokens").glob("*.arrow")}
        assert (reference / r["checkpoint"] / "model.safetensors").is_file()
        shards = TokenShards(corpus)
        train_docs, _ = split_documents(shards, 0.05, a["ablation"]["split_seed"])
        stream = sum(len(shards.doc(int(d))) + 1 for d in train_docs)  # + EOS each
        assert len(r["curve"]) >= 2 and r["epochs"] == pytest.approx(r["tokens"] / stream, abs=1e-4)
        for scores in r["eval"].values():
            assert 0 < scores["bits_per_byte"] < 20 and scores["loss_per_token"] > 0
    s = a["summary"]["news"]
    bpb = [r["eval"]["news"]["bits_per_byte"] for r in a["runs"] if r["variant"] == "big"]
    assert s["big"]["mean"] == pytest.approx(np.mean(bpb))
    assert s["big"]["std"] == pytest.approx(np.std(bpb, ddof=1))
    assert s["small"]["vs_baseline"] is None and s["big"]["vs_baseline"]["seeds"] == [0, 1]
    md = (reference / "ablate.md").read_text()
    assert "| big |" in md and "paired by seed" in md
    for png in ("ablate-bpb.png", "ablate-curves.png"):
        assert (reference / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.slow
def test_same_seeds_same_numbers_other_seeds_other_numbers(corpora, reference):
    again = ablate(_config(corpora, corpora["root"] / "again"))
    assert _numbers(read_ablation(again)) == _numbers(read_ablation(reference))
    other = read_ablation(ablate(_config(corpora, corpora["root"] / "other", first_seed=7, seeds=1)))
    ref = {(r["variant"], r["seed"]): r for r in read_ablation(reference)["runs"]}
    for r in other["runs"]:
        assert r["seed"] == 7 and r["eval"] != ref[(r["variant"], 0)]["eval"]


@pytest.mark.slow
def test_a_killed_ablation_resumes_to_the_same_numbers(corpora, reference):
    """SIGKILLed (ASSAY_FAULT kill-after-checkpoint, curate/faults.py) right after the halfway checkpoint of
    its third run; the same command again finishes it, reuses the first two, and gives the same numbers."""
    out = corpora["root"] / "killed"
    child = (f"from train.ablate import AblateConfig, ablate\n"
             f"ablate(AblateConfig.model_validate_json({_config(corpora, out).model_dump_json()!r}))\n")
    env = {**os.environ, "ASSAY_FAULT": f"kill-after-checkpoint:big/seed-0:{STEPS // 2}",
           "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    r = subprocess.run([sys.executable, "-c", child], env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == -signal.SIGKILL, r.stderr[-3000:]
    first = out / "runs" / "small" / "seed-0"
    ckpt_before = sha256_file(first / "checkpoints" / f"step-{STEPS:06d}" / "model.safetensors")
    eval_before = (first / "ablate-eval.json").stat().st_mtime_ns
    killed = read_manifest(out / "runs" / "big" / "seed-0")
    assert killed["status"] == "running" and killed["counts"]["steps"] == STEPS // 2
    assert not (out / "runs" / "big" / "seed-1").exists() and not (out / "ablate.json").exists()

    ablate(_config(corpora, out))
    assert _numbers(read_ablation(out)) == _numbers(read_ablation(reference))
    assert (first / "ablate-eval.json").stat().st_mtime_ns == eval_before  # finished work reused
    assert sha256_file(first / "checkpoints" / f"step-{STEPS:06d}" / "model.safetensors") == ckpt_before
    resumed = read_manifest(out / "runs" / "big" / "seed-0")
    assert resumed["status"] == "complete" and len(resumed["resumed_at"]) == 1


def _cli(*args: str):
    """The `assay` command in this process (CliRunner), as (exit code, stdout, stderr)."""
    from typer.testing import CliRunner

    from assay.cli import app

    r = CliRunner().invoke(app, list(args))
    return r.exit_code, r.stdout, r.stderr


def _one_line(result, *fragments: str) -> None:
    code, stdout, stderr = result
    assert code == 2 and stdout == "" and "Traceback" not in stderr, (code, stderr)
    [line] = stderr.strip().splitlines()
    assert line.startswith("error: ") and all(f in line for f in fragments), (fragments, line)


@pytest.mark.slow
def test_bad_input_is_one_line_and_writes_nothing(corpora, tmp_path):
    c = corpora
    out = tmp_path / "out"
    base = ["ablate", "--variant", f"small={c['small']}", "--eval", f"news={c['news']}", "-o", str(out)]
    one_line_error(assay(*base, "--budget-tokens", "0"), "--budget-tokens")  # the real console path once
    other = build_corpus(tmp_path / "other", warc_texts(str(warc("python-3.11-docs.warc.gz")), 24)[:6],
                         vocab_size=400)
    _one_line(_cli(*base, "--variant", f"other={other}", "--budget-tokens", "1000"),
              "different tokenizers", "--tokenizer")
    empty = tmp_path / "empty.jsonl"
    empty.write_text('{"text": "   "}\n{"url": "x"}\n')
    _one_line(_cli(*base, "--eval", f"blank={empty}", "--budget-tokens", "1000"), "'blank'", "no text")
    txt = tmp_path / "txt"
    txt.mkdir()
    _one_line(_cli(*base, "--eval", f"txt={txt}", "--budget-tokens", "1000"), "no text")
    not_corpus = tmp_path / "not-a-corpus"
    not_corpus.mkdir()
    (not_corpus / "notes.txt").write_text("hello")
    _one_line(_cli(*base, "--variant", f"x={not_corpus}", "--budget-tokens", "1000"), "not an assay corpus")
    _one_line(_cli(*base, "--variant", f"x={c['root'] / 'missing'}", "--budget-tokens", "1000"),
              "not a directory")
    _one_line(_cli(*base, "--variant", "raw=curate:raw", "--budget-tokens", "1000"), "--inputs")
    assert not out.exists()


def test_paired_comparison_does_not_overclaim():
    base = {0: 1.00, 1: 1.02, 2: 0.98}
    assert paired({0: 0.90, 1: 0.92, 2: 0.88}, base)["verdict"].startswith("lower (better)")
    assert paired({0: 1.10, 1: 1.12, 2: 1.08}, base)["verdict"].startswith("higher (worse)")
    same_sign_within_spread = paired({0: 0.995, 1: 1.015, 2: 0.975}, base)  # -0.005 each, seeds spread 0.02
    assert same_sign_within_spread["verdict"] == NO_DIFFERENCE and same_sign_within_spread["ci95"][1] < 0
    noisy = paired({0: 0.90, 1: 1.10, 2: 0.95}, base)
    assert noisy["verdict"] == NO_DIFFERENCE and noisy["ci95"][0] < 0 < noisy["ci95"][1]
    assert paired({0: 0.5}, {0: 1.0})["verdict"].startswith(NO_DIFFERENCE)  # one seed: no spread


def test_bits_per_byte_scores_every_token_once(corpora):
    from train.config import ModelConfig
    from train.model import Llama

    texts = [json.loads(line)["text"] for line in corpora["news"].read_text().splitlines()]
    es = eval_set("news", texts, corpora["small"] / "tokenizer.json")
    assert es.n_bytes == sum(len(t.encode()) for t in texts) and es.n_docs == 8
    torch.manual_seed(0)
    model = Llama(ModelConfig(vocab_size=512, d_model=32, n_layers=1, n_heads=2, max_seq_len=64))
    a = score(model, es, 64)
    b = score(model, es, 37, batch=5)  # another window length: every token still scored once
    assert a["tokens"] == b["tokens"] == len(es.tokens) - 1
    assert a["bits_per_byte"] == pytest.approx(a["loss_per_token"] * a["tokens"] / math.log(2) / es.n_bytes)
    # an untrained model is near uniform over the vocabulary: about ln(512) nats per token
    assert a["loss_per_token"] == pytest.approx(math.log(512), rel=0.05)


@pytest.mark.slow
@pytest.mark.timeout(1200)
def test_curate_variants_lineage_and_takedown(tmp_path):
    """`raw=curate:raw` against `default=curate:default` on a real WARC: ablate curates both, trains a
    tokenizer on their union, and every model's lineage reaches the WARC; a takedown lists the runs."""
    from curate import takedown

    root = tmp_path / "exp"
    src = warc("wget-crawl-2024-b.warc.gz")
    variants = [parse_variant("raw=curate:raw"), parse_variant("default=curate:default")]
    out = ablate(AblateConfig(variants=variants, inputs=[str(src)], budget_tokens=2 * 8 * 64, seeds=1,
                              vocab_size=600, train_overrides=SMALL, threads=1, progress=False,
                              out_dir=root / "ablation"))
    a = read_ablation(out)
    raw, default = (read_manifest(out / "variants" / v) for v in ("raw", "default"))
    assert raw["counts"]["kept"] > default["counts"]["kept"] > 0  # no filter, no dedup: more kept
    assert a["tokenizer"]["how"].startswith("trained") and a["variants"]["raw"]["kind"] == "curate"
    tree = build_lineage(out)
    assert tree.kind == "ablate" and [p.kind for p in tree.parents] == ["train", "train"]
    for run in tree.parents:
        assert {w["sha256"] for w in warc_files(run)} == {sha256_file(src)}
    domain = read_manifest(out / "variants" / "default")  # any kept domain of the default variant
    import polars as pl

    prov = pl.read_parquet(out / "variants" / "default" / "provenance" / "*.parquet")
    victim = prov.filter(pl.col("decision") == "kept")["domain"].sort()[0]
    man = takedown(out / "variants" / "default", tmp_path / "v2", domain=victim, runs=[root])
    td = man["takedown"]
    runs = {r["run_id"] for r in td["affected_training_runs"] + td["unaffected_training_runs_of_corpus"]}
    default_run = read_manifest(out / "runs" / "default" / "seed-0")["run_id"]
    assert domain["run_id"] and default_run in runs
    assert read_manifest(out / "runs" / "raw" / "seed-0")["run_id"] not in runs  # it read another corpus
