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
