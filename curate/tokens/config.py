"""The `[tokenize]` section of the curate config, and the argument of `tokenize_corpus`."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field


class TokenizeConfig(BaseModel):
    """A `tokenizer` file is used as given; else a byte-level BPE of `vocab_size` is trained on the kept
    documents; with neither, OUT/tokenizer.json is reused."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    enabled: bool = False
    tokenizer: Path | None = None
    vocab_size: int | None = Field(16_384, ge=257)  # 256 byte symbols + <|endoftext|>
    # ~100 MB of uint16 per shard, nanoGPT/fineweb-edu shard scale
    shard_tokens: int = Field(50_000_000, gt=0)
    shuffle_seed: int | None = None
