"""Quality filters: signals first, decisions second (RedPajama-V2 / dolma "attributes").

Each filter has a `name` (the provenance `step`), `annotate(doc) -> signals` (JSON-safe
numbers, rounded, so provenance is byte-identical across runs) and `decide(signals) -> reason
or None`. Keeping the two apart lets a run store every signal and re-apply other thresholds
later without re-extracting. Only C4 edits the text (its line cleaning).

Order (FineWeb, Penedo et al. 2024): url -> [extraction] -> language ID (`lid`) ->
gopher_repetition -> gopher_quality -> c4 -> fineweb_quality; the per-record chain
(`curate.record_checks`) runs them with `annotate` and `first_rejection`.
"""

from __future__ import annotations

from typing import Literal, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field

from curate.filters.c4 import C4Config, C4Filter
from curate.filters.fineweb import FineWebQualityConfig, FineWebQualityFilter
from curate.filters.gopher import (
    GopherQualityConfig,
    GopherQualityFilter,
    GopherRepetitionConfig,
    GopherRepetitionFilter,
)
from curate.filters.text import Doc
from curate.filters.url import UrlFilter, UrlFilterConfig

__all__ = [
    "C4Config",
    "C4Filter",
    "Doc",
    "Filter",
    "FiltersConfig",
    "FineWebQualityConfig",
    "FineWebQualityFilter",
    "GopherQualityConfig",
    "GopherQualityFilter",
    "GopherRepetitionConfig",
    "GopherRepetitionFilter",
    "UrlFilter",
    "UrlFilterConfig",
    "annotate",
    "build_filters",
    "first_rejection",
    "run_filters",
]


@runtime_checkable
class Filter(Protocol):
    name: str  # the provenance `step`, e.g. "gopher_repetition"

    def annotate(self, doc: Doc) -> dict[str, float | int | bool]:
        """Signals of one document; may set doc.text (C4 line cleaning only)."""
        ...

    def decide(self, signals: dict) -> str | None:
        """None keeps the document; else the reason, "rule=value>threshold"."""
        ...


class FiltersConfig(BaseModel):
    """The [filters] section of the pipeline TOML; every sub-section has `enabled = true`."""

    model_config = ConfigDict(extra="forbid")

    url: UrlFilterConfig = Field(default_factory=UrlFilterConfig)
    gopher_repetition: GopherRepetitionConfig = Field(default_factory=GopherRepetitionConfig)
    gopher_quality: GopherQualityConfig = Field(default_factory=GopherQualityConfig)
    c4: C4Config = Field(default_factory=C4Config)
    fineweb_quality: FineWebQualityConfig = Field(default_factory=FineWebQualityConfig)
    # How the filters split words: assay's regex (filters/text.py), or datatrove's spaCy tokens with its
    # Gopher-quality semantics (filters/spacy_words.py; the `fineweb` recipe, to agree with datatrove).
    words: Literal["assay", "spacy"] = "assay"
    # "fineweb-2": Gopher repetition, FineWeb quality and Gopher quality with FineWeb-2's settings and word
    # splitter for each page's language (filters/fineweb2.py), replacing those three sections and C4.
    per_language: Literal["off", "fineweb-2"] = "off"


def build_filters(cfg: FiltersConfig | None = None) -> list[Filter]:
    """The enabled filters in FineWeb order. The UrlFilter comes first; the per-record chain applies
    it before extraction (it needs only the URL) and skips it among the text filters."""
    cfg = cfg or FiltersConfig()
    built: list[Filter] = []
    if cfg.url.enabled:
        built.append(UrlFilter(cfg.url))
    if cfg.per_language == "fineweb-2":
        from curate.filters.fineweb2 import fineweb2_filters

        return built + fineweb2_filters()
    if cfg.gopher_repetition.enabled:
        built.append(GopherRepetitionFilter(cfg.gopher_repetition))
    if cfg.gopher_quality.enabled:
        built.append(GopherQualityFilter(cfg.gopher_quality))
        if cfg.words == "spacy":
            from curate.filters.spacy_words import DatatroveGopherQuality

            built[-1] = DatatroveGopherQuality(cfg.gopher_quality)
    if cfg.c4.enabled:
        built.append(C4Filter(cfg.c4))
    if cfg.fineweb_quality.enabled:
        built.append(FineWebQualityFilter(cfg.fineweb_quality))
    if cfg.words == "spacy":
        _use_spacy_words(built)
    return built


def _use_spacy_words(filters: list[Filter]) -> None:
    """datatrove's splitting in every filter that splits words or sentences (filters/spacy_words.py)."""
    from curate.filters.spacy_words import spacy_sentence_count, spacy_words

    for f in filters:
        if isinstance(f, GopherRepetitionFilter | FineWebQualityFilter):
            f.split = spacy_words
        elif isinstance(f, C4Filter):
            f.count_sentences = spacy_sentence_count


Signals = dict[str, dict[str, float | int | bool]]  # per filter name, that filter's signals


def annotate(filters: list[Filter], doc: Doc) -> Signals:
    """Every filter's signals, in order (all of them, so thresholds can be re-applied later).

    C4 cleans `doc.text` while annotating: the filters after it see the cleaned text.
    """
    return {f.name: f.annotate(doc) for f in filters}


def first_rejection(filters: list[Filter], signals: Signals) -> tuple[str, str] | None:
    """(step, reason) of the first filter, in order, whose decision removes the document; None keeps it."""
    for f in filters:
        if reason := f.decide(signals[f.name]):
            return f.name, reason
    return None


def run_filters(filters: list[Filter], doc: Doc) -> tuple[Signals, str | None, str | None]:
    """Annotate with every filter, then decide in order: (signals, step, reason), step/reason None when kept.

    The per-record chain runs exactly this (`annotate`, then `first_rejection`, with the
    language checks between the two); `doc.text` ends as the C4-cleaned text.
    """
    signals = annotate(filters, doc)
    stop = first_rejection(filters, signals)
    return (signals, *stop) if stop else (signals, None, None)
