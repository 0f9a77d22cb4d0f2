"""FineWeb-2's per-language filters (Penedo et al. 2025, "FineWeb2: One Pipeline to Scale Them All").

FineWeb-2 tunes each filter per language: thresholds and stop words from its published
configurations (github.com/huggingface/fineweb-2, configs/{iso639_3}_{script}.yml), shipped here as
curate/recipes/data/fineweb2_languages.json for the languages lid.176 can emit (built by
benchmarks/build_fineweb2_table.py). Its fineweb-2-pipeline.py runs, per language:

* GopherRepetitionFilter with dup_line_frac, top_n_grams and dup_n_grams from the table, and the
  paragraph rules and dup_line_char_frac off ("trafilatura pretty much removes paragraphs");
* FineWebQualityFilter with line_punct_thr and new_line_ratio from the table, short_line_thr off and
  char_duplicates_ratio 0.1 ("changed from 0.01 in fineweb english");
* GopherQualityFilter with min/max_avg_word_length, max_non_alpha_words_ratio and the stop words
  from the table, min_stop_words 2; no C4 filter.

Words are split per language, as datatrove's tokenizer assignment says: spaCy's rules for the
language (spacy_words.py: Chinese with jieba, Japanese with SudachiPy), the real segmenters for Thai,
Korean, Khmer and Lao, syllables for Burmese and Tibetan, whose segmenters cannot be installed
(segmenters.py), and spaCy's multi-language rules for the Indic and Stanza languages (their packages
are not installed here). docs/recipes.md measures the
kept rate per language. English (FineWeb's own language, no FineWeb-2 config) and labels without a
configuration get FineWeb's English settings.

Each per-language filter is a `PerLanguage` wrapper: the same step name, the language's filter chosen
from the page's lid.176 label (recorded in the signals as `fw2_lang`).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import cache, partial
from importlib import resources
from typing import Any

from curate.filters.fineweb import FineWebQualityConfig, FineWebQualityFilter
from curate.filters.gopher import GopherQualityConfig, GopherRepetitionConfig, GopherRepetitionFilter
from curate.filters.segmenters import SEGMENTERS
from curate.filters.spacy_words import DatatroveGopherQuality, spacy_words
from curate.filters.text import Doc

TABLE_FILE = "fineweb2_languages.json"


@cache
def language_table() -> dict[str, dict[str, Any]]:
    """lid.176 label -> FineWeb-2's settings for that language (package data)."""
    text = (resources.files("curate.recipes") / "data" / TABLE_FILE).read_text(encoding="utf-8")
    return json.loads(text)


def splitter(lang: str | None) -> Callable[[str], tuple[str, ...]]:
    """The word splitter FineWeb-2 used for `lang`, or the closest one installed (module docstring)."""
    entry = language_table().get(lang or "")
    if entry is None:
        return spacy_words  # English (FineWeb) and unconfigured labels
    kind, code = entry["tokenizer"], entry["tokenizer_language"]
    if kind in SEGMENTERS:
        return SEGMENTERS[kind]
    # datatrove's WhitespaceTokenizer splits words with spaCy's "xx" rules too (not str.split)
    return partial(spacy_words, lang=code if kind == "SpaCyTokenizer" and code else "xx")


def _repetition(entry: dict[str, Any] | None) -> GopherRepetitionConfig:
    if entry is None:
        return GopherRepetitionConfig()
    return GopherRepetitionConfig(
        dup_para_frac=None, dup_para_char_frac=None, dup_line_char_frac=None,
        dup_line_frac=entry["dup_line_frac"], top_n_grams=[tuple(x) for x in entry["top_n_grams"]],
        dup_n_grams=[tuple(x) for x in entry["dup_n_grams"]])


def _fineweb(entry: dict[str, Any] | None) -> FineWebQualityConfig:
    if entry is None:
        return FineWebQualityConfig()
    return FineWebQualityConfig(short_line_thr=None, char_duplicates_ratio=0.1,
                                line_punct_thr=entry["line_punct_thr"],
                                new_line_ratio=entry["new_line_ratio"])


def _quality(entry: dict[str, Any] | None, lang: str | None) -> GopherQualityConfig:
    if entry is None:
        return GopherQualityConfig(stop_word_languages=[lang or "en"])
    return GopherQualityConfig(
        min_avg_word_length=entry["min_avg_word_length"], max_avg_word_length=entry["max_avg_word_length"],
        min_alpha_words_ratio=entry["max_non_alpha_words_ratio"], stop_words=entry["stopwords"],
        min_stop_words=2, stop_word_languages=[lang or ""])


def make_filter(name: str, lang: str | None) -> Any:
    """FineWeb-2's filter `name` for one language, with that language's splitter."""
    entry = language_table().get(lang or "")
    split = splitter(lang)
    if name == GopherRepetitionFilter.name:
        f: Any = GopherRepetitionFilter(_repetition(entry))
    elif name == FineWebQualityFilter.name:
        f = FineWebQualityFilter(_fineweb(entry))
    else:
        f = DatatroveGopherQuality(_quality(entry, lang))
    f.split = split
    return f


class PerLanguage:
    """One step whose thresholds, stop words and word splitter depend on the page's language."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._filters: dict[str | None, Any] = {}

    def _for(self, lang: str | None) -> Any:
        if lang not in self._filters:
            self._filters[lang] = make_filter(self.name, lang)
        return self._filters[lang]

    def annotate(self, doc: Doc) -> dict[str, Any]:
        return {**self._for(doc.lang).annotate(doc), "fw2_lang": doc.lang or ""}

    def decide(self, signals: dict) -> str | None:
        return self._for(signals.get("fw2_lang") or None).decide(signals)


def fineweb2_filters() -> list[PerLanguage]:
    """FineWeb-2's filters in its order: Gopher repetition, FineWeb quality, Gopher quality."""
    return [PerLanguage(GopherRepetitionFilter.name), PerLanguage(FineWebQualityFilter.name),
            PerLanguage(DatatroveGopherQuality.name)]


def language_score_threshold(lang: str | None, default: float) -> float:
    """FineWeb-2's minimum language score for `lang` (its GlotLID scores, applied to lid.176's)."""
    entry = language_table().get(lang or "")
    return float(entry["language_score"]) if entry else default
