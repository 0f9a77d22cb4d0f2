"""The settings of the dedup steps (exact, URL, near), apart from their implementations: a run's config
(and the record worker that reads it) loads without pyarrow.compute, xxhash, MinHash's tables or the
executor the steps import (0.2 s of a record worker's start).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, model_validator


class ExactDedupConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    enabled: bool = True


class UrlDedupConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    enabled: bool = False  # optional: a crawl of one snapshot rarely repeats a URL


class NearDedupConfig(BaseModel, extra="forbid"):
    """MinHash near-dedup settings (defaults: FineWeb / datatrove MinhashConfig)."""

    enabled: bool = True
    shingle: Literal["word", "char"] = "word"  # FineWeb: word 5-grams
    ngram: int = 5  # datatrove MinhashConfig.n_grams = 5
    num_perm: int = 112  # = bands * rows
    bands: int = 14  # datatrove num_buckets = 14
    rows: int = 8  # datatrove hashes_per_bucket = 8
    seed: int = 1  # datatrove MinhashConfig seed default = 1
    verify: bool = False  # drop candidate edges whose estimated Jaccard < verify_threshold
    verify_threshold: float = 0.8  # FineWeb's target similarity

    @model_validator(mode="after")
    def _check(self) -> NearDedupConfig:
        if self.ngram < 1:
            raise ValueError(f"ngram must be >= 1, got {self.ngram}")
        if self.bands < 1 or self.rows < 1:
            raise ValueError(f"bands and rows must be >= 1, got {self.bands} x {self.rows}")
        if self.bands * self.rows != self.num_perm:
            raise ValueError(f"bands * rows must equal num_perm: "
                             f"{self.bands} * {self.rows} != {self.num_perm}")
        if not 0.0 <= self.verify_threshold <= 1.0:
            raise ValueError(f"verify_threshold must be in [0, 1], got {self.verify_threshold}")
        if not 0 <= self.seed < 2**32:
            raise ValueError(f"seed must be in [0, 2^32), got {self.seed}")
        return self

    def s_curve_threshold(self) -> float:
        """(1/b)^(1/r): the classic S-curve threshold (steepest point; Leskovec et al., MMDS ch. 3.4)."""
        return (1.0 / self.bands) ** (1.0 / self.rows)

    def half_probability_similarity(self) -> float:
        """Jaccard at which a pair becomes a candidate with probability exactly 0.5."""
        return (1.0 - 0.5 ** (1.0 / self.bands)) ** (1.0 / self.rows)

    def candidate_probability(self, similarity: float) -> float:
        """P(a pair of Jaccard `similarity` shares at least one band) = 1 - (1 - s^r)^b."""
        return 1.0 - (1.0 - similarity**self.rows) ** self.bands
