"""Gopher repetition and quality rules (Rae et al. 2021, "Scaling Language Models: Methods,
Analysis & Insights from Training Gopher", section A.1.1 and Table A1).

Thresholds are Table A1's, as datatrove's GopherRepetitionFilter / GopherQualityFilter use them;
definitions follow datatrove 0.10.1 (line / paragraph splits, n-gram character counts, `>` for a
maximum and `<` for a minimum, distinct stop words, "-" counted as a bullet), so a side-by-side
benchmark compares like with like. One deliberate difference: Gopher's "words" exclude
punctuation tokens in every denominator (word count, symbol ratios, alphabetic share), as in the
paper and the nltk-based datatrove FineWeb was built with; datatrove 0.10.1 divides the
alphabetic share and symbol ratios by all spaCy tokens, punctuation included, which rejects
most code-bearing documentation pages as "below alpha threshold" (measured: 119 of 778 Python /
Debian documentation pages we keep). Our words come from `text.words` (a regex), not spaCy.

A threshold of None switches that rule off (as in datatrove).
"""

from __future__ import annotations

from operator import methodcaller

from pydantic import BaseModel, ConfigDict

from curate.filters.text import (
    Doc,
    NGrams,
    count_cjk,
    duplicates,
    is_word_token,
    over,
    paragraphs,
    ratio,
    split_lines,
    tokens,
    under,
)

# ---------------------------------------------------------------- repetition


class GopherRepetitionConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)  # nan would reject every page

    enabled: bool = True
    # Gopher Table A1 (= datatrove GopherRepetitionFilter defaults).
    dup_line_frac: float | None = 0.3
    dup_para_frac: float | None = 0.3
    dup_line_char_frac: float | None = 0.2
    dup_para_char_frac: float | None = 0.2
    top_n_grams: list[tuple[int, float]] = [(2, 0.2), (3, 0.18), (4, 0.16)]
    dup_n_grams: list[tuple[int, float]] = [(5, 0.15), (6, 0.14), (7, 0.13), (8, 0.12), (9, 0.11), (10, 0.10)]


class GopherRepetitionFilter:
    """Removes pages made of repeated lines, paragraphs or n-grams (boilerplate, spam, menus)."""

    name = "gopher_repetition"

    def __init__(self, config: GopherRepetitionConfig | None = None) -> None:
        self.config = config or GopherRepetitionConfig()
        self.split = tokens  # the word splitter (a recipe may swap in datatrove's: filters/spacy_words.py)

    def annotate(self, doc: Doc) -> dict[str, float | int | bool]:
        text = doc.text
        n_chars = len(text)
        paras = paragraphs(text)
        para_dups, para_dup_chars = duplicates(paras)
        lines = split_lines(text)
        line_dups, line_dup_chars = duplicates(lines)
        signals: dict[str, float | int | bool] = {
            "n_chars": n_chars,
            "dup_para_frac": ratio(para_dups, len(paras)),
            "dup_para_char_frac": ratio(para_dup_chars, n_chars),
            "dup_line_frac": ratio(line_dups, len(lines)),
            "dup_line_char_frac": ratio(line_dup_chars, n_chars),
        }
        grams = NGrams(self.split(text))
        for n, _ in self.config.top_n_grams:
            signals[f"top_{n}_gram_char_frac"] = ratio(grams.top_chars(n), n_chars)
        repeats = True
        for n, _ in sorted(self.config.dup_n_grams):
            # No repeated n-gram means no repeated longer one either: skip the work.
            chars = grams.dup_chars(n) if repeats else 0
            repeats = chars > 0
            signals[f"dup_{n}_gram_char_frac"] = ratio(chars, n_chars)
        return signals

    def decide(self, signals: dict) -> str | None:
        c = self.config
        if reason := under("n_chars", signals, 1):  # an empty page (datatrove: "empty")
            return reason
        # datatrove's order: paragraphs, lines, top n-grams, duplicate n-grams.
        checks = [
            ("dup_para_frac", c.dup_para_frac),
            ("dup_para_char_frac", c.dup_para_char_frac),
            ("dup_line_frac", c.dup_line_frac),
            ("dup_line_char_frac", c.dup_line_char_frac),
            *((f"top_{n}_gram_char_frac", t) for n, t in c.top_n_grams),
            *((f"dup_{n}_gram_char_frac", t) for n, t in c.dup_n_grams),
        ]
        for name, limit in checks:
            if reason := over(name, signals, limit):
                return reason
        return None


# ---------------------------------------------------------------- quality

# Gopher A.1.1: "does not contain at least two of the following English words".
STOP_WORDS = ("the", "be", "to", "of", "and", "that", "have", "with")
ELLIPSES = ("...", "…")
BULLETS = ("•", "-")
# Per line, without a Python frame per line (map over C methods: 2x faster than a generator).
_starts_bullet = methodcaller("startswith", BULLETS)
_ends_ellipsis = methodcaller("endswith", ELLIPSES)


class GopherQualityConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)  # nan would reject every page

    enabled: bool = True
    # Gopher A.1.1 (= datatrove GopherQualityFilter defaults).
    min_doc_words: int | None = 50
    max_doc_words: int | None = 100_000
    min_avg_word_length: float | None = 3
    max_avg_word_length: float | None = 10
    max_symbol_word_ratio: float | None = 0.1  # for "#" and for "..."/"…", each
    max_bullet_lines_ratio: float | None = 0.9  # lines starting with "•" (datatrove adds "-")
    max_ellipsis_lines_ratio: float | None = 0.3
    min_alpha_words_ratio: float | None = 0.8  # datatrove: max_non_alpha_words_ratio (misnamed)
    min_stop_words: int | None = 2
    stop_words: list[str] = list(STOP_WORDS)
    # Ours: the stop words are English, so the rule applies only to pages lid.176 calls
    # English (or could not label); other languages skip it.
    stop_word_languages: list[str] = ["en"]
    # Ours: a page whose tokens are mostly single CJK characters skips the word-length rule
    # (one character a "word" is short by construction; see text.py).
    cjk_skip_word_length_frac: float = 0.5


class GopherQualityFilter:
    """Removes pages that are too short or long, not prose (symbols, bullets, no stop words)."""

    name = "gopher_quality"

    def __init__(self, config: GopherQualityConfig | None = None) -> None:
        self.config = config or GopherQualityConfig()
        # Only a word token can count (a configured "..." or "," is never one).
        self._stop_words = frozenset(filter(is_word_token, self.config.stop_words))

    def annotate(self, doc: Doc) -> dict[str, float | int | bool]:
        text = doc.text
        page = tokens(text)
        # words only: punctuation tokens are not Gopher "words"
        n_words, word_chars, no_letter = page.word_stats()
        lines = text.splitlines()
        signals: dict[str, float | int | bool] = {
            "word_count": n_words,
            "mean_word_length": ratio(word_chars, n_words),
            "cjk_token_frac": ratio(count_cjk(text), n_words),
            "hash_word_ratio": ratio(text.count("#"), n_words),  # Gopher: symbol-to-word ratio
            "ellipsis_word_ratio": ratio(text.count("...") + text.count("…"), n_words),
            "bullet_line_frac": ratio(sum(map(_starts_bullet, map(str.lstrip, lines))), len(lines)),
            "ellipsis_line_frac": ratio(sum(map(_ends_ellipsis, map(str.rstrip, lines))), len(lines)),
            "alpha_word_frac": ratio(n_words - no_letter, n_words),
        }
        if doc.lang is None or doc.lang in self.config.stop_word_languages:
            # distinct stop words, as datatrove
            signals["stop_word_count"] = sum(map(page.__contains__, self._stop_words))
        return signals

    def decide(self, signals: dict) -> str | None:
        c = self.config
        checks = [
            under("word_count", signals, c.min_doc_words),
            over("word_count", signals, c.max_doc_words),
        ]
        if signals.get("cjk_token_frac", 0.0) < c.cjk_skip_word_length_frac:
            checks += [
                under("mean_word_length", signals, c.min_avg_word_length),
                over("mean_word_length", signals, c.max_avg_word_length),
            ]
        checks += [
            over("hash_word_ratio", signals, c.max_symbol_word_ratio),
            over("ellipsis_word_ratio", signals, c.max_symbol_word_ratio),
            over("bullet_line_frac", signals, c.max_bullet_lines_ratio),
            over("ellipsis_line_frac", signals, c.max_ellipsis_lines_ratio),
            under("alpha_word_frac", signals, c.min_alpha_words_ratio),
            under("stop_word_count", signals, c.min_stop_words),
        ]
        return next((r for r in checks if r), None)
