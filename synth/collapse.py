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
from pathlib import Path
from typing import Any

from provenance.manifest import now_iso, read_manifest, write_manifest
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
    from curate.exec import LocalExecutor

    tokenize_corpus(corpus, TokenizeConfig(tokenizer=tokenizer), executor=LocalExecutor(1), progress=False)


def _train(name: str, data: list[Path], out: Path, preset: str, steps: int | None, seed: int) -> Path:
    from train.config import make_config
    from train.export import export_hf
    from train.trainer import train

    hf = out / "hf"
    if (hf / "model.safetensors").exists():
        return hf  # resumable: a finished generation is not retrained
    specs = [f"{'human' if i == 0 and name != 'replace' else f'd{i}'}={p}" for i, p in enumerate(data)]
    cfg = make_config(preset, data=specs, overrides={
        "out_dir": out / "run", "steps": steps, "seed": seed, "progress": False,
        "allow_failed_synthetic": True,  # the experiment trains on failed sets on purpose (recorded in run.json)
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


def collapse(corpus: str | Path, out_dir: str | Path, generations: int = 2,
             modes: tuple[str, ...] = ("replace", "accumulate"), preset: str = "tiny", steps: int | None = STEPS,
             block_words: int = 32, max_tokens: int = 56, heldout_fraction: float = 0.1, seed: int = 0,
             config: ValidateConfig | None = None, temperature: float = TEMPERATURE,
             top_p: float = TOP_P) -> dict[str, Any]:
    """Run the experiment; write results.json and collapse.html into `out_dir`."""
    corpus, out = Path(corpus), Path(out_dir)
    tokenizer = corpus / "tokenizer.json"
    if not tokenizer.exists():
        raise FileNotFoundError(f"{corpus}: no tokenizer.json; tokenize the human corpus first (assay tokenize)")
    for m in modes:
        if m not in ("replace", "accumulate"):
            raise ValueError(f"unknown mode {m!r}: replace or accumulate")
    started = now_iso()
    human_run = read_manifest(corpus).get("run_id", "human")
    train_docs, held = _split(read_documents(corpus), heldout_fraction)
    if not held or not train_docs:
        raise ValueError(f"{corpus}: too few documents for a held-out split ({len(train_docs)}+{len(held)})")
    human = out / "human-train"
    if not (human / "tokens").exists():
        write_documents(train_docs, human, f"{human_run}-train", {"kind": "curate", "derived_from": str(corpus)})
        _tokenize(human, tokenizer)
    seeds = out / "human-blocks"
    if not (seeds / "run.json").exists():
        write_documents(_blocks(train_docs, block_words), seeds, f"{human_run}-blocks",
                        {"kind": "curate", "derived_from": str(corpus)})
    held_texts = [d["text"] for d in held]
    sampling = Sampling(temperature=temperature, top_p=top_p, max_tokens=max_tokens)  # see TEMPERATURE above

    def synth_from(model: Path, where: Path, ref_model: Path) -> dict:
        data = where / "synth"
        if not (data / "tokens").exists():
            generate(model, seeds, data, "continuation", seed=seed, sampling=sampling,
                     params={"prefix_words": block_words}, progress=False,
                     purpose="model-collapse experiment (assay synth collapse)")
            validate(data, human, where / "report", reference_model=str(ref_model), config=config)
            _tokenize(data, tokenizer)
        return json.loads((where / "report" / "report.json").read_text())

    g0 = _train("g0", [human], out / "g0", preset, steps, seed)
    g0_ppl = heldout_perplexity(g0, held_texts)
    g0_report = synth_from(g0, out / "g0", g0)
    results: dict[str, list[dict]] = {}
    for mode in modes:
        rows = [_row(0, g0_ppl, g0_report)]
        synth_sets = [out / "g0" / "synth"]
        for g in range(1, generations + 1):
            where = out / mode / f"g{g}"
            data = synth_sets[-1:] if mode == "replace" else [human, *synth_sets]
            model = _train(mode, data, where, preset, steps, seed)
            rep = synth_from(model, where, g0)
            rows.append(_row(g, heldout_perplexity(model, held_texts), rep))
            synth_sets.append(where / "synth")
        results[mode] = rows
    summary = {"corpus": str(corpus), "generations": generations, "preset": preset, "steps": steps,
               "block_words": block_words, "max_tokens": max_tokens, "seed": seed, "results": results,
               "sampling": {"temperature": temperature, "top_p": top_p},
               "definitions": {"heldout_ppl": "token-weighted perplexity of the held-out human documents",
                               **{k: metrics.DEFINITIONS[k] for k in TRACKED if k in metrics.DEFINITIONS}}}
    (out / "results.json").write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n")
    _plot(summary, out / "collapse.html")
    write_manifest(out, {"run_id": "collapse-" + hashlib.sha256(json.dumps(
        {k: v for k, v in summary.items() if k != "results"}, sort_keys=True).encode()).hexdigest()[:16],
        "kind": "synth-collapse", "started": started, "finished": now_iso(), "config": {
            k: summary[k] for k in ("corpus", "generations", "preset", "steps", "block_words", "max_tokens", "seed",
                                 "sampling")},
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
        f"<td>{r.get('tail_mass') or 0:.4f}</td><td>{r.get('distinct_2') or 0:.4f}</td><td>{html.escape(r['gates'])}</td>"
        f"<td>{html.escape(', '.join(r['failed_gates']))}</td></tr>"
        for mode, rows in summary["results"].items() for r in rows)
    path.write_text(f"""<!doctype html><html><head><meta charset="utf-8"><title>model collapse</title></head><body>
<h1>Model collapse: replace vs accumulate</h1><p>{html.escape(summary['corpus'])}, preset {html.escape(summary['preset'])}</p>
<table border="1"><tr><th>mode</th><th>generation</th><th>held-out human ppl</th><th>tail mass</th><th>distinct-2</th>
<th>gates</th><th>failed</th></tr>{table}</table>{''.join(imgs)}</body></html>
""")
