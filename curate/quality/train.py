"""`assay quality train`: a fastText quality classifier, DCLM's recipe, with a card that says what it saw.

Positives against negatives, classes balanced by seeded sampling, a document-level held-out split,
one fastText supervised model (`model.bin`) and its `card.json`: every source with its sha256 and
document count, the hyperparameters, the fastText version, held-out precision / recall / ROC-AUC and
a threshold table. fastText trains with one thread and a fixed seed: the same sources, settings and
seed give a byte-identical model.bin (tests/test_quality.py checks it); more threads would make the
order of its lock-free (Hogwild) updates, and so the weights, vary from run to run.
"""

from __future__ import annotations

import math
import os
import re
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from curate.exec.base import Progress
from curate.quality.classifier import normalize, probability
from curate.quality.metrics import heldout_metrics
from curate.quality.sources import Source, read_source
from curate.quality.step import DEFAULT_LABEL
from provenance.errors import InputError
from provenance.outdir import CLASSIFIER_CARD, CLASSIFIER_MODEL, OutDir, atomic_path, file_entry, write_json

NEGATIVE_LABEL = "__label__cc"  # DCLM's negative class: random Common Crawl (RefinedWeb) pages
_PROGRESS = re.compile(rb"Progress:\s*([0-9.]+)%")


class TrainConfig(BaseModel):
    """Hyperparameters: DCLM's classifier script (mlfoundations/dclm, baselines/train_fasttext_classifier.py:
    lr 0.1, dim 100, ws 5, epoch 5, minCount 1) run with `--wordNgrams 2` (unigrams and bigrams), as its
    README trains the OpenHermes-2.5 + ELI5 classifier of DCLM-Baseline (Li et al. 2024, section 4.4)."""

    model_config = ConfigDict(extra="forbid")

    lr: float = Field(0.1, gt=0)
    dim: int = Field(100, ge=1)
    ws: int = Field(5, ge=1)
    epoch: int = Field(5, ge=1)
    min_count: int = Field(1, ge=1)
    word_ngrams: int = Field(2, ge=1)
    # fastText's hash buckets for word n-grams: its default (2M), which DCLM keeps. The model holds
    # bucket x dim float32s (2M x 100 = 800 MB); a small training set does as well with fewer.
    bucket: int = Field(2_000_000, ge=1)
    seed: int = Field(0, ge=0)  # sampling, split, shuffle and fastText's own seed
    heldout: float = Field(0.1, ge=0, lt=1)  # share of each class held out for the card's metrics
    max_per_class: int | None = Field(None, ge=1)
    text_field: str = "text"  # the text column of .parquet / .jsonl sources
    # fastText's tutorial lower-cases its training text; DCLM's enricher feeds text as is. Lower case
    # makes "The" and "the" one feature for a small training set; the card records it so the curate
    # step scores the same way.
    lowercase: bool = True
    label: str = DEFAULT_LABEL

    def fasttext_args(self) -> dict[str, Any]:
        return {"lr": self.lr, "dim": self.dim, "ws": self.ws, "epoch": self.epoch,
                "minCount": self.min_count, "wordNgrams": self.word_ngrams, "bucket": self.bucket,
                "loss": "softmax", "thread": 1, "seed": self.seed}


@dataclass
class ClassDocs:
    """One class: its sources, their distinct normalised documents (first occurrence wins) with the source
    of each, and the documents picked for training and for the held-out set."""

    sources: list[Source]
    lines: list[str]
    origin: list[int]
    train: list[int] = field(default_factory=list)
    heldout: list[int] = field(default_factory=list)

    @classmethod
    def of(cls, sources: list[Source], lowercase: bool) -> ClassDocs:
        seen: dict[str, int] = {}
        for i, src in enumerate(sources):
            for text in src.texts:
                seen.setdefault(normalize(text, lowercase), i)
        seen.pop("", None)
        return cls(sources, list(seen), list(seen.values()))

    def drop(self, lines: set[str]) -> None:
        keep = [i for i, line in enumerate(self.lines) if line not in lines]
        self.lines, self.origin = [self.lines[i] for i in keep], [self.origin[i] for i in keep]

    def pick(self, n: int, heldout: float, rng: np.random.Generator) -> None:
        """A seeded sample of n documents, the first ceil(heldout x n) of it held out."""
        chosen = rng.permutation(len(self.lines))[:n].tolist()
        n_held = math.ceil(heldout * n) if heldout > 0 and n > 1 else 0
        self.heldout, self.train = chosen[:n_held], chosen[n_held:]

    def labelled(self, label: str) -> list[str]:
        return [f"{label} {self.lines[i]}" for i in self.train]

    def facts(self) -> list[dict[str, Any]]:
        """Each source's facts and how many of its documents were trained on or held out."""
        used = np.bincount([self.origin[i] for i in self.train + self.heldout], minlength=len(self.sources))
        return [{**s.facts(), "used": int(c)} for s, c in zip(self.sources, used, strict=True)]


@contextmanager
def fasttext_progress(on_percent: Callable[[float], None]) -> Iterator[None]:
    """fastText's C++ trainer writes "\\rProgress: 42.1% ..." to file descriptor 2; read it through a pipe
    while it trains (the trainer releases the GIL) and report the percentage. Its other output is dropped."""
    sys.stderr.flush()
    saved = os.dup(2)
    read_fd, write_fd = os.pipe()
    os.dup2(write_fd, 2)
    os.close(write_fd)

    def pump() -> None:
        with os.fdopen(read_fd, "rb", buffering=0) as pipe:
            pending = b""
            while chunk := pipe.read(4096):
                *pieces, pending = re.split(rb"[\r\n]", pending + chunk)
                for m in filter(None, map(_PROGRESS.search, pieces)):
                    on_percent(float(m.group(1)))

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    try:
        yield
    finally:
        os.dup2(saved, 2)  # closes the pipe's last write end: the reader sees the end of it
        os.close(saved)
        reader.join()


def _advancer(bar: Progress) -> Callable[[float], None]:
    """Moves the bar to a percentage (it only ever moves forward)."""
    done = [0]

    def advance(percent: float) -> None:
        if int(percent) > done[0]:
            bar.task_done(int(percent) - done[0])
            done[0] = int(percent)

    return advance


def _fit(lines: list[str], cfg: TrainConfig, model_path: Path, progress: bool) -> Any:
    """Train on `lines` ("__label__x text"), save to `model_path` atomically; the model."""
    import fasttext

    with tempfile.TemporaryDirectory(prefix="assay-quality-") as tmp:
        train_file = Path(tmp) / "train.txt"
        train_file.write_text("\n".join(lines) + "\n", encoding="utf-8")
        if not progress:
            model = fasttext.train_supervised(str(train_file), verbose=0, **cfg.fasttext_args())
        else:
            with Progress("train", 100) as bar, fasttext_progress(_advancer(bar)):
                model = fasttext.train_supervised(str(train_file), verbose=2, **cfg.fasttext_args())
    with atomic_path(model_path) as out:
        model.save_model(str(out))
    return model


def _read_sources(positive: Sequence[str], negative: Sequence[str], cfg: TrainConfig,
                  progress: bool) -> tuple[list[Source], list[Source]]:
    if not positive or not negative:
        raise InputError("give at least one --positive and one --negative source")
    sources: list[Source] = []
    with Progress("read", len(positive) + len(negative), progress) as bar:
        for path in [*positive, *negative]:
            sources.append(read_source(path, cfg.text_field))
            bar.task_done()
    return sources[: len(positive)], sources[len(positive):]


def train_classifier(positive: Sequence[str], negative: Sequence[str], out_dir: str | os.PathLike[str],
                     config: TrainConfig | None = None, *, progress: bool = False) -> dict[str, Any]:
    """Train on the positive and negative sources; write OUT/model.bin and OUT/card.json; return the card."""
    cfg = config or TrainConfig()
    pos, neg = (ClassDocs.of(s, cfg.lowercase) for s in _read_sources(positive, negative, cfg, progress))
    both = set(pos.lines) & set(neg.lines)  # the same text on both sides teaches nothing: drop it
    pos.drop(both)
    neg.drop(both)
    n = min(len(pos.lines), len(neg.lines), cfg.max_per_class or len(pos.lines))  # classes balanced
    if n < 2:
        raise InputError(f"too few distinct documents to train on: {len(pos.lines)} positive, "
                         f"{len(neg.lines)} negative")
    rng = np.random.default_rng(cfg.seed)
    pos.pick(n, cfg.heldout, rng)
    neg.pick(n, cfg.heldout, rng)
    lines = pos.labelled(cfg.label) + neg.labelled(NEGATIVE_LABEL)
    lines = [lines[i] for i in rng.permutation(len(lines))]  # SGD sees the classes interleaved
    out = OutDir(out_dir)
    model = _fit(lines, cfg, out.root / CLASSIFIER_MODEL, progress)
    card = _card(cfg, out, pos, neg, len(both), _evaluate(model, cfg.label, pos, neg))
    write_json(out.root / CLASSIFIER_CARD, card)
    return card


def _evaluate(model: Any, label: str, pos: ClassDocs, neg: ClassDocs) -> dict[str, Any] | None:
    """Held-out metrics (None without held-out documents of both classes)."""
    if not pos.heldout or not neg.heldout:
        return None
    lines = [pos.lines[i] for i in pos.heldout] + [neg.lines[i] for i in neg.heldout]
    truth = [True] * len(pos.heldout) + [False] * len(neg.heldout)
    return heldout_metrics([probability(model, line, label) for line in lines], truth)


def fasttext_version() -> str | None:
    """The installed fastText bindings' version (the distribution has several names)."""
    for dist in ("fasttext-numpy2", "fasttext-numpy2-wheel", "fasttext-wheel", "fasttext"):
        try:
            return version(dist)
        except PackageNotFoundError:
            continue
    return None


def _card(cfg: TrainConfig, out: OutDir, pos: ClassDocs, neg: ClassDocs, dropped: int,
          metrics: dict[str, Any] | None) -> dict[str, Any]:
    return {
        "kind": "quality-classifier",
        "model": file_entry(out.root / CLASSIFIER_MODEL, out.root),
        "labels": {"positive": cfg.label, "negative": NEGATIVE_LABEL},
        "recipe": "DCLM fastText quality classifier (mlfoundations/dclm "
                  "baselines/train_fasttext_classifier.py, --wordNgrams 2)",
        "hyperparameters": cfg.fasttext_args(),
        "fasttext_version": fasttext_version(),
        "normalization": {"one_line": True, "lowercase": cfg.lowercase},
        "sources": {"positive": pos.facts(), "negative": neg.facts()},
        "split": {"seed": cfg.seed, "heldout_fraction": cfg.heldout,
                  "per_class": len(pos.train) + len(pos.heldout),
                  "train": {"positive": len(pos.train), "negative": len(neg.train)},
                  "heldout": {"positive": len(pos.heldout), "negative": len(neg.heldout)},
                  "dropped_in_both_classes": dropped},
        "heldout": metrics,
    }
