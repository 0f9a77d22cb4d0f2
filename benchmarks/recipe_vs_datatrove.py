"""Reference harness: `assay curate --recipe fineweb` against datatrove's FineWeb steps, page by page.

Runs datatrove 0.10.1's examples/fineweb.py steps without dedup (benchmarks/recipe_datatrove.py, in
benchmarks/.venv-datatrove) and `assay curate --recipe fineweb --no-near-dedup` on the same WARCs,
then prints the per-page agreement (kept / rejected) and every disagreement: URL, datatrove's step and
reason, assay's step and reason. Pages are the HTML responses datatrove's WarcReader reads (copies whose
WARC-Identified-Payload-Type carries the HTTP Content-Type: see DESIGN.md), matched by WARC-Record-ID.

With --write-reference it also writes tests/data/fineweb_datatrove_decisions.jsonl, datatrove's decision
per page, which tests/test_recipes.py compares assay against (CI has no datatrove). Regenerate it with:

    PYTHONPATH=$PWD .venv/bin/python benchmarks/recipe_vs_datatrove.py --write-reference [--versus assay]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

import polars as pl

from benchmarks.curate_vs_datatrove import DT_PY, HERE, REPO, prepare, shared_warc_dir

OUT = HERE / "out" / "recipe_vs_datatrove"  # git-ignored
WARCS = ("python-3.11-docs.warc.gz", "postgresql-15-docs.warc.gz", "debian-multilingual-docs.warc.gz",
         "cc-2020-34-slice.warc.gz")
REFERENCE = REPO / "tests" / "data" / "fineweb_datatrove_decisions.jsonl"


def datatrove_decisions(warc_dir: Path, out: Path, timeout: float, reuse: bool = False) -> list[dict]:
    """datatrove's decision per page it read, from benchmarks/recipe_datatrove.py (with `reuse`, a
    finished first pass in `out` is kept and only the extraction retry runs)."""
    from curate.filters.lid import packaged_model_path

    if not reuse:
        shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True, exist_ok=True)
    cfg = {"warc_dir": str(warc_dir), "out_dir": str(out), "lid_model": str(packaged_model_path()),
           "timeout": 10}
    (out / "config.json").write_text(json.dumps(cfg))
    import subprocess

    subprocess.run([str(DT_PY), "-P", str(HERE / "recipe_datatrove.py"), str(out / "config.json")],
                   cwd=REPO, check=True, timeout=timeout, capture_output=True)
    return [json.loads(line) for line in (out / "decisions.jsonl").read_text().splitlines()]


def assay_decisions(warcs: list[Path], out: Path, recipe: str = "fineweb", workers: int = 2) -> pl.DataFrame:
    """assay's provenance rows (id, url, lang, decision, step, reason) under `--recipe`, without dedup."""
    from curate import curate, load_config

    cfg = load_config(overrides={"workers": workers, "near_dedup.enabled": False,
                                 "exact_dedup.enabled": False}, recipe=recipe)
    curate([str(w) for w in warcs], out, cfg, overwrite=True)
    prov = pl.read_parquet(out / "provenance" / "*.parquet")
    return prov.select(pl.col("warc_record_id").alias("id"), "url", "lang", "source_file", "decision", "step",
                       "reason")


def recipe_flips(ref: pl.DataFrame, other: pl.DataFrame, name: str) -> None:
    """Pages `fineweb` and recipe `name` decide differently, by (fineweb's step, the other's step)."""
    both = ref.join(other, on="id", suffix=f"_{name}")  # both are assay's provenance (ids without <>)
    flips = both.filter((pl.col("decision") == "kept") != (pl.col(f"decision_{name}") == "kept"))
    rule = pl.col("reason").str.extract(r"^([a-z_0-9]+)")
    groups = (flips.with_columns(rule.alias("rule"), pl.col(f"reason_{name}").str.extract(r"^([a-z_0-9]+)")
                                 .alias("rule_other"))
              .group_by("decision", "step", "rule", f"decision_{name}", f"step_{name}", "rule_other")
              .agg(pl.len().alias("pages"), pl.col("url").first().alias("example"),
                   pl.col("lang").unique().sort().head(6).alias("langs"))
              .sort("pages", descending=True))
    print(f"\nfineweb vs {name}: {flips.height} of {both.height} pages flip")
    for g in groups.iter_rows(named=True):
        print(f"  {g['pages']:5d}  fineweb {g['decision']} {g['step'] or ''} {g['rule'] or ''}"
              f"  |  {name} {g[f'decision_{name}']} {g[f'step_{name}'] or ''} {g['rule_other'] or ''}"
              f"  langs {','.join(x or '-' for x in g['langs'])}  e.g. {g['example']}")


def compare(reference: list[dict], ours: pl.DataFrame) -> tuple[int, list[dict]]:
    """(pages agreeing on kept vs removed, the disagreements) over the reference's pages."""
    mine = {r["id"]: r for r in ours.iter_rows(named=True)}
    agree, flips = 0, []
    for ref in reference:
        got = mine.get(ref["id"].strip("<>"), {"decision": "missing", "step": None, "reason": None})
        if (got["decision"] == "kept") == (ref["decision"] == "kept"):
            agree += 1
        else:
            flips.append({"url": ref["url"], "datatrove": f"{ref['decision']} {ref['step']} {ref['reason']}",
                          "assay": f"{got['decision']} {got['step']} {got['reason']}"})
    return agree, flips


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--write-reference", action="store_true", help=f"write {REFERENCE.relative_to(REPO)}")
    ap.add_argument("--timeout", type=float, default=3600)
    ap.add_argument("--reuse-datatrove", action="store_true", help="keep datatrove's finished first pass")
    ap.add_argument("--versus", default="", help="also run these recipes (comma-separated) and print "
                    "their flips against fineweb, e.g. assay")
    args = ap.parse_args()
    src = shared_warc_dir()
    if args.write_reference or not REFERENCE.exists():
        warc_dir = OUT / "warc"
        if not args.reuse_datatrove:
            prepare(src, warc_dir, 0, 1 << 30, patch=True, warcs=WARCS)
        reference = datatrove_decisions(warc_dir, OUT / "datatrove", args.timeout, args.reuse_datatrove)
        if args.write_reference:
            REFERENCE.parent.mkdir(parents=True, exist_ok=True)
            REFERENCE.write_text("".join(json.dumps(r, sort_keys=True) + "\n" for r in reference))
    else:
        reference = [json.loads(line) for line in REFERENCE.read_text().splitlines()]
    ours = assay_decisions([src / w for w in WARCS], OUT / "assay")
    agree, flips = compare(reference, ours)
    kept_dt = sum(r["decision"] == "kept" for r in reference)
    print(f"pages: {len(reference)}  datatrove kept {kept_dt}  assay kept "
          f"{ours.filter(pl.col('decision') == 'kept').height}")
    print(f"agreement: {agree}/{len(reference)} = {100 * agree / max(1, len(reference)):.2f}%")
    for f in flips:
        print(f"  {f['url']}\n    datatrove: {f['datatrove']}\n    assay:     {f['assay']}")
    for name in filter(None, args.versus.split(",")):
        recipe_flips(ours, assay_decisions([src / w for w in WARCS], OUT / name, recipe=name), name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
