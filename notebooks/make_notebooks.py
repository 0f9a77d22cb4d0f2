"""Writes the walkthrough notebooks from the cells below (outputs cleared), so they stay reviewable.

    python notebooks/make_notebooks.py      # then commit the .ipynb files; CI executes them (tests/test_notebooks.py)
"""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = Path(__file__).resolve().parent

# Every notebook starts here: the real WARC files beside the checkout, or the embedded sample.
SETUP = '''\
import os, tempfile
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # nothing may reach for the network
WARC_DIR = Path(os.environ.get("ASSAY_SHARED_DATA", "../../shared/data")) / "warc"  # ../shared/data from the repo root
WORK = Path(tempfile.mkdtemp(prefix="assay-notebook-"))


def warcs(*names):
    """The named real WARC files, or the embedded pydoc sample crawl when ../shared/data is absent."""
    paths = [WARC_DIR / n for n in names]
    if all(p.exists() for p in paths):
        return [str(p) for p in paths]
    from assay.demo import SAMPLE_MODULES, build_sample_crawl
    print(f"{WARC_DIR} not found: using the embedded sample crawl")
    return [str(build_sample_crawl(WORK / "sample.warc.gz", SAMPLE_MODULES[:40]))]'''


def nb01() -> list:
    return [
        new_markdown_cell("""# 1. Curate a crawl

From WARC files to an auditable corpus: every record read gets one provenance row
(kept, rejected, duplicate or error, with the step and the reason), kept documents are
tokenized into Arrow shards, and every token can be traced back to its WARC record.
Data: two small real wget crawls from `../shared/data/warc/` (the embedded sample if absent)."""),
        new_code_cell(SETUP),
        new_code_cell('''\
from curate import curate, load_config

inputs = warcs("wget-crawl-2024-a.warc.gz", "wget-crawl-2024-b.warc.gz")
cfg = load_config(overrides={"workers": 2, "tokenize.enabled": True, "tokenize.vocab_size": 2048})
corpus = WORK / "corpus"
manifest = curate(inputs, corpus, cfg, overwrite=True)
manifest["counts"]'''),
        new_markdown_cell("The invariant: one provenance row per record read, and the four decisions add up."),
        new_code_cell('''\
import polars as pl

prov = pl.read_parquet(corpus / "provenance" / "*.parquet")
c = manifest["counts"]
assert prov.height == c["records"] == c["kept"] + c["rejected"] + c["duplicate"] + c["error"]
prov.group_by(["decision", "step"]).len().sort("len", descending=True)'''),
        new_markdown_cell("Why was a page removed? The reason names the signal and the threshold (FineWeb / Gopher / C4 defaults)."),
        new_code_cell('''\
prov.filter(pl.col("decision") == "rejected").select(["url", "step", "reason"]).head(8)'''),
        new_code_cell('''\
from curate import summary

s = summary(corpus)  # the numbers report.html shows
{"languages": s["languages"][:5], "domains": s["domains"][:5], "tokens": s.get("tokens")}'''),
        new_markdown_cell("Follow a token back: shard 0, row 0 -> document -> WARC file, byte offset, record id."),
        new_code_cell('''\
from curate import trace

t = trace(corpus, shard=0, row=0)
print({k: t[k] for k in t if k != "provenance"})
t["provenance"][0] if isinstance(t.get("provenance"), list) else t.get("provenance")'''),
        new_code_cell('''\
print("report:", corpus / "report.html")
assert (corpus / "report.html").exists() and (corpus / "tokens").is_dir()'''),
    ]


def nb02() -> list:
    return [
        new_markdown_cell("""# 2. Synthetic data and model collapse

Train the `tiny` Llama for a few steps on a curated corpus, sample continuations from it,
and measure them against the human text with the collapse and bias gates. Generation
here uses transformers (`assay synth generate` and `assay demo` use vLLM, whose engine
takes ~35 s to load: too slow for a notebook). Sampling at a low temperature imitates
collapse (a model that only repeats its most probable text), and the metrics see it."""),
        new_code_cell(SETUP),
        new_code_cell('''\
from curate import curate, load_config

corpus = WORK / "corpus"
cfg = load_config(overrides={"workers": 2, "tokenize.enabled": True, "tokenize.vocab_size": 1024})
manifest = curate(warcs("wget-crawl-2024-a.warc.gz"), corpus, cfg, overwrite=True)
manifest["counts"]'''),
        new_code_cell('''\
from train import export_hf, make_config, train

run = train(make_config("tiny", data=[f"human={corpus}"], overrides={
    "out_dir": WORK / "run", "steps": 20, "batch_size": 8, "micro_batch_size": 8, "warmup_steps": 5,
    "eval_every": 10, "log_every": 5, "progress": False}))
hf = export_hf(run, WORK / "hf", check_vllm=False)
print(open(run / "metrics.jsonl").read())'''),
        new_markdown_cell("Continuations of the first 24 words of each human document, one seed per request."),
        new_code_cell('''\
import torch
from synth.corpus import read_documents
from synth.tasks import first_words
from transformers import AutoModelForCausalLM, AutoTokenizer

tok = AutoTokenizer.from_pretrained(hf)
model = AutoModelForCausalLM.from_pretrained(hf).eval()
human = [d["text"] for d in read_documents(corpus)]


def sample(temperature, n=12, new_tokens=48):
    out = []
    for i, text in enumerate(human[:n]):
        ids = tok(first_words(text, 24), return_tensors="pt").input_ids[:, -64:]
        torch.manual_seed(i)  # per-request seed
        gen = model.generate(ids, do_sample=True, temperature=temperature, max_new_tokens=new_tokens,
                             pad_token_id=tok.eos_token_id)
        out.append(tok.decode(gen[0, ids.shape[1]:], skip_special_tokens=True))
    return out


warm, cold = sample(1.0), sample(0.2)
print(warm[0][:300], "\\n---\\n", cold[0][:300])'''),
        new_markdown_cell("Same metrics, same equal word-token budget, for both settings against the human reference."),
        new_code_cell('''\
import polars as pl
from synth import compare

reports = {name: compare(texts, human, seed_texts=human) for name, texts in [("T=1.0", warm), ("T=0.2", cold)]}
keys = ["distinct_2", "distinct_4", "self_bleu", "self_repetition", "tail_mass", "compression_ratio"]
pl.DataFrame([{"set": name, **{k: r["metrics"][k]["synthetic"] for k in keys}} for name, r in reports.items()]
             + [{"set": "human", **{k: reports["T=1.0"]["metrics"][k]["reference"] for k in keys}}])'''),
        new_code_cell('''\
for name, r in reports.items():
    failed = [g["metric"] for g in r["gates"]["gates"] if g["verdict"] == "fail"]
    print(f"{name}: {r['gates']['overall']}  failed: {failed}")
# a colder sampler repeats itself more: fewer distinct 2-grams at the same budget
assert reports["T=0.2"]["metrics"]["distinct_2"]["synthetic"] < reports["T=1.0"]["metrics"]["distinct_2"]["synthetic"]'''),
    ]


def nb03() -> list:
    return [
        new_markdown_cell("""# 3. The AB 2013 disclosure

California Civil Code 3111 (AB 2013) asks developers of generative AI systems to post
twelve facts about their training data. `write_disclosure` derives what the records can
show (sources, counts, licences, personal information, processing, dates, synthetic
data) from run manifests and provenance, and takes the rest from a declarations file;
anything neither supplies is printed as NOT PROVIDED, never guessed."""),
        new_code_cell(SETUP),
        new_code_cell('''\
from curate import curate, load_config

corpus = WORK / "corpus"
manifest = curate(warcs("wget-crawl-2024-b.warc.gz"), corpus, load_config(overrides={"workers": 2}), overwrite=True)
manifest["counts"]'''),
        new_markdown_cell("Without declarations: the derived items are filled in, the rest say NOT PROVIDED."),
        new_code_cell('''\
from provenance import build_disclosure

bare = build_disclosure([corpus])
[(it["number"], it["basis"], it["answer"][:80]) for it in bare["items"]]'''),
        new_code_cell('''\
from provenance import write_disclosure

paths = write_disclosure([corpus], WORK / "disclosure", declarations="../examples/declarations.toml")
print(paths["ab2013.md"].read_text()[:2500])'''),
        new_markdown_cell("Item 3 (number of data points) is the provenance count of kept documents, with the evidence."),
        new_code_cell('''\
import json

import polars as pl

d = json.loads(paths["ab2013.json"].read_text())
item3 = next(it for it in d["items"] if it["number"] == 3)
kept = pl.read_parquet(corpus / "provenance" / "*.parquet").filter(pl.col("decision") == "kept").height
print(item3["answer"])
assert str(kept) in json.dumps(item3["evidence"])'''),
    ]


NOTEBOOKS = {"01-curate-a-crawl.ipynb": nb01, "02-synthetic-data-and-collapse.ipynb": nb02,
             "03-ab2013-disclosure.ipynb": nb03}


def main() -> None:
    for name, cells in NOTEBOOKS.items():
        nb = new_notebook(cells=cells(), metadata={
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
            "language_info": {"name": "python"}})
        for i, cell in enumerate(nb.cells):
            cell["id"] = f"cell-{i:02d}"  # stable ids: regenerating gives the same bytes
        nbformat.validate(nb)
        nbformat.write(nb, HERE / name)
        print(HERE / name)


if __name__ == "__main__":
    main()
