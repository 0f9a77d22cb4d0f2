"""Every recipe over every shared WARC, with the run invariants checked (issue 16; not in CI: ~30 min).

Runs `curate` once per recipe on all of ../shared/data/warc/ (malformed/ included: bad input must give
`error` rows, not a crash), one recipe at a time, and checks for each: one provenance row per record
read, the decisions adding up to the records, the recipe's name and version in run.json. The rerun
recipes (default fineweb-2, the one with the most code of its own) run a second time into a fresh
folder and must give byte-identical provenance, documents and rejected parquet files. `dclm` gets
lid.176 as a stand-in for its quality classifier (as tests/test_recipes.py), label `__label__en`.
Prints a Markdown table (docs/recipes.md) and writes the figures to benchmarks/out/recipes_all_warcs.json.

    PYTHONPATH=$PWD nice -n 10 .venv/bin/python benchmarks/recipes_all_warcs.py \\
        [--recipes a,b] [--rerun fineweb-2]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import shutil
import sys
import time
from pathlib import Path

import polars as pl

from benchmarks.curate_vs_datatrove import HERE, shared_warc_dir
from benchmarks.procs import descendants_cpu_s

OUT = HERE / "out" / "recipes_all_warcs"  # git-ignored
DECISIONS = ("kept", "rejected", "duplicate", "error")


def all_warcs() -> list[str]:
    """Every file under the shared WARC folder, sorted (the crawls and the malformed samples)."""
    return sorted(str(p) for p in shared_warc_dir().rglob("*") if p.is_file())


def config(name: str, workers: int):  # noqa: ANN201 (CurateConfig)
    from curate import load_config
    from curate.filters.lid import packaged_model_path

    overrides: dict = {"workers": workers}
    if name == "dclm":  # lid.176 stands in for DCLM's fastText quality model (tests/test_recipes.py)
        overrides |= {"filters.quality.model": str(packaged_model_path()),
                      "filters.quality.label": "__label__en"}
    return load_config(overrides=overrides, recipe=name)


def digests(out: Path) -> dict[str, str]:
    """sha256 of every parquet file a rerun must reproduce."""
    return {f"{sub}/{p.name}": hashlib.sha256(p.read_bytes()).hexdigest()
            for sub in ("provenance", "documents", "rejected") for p in sorted((out / sub).glob("*.parquet"))}


def run_one(name: str, inputs: list[str], out: Path, workers: int) -> dict:
    """One recipe over `inputs` into a fresh `out`; its counts, timings and invariant checks."""
    from curate import curate
    from curate.recipes import get_recipe

    shutil.rmtree(out, ignore_errors=True)
    cpu0 = _cpu_seconds()
    t0 = time.perf_counter()
    manifest = curate(inputs, out, config(name, workers))
    wall, cpu = time.perf_counter() - t0, _cpu_seconds() - cpu0
    prov = pl.read_parquet(out / "provenance" / "*.parquet")
    counts = {k: int(manifest["counts"].get(k, 0)) for k in ("records", *DECISIONS)}
    checks = {
        "one_row_per_record": prov.height == counts["records"] > 0,
        "one_row_per_input_position": prov.select("source_file", "record_index").n_unique() == prov.height,
        "decisions_add_up": sum(counts[d] for d in DECISIONS) == prov.height,
        "provenance_decisions_match": all(
            prov.filter(pl.col("decision") == d).height == counts[d] for d in DECISIONS),
        "recipe_in_run_json": manifest["recipe"] == {"name": name, "version": get_recipe(name).version},
    }
    return {"recipe": name, **counts, "wall_s": round(wall, 1), "cpu_s": round(cpu, 1), "checks": checks}


def _cpu_seconds() -> float:
    """CPU seconds of this process, its reaped children and its live ones (the worker pool outlives a
    stage: without the live ones a run's figure could miss most of its work)."""
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime + descendants_cpu_s()


def main() -> int:
    from curate import recipe_names

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--recipes", default=",".join(recipe_names()))
    ap.add_argument("--rerun", default="fineweb-2", help="recipes to run twice (byte-identical check)")
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    inputs = all_warcs()
    print(f"{len(inputs)} input files, {sum(os.path.getsize(p) for p in inputs) / 1e6:.1f} MB; "
          f"load average {os.getloadavg()}", flush=True)
    results_file = OUT.with_suffix(".json")
    results = json.loads(results_file.read_text()) if results_file.exists() else {}
    for name in args.recipes.split(","):
        res = run_one(name, inputs, OUT / name, args.workers)
        if name in args.rerun.split(","):
            again = run_one(name, inputs, OUT / f"{name}-again", args.workers)
            res["rerun_byte_identical"] = digests(OUT / name) == digests(OUT / f"{name}-again") != {}
            res["rerun_wall_s"] = again["wall_s"]
        res["load_average"] = [round(x, 2) for x in os.getloadavg()]
        results[name] = res
        print(json.dumps(res), flush=True)
        results_file.parent.mkdir(parents=True, exist_ok=True)
        results_file.write_text(json.dumps(results, indent=1, sort_keys=True) + "\n")
    print_table(results)
    return 0 if all(all(r["checks"].values()) and r.get("rerun_byte_identical", True)
                    for r in results.values()) else 1


def print_table(results: dict) -> None:
    print("\n| recipe | records | kept | rejected | duplicate | error | invariants | rerun "
          "| wall s | CPU s |")
    print("|---|---:|---:|---:|---:|---:|---|---|---:|---:|")
    for name, r in sorted(results.items()):
        failed = [k for k, v in r["checks"].items() if not v]
        ok = ", ".join(failed) or "all hold"
        rerun = {True: "byte-identical", False: "DIFFERS", None: ""}[r.get("rerun_byte_identical")]
        print(f"| {name} | {r['records']} | {r['kept']} | {r['rejected']} | {r['duplicate']} | {r['error']} "
              f"| {ok} | {rerun} | {r['wall_s']} | {r['cpu_s']} |")


if __name__ == "__main__":
    sys.exit(main())
