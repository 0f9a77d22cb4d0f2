"""Word segmenters for scripts written without spaces, as datatrove assigns them (the `fineweb-2` recipe).

datatrove (utils/word_tokenizers.py, with assets/tokenizer_assignment.csv) gives FineWeb-2's languages
a tokenizer each; for the unspaced scripts lid.176 can emit it uses:

* Thai: pythainlp's `word_tokenize(engine="newmm-safe", keep_whitespace=False)` (dictionary maximal
  matching, with a time-safe fallback on long ambiguous runs);
* Korean: Kiwi (kiwipiepy, `model_type="sbg"`; datatrove pins kiwipiepy < 0.22), morphemes taken as
  the spans of the text they cover, after dropping runs of 20+ digits and commas (Kiwi stalls on them);
* Khmer: khmer-nltk's CRF `word_tokenize`; Lao: laonlp's dictionary `word_tokenize`;
* Japanese: spaCy's `ja` (SudachiPy, sudachidict_core), in filters/spacy_words.py.

Not installable here, and why (docs/recipes.md): Burmese's pyidaungsu pulls a second `fasttext`
distribution that would overwrite the one lid.176 runs on, and Tibetan's botok downloads its dictionary
at first use. Both get syllables instead, which their stop words are made of: Burmese by the sylbreak
rule (Ye Kyaw Thu, github.com/ye-kyaw-thu/sylbreak; pyidaungsu's own syllable form), Tibetan by the
tsheg that ends each syllable (botok's tokens keep it: "དང་"). Every package is imported on first use
only: the other recipes never load them. Tokens are stripped and empty ones dropped, as datatrove does.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from functools import cache, lru_cache

import regex

# Kiwi's input clean-up in datatrove's KiwiTokenizer: long digit/comma runs break its analysis.
_KIWI_DROP = re.compile("[0-9,]{20,}")


def _stripped(tokens: list[str]) -> tuple[str, ...]:
    return tuple(s for t in tokens if (s := t.strip()))


@lru_cache(maxsize=8)
def thai_words(text: str) -> tuple[str, ...]:
    from pythainlp.tokenize import word_tokenize

    return _stripped(word_tokenize(text, engine="newmm-safe", keep_whitespace=False))


@cache
def _kiwi():  # noqa: ANN202 (kiwipiepy.Kiwi)
    from kiwipiepy import Kiwi

    # one thread: the curate workers are the parallelism (the tokens do not depend on it)
    return Kiwi(num_workers=1, model_type="sbg")


@lru_cache(maxsize=8)
def korean_words(text: str) -> tuple[str, ...]:
    """Kiwi's morphemes as spans of the cleaned text (datatrove slices the uncleaned text with the
    cleaned text's offsets, which shifts every token after a dropped run: a bug not reproduced)."""
    clean = _KIWI_DROP.sub("", text)
    return _stripped([clean[t.start:t.end] for t in _kiwi().tokenize(clean)])


@cache
def _khmer() -> Callable[..., list[str]]:
    from khmernltk import word_tokenize
    from khmernltk.utils.log_utils import logger

    logger.setLevel(logging.WARNING)  # it logs "Loaded model" at INFO on stderr in every worker
    return word_tokenize


@lru_cache(maxsize=8)
def khmer_words(text: str) -> tuple[str, ...]:
    return _stripped(_khmer()(text, return_tokens=True))


@lru_cache(maxsize=8)
def lao_words(text: str) -> tuple[str, ...]:
    from laonlp.tokenize import word_tokenize

    return _stripped(word_tokenize(text))


# sylbreak: a syllable starts at a consonant that no virama (U+1039) stacks under a previous one and
# no asat (U+103A) or virama follows, or at an independent vowel, digit, Myanmar or ASCII punctuation.
_MY_SYLLABLE_START = regex.compile(
    "(?<!\u1039)[\u1000-\u1021](?![\u103a\u1039])"
    "|[a-zA-Z0-9\u1023-\u1027\u1029\u102a\u103f\u104c-\u104f\u1040-\u104b!-/:-@\\[-`{-~]")


@lru_cache(maxsize=8)
def burmese_syllables(text: str) -> tuple[str, ...]:
    return tuple(_MY_SYLLABLE_START.sub(lambda m: " " + m[0], text).split())


# A Tibetan syllable and the tsheg (U+0F0B) that closes it; shad and other marks on their own.
_BO_SYLLABLE = regex.compile(r"[^\s\u0f0b-\u0f14]+\u0f0b?|\S")


@lru_cache(maxsize=8)
def tibetan_syllables(text: str) -> tuple[str, ...]:
    return tuple(_BO_SYLLABLE.findall(text))


# datatrove tokenizer class -> the segmenter here (Japanese goes through spaCy: spacy_words).
SEGMENTERS: dict[str, Callable[[str], tuple[str, ...]]] = {
    "ThaiTokenizer": thai_words, "KiwiTokenizer": korean_words,
    "KhmerTokenizer": khmer_words, "LaoTokenizer": lao_words,
    "BurmeseTokenizer": burmese_syllables, "TibetanTokenizer": tibetan_syllables,
}
