"""`ablate(config)`: train the same model on each corpus variant under the same token budget, with several
seeds, and score every model on every evaluation set in bits per byte (DCLM / FineWeb's way of deciding
what a curation step is worth).

OUT/ holds run.json (kind "ablate": the variants and every training run, for lineage and takedown),
tokenizer.json, variants/ (corpora this ablation curated), corpora/ (variants re-tokenized), runs/
(one training run per variant and seed), ablate.json, ablate.md and the plots.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from provenance.manifest import now_iso, read_manifest, write_manifest
from provenance.outdir import OutDir, claim, sha256_file
from train.ablate import runs as R
from train.ablate.outputs import write_outputs
from train.ablate.spec import AblateConfig, Plan, check
from train.ablate.stats import summarize
from train.ablate.variants import prepare, tokenizer_source
from train.config import make_config
from train.evaluate import EvalSet, eval_set

KIND = "ablate"
HELDOUT = "heldout:"


def _say(msg: str) -> None:
    print(f"[ablate] {msg}", file=sys.stderr, flush=True)


def heldout_texts(corpus: Path, split_seed: int, val_fraction: float) -> list[str]:
    """The texts of the documents a run on `corpus` holds out (train.data.split_documents)."""
    from curate import TokenShards, kept_documents
    from train.data import split_documents

    shards = TokenShards(corpus)
    _, val = split_documents(shards, val_fraction, split_seed)
    ids = {shards.doc_id(int(i)) for i in val}
    return [text for doc_id, text in kept_documents(corpus) if doc_id in ids]


def eval_sets(plan: Plan, corpora: dict[str, Path], tokenizer: Path) -> list[EvalSet]:
    sets = [eval_set(name, texts, tokenizer) for name, texts in plan.eval_texts.items()]
    if plan.cfg.heldout:
        frac = make_config(plan.cfg.preset, overrides=plan.cfg.train_overrides).val_fraction
        sets += [eval_set(HELDOUT + v, heldout_texts(c, plan.cfg.split_seed, frac), tokenizer)
                 for v, c in corpora.items()]
    return sets


def ablate(config: AblateConfig, say: Callable[[str], None] = _say) -> Path:
    """Run (or resume) the ablation; returns OUT. Bad input: one `UserError` line, nothing written."""
    plan = check(config)
    out = claim(config.out_dir, plan.run_id, KIND)
    started = now_iso()
    corpora, tokenizer = prepare(plan, out, say)
    sets = eval_sets(plan, corpora, tokenizer)
    say(f"{len(corpora)} variant(s) x {config.seeds} seed(s), {plan.tokens:,} tokens each; "
        f"scored on {', '.join(s.name for s in sets)}")
    records = []
    for name, corpus in corpora.items():
        for seed in config.seed_list:
            where = R.train_variant(plan, corpus, name, seed, out, say)
            scores = R.evaluate_run(where, sets, plan.seq_len, config.device, say)
            records.append(_run_record(name, seed, where, scores, out.root))
            _manifest(out, plan, corpora, records, started, "running")
    result = _ablation(plan, out, corpora, tokenizer, sets, records)
    write_outputs(out.root, result)
    _manifest(out, plan, corpora, records, started, "complete")
    say(f"done: {out.root / 'ablate.md'}")
    return out.root


def _run_record(variant: str, seed: int, where: Path, scores: dict[str, Any], root: Path) -> dict[str, Any]:
    import json

    from train.checkpoint import latest_checkpoint
    from train.run_record import METRICS

    man = read_manifest(where)
    [data] = man["data"]
    rows = [json.loads(x) for x in (where / METRICS).read_text().splitlines() if x.strip()]
    counts = man["counts"]
    return {"variant": variant, "seed": seed, "steps": counts["steps"], "tokens": counts["tokens"],
            "epochs": counts["epochs_by_corpus"][variant], "run_dir": str(where.relative_to(root)),
            "run_id": man["run_id"], "checkpoint": str(latest_checkpoint(where).relative_to(root)),
            "variant_run_id": data["run_id"],
            "corpus_sha256s": sorted({s["sha256"] for s in man["shards_consumed"]}),
            "curve": [[r["tokens"], r["val_loss"]] for r in rows if r["split"] == "val"], "eval": scores}


def _variant_entry(v: Any, corpus: Path) -> dict[str, Any]:
    from curate import TokenShards

    shards = TokenShards(corpus)
    man = read_manifest(corpus)
    source = str(v.path) if v.path is not None else f"curate:{v.curate_config}"
    return {"source": source, "corpus": str(corpus), "run_id": man.get("run_id"), "kind": man.get("kind"),
            "documents": shards.n_docs, "tokens": shards.n_tokens,
            "shards": [{"path": str(p), "sha256": shards.shard_sha256(i)}
                       for i, p in enumerate(shards.shard_paths)]}


def _ablation(plan: Plan, out: OutDir, corpora: dict[str, Path], tokenizer: Path, sets: list[EvalSet],
              records: list[dict[str, Any]]) -> dict[str, Any]:
    """ablate.json: the request, the variants and evaluation sets, every run, and the statistics."""
    cfg = plan.cfg
    sources = {e.name: str(e.path) for e in cfg.evals}
    return {
        "ablation": {"run_id": plan.run_id, "preset": cfg.preset, "budget_tokens": cfg.budget_tokens,
                     "tokens_per_run": plan.tokens, "steps": plan.steps,
                     "tokens_per_step": plan.tokens_per_step,
                     "seeds": cfg.seed_list, "baseline": plan.baseline, "split_seed": cfg.split_seed},
        "tokenizer": {"path": str(tokenizer.relative_to(out.root)), "sha256": sha256_file(tokenizer),
                      "how": tokenizer_source(out)},
        "variants": {v.name: _variant_entry(v, corpora[v.name]) for v in cfg.variants},
        "evals": {s.name: {"source": sources.get(s.name, "held-out documents of the variant"),
                           **s.describe()} for s in sets},
        "runs": records,
        "summary": summarize(records, plan.baseline),
        "summary_loss_per_token": summarize(records, plan.baseline, "loss_per_token"),
    }


def _manifest(out: OutDir, plan: Plan, corpora: dict[str, Path], records: list[dict[str, Any]], started: str,
              status: str) -> None:
    """OUT/run.json: what lineage and takedown read (each variant's corpus, each training run)."""
    write_manifest(out.root, {
        "kind": KIND, "run_id": plan.run_id, "status": status, "started_at": started,
        "ended_at": now_iso() if status == "complete" else None,
        "config": plan.cfg.model_dump(mode="json"),
        "variants": [{"name": k, "path": str(p), "run_id": read_manifest(p).get("run_id")}
                     for k, p in corpora.items()],
        "training_runs": [{"variant": r["variant"], "seed": r["seed"], "path": str(out.root / r["run_dir"]),
                           "run_id": r["run_id"]} for r in records],
        "outputs": {"ablation": "ablate.json", "table": "ablate.md"},
    })

