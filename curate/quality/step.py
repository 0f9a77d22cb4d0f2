"""The `quality` curate step: a learned classifier's score, annotated first, decided second.

`[filters.quality]` in the curate config. The step sits after the heuristic filters (FineWeb order)
and before dedup, as DCLM-Baseline's fastText filter follows its heuristics (Li et al. 2024, "DataComp-LM",
section 4.4). Every document the chain extracts gets `signals["quality"]["score"]` (so another
threshold can be applied later without re-scoring); then either

- `threshold`: a document whose score is below it is `rejected`, step `quality`, reason
  `quality_score=0.031<0.2`, decided per record; or
- `keep_top_fraction`: the run keeps exactly that share of the documents that reach the step, the
  highest scores (`curate.quality.top_fraction`, a global stage like dedup: not per file).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from curate.quality.classifier import Classifier, check_model
from provenance.outdir import CLASSIFIER_CARD, sha256_file

STEP = "quality"
DEFAULT_LABEL = "__label__hq"  # DCLM's positive label (fasttext_oh_eli5: __label__hq vs __label__cc)


class QualityConfig(BaseModel):
    """`[filters.quality]`: off by default; `model` is a fastText supervised model file."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    enabled: bool = False
    model: Path | None = None
    label: str = DEFAULT_LABEL
    threshold: float | None = Field(None, ge=0, le=1)
    keep_top_fraction: float | None = Field(None, gt=0, le=1)
    # None: as the model's card.json says (`assay quality train` lower-cases); a model without a
    # card is scored on its text as is, as DCLM's enricher does (one line, case kept).
    lowercase: bool | None = None

    @field_validator("model")
    @classmethod
    def _absolute(cls, v: Path | None) -> Path | None:
        return v.expanduser().resolve() if v is not None else None  # workers may run elsewhere (Ray)

    @model_validator(mode="after")
    def _one_rule(self) -> QualityConfig:
        if not self.enabled:
            return self
        if self.model is None:
            raise ValueError("model: a fastText model file is required when enabled")
        if (self.threshold is None) == (self.keep_top_fraction is None):
            raise ValueError("give exactly one of threshold or keep_top_fraction")
        return self


class HasText(Protocol):
    text: str


def read_card(model: Path) -> dict[str, Any] | None:
    """The card.json `assay quality train` writes beside its model.bin, if there is one."""
    path = model.with_name(CLASSIFIER_CARD)
    try:
        card = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return card if isinstance(card, dict) else None


def lowercase_of(cfg: QualityConfig, card: dict[str, Any] | None) -> bool:
    if cfg.lowercase is not None:
        return cfg.lowercase
    return bool(((card or {}).get("normalization") or {}).get("lowercase", False))


def check_quality(cfg: QualityConfig) -> dict[str, Any]:
    """Check the model before anything is written; what run.json records about the step."""
    labels = check_model(cfg.model, cfg.label)
    assert cfg.model is not None  # check_model refused a missing one
    card = read_card(cfg.model)
    rule = ({"threshold": cfg.threshold} if cfg.threshold is not None
            else {"keep_top_fraction": cfg.keep_top_fraction})
    return {"model": str(cfg.model), "sha256": sha256_file(cfg.model), "label": cfg.label, "labels": labels,
            "lowercase": lowercase_of(cfg, card), **rule, "card": card}


class QualityFilter:
    """The step as a filter of the per-record chain: `annotate` scores, `decide` applies a threshold."""

    name = STEP

    def __init__(self, config: QualityConfig) -> None:
        assert config.model is not None
        self.config = config
        lowercase = lowercase_of(config, read_card(config.model))
        self.classifier = Classifier(config.model, config.label, lowercase)

    def annotate(self, doc: HasText) -> dict[str, float | int | bool]:
        return {"score": self.classifier.score(doc.text)}

    def decide(self, signals: dict) -> str | None:
        t = self.config.threshold
        if t is None or signals["score"] >= t:  # keep_top_fraction: decided over the whole run
            return None
        return f"quality_score={signals['score']}<{t}"
