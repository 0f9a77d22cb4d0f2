"""Held-out loss of a model on text, in bits per byte: comparable across tokenizers and corpora.

Loss per token depends on the tokenizer (a larger vocabulary makes fewer, harder tokens); dividing the
summed cross-entropy by the text's UTF-8 bytes does not (the Pile's bits per byte, Gao et al. 2020;
DCLM and FineWeb report it for the same reason). An evaluation set is a list of documents, each encoded
as the tokenize stage encodes one and followed by EOS, laid end to end and scored in windows of
`seq_len + 1` tokens that overlap by one, so every token but the first is predicted exactly once (the
EOS predictions included: they carry no bytes, and every model scores the same ones).
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from provenance.errors import InputError
from train.model import Llama


@dataclass(frozen=True)
class EvalSet:
    """Documents to score: their tokens (EOS after each) and their size in UTF-8 bytes."""

    name: str
    tokens: np.ndarray
    n_bytes: int
    n_docs: int

    @property
    def sha256(self) -> str:
        """What the scores depend on besides the model: the tokens and the byte count."""
        h = hashlib.sha256(np.ascontiguousarray(self.tokens, dtype=np.int64).tobytes())
        h.update(str(self.n_bytes).encode())
        return h.hexdigest()

    def describe(self) -> dict[str, int | str]:
        return {"documents": self.n_docs, "bytes": self.n_bytes, "tokens": int(len(self.tokens)),
                "sha256": self.sha256}


def eval_set(name: str, texts: list[str], tokenizer: Path) -> EvalSet:
    """Encode `texts` (empty ones dropped) with the tokenizer the models were trained with."""
    from curate import encode_texts

    texts = [t for t in texts if t.strip()]
    if not texts:
        raise InputError(f"evaluation set {name!r} has no text")
    ids, eos = encode_texts(tokenizer, texts)
    tokens = np.concatenate([np.append(np.asarray(a, dtype=np.int64), eos) for a in ids])
    return EvalSet(name, tokens, sum(len(t.encode("utf-8")) for t in texts), len(texts))


@torch.no_grad()
def score(model: Llama, es: EvalSet, seq_len: int, batch: int = 16,
          device: torch.device | str = "cpu") -> dict[str, float | int]:
    """Summed cross-entropy over every target token of `es`: per token (nats) and per byte (bits)."""
    model.eval()
    n = len(es.tokens)
    starts = list(range(0, n - 1, seq_len))
    total, targets = 0.0, 0
    full = [s for s in starts if s + seq_len + 1 <= n]
    for i in range(0, len(full), batch):
        x = torch.from_numpy(np.stack([es.tokens[s:s + seq_len + 1] for s in full[i:i + batch]])).to(device)
        total, targets = _add(model, x, total, targets)
    for s in starts[len(full):]:  # the last, shorter window
        total, targets = _add(model, torch.from_numpy(es.tokens[s:][None]).to(device), total, targets)
    return {"loss_per_token": total / targets, "bits_per_byte": total / math.log(2) / es.n_bytes,
            "tokens": targets, "bytes": es.n_bytes}


def _add(model: Llama, x: torch.Tensor, total: float, targets: int) -> tuple[float, int]:
    logits, _ = model(x[:, :-1])
    loss = F.cross_entropy(logits.float().reshape(-1, logits.size(-1)), x[:, 1:].reshape(-1), reduction="sum")
    return total + float(loss), targets + x[:, 1:].numel()
