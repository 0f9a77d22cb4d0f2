"""`assay synth collapse`: the recursive-training experiment (model collapse).

G0 is trained on human text. Generation g's model writes a synthetic corpus of
about the human corpus's size (continuations of human blocks, the Shumailov et
al. 2024 setup: prompts are blocks of the original data); G(g+1) is trained on
it alone (`replace`, Shumailov et al.) or on the human data plus every synthetic
set so far (`accumulate`, Gerstgrasser et al. 2024, "Is Model Collapse
Inevitable?"). After each generation: held-out human perplexity, the diversity
metrics and the gate verdicts of the data that generation wrote.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from provenance.errors import ConfigError, InputError
from provenance.manifest import now_iso, read_manifest, write_manifest
from provenance.outdir import REPORT_JSON, TOKENS, OutDir, write_json, write_text
from synth import metrics
from synth.corpus import read_documents, write_documents
from synth.gates import ValidateConfig
from synth.generate import Sampling, generate
from synth.validate import validate

TRACKED = ("heldout_ppl", "tail_mass", "distinct_2", "distinct_4", "self_bleu", "compression_ratio",
           "copy_rate_13", "ppl_mean")


def _split(docs: list[dict], heldout_fraction: float) -> tuple[list[dict], list[dict]]:
    """Deterministic held-out split by hash of doc_id."""
    cut = int(heldout_fraction * 10_000)
    held = [d for d in docs if int(hashlib.sha256(d["doc_id"].encode()).hexdigest()[:8], 16) % 10_000 < cut]
    ids = {d["doc_id"] for d in held}
    return [d for d in docs if d["doc_id"] not in ids], held


def _blocks(docs: list[dict], words: int) -> list[dict]:
    """Human documents cut into blocks of `words` words: one prompt per block."""
    out = []
    for d in docs:
        w = d["text"].split()
        for k in range(0, len(w) - words + 1, words):
            out.append({"doc_id": f"{d['doc_id']}#{k // words}", "text": " ".join(w[k:k + words]),
                        "lang": d.get("lang"), "license": d.get("license")})
    return out


def _tokenize(corpus: Path, tokenizer: Path) -> None:
    from curate import TokenizeConfig, tokenize_corpus

    # one documents part: one task, run in this process
    tokenize_corpus(corpus, TokenizeConfig(tokenizer=tokenizer), progress=False)


def _train(name: str, data: list[Path], out: Path, preset: str, steps: int | None, seed: int) -> Path:
    from train.checkpoint import WEIGHTS
    from train.config import make_config
    from train.export import export_hf
    from train.trainer import train

    hf = out / "hf"
    if (hf / WEIGHTS).exists():
        return hf  # resumable: a finished generation is not retrained
    specs = [f"{'human' if i == 0 and name != 'replace' else f'd{i}'}={p}" for i, p in enumerate(data)]
    cfg = make_config(preset, data=specs, overrides={
        "out_dir": out / "run", "steps": steps, "seed": seed, "progress": False,
        "batch_size": BATCH, "micro_batch_size": BATCH,
        # the experiment trains on failed sets on purpose (recorded in run.json)
        "allow_failed_synthetic": True,
    })
    train(cfg)
    return export_hf(out / "run", hf)


def heldout_perplexity(model_dir: Path, texts: list[str]) -> float:
    """Token-weighted perplexity of held-out human documents (first context-length tokens of each)."""
    import math

    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32).eval()
    ctx = model.config.max_position_embeddings
    nll, n = 0.0, 0
    with torch.inference_mode():
        for t in texts:
            ids = tok(t, return_tensors="pt")["input_ids"][:, :ctx]
            if ids.shape[1] < 2:
                continue
            loss = model(input_ids=ids, labels=ids).loss
            nll += float(loss) * (ids.shape[1] - 1)
            n += ids.shape[1] - 1
    return math.exp(nll / n)


# Sampling of every generation's synthetic corpus. Real synthetic-data pipelines do not sample
# ancestrally: they truncate, e.g. Llama's reference generation code (Touvron et al. 2023) uses
# temperature 0.6 and nucleus top_p 0.9 (Holtzman et al. 2020). Truncation is the well-known way
# the tail is cut: each generation drops the tokens below the nucleus and sharpens what is left,
# and a model trained on those samples inherits the thinner tail, so it compounds across
# generations (Shumailov et al. 2024, Sec. 3: "functional approximation error"). With ancestral
# T=1 sampling, a 1 M-parameter model's samples are mostly tokenizer-piece noise, whose made-up
# "words" count as tail and hide the effect at this scale (measured: tail mass rose 0.45 -> 0.54).
TEMPERATURE, TOP_P = 0.6, 0.9
# G0 must actually fit the human data before its samples mean anything: 100 tiny-preset steps left
# it near-random (held-out ppl ~195, samples of word pieces). 200 steps x 4 x 128 tokens is ~4
# epochs of the ~25 k-token test corpus (102 k tokens a model; at 290-375 tokens/s, measured on the
# shared 2-core machine, that is ~5 min a model, so the 5-model test is slow; G0's val ppl: 186).
STEPS = 200
BATCH = 4  # sequences a step: the batch these figures were measured with (tiny's before issue 17)


MODES = ("replace", "accumulate")
SET_DIR = "synth"  # each generation's synthetic set: g0/synth/, <mode>/g<N>/synth/


@dataclass(frozen=True)
class Experiment:
    """The fixed parts of one experiment: the human sets, and how every generation trains and samples."""

    out: Path
    human: Path  # the human training documents, tokenized
    seeds: Path  # human blocks: one prompt each
    tokenizer: Path
    preset: str
    steps: int | None
    seed: int
    block_words: int
    sampling: Sampling
    config: ValidateConfig | None

    def train(self, mode: str, data: list[Path], where: Path) -> Path:
        return _train(mode, data, where, self.preset, self.steps, self.seed)

    def synthesize(self, model: Path, where: Path, ref_model: Path) -> dict:
        """Generate, validate (against the human set, perplexity under `ref_model`) and tokenize a set."""
        data = where / SET_DIR
        if not OutDir(data).folder(TOKENS).exists():
            generate(model, self.seeds, data, "continuation", seed=self.seed, sampling=self.sampling,
                     params={"prefix_words": self.block_words}, progress=False,
                     purpose="model-collapse experiment (assay synth collapse)")
            validate(data, self.human, where / "report", reference_model=str(ref_model), config=self.config)
            _tokenize(data, self.tokenizer)
        return json.loads((where / "report" / REPORT_JSON).read_text())

    def run(self, modes: tuple[str, ...], generations: int, held_texts: list[str]) -> dict[str, list[dict]]:
        """G0 on human text, then per mode `generations` models, each trained on the sets before it."""
        g0 = self.train("g0", [self.human], self.out / "g0")
        first = _row(0, heldout_perplexity(g0, held_texts), self.synthesize(g0, self.out / "g0", g0))
        results: dict[str, list[dict]] = {}
        for mode in modes:
            rows, synth_sets = [first], [self.out / "g0" / SET_DIR]
            for g in range(1, generations + 1):
                where = self.out / mode / f"g{g}"
                data = synth_sets[-1:] if mode == "replace" else [self.human, *synth_sets]
                model = self.train(mode, data, where)
                rows.append(_row(g, heldout_perplexity(model, held_texts), self.synthesize(model, where, g0)))
                synth_sets.append(where / SET_DIR)
            results[mode] = rows
        return results


def _human_sets(corpus: Path, out: Path, heldout_fraction: float, block_words: int,
                tokenizer: Path) -> tuple[Path, Path, list[dict]]:
    """The human training set (tokenized), its blocks as seeds, and the held-out documents."""
    human_run = read_manifest(corpus).get("run_id", "human")
    train_docs, held = _split(read_documents(corpus), heldout_fraction)
    if not held or not train_docs:
        raise InputError(f"{corpus}: too few documents for a held-out split ({len(train_docs)}+{len(held)})")
    human = out / "human-train"
    if not OutDir(human).folder(TOKENS).exists():
        write_documents(train_docs, human, f"{human_run}-train",
                        {"kind": "curate", "derived_from": str(corpus)})
        _tokenize(human, tokenizer)
    seeds = out / "human-blocks"
    if not OutDir(seeds).manifest.exists():
        write_documents(_blocks(train_docs, block_words), seeds, f"{human_run}-blocks",
                        {"kind": "curate", "derived_from": str(corpus)})
    return human, seeds, held


def collapse(corpus: str | Path, out_dir: str | Path, generations: int = 2,
             modes: tuple[str, ...] = MODES, preset: str = "tiny", steps: int | None = STEPS,
             block_words: int = 32, max_tokens: int = 56, heldout_fraction: float = 0.1, seed: int = 0,
             config: ValidateConfig | None = None, temperature: float = TEMPERATURE,
             top_p: float = TOP_P) -> dict[str, Any]:
    """Run the experiment; write results.json and collapse.html into `out_dir`."""
    corpus, out = Path(corpus), Path(out_dir)
    tokenizer = OutDir(corpus).tokenizer
    if not tokenizer.exists():
        raise InputError(f"{corpus}: no tokenizer.json; tokenize the human corpus first (assay tokenize)")
    for m in modes:
        if m not in MODES:
            raise ConfigError(f"unknown mode {m!r}: replace or accumulate")
    started = now_iso()
    human, seeds, held = _human_sets(corpus, out, heldout_fraction, block_words, tokenizer)
    sampling = Sampling(temperature=temperature, top_p=top_p, max_tokens=max_tokens)  # see TEMPERATURE above
    exp = Experiment(out, human, seeds, tokenizer, preset, steps, seed, block_words, sampling, config)
    results = exp.run(modes, generations, [d["text"] for d in held])
    summary = {"corpus": str(corpus), "generations": generations, "preset": preset, "steps": steps,
               "block_words": block_words, "max_tokens": max_tokens, "seed": seed, "results": results,
               "sampling": {"temperature": temperature, "top_p": top_p},
               "definitions": {"heldout_ppl": "token-weighted perplexity of the held-out human documents",
                               **{k: metrics.DEFINITIONS[k] for k in TRACKED if k in metrics.DEFINITIONS}}}
    write_json(out / "results.json", summary)
    _plot(summary, out / "collapse.html")
    setup = {k: v for k, v in summary.items() if k != "results"}
    write_manifest(out, {
        "run_id": "collapse-" + hashlib.sha256(json.dumps(setup, sort_keys=True).encode()).hexdigest()[:16],
        "kind": "synth-collapse", "started": started, "finished": now_iso(),
        "config": {k: summary[k] for k in ("corpus", "generations", "preset", "steps", "block_words",
                                           "max_tokens", "seed", "sampling")},
        "modes": list(modes)})
    return summary


def _row(g: int, ppl: float, rep: dict) -> dict:
    m = rep["metrics"]
    return {"generation": g, "heldout_ppl": ppl, **{k: m[k]["synthetic"] for k in TRACKED[1:] if k in m},
            "reference_tail_mass": m["tail_mass"]["reference"], "gates": rep["gates"]["overall"],
            "failed_gates": [x["metric"] for x in rep["gates"]["gates"] if x["verdict"] == "fail"]}


def _plot(summary: dict, path: Path) -> None:
    import html

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from synth.report import _png

    imgs = []
    for key in ("heldout_ppl", "tail_mass", "distinct_2", "self_bleu", "ppl_mean"):
        fig, ax = plt.subplots(figsize=(4.5, 3))
        for mode, rows in summary["results"].items():
            ax.plot([r["generation"] for r in rows], [r.get(key) for r in rows], marker="o", label=mode)
        ax.set_xlabel("generation")
        ax.set_title(key)
        ax.legend()
        imgs.append(_png(fig))
    table = "".join(
        f"<tr><td>{html.escape(mode)}</td><td>{r['generation']}</td><td>{r['heldout_ppl']:.2f}</td>"
        f"<td>{r.get('tail_mass') or 0:.4f}</td><td>{r.get('distinct_2') or 0:.4f}</td>"
        f"<td>{html.escape(r['gates'])}</td>"
        f"<td>{html.escape(', '.join(r['failed_gates']))}</td></tr>"
        for mode, rows in summary["results"].items() for r in rows)
    write_text(path, f"""<!doctype html><html><head><meta charset="utf-8"><title>model collapse</title></head>
<body>
<h1>Model collapse: replace vs accumulate</h1><p>{html.escape(summary['corpus'])}, \
preset {html.escape(summary['preset'])}</p>
<table border="1"><tr><th>mode</th><th>generation</th><th>held-out human ppl</th><th>tail mass</th>\
<th>distinct-2</th>
<th>gates</th><th>failed</th></tr>{table}</table>{''.join(imgs)}</body></html>
""")
