"""What an ablation is asked to compare, and every check on it that can fail before anything is written.

`AblateConfig` is the whole request (variants, evaluation sources, budget, seeds, preset); `check` turns
it into a `Plan` or raises one `UserError` line: a bad budget, a directory that is not a corpus, variants
tokenized with different tokenizers and no common one given, an evaluation source with no text.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from provenance.errors import ConfigError, InputError, NotARunError
from provenance.manifest import read_manifest
from provenance.outdir import CORPUS_KINDS, DOCUMENTS, OutDir, sha256_file
from train.ablate.sources import read_texts
from train.config import PRESETS, make_config

CURATE_PREFIX = "curate:"
VARIANT_KINDS = (*CORPUS_KINDS, "synth")  # directories a variant may name (a synthetic set is a corpus too)


class Variant(BaseModel):
    """One corpus to train on: an assay corpus directory, or a curate config that ablate runs on --inputs."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1)
    path: Path | None = None
    curate_config: str | None = None  # a recipe name ("raw", ...), "default" or a TOML file


class EvalSource(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1)
    path: Path


class AblateConfig(BaseModel):
    """`assay ablate`'s request. Seeds are first_seed .. first_seed + seeds - 1; every run uses the same
    validation split (split_seed) so the seeds differ only in initialisation and data order."""

    model_config = ConfigDict(extra="forbid")

    variants: list[Variant]
    evals: list[EvalSource] = Field(default_factory=list)
    inputs: list[str] = Field(default_factory=list)  # WARC files for `curate:` variants
    budget_tokens: int
    seeds: int = 3
    first_seed: int = 0
    preset: str = "tiny"
    tokenizer: Path | None = None  # one tokenizer for every variant; default: theirs, or one trained
    vocab_size: int = Field(4096, ge=257)  # when a tokenizer is trained on the variants' union (as the demo)
    baseline: str | None = None  # default: the first variant
    heldout: bool = True  # also score every model on every variant's held-out documents
    split_seed: int = 0
    train_overrides: dict[str, Any] = Field(default_factory=dict)  # TrainConfig fields for every run (tests)
    out_dir: Path
    threads: int | None = None
    device: str = "cpu"
    progress: bool = True

    @property
    def seed_list(self) -> list[int]:
        return list(range(self.first_seed, self.first_seed + self.seeds))


def parse_variant(spec: str) -> Variant:
    """`NAME=DIR` or `NAME=curate:CONFIG` (CONFIG: raw, default or a TOML file)."""
    name, sep, rest = spec.partition("=")
    if not sep or not name or not rest:
        raise ConfigError(f"--variant {spec!r}: expected NAME=CORPUS_DIR or NAME=curate:CONFIG.toml")
    if rest.startswith(CURATE_PREFIX):
        return Variant(name=name, curate_config=rest.removeprefix(CURATE_PREFIX) or "default")
    return Variant(name=name, path=Path(rest))


def parse_eval(spec: str) -> EvalSource:
    name, sep, rest = spec.partition("=")
    if not sep or not name or not rest or name.startswith("heldout:"):
        raise ConfigError(f"--eval {spec!r}: expected NAME=SOURCE (a corpus, .parquet, .jsonl or a folder of "
                          ".txt files); names starting with 'heldout:' are the variants' own")
    return EvalSource(name=name, path=Path(rest))


@dataclass
class Plan:
    """A checked request: the steps every run takes, the tokenizer decision, the evaluation texts."""

    cfg: AblateConfig
    baseline: str
    steps: int
    tokens_per_step: int
    seq_len: int
    tokenizer_sha256: dict[str, str]  # corpus variant -> its shards' tokenizer (tokenized variants only)
    eval_texts: dict[str, list[str]]
    run_id: str

    @property
    def tokens(self) -> int:
        return self.steps * self.tokens_per_step


def check(cfg: AblateConfig) -> Plan:
    """Every check that needs no output; raises one `UserError` line, writes nothing."""
    if cfg.budget_tokens <= 0:
        raise ConfigError(f"--budget-tokens must be a positive number of training tokens, "
                          f"got {cfg.budget_tokens}")
    if cfg.seeds < 1:
        raise ConfigError(f"--seeds must be at least 1, got {cfg.seeds}")
    if not cfg.variants:
        raise ConfigError("no variants: give at least one --variant NAME=CORPUS_DIR (two to compare)")
    names = [v.name for v in cfg.variants]
    if len(set(names)) != len(names) or len({e.name for e in cfg.evals}) != len(cfg.evals):
        raise ConfigError(f"variant and evaluation names must be unique, got {names} and "
                          f"{[e.name for e in cfg.evals]}")
    baseline = cfg.baseline or names[0]
    if baseline not in names:
        raise ConfigError(f"--baseline {baseline!r} is not a variant ({', '.join(names)})")
    if cfg.preset not in PRESETS:
        raise ConfigError(f"unknown preset {cfg.preset!r}; choose one of {', '.join(PRESETS)}")
    if cfg.out_dir.exists() and not cfg.out_dir.is_dir():
        raise InputError(f"{cfg.out_dir}: exists and is not a directory")
    _check_curate_variants(cfg)
    shas = {v.name: _corpus_tokenizer(v) for v in cfg.variants if v.path is not None}
    tokenized = {k: s for k, s in shas.items() if s}
    if cfg.tokenizer is not None:
        from curate import load_tokenizer

        load_tokenizer(cfg.tokenizer)
    elif len(set(tokenized.values())) > 1:
        detail = ", ".join(f"{k}={s[:12]}" for k, s in tokenized.items())
        raise ConfigError(f"variants were tokenized with different tokenizers ({detail}); give --tokenizer "
                          "FILE (one of theirs, or any tokenizer.json) to re-tokenize them all with one")
    texts = {e.name: read_texts(e.name, e.path) for e in cfg.evals}
    train = make_config(cfg.preset, overrides=cfg.train_overrides)
    steps = math.ceil(cfg.budget_tokens / (train.batch_size * train.seq_len))
    return Plan(cfg, baseline, steps, train.batch_size * train.seq_len, train.seq_len, tokenized, texts,
                _run_id(cfg, shas, texts))


def _check_curate_variants(cfg: AblateConfig) -> None:
    from curate import expand_inputs, load_config

    curated = [v for v in cfg.variants if v.curate_config is not None]
    if curated and not cfg.inputs:
        raise ConfigError(f"variant {curated[0].name!r} runs the curation: give the WARC files with --inputs")
    if cfg.inputs and not curated:
        raise ConfigError("--inputs is only for NAME=curate:CONFIG variants")
    for v in curated:
        path, recipe = curate_settings(v.curate_config)
        load_config(path, recipe=recipe)  # a bad file or key: curate's one-line error
    if curated:
        expand_inputs(cfg.inputs)


def curate_settings(name: str | None) -> tuple[Path | None, str | None]:
    """`curate:NAME`: a recipe (`raw`, `fineweb`, ...; `default`: assay's own choices) or a TOML file;
    returns (config file, recipe) for curate's `load_config`."""
    from curate import recipe_names

    name = name or "default"
    if name == "default":
        return None, None
    return (None, name) if name in recipe_names() else (Path(name), None)


def _corpus_tokenizer(v: Variant) -> str:
    """The tokenizer sha256 of a corpus variant's shards ('' when not tokenized); checks it is a corpus."""
    path = Path(v.path or "")
    if not path.is_dir():
        raise InputError(f"variant {v.name!r}: {path} is not a directory (expected an assay corpus)")
    try:
        man = read_manifest(path)
    except NotARunError:
        raise InputError(f"variant {v.name!r}: {path} is not an assay corpus (no run.json)") from None
    if man.get("kind") not in VARIANT_KINDS:
        raise InputError(f"variant {v.name!r}: {path} holds a {man.get('kind')!r} run, not a corpus "
                         f"({', '.join(VARIANT_KINDS)})")
    out = OutDir(path)
    if not out.parts(DOCUMENTS):
        raise InputError(f"variant {v.name!r}: {path} has no {DOCUMENTS}/*.parquet")
    if not out.shards:
        return ""
    from curate import TokenShards

    return TokenShards(path).tokenizer_sha256 or sha256_file(out.tokenizer)


def _run_id(cfg: AblateConfig, shas: dict[str, str], texts: dict[str, list[str]]) -> str:
    """Same request, same inputs -> same id (a rerun resumes); anything else is another ablation."""
    key: dict[str, Any] = cfg.model_dump(mode="json", exclude={"out_dir", "threads", "device", "progress"})
    key["variant_tokenizers"] = shas
    key["eval_sha256"] = {k: hashlib.sha256(json.dumps(v).encode()).hexdigest() for k, v in texts.items()}
    for v in key["variants"]:
        if v["path"]:
            v["run_id"] = read_manifest(v["path"]).get("run_id")
    return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:32]
