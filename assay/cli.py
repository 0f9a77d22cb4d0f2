"""The `assay` command line: a thin front door over curate, synth, train and provenance.

Heavy modules are imported inside each command so `assay --help` stays instant.
"""

from __future__ import annotations

from pathlib import Path

import typer

app = typer.Typer(
    name="assay",
    help="Auditable LLM training data: curate WARCs, validate synthetic data, train, disclose (AB 2013).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
)
synth_app = typer.Typer(help="Generate synthetic data with vLLM and validate it through the gates.", no_args_is_help=True)
train_app = typer.Typer(help="Train the bundled Llama-architecture model on token shards; export to HF.", no_args_is_help=True)
app.add_typer(synth_app, name="synth")
app.add_typer(train_app, name="train")


def fail(message: str, code: int = 2) -> None:
    """Print a one-line error and exit (exit code 2 = bad usage / config / input)."""
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    raise typer.Exit(code)


# --- commands are added below (curate, demo, tokenize, trace, dedup-report, lineage, takedown, disclose, synth *, train *)


@app.command()
def curate(
    inputs: list[str] = typer.Argument(None, help="WARC/ARC/WET files, directories or globs."),
    out: Path = typer.Option(None, "-o", "--out", help="Output directory."),
    config: Path | None = typer.Option(None, "--config", "-c", help="TOML config (see --print-config)."),
    workers: int | None = typer.Option(None, "--workers", "-w", help="Worker processes (one WARC file per task)."),
    extractor: str | None = typer.Option(None, "--extractor", help="trafilatura (default) or resiliparse."),
    executor: str | None = typer.Option(None, "--executor", help="local (default) or ray."),
    address: str | None = typer.Option(None, "--address", help="Ray cluster address (with --executor ray)."),
    near_dedup: bool | None = typer.Option(None, "--near-dedup/--no-near-dedup", help="MinHash near-dedup (on by default)."),
    tokenize_stage: bool | None = typer.Option(None, "--tokenize/--no-tokenize", help="Tokenize kept documents as a last stage."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an output dir that holds another run."),
    print_config: bool = typer.Option(False, "--print-config", help="Print the effective config and exit."),
) -> None:
    """Curate web archives into an auditable corpus: documents, provenance for every record, report."""
    from curate.config import ConfigError, config_to_toml, load_config
    from curate.pipeline import InputError
    from curate.pipeline import curate as run_curate

    overrides = {"workers": workers, "extract.extractor": extractor, "executor": executor,
                 "ray_address": address, "near_dedup.enabled": near_dedup, "tokenize.enabled": tokenize_stage}
    try:
        cfg = load_config(config, overrides)
    except ConfigError as e:
        fail(str(e))
    if print_config:
        nd = cfg.near_dedup
        typer.echo(config_to_toml(cfg), nl=False)
        typer.echo(f"# near_dedup: {nd.bands} bands x {nd.rows} rows -> a pair with Jaccard "
                   f"{nd.s_curve_threshold():.3f} has a 50% chance of being caught (S-curve threshold)")
        return
    if not inputs:
        fail("no INPUT given (WARC files, directories or globs)")
    if out is None:
        fail("missing -o/--out OUTPUT_DIR")
    try:
        manifest = run_curate(inputs, out, cfg, overwrite=overwrite, progress=True)
    except (InputError, ConfigError) as e:
        fail(str(e))
    c = manifest["counts"]
    typer.echo(f"{c['records']:,} records: {c['kept']:,} kept, {c['rejected']:,} rejected, "
               f"{c['duplicate']:,} duplicate, {c['error']:,} error")
    typer.echo(f"outputs: {out}  report: {Path(out) / 'report.html'}")


@app.command()
def demo(
    warc: list[Path] = typer.Option(None, "--warc", help="Run on your own WARC files instead of the embedded sample."),
    out: Path = typer.Option(Path("demo-out"), "-o", "--out", help="Where the demo writes everything."),
    small: bool = typer.Option(False, "--small", help="A faster, smaller setting (used by CI)."),
) -> None:
    """Build a sample crawl from pages present on every Python install, then run the whole loop."""
    from assay.demo import run_demo

    try:
        report = run_demo(out, warcs=[str(w) for w in warc] if warc else None, small=small)
    except (FileNotFoundError, ValueError) as e:
        fail(str(e))
    typer.echo(str(report))


@app.command()
def tokenize(
    out: Path = typer.Argument(..., help="An `assay curate` output directory (documents/, provenance/, run.json)."),
    tokenizer: Path | None = typer.Option(None, "--tokenizer", help="An HF tokenizer.json to use (GPT-2, Llama, ...)."),
    train_tokenizer: bool = typer.Option(False, "--train-tokenizer", help="Train a byte-level BPE on the kept documents."),
    vocab_size: int | None = typer.Option(None, "--vocab-size", help="Vocabulary size for --train-tokenizer."),
    shard_tokens: int = typer.Option(50_000_000, "--shard-tokens", help="Target tokens per shard."),
    shuffle_seed: int | None = typer.Option(None, "--shuffle-seed", help="Shuffle documents across shards with this seed."),
    workers: int = typer.Option(2, "--workers", help="Worker processes (one task per documents part)."),
) -> None:
    """Tokenize kept documents into Arrow token shards (OUT/tokens/*.arrow) that keep every doc_id."""
    from curate.tokenize import tokenize_corpus

    if train_tokenizer != (vocab_size is not None):
        fail("--train-tokenizer and --vocab-size go together")
    if train_tokenizer and tokenizer is not None:
        fail("give either --tokenizer or --train-tokenizer, not both")
    try:
        section = tokenize_corpus(out, tokenizer=tokenizer, train_vocab_size=vocab_size, shard_tokens=shard_tokens,
                                  shuffle_seed=shuffle_seed, workers=workers)
    except (FileNotFoundError, ValueError) as e:
        fail(str(e))
    typer.echo(f"{section['n_docs']} documents, {section['n_tokens']} tokens in {len(section['shards'])} shards -> {out / 'tokens'}")


@app.command()
def trace(
    out: Path = typer.Argument(..., help="An output directory with tokens/ and provenance/."),
    doc_id: str | None = typer.Argument(None, help="The document to trace."),
    shard: int | None = typer.Option(None, "--shard", help="Token shard index (with --row)."),
    row: int | None = typer.Option(None, "--row", help="Row in the shard (with --shard)."),
) -> None:
    """Print a document's provenance (WARC file, offset, record id, URL, date, decisions) as JSON."""
    import json

    from curate.trace import trace as trace_doc

    if (doc_id is None) == (shard is None or row is None):
        fail("give either DOC_ID or both --shard and --row")
    try:
        result = trace_doc(out, doc_id=doc_id, shard=shard, row=row)
    except (FileNotFoundError, ValueError, IndexError) as e:
        fail(str(e))
    except KeyError as e:
        fail(str(e.args[0]) if e.args else str(e))
    typer.echo(json.dumps(result, indent=2, ensure_ascii=False))
