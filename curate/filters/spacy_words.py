"""datatrove's word and sentence splitting, for recipes that reproduce datatrove's decisions (`fineweb`).

datatrove 0.10.1 splits words with spaCy's rule-based tokenizer (`spacy.blank(lang)` plus the
`sentencizer` pipe; utils/word_tokenizers.py SpaCyTokenizer), strips every token and drops the empty
ones (whitespace tokens), so punctuation marks are "words" too. Its filters call it with English for
every page, whatever the page's language. Its Gopher quality rule then counts words differently from
assay's (filters/gopher.py): the word count and the mean word length use the tokens with a character
outside datatrove's punctuation set, while the `#` / ellipsis ratios, the alphabetic share and the stop
words use all tokens. `DatatroveGopherQuality` computes those signals under the same names, so the
decisions (`GopherQualityFilter.decide`) are shared.

`filters.words = "spacy"` switches the splitting of every filter to this module (build_filters).
"""

from __future__ import annotations

from functools import lru_cache

from curate.filters.gopher import ELLIPSES, GopherQualityFilter
from curate.filters.text import TERMINAL_PUNCTUATION, Doc, ratio

# datatrove utils/text.py PUNCTUATION + TERMINAL_PUNCTUATION: ASCII and CJK punctuation, control
# characters, and the Sentence_Terminal set. Listed, not derived: it is datatrove's own set.
_PUNCTUATION = ("!/—”:％１〈&(、━\\【#%「」，】；+^]~“《„';’{|∶´[=-`*．（–？！：$～«〉,><》)?）。…@_.\"}►»"
                + "".join(chr(x) for a, b in ((0, 9), (11, 13), (13, 32), (127, 160)) for x in range(a, b)))
PUNCTUATION_SET = frozenset(_PUNCTUATION).union(TERMINAL_PUNCTUATION)


# spaCy languages whose blank tokenizer needs a setting: Chinese segments with jieba (as datatrove;
# Japanese needs none: SudachiPy with sudachidict_core, split mode A, is spaCy's default);
# Vietnamese without pyvi (syllables; datatrove joins them into words with pyvi, not installed here).
_SPACY_CONFIG = {"zh": {"nlp": {"tokenizer": {"segmenter": "jieba"}}},
                 "vi": {"nlp": {"tokenizer": {"use_pyvi": False}}}}


@lru_cache(maxsize=64)
def _nlp(lang: str):  # noqa: ANN202 (spaCy's Language)
    import spacy

    try:
        nlp = spacy.blank(lang, config=_SPACY_CONFIG.get(lang, {}))
    except ImportError:  # a language whose spaCy tokenizer needs a package not installed (ja, ko, th)
        nlp = spacy.blank("xx")  # spaCy's multi-language rules: whitespace and punctuation
    nlp.add_pipe("sentencizer")  # as datatrove: sentence spans for C4's sentence count
    return nlp


def _doc(text: str, lang: str):  # noqa: ANN202
    nlp = _nlp(lang)
    nlp.max_length = len(text) + 10
    return nlp(text)


# SudachiPy refuses inputs over 49,149 UTF-8 bytes; datatrove feeds spaCy's Japanese 40,000-byte chunks.
JA_CHUNK_BYTES = 40_000


def byte_chunks(text: str, limit: int) -> list[str]:
    """`text` cut into consecutive pieces of at most `limit` UTF-8 bytes (at character boundaries)."""
    data = text.encode("utf-8")
    if len(data) <= limit:
        return [text]
    chunks, start = [], 0
    while start < len(data):
        end = min(start + limit, len(data))
        while end < len(data) and (data[end] & 0xC0) == 0x80:  # not inside a character
            end -= 1
        chunks.append(data[start:end].decode("utf-8"))
        start = end
    return chunks


@lru_cache(maxsize=8)
def spacy_words(text: str, lang: str = "en") -> tuple[str, ...]:
    """spaCy's tokens of `text`, stripped, empty ones dropped (datatrove's `split_into_words`).

    Cached: Gopher repetition, Gopher quality and FineWeb quality split the same text back to back."""
    pieces = byte_chunks(text, JA_CHUNK_BYTES) if lang == "ja" else [text]
    with _nlp(lang).memory_zone():
        return tuple(t for piece in pieces for tok in _doc(piece, lang) if (t := tok.text.strip()))


def spacy_sentence_count(line: str, lang: str = "en") -> int:
    """Sentences spaCy's sentencizer finds in a line (datatrove's C4 sentence count)."""
    with _nlp(lang).memory_zone():
        return max(1, sum(1 for _ in _doc(line, lang).sents))


def _has_alpha(token: str) -> bool:
    return any(c.isalpha() for c in token)


class DatatroveGopherQuality(GopherQualityFilter):
    """Gopher quality with datatrove 0.10.1's word semantics (see the module docstring)."""

    split = staticmethod(spacy_words)  # FineWeb-2 gives each language its own splitter

    def annotate(self, doc: Doc) -> dict[str, float | int | bool]:
        text = doc.text
        tokens = self.split(text)
        n_tokens = len(tokens)
        words = [w for w in tokens if any(ch not in PUNCTUATION_SET for ch in w)]
        lines = text.splitlines()
        signals: dict[str, float | int | bool] = {
            "word_count": len(words),
            "mean_word_length": ratio(sum(map(len, words)), len(words)),
            "hash_word_ratio": ratio(text.count("#"), n_tokens),
            "ellipsis_word_ratio": ratio(text.count("...") + text.count("…"), n_tokens),
            "bullet_line_frac": ratio(sum(1 for s in lines if s.lstrip().startswith(("•", "-"))), len(lines)),
            "ellipsis_line_frac": ratio(sum(1 for s in lines if s.rstrip().endswith(ELLIPSES)), len(lines)),
            "alpha_word_frac": ratio(sum(map(_has_alpha, tokens)), n_tokens),
        }
        if doc.lang is None or doc.lang in self.config.stop_word_languages:
            signals["stop_word_count"] = len(self._stop_words.intersection(tokens))
        return signals


