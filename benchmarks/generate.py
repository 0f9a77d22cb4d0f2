"""Generated tokens/s: `assay synth generate` (vLLM) vs transformers' batched `generate` \
vs a bare `LLM.generate`.

Same model (the trainer's `gpt2-small` shape: 12 x 768, 12 heads, SwiGLU 2048, ~86 M non-embedding
parameters, random weights), same prompts (continuation prefixes of real Python-docs pages), same
lengths (every request makes exactly --new-tokens tokens: ignore_eos / min_new_tokens), sampling at T=1.
Engine/model load time is reported apart from generation time. Both engines are loaded once, on the
same device (CUDA when there is one, else the CPU; float32 on the CPU as vLLM's engine there), and both
get the same warm-up (every prompt, 16 new tokens); then --repeats rounds, each running the three sides
in alternating order (assay, bare, transformers; then transformers, bare, assay; ...), and the median of
each is reported. The vLLM engine stays loaded while transformers runs: the CPU seconds its processes
use meanwhile are printed (an idle engine should use none; on a CPU machine of up to 4 CPUs the engine
runs in this process, synth/generate.py, so there are no processes and this reads 0). assay's time
outside `LLM.generate` (weights sha256, prompt rendering and counting, part files, final tables) is
printed too.

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


def hf_device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def load_hf(model: Path):
    """transformers' model and tokenizer on vLLM's device and dtype (load_engine: float32 on the CPU,
    the model's own dtype on a GPU)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(model, padding_side="left")
    dev = hf_device()
    m = AutoModelForCausalLM.from_pretrained(model, dtype=torch.float32 if dev == "cpu" else "auto")
    return tok, m.to(dev).eval()


def run_hf(hf, prompts: list[str], new: int, batch: int) -> tuple[float, int]:
    import torch

    tok, m = hf
    torch.manual_seed(0)
    n_tok = 0
    t = time.perf_counter()
    with torch.inference_mode():
        for i in range(0, len(prompts), batch):
            enc = tok(prompts[i:i + batch], return_tensors="pt", padding=True).to(m.device)
            out = m.generate(**enc, do_sample=True, temperature=1.0, top_p=1.0, top_k=0, max_new_tokens=new,
                             min_new_tokens=new, pad_token_id=tok.pad_token_id)
            n_tok += (out.shape[1] - enc["input_ids"].shape[1]) * out.shape[0]
        if m.device.type == "cuda":
            torch.cuda.synchronize()
    return time.perf_counter() - t, n_tok


def run_rounds(llm, hf, model: Path, seeds: Path, root: Path, prompts: list[str], a) -> dict[str, list]:
    """--repeats rounds of the three sides in alternating order; seconds (and tokens) per run."""
    runs: dict[str, list] = {"assay": [], "inside": [], "bare": [], "hf": [], "idle_engine_cpu_s": []}
    for r in range(a.repeats):
        for kind in (("assay", "bare", "hf") if r % 2 == 0 else ("hf", "bare", "assay")):
            if kind == "assay":
                dt, inside, runs["a_tok"] = run_assay(llm, model, seeds, root / f"out{r}", a.prompts,
                                                      a.new_tokens)
                runs["assay"].append(dt)
                runs["inside"].append(inside)
                print(f"run {r}: assay synth generate {runs['a_tok'] / dt:.1f} tokens/s ({dt:.1f} s, "
                      f"{dt - inside:.2f} s outside LLM.generate)", flush=True)
            elif kind == "bare":
                dt, runs["b_tok"] = run_bare(llm, prompts, a.new_tokens)
                runs["bare"].append(dt)
                print(f"run {r}: bare LLM.generate {runs['b_tok'] / dt:.1f} tokens/s ({dt:.1f} s)",
                      flush=True)
            else:
                from benchmarks.procs import descendants_cpu_s

                c0 = descendants_cpu_s()
                dt, runs["h_tok"] = run_hf(hf, prompts, a.new_tokens, a.hf_batch)
                runs["hf"].append(dt)
                runs["idle_engine_cpu_s"].append(descendants_cpu_s() - c0)
                print(f"run {r}: transformers generate {runs['h_tok'] / dt:.1f} tokens/s ({dt:.1f} s; vLLM's "
                      f"idle processes meanwhile {runs['idle_engine_cpu_s'][-1]:.1f} s cpu)", flush=True)
    return runs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--prompts", type=int, default=128)
    ap.add_argument("--new-tokens", type=int, default=128)
    ap.add_argument("--vocab", type=int, default=8192)
    ap.add_argument("--repeats", type=int, default=2,
                    help="rounds of the three sides, in alternating order; medians reported")
    # transformers' best batch on the 2-core machine: 128 prompts x 48 new tokens gave 47.7 / 66.5 / 78.5 /
    # 64.3 tokens/s at batch 8 / 16 / 32 / 128 (left padding and its growing KV cache cost more in big
    # batches)
    ap.add_argument("--hf-batch", type=int, default=32, help="transformers batch size")
    ap.add_argument("--json", type=Path, default=None, help="also write the figures here")
    a = ap.parse_args()
    import torch

    from synth.generate import close_engine, load_engine

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        model, seeds, prompts = build(root, a.prompts, a.vocab)
        t = time.perf_counter()
        llm = load_engine(model, seed=0)
        vload = time.perf_counter() - t
        t = time.perf_counter()
        hf = load_hf(model)
        h_load = time.perf_counter() - t
        print(f"configuration: {a.prompts} prompts x {a.new_tokens} new tokens, vocab {a.vocab}, device "
              f"{hf_device()}, transformers batch {a.hf_batch}, torch threads {torch.get_num_threads()}, "
              f"{os.cpu_count()} CPUs, {a.repeats} rounds; load average {os.getloadavg()[0]:.1f}", flush=True)
        # the same warm-up for both engines: every prompt's prefill and a few batched decode steps
        run_bare(llm, prompts, 16)
        run_hf(hf, prompts, 16, a.hf_batch)
        runs = run_rounds(llm, hf, model, seeds, root, prompts, a)
        close_engine(llm)
    print(f"load average after: {os.getloadavg()[0]:.1f}")
    a_dt, b_dt, h_dt = (statistics.median(runs[k]) for k in ("assay", "bare", "hf"))
    a_tok, b_tok, h_tok = runs["a_tok"], runs["b_tok"], runs["h_tok"]
    res = {
        "prompts": a.prompts, "new_tokens": a.new_tokens, "repeats": a.repeats, "device": hf_device(),
        "assay_synth_generate": {"tokens": a_tok, "seconds": a_dt, "tokens_per_s": a_tok / a_dt,
                                 "load_s": vload, "runs_s": runs["assay"],
                                 "outside_llm_generate_s": [x - y for x, y in
                                                            zip(runs["assay"], runs["inside"], strict=True)]},
        "bare_llm_generate": {"tokens": b_tok, "seconds": b_dt, "tokens_per_s": b_tok / b_dt,
                              "runs_s": runs["bare"]},
        "transformers_generate": {"tokens": h_tok, "seconds": h_dt, "tokens_per_s": h_tok / h_dt,
                                  "load_s": h_load, "runs_s": runs["hf"],
                                  "idle_engine_cpu_s": runs["idle_engine_cpu_s"]},
    }
    res["ratio_vs_transformers"] = (res["assay_synth_generate"]["tokens_per_s"]
                                    / res["transformers_generate"]["tokens_per_s"])
    res["ratio_vs_bare_vllm"] = (res["assay_synth_generate"]["tokens_per_s"]
                                 / res["bare_llm_generate"]["tokens_per_s"])
    print(f"{'(median of runs)':28}{'tokens':>8}{'seconds':>10}{'tokens/s':>10}{'load s':>8}")
    for k, load in (("assay_synth_generate", vload), ("bare_llm_generate", vload),
                    ("transformers_generate", h_load)):
        r = res[k]
        print(f"{k:28}{r['tokens']:>8}{r['seconds']:>10.1f}{r['tokens_per_s']:>10.1f}{load:>8.1f}")
    print(f"assay / transformers = {res['ratio_vs_transformers']:.2f}x (target >= 1.2x)")
    print(f"assay / bare LLM.generate = {res['ratio_vs_bare_vllm']:.2f}x (target >= 0.95x)")
    if a.json:
        a.json.write_text(json.dumps(res, indent=2) + "\n")


if __name__ == "__main__":
    main()
