"""Kept rate per language, recipe against recipe, on one WARC (default: debian-multilingual-docs).

For docs/recipes.md's FineWeb-2 section: each recipe runs without dedup (so only the language and
quality rules decide), and the table shows, per lid.176 language, the pages, the share each recipe
keeps, and the step that removed most of the others.

    PYTHONPATH=$PWD .venv/bin/python benchmarks/recipe_languages.py [--warc NAME] [--recipes assay,fineweb-2]

`--from NAME=DIR,...` reads finished runs instead (e.g. benchmarks/recipes_all_warcs.py's, over every
WARC with dedup): only the WARC's rows, and a page counts as kept when it passed every filter (decision
kept or duplicate), which is what a run without dedup keeps.
"""

from __future__ import annotations

import argparse
import sys

import polars as pl

from benchmarks.curate_vs_datatrove import HERE, shared_warc_dir

OUT = HERE / "out" / "recipe_languages"  # git-ignored


def run(recipe: str, warc: str, overrides: dict) -> pl.DataFrame:
    from curate import curate, load_config

    out = OUT / (recipe + ("-all-languages" if overrides else ""))
    cfg = load_config(overrides={"workers": 2, "near_dedup.enabled": False, "exact_dedup.enabled": False,
                                 **overrides}, recipe=recipe)
    curate([str(shared_warc_dir() / warc)], out, cfg)  # a finished run of the same config is reused
    return pl.read_parquet(out / "provenance" / "*.parquet").filter(pl.col("lang").is_not_null())


def finished(out: str, warc: str) -> pl.DataFrame:
    """A finished run's rows for one WARC, with the pages dedup removed counted as kept (module doc)."""
    prov = pl.read_parquet(f"{out}/provenance/*.parquet")
    prov = prov.filter(pl.col("source_file").str.ends_with("/" + warc) & pl.col("lang").is_not_null())
    return prov.with_columns(decision=pl.when(pl.col("decision") == "duplicate").then(pl.lit("kept"))
                             .otherwise(pl.col("decision")))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--warc", default="debian-multilingual-docs.warc.gz")
    ap.add_argument("--recipes", default="assay,fineweb-2")
    ap.add_argument("--from", dest="runs", default="", help="NAME=DIR,...: finished runs, not run here")
    args = ap.parse_args()
    # `fineweb*`: FineWeb's English rules on every language (lid.languages emptied) as the "before".
    runs = {}
    for name in args.recipes.split(",") if not args.runs else ():
        recipe, _, variant = name.partition("*")
        runs[name] = run(recipe, args.warc, {"lid.languages": []} if name.endswith("*") else {})
    for item in filter(None, args.runs.split(",")):
        name, _, out = item.partition("=")
        runs[name] = finished(out, args.warc)
    names = list(runs)
    table = None
    for name, prov in runs.items():
        per = prov.group_by("lang").agg(pl.len().alias("pages"),
                                        (pl.col("decision") == "kept").mean().alias(name),
                                        pl.col("step").drop_nulls().mode().first().alias(f"{name} top step"))
        table = per if table is None else table.join(per.drop("pages"), on="lang", how="full", coalesce=True)
    table = table.sort("pages", descending=True)
    print(f"| lang | pages | {' | '.join(f'kept: {n} | removed mostly by' for n in names)} |")
    print("|---|---:|" + "---:|---|" * len(names))
    for r in table.iter_rows(named=True):
        cells = " | ".join(f"{100 * (r[n] or 0):.0f}% | {r[f'{n} top step'] or ''}" for n in names)
        print(f"| {r['lang']} | {r['pages']} | {cells} |")
    totals = " ".join(f"{n}: {runs[n].filter(pl.col('decision') == 'kept').height}" for n in names)
    print(f"\nkept pages (with a language label): {totals}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
