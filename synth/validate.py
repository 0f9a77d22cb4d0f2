"""`assay synth validate`: metrics of a synthetic set against a human reference, gates, report.

Both sets are cut to the same word-token budget; the verdicts go into the report
and, when the set is a synthetic output directory, into its provenance
(`synth/*.parquet` gate_verdict and run.json `gates`).
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from provenance.errors import InputError, NotARunError
from provenance.gates import is_synthetic
from provenance.manifest import now_iso, read_manifest, write_manifest
from provenance.outdir import SYNTH, OutDir, list_outputs, write_parquet
from synth import bias, metrics
from synth.corpus import read_documents
from synth.gates import ValidateConfig, evaluate
from synth.report import write_report


def _manifest(d: str | Path) -> dict:
    try:
        return read_manifest(d)
    except NotARunError:
        return {}


def compare(synth_texts: list[str], ref_texts: list[str], *, config: ValidateConfig | None = None,
            seed_texts: list[str] | None = None, reference_model: str | None = None) -> dict:
    """Metrics + gate verdicts of two text lists (no I/O): the core of `validate`."""
    cfg = config or ValidateConfig()
    s_tok = [metrics.words(t) for t in synth_texts]
    r_tok = [metrics.words(t) for t in ref_texts]
    budget = cfg.budget_tokens or min(sum(map(len, s_tok)), sum(map(len, r_tok)))
    s_cut, r_cut = metrics.cut_to_budget(s_tok, budget), metrics.cut_to_budget(r_tok, budget)
    head = metrics.head_types(r_cut, cfg.tail_head_coverage)
    ref_types = {t for d in r_cut for t in d}
    seed_tok = [metrics.words(t) for t in seed_texts] if seed_texts else None
    ms = metrics.diversity(s_cut, head=head, ref_types=ref_types, seed_docs=seed_tok,
                           self_bleu_sample=cfg.self_bleu_sample, seed=cfg.seed)
    mr = metrics.diversity(r_cut, head=head, ref_types=ref_types, seed_docs=None,
                           self_bleu_sample=cfg.self_bleu_sample, seed=cfg.seed)
    table = {k: {"synthetic": ms[k], "reference": mr[k]} for k in ms}
    # the documents inside the budget, whole (sentiment needs punctuation and case)
    s_docs = [t for t, d in zip(synth_texts, s_tok, strict=True) if d][: len(s_cut)]
    r_docs = [t for t, d in zip(ref_texts, r_tok, strict=True) if d][: len(r_cut)]
    ppl = None
    if reference_model:
        ppl = {"synthetic": metrics.perplexities(s_docs, reference_model),
               "reference": metrics.perplexities(r_docs, reference_model)}
        for name, fn in (("ppl_mean", np.mean), ("ppl_p90", lambda v: np.percentile(v, 90))):
            table[name] = {k: (float(fn(v)) if v else None) for k, v in ppl.items()}
    b = bias.bias_metrics(s_docs, r_docs, cfg.terms_path or str(bias.TERMS_PATH))
    table.update(b["metrics"])
    definitions = dict(metrics.DEFINITIONS)
    for k in b["metrics"]:
        definitions[k] = bias.DEFINITIONS["identity_tvd" if k.startswith("identity") else "sentiment_gap"]
    rank = {label: [c for _, c in Counter(t for d in cut for t in d).most_common(2000)]
            for label, cut in (("synthetic", s_cut), ("reference", r_cut))}
    return {"budget_tokens": budget, "metrics": table, "definitions": definitions,
            "gates": evaluate(cfg.gates, table), "bias": b["details"], "terms_sha256": b["terms_sha256"],
            "rank_frequency": rank, "perplexities": ppl, "config": cfg.model_dump(),
            "samples": [t[:1000] for t in synth_texts[:5]]}


def validate(synth_dir: str | Path, reference_dir: str | Path, out_dir: str | Path, *,
             reference_model: str | None = None, config: ValidateConfig | None = None,
             record: bool = True) -> dict:
    """Validate a synthetic corpus directory against a human reference corpus directory."""
    synth_dir, out_dir = Path(synth_dir), Path(out_dir)
    s_docs = read_documents(synth_dir)
    r_docs = read_documents(reference_dir)
    if not s_docs or not r_docs:
        raise InputError(f"{synth_dir} and {reference_dir}: both the synthetic set and the reference need "
                         "at least one document")
    man = _manifest(synth_dir)
    seed_texts = None
    seeds_path = (man.get("seeds") or {}).get("path")
    if is_synthetic(man) and seeds_path and Path(seeds_path).exists():
        seed_texts = [d["text"] for d in read_documents(seeds_path)]
    report = compare([d["text"] for d in s_docs], [d["text"] for d in r_docs], config=config,
                     seed_texts=seed_texts, reference_model=reference_model)
    report.update({"synthetic": str(synth_dir), "reference": str(reference_dir),
                   "reference_model": reference_model, "created": now_iso()})
    jpath, _ = write_report(report, out_dir)
    if record and is_synthetic(man):
        record_verdicts(synth_dir, report, jpath)
    return report


def record_verdicts(synth_dir: Path, report: dict, report_path: Path) -> None:
    """Write the verdicts into the synthetic set's provenance: run.json `gates` and synth/*.parquet
    (and run.json's outputs listing, since the synth parts' bytes change)."""
    g = report["gates"]
    per_gate = {row["metric"]: row["verdict"] for row in g["gates"]}
    verdict = json.dumps({"overall": g["overall"], **per_gate}, sort_keys=True)
    for f in OutDir(synth_dir).parts(SYNTH):
        t = pq.read_table(f)
        col = pa.array([verdict] * t.num_rows, pa.string())
        write_parquet(f, t.set_column(t.schema.get_field_index("gate_verdict"), "gate_verdict", col))
    man = read_manifest(synth_dir)
    man["gates"] = {"overall": g["overall"], "per_gate": per_gate, "reference": report["reference"],
                    "reference_model": report.get("reference_model"), "report": str(report_path.resolve())}
    man["outputs"] = list_outputs(synth_dir)
    write_manifest(synth_dir, man)
