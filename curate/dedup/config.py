"""The settings of the keyed dedup steps (exact, URL), apart from their implementations: a run's config
(and the record worker that reads it) loads without pyarrow.compute, xxhash or the executor the steps
import (0.2 s of a record worker's start). Near dedup's settings stay with MinHash (`minhash.py`),
which the decontamination step loads anyway.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class ExactDedupConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    enabled: bool = True


class UrlDedupConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    enabled: bool = False  # optional: a crawl of one snapshot rarely repeats a URL
