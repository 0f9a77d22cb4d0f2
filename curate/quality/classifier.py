"""A fastText supervised classifier as a quality scorer: check a model file, load it, score texts.

Any fastText supervised model works (`assay quality train`'s, DCLM's `dclm-baseline-1.0-fasttext`,
FineWeb-Edu-style ones): the score of a text is the probability the model gives the configured
label. fastText `.bin` / `.ftz` files are a plain binary format read by fastText's C++ loader (no
pickle). That loader trusts the file: on a truncated one it reads past the end without noticing
(measured: on a 5 kB prefix of lid.176.ftz it grew one string to 10 GB before we stopped it; a
300 kB prefix of a 40 MB model loads "fine" and scores garbage). So `check_model` first walks the
file's layout (`curate.fasttext_file.walk`: header, dictionary, matrices, as fastText's
`FastText::loadModel` reads them) and accepts it only when the layout ends exactly at the end of the
file; the labels come from that walk, so checking a model does not load it.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Any

from curate.fasttext_file import walk
from provenance.errors import ConfigError

SCORE_DIGITS = 6  # DCLM's published threshold is 0.018112: six decimals keep it exact in signals


def one_line(text: str) -> str:
    """fastText predicts one line: newlines (and all runs of whitespace) become one space."""
    return " ".join(text.split())


def normalize(text: str, lowercase: bool) -> str:
    """The text a classifier sees: one line (DCLM's `" ".join(content.strip().splitlines())`, every
    whitespace run folded), lower-cased when the model was trained on lower-cased text."""
    line = one_line(text)
    return line.lower() if lowercase else line


def check_model(path: Path | None, label: str, key: str = "filters.quality.model") -> list[str]:
    """Check that `path` is a whole fastText supervised model with `label`; its labels, else a ConfigError
    (one line naming the file and the problem). Reads the file; does not load it."""
    if path is None:
        raise ConfigError(f"{key}: required when the quality step is enabled")
    if not path.is_file():
        raise ConfigError(f"{key}: {path}: no such file")
    try:
        layout = walk(path)
    except ValueError as exc:
        raise ConfigError(f"{key}: {path}: {exc}") from None
    kind, labels = layout.kind, layout.labels
    if kind != "supervised":
        raise ConfigError(f"{key}: {path}: a fastText {kind} model, not a supervised classifier")
    if label not in labels:
        shown = ", ".join(labels[:10]) + (" ..." if len(labels) > 10 else "")
        raise ConfigError(f"{key.rsplit('.', 1)[0]}.label: {path} has no label {label!r} (labels: {shown})")
    return labels


@lru_cache(maxsize=2)
def _load(path: str):  # noqa: ANN202 (fasttext has no types)
    import fasttext

    fasttext.FastText.eprint = lambda *args, **kwargs: None  # its load-time warning
    return fasttext.load_model(path)


class Classifier:
    """`score(text) -> P(label | text)` from a fastText supervised model (loaded once per process)."""

    def __init__(self, path: str | os.PathLike[str], label: str, lowercase: bool = False) -> None:
        self.model = _load(str(path))
        self.label = label
        self.lowercase = lowercase

    def score(self, text: str) -> float:
        return probability(self.model, normalize(text, self.lowercase), self.label)


def probability(model: Any, line: str, label: str) -> float:
    """P(label | line) from a loaded fastText model, rounded (stable JSON across runs)."""
    labels, probs = model.predict(line, k=-1)  # every label: the configured one need not be the top one
    p = next((float(pr) for lab, pr in zip(labels, probs, strict=True) if lab == label), 0.0)
    return round(min(max(p, 0.0), 1.0), SCORE_DIGITS)  # softmax output can pass 1 by a rounding step
