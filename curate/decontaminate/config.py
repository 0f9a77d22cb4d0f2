"""`[decontaminate]`: which evaluation sets to look for in the crawl, and how much overlap counts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator


class EvalSetConfig(BaseModel):
    """One evaluation set: a `.jsonl` / `.parquet` file whose `fields` are joined (newline) into an
    item's text, or a `.txt` file of one item a line. A bare path string is accepted for this."""

    model_config = ConfigDict(extra="forbid")

    path: Path
    fields: list[str] = Field(default_factory=lambda: ["text"], min_length=1)
    id_field: str | None = None  # the item id in reasons and reports; default: its line / row number
    name: str | None = None  # how reasons and reports name the set; default: the file name

    @model_validator(mode="before")
    @classmethod
    def _bare_path(cls, data: Any) -> Any:
        return {"path": data} if isinstance(data, str) else data

    @field_validator("path")
    @classmethod
    def _absolute(cls, v: Path) -> Path:
        return v.expanduser().resolve()  # workers may run elsewhere (Ray)

    @property
    def label(self) -> str:
        return self.name or self.path.name


class DecontaminateConfig(BaseModel):
    """Off by default. A document that shares `min_overlap` word n-grams with one evaluation item is
    `rejected`, step `decontaminate`."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    enabled: bool = False
    files: list[EvalSetConfig] = Field(default_factory=list)
    # GPT-3 (Brown et al. 2020, appendix C) flags a benchmark item when a training document shares
    # one 13-gram with it.
    ngram: int = Field(13, ge=1)
    min_overlap: int = Field(1, ge=1)

    @model_validator(mode="after")
    def _has_files(self) -> DecontaminateConfig:
        if self.enabled and not self.files:
            raise ValueError("files: at least one evaluation set is required when enabled")
        return self
