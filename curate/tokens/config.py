"""The `[tokenize]` section of the curate config, and the argument of `tokenize_corpus`."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, FilePath


class TokenizeConfig(BaseModel):
    """A `tokenizer` file is used as given; else a byte-level BPE of `vocab_size` is trained on the kept
    documents; with neither, OUT/tokenizer.json is reused."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    enabled: bool = False
    tokenizer: FilePath | None = None  # must exist: checked before the crawl is processed, not after
    # 256 byte symbols + <|endoftext|> at least; at most 2^20: the largest vocabularies in use are about
    # 256k (Gemma: 256,000), and tokenizers' BPE trainer aborts the process (a Rust panic) far above.
    vocab_size: int | None = Field(16_384, ge=257, le=1 << 20)
    # ~100 MB of uint16 per shard, nanoGPT/fineweb-edu shard scale
    shard_tokens: int = Field(50_000_000, gt=0)
    shuffle_seed: int | None = None
