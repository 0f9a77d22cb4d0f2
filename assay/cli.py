"""The `assay` command line: a thin front door over curate, synth, train and provenance.

Heavy modules are imported inside each command so `assay --help` stays instant. Errors meant
for the user (`provenance.errors.UserError`) are caught once, where the root command group
invokes a command (`Commands.invoke`): one line on stderr, exit code 2; anything else is a bug
and keeps its traceback. Commands raise; they do not catch to translate.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
import typer
from typer.core import TyperGroup

from provenance.errors import InputError, UserError


def output_dir(path: Path | None) -> Path | None:
    """An `-o` output directory: an existing file there is a one-line error before any work starts."""
    if path is not None and path.exists() and not path.is_dir():
        raise InputError(f"{path}: exists and is not a directory (-o names an output directory)")
    return path


def fail(message: str, code: int = 2) -> None:
    """Print a one-line error and exit (exit code 2 = bad usage / config / input)."""
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    raise typer.Exit(code)


class Commands(TyperGroup):
    """The root group: every command (and sub-command) runs inside its `invoke`, the one place that
    turns a `UserError` into `error: <one line>` on stderr and its exit code (2)."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except UserError as e:
            fail(str(e), e.exit_code)


app = typer.Typer(
    cls=Commands,
    name="assay",
    help="Auditable LLM training data: curate WARCs, validate synthetic data, train, ablate, disclose "
         "(AB 2013, EU AI Act summary, dataset card, Croissant).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
)
synth_app = typer.Typer(help="Generate synthetic data with vLLM and validate it through the gates.",
                        no_args_is_help=True)
train_app = typer.Typer(help="Train the bundled Llama-architecture model on token shards; export to HF.",
                        no_args_is_help=True)
quality_app = typer.Typer(help="Learned quality filtering: train a classifier for `[filters.quality]`.",
                          no_args_is_help=True)
app.add_typer(synth_app, name="synth")
app.add_typer(train_app, name="train")
app.add_typer(quality_app, name="quality")


def main() -> None:
    """The `assay` console script and `python -m assay` (user errors: see `Commands`)."""
    app()


# --- commands are added below (curate, demo, tokenize, trace, dedup-report, contamination, lineage, takedown,
# disclose, quality train, synth *, train *, ablate)


@app.command()
def curate(
    inputs: list[str] = typer.Argument(None, help="WARC/ARC/WET files, directories or globs."),
    out: Path = typer.Option(None, "-o", "--out", help="Output directory."),
    config: Path | None = typer.Option(None, "--config", "-c", help="TOML config (see --print-config)."),
    recipe: str | None = typer.Option(
        None, "--recipe", "-r", help="assay (default), fineweb, fineweb-2, dclm, c4, gopher or raw "
        "(docs/recipes.md); the config file and flags override it."),
    workers: int | None = typer.Option(
        None, "--workers", "-w", help="Worker processes (one WARC file per task)."),
    extractor: str | None = typer.Option(None, "--extractor", help="trafilatura (default) or resiliparse."),
    executor: str | None = typer.Option(None, "--executor", help="local (default) or ray."),
    address: str | None = typer.Option(None, "--address", help="Ray cluster address (with --executor ray)."),
    near_dedup: bool | None = typer.Option(
        None, "--near-dedup/--no-near-dedup", help="MinHash near-dedup (on by default)."),
    tokenize_stage: bool | None = typer.Option(
        None, "--tokenize/--no-tokenize", help="Tokenize kept documents as a last stage."),
    url_dedup: bool | None = typer.Option(
        None, "--url-dedup/--no-url-dedup", help="A URL seen twice keeps its latest capture (default: off)."),
    dedup_against: list[Path] = typer.Option(
        None, "--dedup-against", help="An earlier corpus (repeat the flag for more): its documents are "
        "already kept, so their copies here become duplicates. Read, never written."),
    overwrite: bool = typer.Option(
        False, "--overwrite", help="Replace the assay run an output dir holds (only the files it wrote), "
        "or write into a non-empty directory that holds none (its files are left alone)."),
    print_config: bool = typer.Option(False, "--print-config", help="Print the effective config and exit."),
) -> None:
    """Curate web archives into an auditable corpus: documents, provenance for every record, report."""
    output_dir(out)
    from curate import config_to_toml, load_config
    from curate import curate as run_curate
    from provenance.outdir import OutDir

    against = [str(p) for p in dedup_against or []] or None
    overrides = {"workers": workers, "extract.extractor": extractor, "executor": executor,
                 "ray_address": address, "near_dedup.enabled": near_dedup, "tokenize.enabled": tokenize_stage,
                 "url_dedup.enabled": url_dedup, "dedup_against": against}
    cfg = load_config(config, overrides, recipe)
    if print_config:
        nd = cfg.near_dedup
        typer.echo(config_to_toml(cfg), nl=False)
        typer.echo(f"# near_dedup: {nd.bands} bands x {nd.rows} rows -> a pair with Jaccard "
                   f"{nd.half_probability_similarity():.3f} has a 50% chance of being caught; "
                   f"S-curve threshold (1/b)^(1/r) = {nd.s_curve_threshold():.3f} "
                   f"(caught with p = {nd.candidate_probability(nd.s_curve_threshold()):.2f})")
        return
    if not inputs:
        fail("no INPUT given (WARC files, directories or globs)")
    if out is None:
        fail("missing -o/--out OUTPUT_DIR")
    manifest = run_curate(inputs, out, cfg, overwrite=overwrite, progress=True)
    c = manifest["counts"]
    typer.echo(f"{c['records']:,} records: {c['kept']:,} kept, {c['rejected']:,} rejected, "
               f"{c['duplicate']:,} duplicate, {c['error']:,} error")
    typer.echo(f"outputs: {out}  report: {OutDir(out).report}")


@app.command()
def demo(
    warc: list[Path] = typer.Option(
        None, "--warc", help="Run on your own WARC files instead of the embedded sample."),
    out: Path = typer.Option(Path("demo-out"), "-o", "--out", help="Where the demo writes everything."),
    small: bool = typer.Option(False, "--small", help="A faster, smaller setting (used by CI)."),
) -> None:
    """Build a sample crawl from pages present on every Python install, then run the whole loop."""
    output_dir(out)
    from assay.demo import run_demo, stdout_to_stderr

    with stdout_to_stderr():  # stage progress -> stderr; stdout carries only the report's path
        report = run_demo(out, warcs=[str(w) for w in warc] if warc else None, small=small)
    typer.echo(str(report))


@app.command()
def tokenize(
    out: Path = typer.Argument(
        ..., help="An `assay curate` output directory (documents/, provenance/, run.json)."),
    tokenizer: Path | None = typer.Option(
        None, "--tokenizer", help="An HF tokenizer.json to use (GPT-2, Llama, ...)."),
    train_tokenizer: bool = typer.Option(
        False, "--train-tokenizer", help="Train a byte-level BPE on the kept documents."),
    vocab_size: int | None = typer.Option(
        None, "--vocab-size", help="Vocabulary size for --train-tokenizer."),
    shard_tokens: int = typer.Option(50_000_000, "--shard-tokens", help="Target tokens per shard."),
    shuffle_seed: int | None = typer.Option(
        None, "--shuffle-seed", help="Shuffle documents across shards with this seed."),
    workers: int = typer.Option(2, "--workers", help="Worker processes (one task per documents part)."),
) -> None:
    """Tokenize kept documents into Arrow token shards (OUT/tokens/*.arrow) that keep every doc_id."""
    from pydantic import ValidationError

    from curate import TokenizeConfig, make_executor, tokenize_corpus
    from provenance.outdir import TOKENS, OutDir

    if train_tokenizer != (vocab_size is not None):
        fail("--train-tokenizer and --vocab-size go together")
    if train_tokenizer and tokenizer is not None:
        fail("give either --tokenizer or --train-tokenizer, not both")
    try:
        cfg = TokenizeConfig(tokenizer=tokenizer, vocab_size=vocab_size, shard_tokens=shard_tokens,
                             shuffle_seed=shuffle_seed)
    except ValidationError as e:  # a flag's value: name the flag's field
        fail(f"{e.errors()[0]['loc'][0]}: {e.errors()[0]['msg']}")
    section = tokenize_corpus(out, cfg, executor=make_executor("local", workers))
    shards = len(section["shards"])
    typer.echo(f"{section['n_docs']} documents, {section['n_tokens']} tokens in {shards} shards "
               f"-> {OutDir(out).folder(TOKENS)}")


@app.command()
def trace(
    out: Path = typer.Argument(..., help="An output directory with tokens/ and provenance/."),
    doc_id: str | None = typer.Argument(None, help="The document to trace."),
    shard: int | None = typer.Option(None, "--shard", help="Token shard index (with --row)."),
    row: int | None = typer.Option(None, "--row", help="Row in the shard (with --shard)."),
) -> None:
    """Print a document's provenance (WARC file, offset, record id, URL, date, decisions) as JSON."""
    import json

    from curate import trace as trace_doc

    if (doc_id is None) == (shard is None or row is None):
        fail("give either DOC_ID or both --shard and --row")
    result = trace_doc(out, doc_id=doc_id, shard=shard, row=row)
    typer.echo(json.dumps(result, indent=2, ensure_ascii=False))


@app.command()
def lineage(
    run_dir: Path = typer.Argument(
        ..., help="A training run, synthetic set or corpus directory (with run.json)."),
    roots: list[Path] = typer.Option(
        None, "--roots", help="Where to look for upstream runs by run_id (default: RUN_DIR's parent)."),
    prov_json: Path | None = typer.Option(
        None, "--prov-json", help="Also write the lineage as W3C PROV-JSON to this file."),
) -> None:
    """Print the chain of runs from RUN_DIR back to the WARC files it came from."""
    import json

    from provenance.lineage import build_lineage, format_tree, to_prov_json
    from provenance.outdir import write_text

    tree = build_lineage(run_dir, roots=list(roots or []))
    typer.echo(format_tree(tree))
    if prov_json is not None:
        write_text(prov_json, json.dumps(to_prov_json(tree), indent=2) + "\n")
        typer.echo(f"PROV-JSON -> {prov_json}")


@app.command()
def takedown(
    out: Path = typer.Argument(..., help="The curated corpus to take documents down from (left unchanged)."),
    new: Path = typer.Option(..., "-o", "--out", help="Directory for the new corpus version."),
    domain: str | None = typer.Option(None, "--domain", help="Remove this domain and its subdomains."),
    url_regex: str | None = typer.Option(
        None, "--url-regex", help="Remove documents whose URL matches (Python re.search)."),
    doc_ids: Path | None = typer.Option(
        None, "--doc-ids", help="Remove the doc_ids listed in this file (one a line)."),
    runs: list[Path] = typer.Option(
        None, "--runs", help="Where to look for training runs (default: OUT's parent, */run.json)."),
) -> None:
    """Write a new corpus version without the named documents; list the training runs that used them."""
    output_dir(new)
    from curate import read_doc_ids
    from curate import takedown as run_takedown

    ids = read_doc_ids(doc_ids) if doc_ids is not None else None
    man = run_takedown(out, new, domain=domain, url_regex=url_regex, doc_ids=ids,
                       runs=list(runs or []) or None)
    td = man["takedown"]
    typer.echo(f"{td['request_id']}: {td['removed_documents']} document(s) taken down -> {new}")
    for s in td["affected_shards"]:
        typer.echo(f"  affected shard {s['path']} ({s['documents']} doc(s), sha256 {s['sha256'][:12]})")
    for r in td["affected_training_runs"]:
        typer.echo(f"  training run {r['run_id']} ({r['manifest']}) consumed "
                   f"{len(r['consumed_affected_shards'])} affected shard(s)")
    if not td["affected_training_runs"]:
        typer.echo("  no training run under " + ", ".join(td["run_roots"]) + " consumed the affected shards")


@app.command()
def disclose(
    dirs: list[Path] = typer.Argument(
        ..., help="Curated corpora, synthetic sets and training runs (directories with run.json)."),
    out: Path = typer.Option(..., "-o", "--out", help="Where to write the disclosures."),
    declarations: Path | None = typer.Option(
        None, "--declarations", help="TOML with what no scan can know (examples/declarations.toml)."),
    formats: str = typer.Option(
        "ab2013,eu-summary,dataset-card,croissant", "--format",
        help="Comma-separated: ab2013 (AB 2013, .md/.html/.json), eu-summary (EU AI Act training-content "
             "summary), dataset-card (README.md), croissant (croissant.json)."),
    previous: Path | None = typer.Option(
        None, "--previous", help="An earlier disclosure (its directory or JSON): list what changed since."),
) -> None:
    """Write training-data disclosures from the records: AB 2013, the EU AI Act summary, a dataset card,
    Croissant (all four by default), from one reading of the inputs."""
    output_dir(out)
    from provenance.disclosure import write_disclosure

    chosen = [x.strip() for x in formats.split(",") if x.strip()]
    paths = write_disclosure(dirs, out, declarations, formats=chosen, previous=previous)
    typer.echo("  ".join(str(p) for p in paths.values()))


@train_app.command("run")
def train_run(
    preset: str | None = typer.Option(
        None, "--preset", help="tiny (seconds on a CPU) | gpt2-small (~124M) | 350m."),
    data: list[str] = typer.Option(
        None, "--data", help="NAME=DIR[:WEIGHT], repeatable: corpora to mix (tokenized output dirs)."),
    out: Path | None = typer.Option(
        None, "-o", "--out", help="Run directory (run.json, checkpoints/, metrics.jsonl, loss.png)."),
    config: Path | None = typer.Option(None, "--config", help="train.toml; flags override it."),
    steps: int | None = typer.Option(None, "--steps", help="Optimizer steps in total."),
    stop_after: int | None = typer.Option(
        None, "--stop-after", help="Checkpoint and stop at this step (resume later)."),
    resume: bool = typer.Option(
        False, "--resume", help="Continue from the run directory's latest checkpoint."),
    nproc: int = typer.Option(
        1, "--nproc", help="Data-parallel processes on this machine (torchrun; NCCL on GPUs, gloo on CPU)."),
    allow_failed_synthetic: bool = typer.Option(
        False, "--allow-failed-synthetic",
        help="Train on synthetic sets whose gates did not pass (failed or never validated); "
             "recorded in run.json."),
    device: str | None = typer.Option(None, "--device", help="auto | cpu | cuda."),
    threads: int | None = typer.Option(None, "--threads", help="torch CPU threads per process."),
    compile_: bool = typer.Option(False, "--compile", help="torch.compile the model."),
    progress: bool = typer.Option(True, "--progress/--no-progress"),
) -> None:
    """Train the bundled Llama on token shards, mixing corpora by weight."""
    output_dir(out)
    from train.config import make_config

    overrides = {"out_dir": out, "steps": steps, "stop_after": stop_after, "device": device,
                 "threads": threads, "compile": compile_ or None, "progress": progress,
                 "allow_failed_synthetic": allow_failed_synthetic or None}
    cfg = make_config(preset, config, list(data or []), overrides)
    if nproc > 1:
        from train.distributed import launch

        raise typer.Exit(launch(cfg, nproc, resume=resume))
    from train.trainer import train

    typer.echo(f"run -> {train(cfg, resume=resume)}")


@train_app.command("export")
def train_export(
    run: Path = typer.Argument(
        ..., help="A training run directory (latest checkpoint) or one checkpoint directory."),
    out: Path = typer.Option(
        ..., "-o", "--out", help="HF directory to write (config.json, model.safetensors, tokenizer)."),
) -> None:
    """Export a run as a Hugging Face LlamaForCausalLM directory (loads in transformers and vLLM)."""
    output_dir(out)
    from train.export import export_hf

    typer.echo(f"HF model -> {export_hf(run, out)}")


@app.command()
def ablate(
    variant: list[str] = typer.Option(
        None, "--variant", help="NAME=CORPUS_DIR or NAME=curate:CONFIG (raw, default or a TOML file); "
                                "repeatable, the first is the baseline unless --baseline."),
    eval_: list[str] = typer.Option(
        None, "--eval", help="NAME=SOURCE: an assay corpus, a .parquet/.jsonl with a 'text' column, "
                             "or a folder of .txt files; repeatable."),
    budget_tokens: int = typer.Option(
        ..., "--budget-tokens", help="Training tokens per run, the same for all."),
    seeds: int = typer.Option(3, "--seeds", help="Runs per variant (seeds FIRST_SEED, FIRST_SEED+1, ...)."),
    first_seed: int = typer.Option(0, "--first-seed", help="The first seed."),
    preset: str = typer.Option("tiny", "--preset", help="The model and optimizer of every run."),
    out: Path = typer.Option(..., "-o", "--out", help="Ablation directory (ablate.json, ablate.md, runs/)."),
    inputs: list[str] = typer.Option(
        None, "--inputs", help="WARC files, directories or globs for the curate: variants; repeatable."),
    tokenizer: Path | None = typer.Option(
        None, "--tokenizer", help="One tokenizer.json for every variant (re-tokenized when needed)."),
    vocab_size: int = typer.Option(
        4096, "--vocab-size", help="Vocabulary of the tokenizer trained on the variants' union."),
    baseline: str | None = typer.Option(None, "--baseline", help="The variant the others are compared with."),
    heldout: bool = typer.Option(
        True, "--heldout/--no-heldout", help="Also score on every variant's held-out documents."),
    threads: int | None = typer.Option(None, "--threads", help="torch CPU threads."),
    device: str = typer.Option("cpu", "--device", help="cpu | cuda."),
) -> None:
    """Is a corpus better training data? Train the same model on each variant under the same token budget,
    with several seeds, and score every model in bits per byte on every evaluation source."""
    from assay.report import write_report
    from train.ablate import AblateConfig, parse_eval, parse_variant
    from train.ablate import ablate as run_ablation

    cfg = AblateConfig(variants=[parse_variant(v) for v in variant or []],
                       evals=[parse_eval(e) for e in eval_ or []], inputs=list(inputs or []),
                       budget_tokens=budget_tokens, seeds=seeds, first_seed=first_seed, preset=preset,
                       tokenizer=tokenizer, vocab_size=vocab_size, baseline=baseline, heldout=heldout,
                       out_dir=out, threads=threads, device=device)
    root = run_ablation(cfg)
    report = write_report(root, {"ablation": root})
    typer.echo(f"ablation -> {root / 'ablate.md'}  report: {report}")


@app.command("dedup-report")
def dedup_report(
    out: Path = typer.Argument(..., help="A curation output directory (reads OUT/provenance/*.parquet)."),
    html_out: Path | None = typer.Option(
        None, "-o", "--html", help="Also write the HTML section to this file."),
) -> None:
    """Duplicates of a run: cluster-size histogram, largest clusters with sample URLs, number removed."""
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    from curate import dedup_section_html, dedup_summary
    from provenance.outdir import write_text

    s = dedup_summary(out)
    console = Console()
    by_step = ", ".join(f"{k}: {v}" for k, v in s["removed_by_step"].items()) or "none"
    console.print(f"{s['duplicates_removed']} of {s['records']} records removed as duplicates ({by_step})")
    for c in s["earlier"]:
        steps = ", ".join(f"{k}: {v}" for k, v in c["by_step"].items()) or "none"
        console.print(Text(f"earlier corpus {c['path']} (run {c['run_id']}) absorbed {c['absorbed']} "
                           f"documents ({steps})"), soft_wrap=True)  # one line: paths are long
    for kind in ("exact", "near"):
        k = s[kind]
        console.print(f"[bold]{kind}[/bold]: {k['clusters']} clusters, "
                      f"{k['documents_in_clusters']} documents, {k['removed']} removed")
        if not k["clusters"]:
            continue
        hist = Table("cluster size", "clusters", title=f"{kind} cluster sizes")
        for size, n in k["histogram"]:
            hist.add_row(str(size), str(n))
        console.print(hist)
        top = Table("cluster", "size", "sample URLs", title=f"largest {kind} clusters")
        for c in k["largest"]:
            # no markup
            top.add_row(c["cluster"], str(c["size"]), Text("\n".join(u or "" for u in c["sample_urls"])))
        console.print(top)
    if html_out is not None:
        write_text(html_out, dedup_section_html(s))
        console.print(f"HTML section -> {html_out}")


@app.command()
def contamination(
    out: Path = typer.Argument(..., help="Output directory of a curate run with [decontaminate] enabled."),
) -> None:
    """Evaluation items found in the crawl: per evaluation set, the items and the documents (doc_id, URL)."""
    from curate import contamination as find_contamination

    s = find_contamination(out)
    typer.echo(f"{s['documents']} document(s) share at least {s['min_overlap']} {s['ngram']}-gram(s) with an "
               "evaluation item")
    for x in s["sets"]:
        short = f"; {x['too_short']} item(s) under {s['ngram']} words not checked" if x["too_short"] else ""
        typer.echo(f"\n{x['label']} ({x['path']}, sha256 {x['sha256'][:12]}): {x['items_found']} of "
                   f"{x['items']} items found in {len(x['documents'])} document(s){short}")
        for d in x["documents"]:  # one line each (doc_id, URL, decision, items), tab-separated
            typer.echo("\t".join([d["doc_id"], d["url"] or "-", f"{d['decision']} ({d['step'] or '-'})",
                                  ",".join(d["items"])]))


@quality_app.command("train")
def quality_train(
    positive: list[str] = typer.Option(
        ..., "--positive",
        help="High-quality documents (repeatable): an assay corpus, a .parquet/.jsonl file, a .txt folder."),
    negative: list[str] = typer.Option(
        ..., "--negative", help="Other documents (repeatable), the same kinds."),
    out: Path = typer.Option(..., "-o", "--out", help="Model directory: model.bin and card.json."),
    text_field: str = typer.Option("text", "--text-field", help="Text column of .parquet/.jsonl sources."),
    seed: int = typer.Option(0, "--seed", help="Class balancing, held-out split and fastText's seed."),
    heldout: float = typer.Option(
        0.1, "--heldout", help="Share of each class held out for the card's metrics."),
    max_per_class: int | None = typer.Option(
        None, "--max-per-class", help="Use at most N documents per class."),
    lr: float | None = typer.Option(
        None, "--lr", help="Learning rate (DCLM: 0.1; fastText's tutorial: 1.0 for small sets)."),
    epoch: int | None = typer.Option(
        None, "--epoch", help="Epochs (DCLM: 5, for 400k documents; small sets need more, e.g. 25)."),
    dim: int | None = typer.Option(None, "--dim", help="Vector size (DCLM: 100)."),
    word_ngrams: int | None = typer.Option(None, "--word-ngrams", help="Word n-gram features (DCLM: 2)."),
    bucket: int | None = typer.Option(
        None, "--bucket", help="Hash buckets for word n-grams (2M, fastText's default: an 800 MB model)."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace the model in OUT."),
) -> None:
    """Train a fastText quality classifier (DCLM's recipe) for the curate step `[filters.quality]`."""
    from pydantic import ValidationError

    from curate import TrainConfig, train_classifier
    from provenance.outdir import CLASSIFIER_CARD, CLASSIFIER_MODEL

    if (out / CLASSIFIER_MODEL).exists() and not overwrite:
        fail(f"{out / CLASSIFIER_MODEL} exists; use another -o or --overwrite")
    given = {"lr": lr, "epoch": epoch, "dim": dim, "word_ngrams": word_ngrams, "bucket": bucket,
             "max_per_class": max_per_class}
    try:
        cfg = TrainConfig(seed=seed, heldout=heldout, text_field=text_field,
                          **{k: v for k, v in given.items() if v is not None})
    except ValidationError as e:  # a flag's value: name the flag's field
        fail(f"{e.errors()[0]['loc'][0]}: {e.errors()[0]['msg']}")
    card = train_classifier(positive, negative, out, cfg, progress=True)
    per_class = card["split"]["per_class"]
    typer.echo(f"model -> {out / CLASSIFIER_MODEL}  ({per_class} documents per class)")
    if card["heldout"]:
        h = card["heldout"]
        typer.echo(f"held-out ({h['documents']} documents): ROC-AUC {h['roc_auc']}, precision "
                   f"{h['precision']}, recall {h['recall']} at 0.5; thresholds in {out / CLASSIFIER_CARD}")


@synth_app.command("generate")
def synth_generate(
    model: Path = typer.Option(..., "--model", help="HF model directory (e.g. from `assay train export`)."),
    seeds: Path = typer.Option(..., "--seeds", help="Seed corpus directory (documents/*.parquet)."),
    task: str = typer.Option(
        "continuation", "--task", help="continuation | rephrase | qa, or a template .toml path."),
    out: Path = typer.Option(
        ..., "-o", "--out", help="Output directory (a corpus directory; reruns resume)."),
    seed: int = typer.Option(
        0, "--seed", help="Run seed; each request's seed derives from it and the seed doc_id."),
    max_tokens: int = typer.Option(
        256, "--max-tokens", help="New tokens per request (vLLM's default 16 is never used)."),
    temperature: float = typer.Option(1.0, "--temperature"),
    top_p: float = typer.Option(1.0, "--top-p"),
    max_seeds: int | None = typer.Option(None, "--max-seeds", help="Use only the first N seed documents."),
    batch_size: int = typer.Option(
        512, "--batch-size", help="Prompts per `generate` call (and per resumable part)."),
    purpose: str | None = typer.Option(
        None, "--purpose", help="Why this set exists (recorded for the disclosure)."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an output dir holding another run."),
) -> None:
    """Generate a synthetic corpus with vLLM from seed documents and a task template."""
    output_dir(out)
    from synth.generate import Sampling, generate

    if max_tokens < 1:
        fail("--max-tokens must be at least 1")
    sampling = Sampling(temperature=temperature, top_p=top_p, max_tokens=max_tokens)
    m = generate(model, seeds, out, task, seed=seed, max_seeds=max_seeds, batch_size=batch_size,
                 purpose=purpose, sampling=sampling, overwrite=overwrite)
    c = m["counts"]
    reasons = ", ".join(f"{n} {why or 'unknown'}" for why, n in c.get("error_reasons", {}).items())
    typer.echo(f"{c['kept']} synthetic documents, {c['error']} errors" + (f" ({reasons})" if reasons else "")
               + f" -> {out}")
    if c["seeds"] and not c["kept"]:
        fail(f"every one of the {c['seeds']} requests failed ({reasons}); see {out}/provenance", 1)


@synth_app.command("validate")
def synth_validate(
    synth: Path = typer.Argument(..., help="Synthetic corpus directory."),
    reference: Path = typer.Option(..., "--reference", help="Human reference corpus directory."),
    reference_model: Path | None = typer.Option(None, "--reference-model", help="HF model for perplexities."),
    config: Path | None = typer.Option(
        None, "--config", "-c", help="TOML: gate thresholds and metric settings."),
    out: Path = typer.Option(..., "-o", "--out", help="Report directory (report.html + report.json)."),
) -> None:
    """Metrics and gates of a synthetic set against a human reference; verdicts go into its provenance."""
    output_dir(out)
    from provenance.outdir import REPORT
    from synth.gates import ValidateConfig
    from synth.validate import validate

    r = validate(synth, reference, out, reference_model=str(reference_model) if reference_model else None,
                 config=ValidateConfig.from_toml(config))
    failed = [g["metric"] for g in r["gates"]["gates"] if g["verdict"] == "fail"]
    typer.echo(f"gates: {r['gates']['overall']}" + (f" (failed: {', '.join(failed)})" if failed else "")
               + f" -> {out / REPORT}")
    if r["gates"]["overall"] == "fail":
        raise typer.Exit(1)


@synth_app.command("collapse")
def synth_collapse(
    corpus: Path = typer.Option(..., "--corpus", help="Tokenized human corpus directory."),
    generations: int = typer.Option(2, "--generations", help="Generations after G0."),
    mode: list[str] = typer.Option(["replace", "accumulate"], "--mode", help="replace and/or accumulate."),
    preset: str = typer.Option("tiny", "--preset", help="Trainer preset for every generation."),
    steps: int | None = typer.Option(
        None, "--steps", help="Training steps per generation (default: the preset's)."),
    seed: int = typer.Option(0, "--seed"),
    out: Path = typer.Option(..., "-o", "--out", help="Experiment directory (results.json, collapse.html)."),
) -> None:
    """The recursive-training experiment: train, generate, retrain; held-out perplexity and gates \
per generation."""
    output_dir(out)
    from synth.collapse import collapse

    if generations < 1:
        fail("--generations must be at least 1")
    s = collapse(corpus, out, generations=generations, modes=tuple(mode), preset=preset, steps=steps,
                 seed=seed)
    for m, rows in s["results"].items():
        typer.echo(f"{m}: held-out ppl " + " -> ".join(f"{r['heldout_ppl']:.1f}" for r in rows)
                   + ", tail mass " + " -> ".join(f"{r['tail_mass']:.3f}" for r in rows))
    typer.echo(f"-> {out / 'collapse.html'}")
