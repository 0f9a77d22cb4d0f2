"""Generated tokens/s: `assay synth generate` (vLLM) vs transformers' batched `generate` \
vs a bare `LLM.generate`.

Same model (the trainer's `gpt2-small` shape: 12 x 768, 12 heads, SwiGLU 2048, ~86 M non-embedding
parameters, random weights), same prompts (continuation prefixes of real Python-docs pages), same
lengths (every request makes exactly --new-tokens tokens: ignore_eos / min_new_tokens), sampling at T=1.
Engine/model load time is reported apart from generation time. The vLLM runs share one engine and
are interleaved (assay, bare, bare, assay, ...); assay's time outside `LLM.generate` (weights sha256,
prompt rendering and counting, part files, final tables) is printed too.

    .venv/bin/python benchmarks/generate.py --prompts 128 --new-tokens 128
Targets (issue 7): assay >= 1.2x transformers, and >= 0.95x a bare LLM.generate call.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("VLLM_NO_USAGE_STATS", "1")

WARC = Path(__file__).resolve().parents[2] / "shared" / "data" / "warc" / "python-3.11-docs.warc.gz"


def build(root: Path, n_prompts: int, vocab: int) -> tuple[Path, Path, list[str]]:
    from synth.testing import random_llama, warc_texts, write_corpus

    docs = warc_texts(WARC, limit=n_prompts)
    if len(docs) < n_prompts:
        raise SystemExit(f"only {len(docs)} documents in {WARC}")
    seeds = write_corpus(docs, root / "seeds")
    # gpt2-small preset of train/config.py: d_model 768, 12 layers, 12 heads, d_ff 8/3*768 -> 2048
    model = random_llama(root / "model", [d["text"] for d in docs], vocab_size=vocab, hidden=768, layers=12,
                         heads=12, intermediate=2048, max_pos=1024)
    from synth.corpus import read_documents
    from synth.tasks import load_template

    tpl = load_template("continuation")  # the prompts assay renders, given to the bare call and transformers
    return model, seeds, [tpl.render(d) for d in read_documents(seeds, limit=n_prompts)]


class TimedLLM:
    """The engine, with the seconds spent inside `generate` counted: what assay adds is the rest."""

    def __init__(self, llm) -> None:
        self.llm, self.seconds = llm, 0.0

    def generate(self, *args, **kwargs):
        t = time.perf_counter()
        try:
            return self.llm.generate(*args, **kwargs)
        finally:
            self.seconds += time.perf_counter() - t

    def __getattr__(self, name: str):
        return getattr(self.llm, name)


def run_assay(llm, model: Path, seeds: Path, out: Path, n: int, new: int) -> tuple[float, float, int]:
    """Wall time of the whole `synth.generate.generate` call (weights sha256, seeds read, prompts rendered
    and counted, part files and final tables written), the part of it inside vLLM, tokens."""
    from synth.generate import Sampling, generate

    timed = TimedLLM(llm)
    t = time.perf_counter()
    m = generate(model, seeds, out, "continuation", seed=0, max_seeds=n, llm=timed, progress=False,
                 sampling=Sampling(max_tokens=new, ignore_eos=True))
    dt = time.perf_counter() - t
    import pyarrow.parquet as pq

    syn = pq.read_table(out / "synth" / "part-00000.parquet").to_pylist()
    assert m["counts"]["kept"] == n, m["counts"]
    return dt, timed.seconds, sum(r["n_tokens"] for r in syn)


def run_bare(llm, prompts: list[str], new: int) -> tuple[float, int]:
    from vllm import SamplingParams

    params = [SamplingParams(temperature=1.0, max_tokens=new, seed=i, ignore_eos=True)
              for i in range(len(prompts))]
    t = time.perf_counter()
    outs = llm.generate(prompts, params, use_tqdm=False)
    return time.perf_counter() - t, sum(len(o.outputs[0].token_ids) for o in outs)


def run_hf(model: Path, prompts: list[str], new: int, batch: int) -> tuple[float, float, int]:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    t = time.perf_counter()
    tok = AutoTokenizer.from_pretrained(model, padding_side="left")
    m = AutoModelForCausalLM.from_pretrained(model, dtype=torch.float32).eval()
    load = time.perf_counter() - t
    torch.manual_seed(0)
    n_tok = 0
    t = time.perf_counter()
    with torch.inference_mode():
        for i in range(0, len(prompts), batch):
            enc = tok(prompts[i:i + batch], return_tensors="pt", padding=True)
            out = m.generate(**enc, do_sample=True, temperature=1.0, top_p=1.0, top_k=0, max_new_tokens=new,
                             min_new_tokens=new, pad_token_id=tok.pad_token_id)
            n_tok += (out.shape[1] - enc["input_ids"].shape[1]) * out.shape[0]
    return load, time.perf_counter() - t, n_tok


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--prompts", type=int, default=128)
    ap.add_argument("--new-tokens", type=int, default=128)
    ap.add_argument("--vocab", type=int, default=8192)
    ap.add_argument("--repeats", type=int, default=2,
                    help="vLLM runs of each kind, interleaved (assay/bare, then bare/assay, ...); "
                         "medians reported")
    # transformers' best batch on the 2-core machine: 128 prompts x 48 new tokens gave 47.7 / 66.5 / 78.5 /
    # 64.3 tokens/s at batch 8 / 16 / 32 / 128 (left padding and its growing KV cache cost more in big
    # batches)
    ap.add_argument("--hf-batch", type=int, default=32, help="transformers batch size")
    ap.add_argument("--json", type=Path, default=None, help="also write the figures here")
    a = ap.parse_args()
    from synth.generate import close_engine, load_engine

    assay_s, inside_s, bare_s = [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        model, seeds, prompts = build(root, a.prompts, a.vocab)
        t = time.perf_counter()
        llm = load_engine(model, seed=0)
        vload = time.perf_counter() - t
        run_bare(llm, prompts, 16)  # warm-up: every prompt's prefill and a few batched decode steps
        for r in range(a.repeats):
            # alternate the order so neither side always runs on a warmer engine
            for kind in (("assay", "bare") if r % 2 == 0 else ("bare", "assay")):
                if kind == "assay":
                    dt, inside, a_tok = run_assay(llm, model, seeds, root / f"out{r}", a.prompts,
                                                  a.new_tokens)
                    assay_s.append(dt)
                    inside_s.append(inside)
                    print(f"run {r}: assay synth generate {a_tok / dt:.1f} tokens/s ({dt:.1f} s, "
                          f"{dt - inside:.2f} s outside LLM.generate)", flush=True)
                else:
                    b_dt, b_tok = run_bare(llm, prompts, a.new_tokens)
                    bare_s.append(b_dt)
                    print(f"run {r}: bare LLM.generate {b_tok / b_dt:.1f} tokens/s ({b_dt:.1f} s)",
                          flush=True)
        close_engine(llm)  # its worker processes stop before transformers runs
        h_load, h_dt, h_tok = run_hf(model, prompts, a.new_tokens, a.hf_batch)
    a_dt, b_dt = statistics.median(assay_s), statistics.median(bare_s)
    res = {
        "prompts": a.prompts, "new_tokens": a.new_tokens, "repeats": a.repeats,
        "assay_synth_generate": {"tokens": a_tok, "seconds": a_dt, "tokens_per_s": a_tok / a_dt,
                                 "load_s": vload, "runs_s": assay_s,
                                 "outside_llm_generate_s": [x - y for x, y in
                                                            zip(assay_s, inside_s, strict=True)]},
        "bare_llm_generate": {"tokens": b_tok, "seconds": b_dt, "tokens_per_s": b_tok / b_dt,
                              "runs_s": bare_s},
        "transformers_generate": {"tokens": h_tok, "seconds": h_dt, "tokens_per_s": h_tok / h_dt,
                                  "load_s": h_load},
    }
    res["ratio_vs_transformers"] = (res["assay_synth_generate"]["tokens_per_s"]
                                    / res["transformers_generate"]["tokens_per_s"])
    res["ratio_vs_bare_vllm"] = (res["assay_synth_generate"]["tokens_per_s"]
                                 / res["bare_llm_generate"]["tokens_per_s"])
    print(f"{'(median of runs)':28}{'tokens':>8}{'seconds':>10}{'tokens/s':>10}")
    for k in ("assay_synth_generate", "bare_llm_generate", "transformers_generate"):
        r = res[k]
        print(f"{k:28}{r['tokens']:>8}{r['seconds']:>10.1f}{r['tokens_per_s']:>10.1f}")
    print(f"assay / transformers = {res['ratio_vs_transformers']:.2f}x (target >= 1.2x)")
    print(f"assay / bare LLM.generate = {res['ratio_vs_bare_vllm']:.2f}x (target >= 0.95x)")
    if a.json:
        a.json.write_text(json.dumps(res, indent=2) + "\n")


if __name__ == "__main__":
    main()
