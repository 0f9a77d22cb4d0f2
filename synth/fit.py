"""Requests fitted to a model's context: how many new tokens, how long a prompt (`assay synth generate`)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq


@dataclass(frozen=True)
class Fit:
    """Requests fitted to the model's context (`max_model_len`), recorded in run.json `fit`.

    Generation gets `max_tokens` new tokens, at most half the context (a 128-token model asked for 256
    generates 64), so that a prompt always keeps the other half; a prompt longer than what is left
    (less one token for a BOS the engine may add) keeps its last tokens, as vLLM's
    `truncate_prompt_tokens` does: a continuation then continues the end of its prefix."""

    max_model_len: int
    max_tokens_requested: int
    max_tokens: int
    max_prompt_tokens: int


def fit_to_context(max_tokens: int, max_model_len: int) -> Fit:
    new = min(max_tokens, max(max_model_len // 2, 1))
    return Fit(max_model_len, max_tokens, new, max(max_model_len - new - 1, 1))


def fit_record(fit_file: Path, parts: list[Path]) -> dict[str, Any] | None:
    """run.json `fit`: the run's fitting (`fit_file`, written when the engine was loaded) and how many
    prompts of its part files were cut (`prompt_cut_from` set)."""
    try:
        fit = json.loads(fit_file.read_text())
    except (OSError, ValueError):
        return None
    cut = sum(pq.read_table(f, columns=["prompt_cut_from"]).column("prompt_cut_from").drop_null().length()
              for f in parts)
    return {**fit, "prompts_cut": cut}
