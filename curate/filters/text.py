"""What every filter sees: the `Doc`, and one shared way to split text into words, lines, n-grams.

Word splitting. datatrove (FineWeb / FineWeb-2) runs a language-specific tokenizer (spaCy,
jieba, ...) per language. We are lighter and language-agnostic: one Unicode-aware regex,

* a run of word characters (letters, digits, `_`; joined by `'`, `’` or `.` so that
  "don't", "3.14" and "docs.python.org" stay one token, as spaCy keeps them),
* each CJK ideograph, kana or hangul syllable as its own token: zh/ja text has no spaces, so
  without this a whole paragraph would be one "word" and every zh/ja page would fail the
  Gopher word-count and word-length rules only for its script (FineWeb-2 instead segments
  words with jieba / sudachi; one token per character is the simple, deterministic stand-in),
* "..." or any other single punctuation/symbol character as its own token (spaCy also emits
  punctuation tokens; Gopher's ratios count them in their denominators, as datatrove does).

Whitespace is never a token (datatrove strips whitespace tokens too).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import regex


@dataclass
class Doc:
    """One document on its way through the filters; `lang` is lid.176's label (may be None)."""

    text: str
    url: str | None = None
    domain: str | None = None
    lang: str | None = None


# Hiragana, katakana (+ phonetic ext., half-width), CJK unified ideographs (+ ext. A, compat,
# ext. B..H in planes 2-3), iteration marks 々〆〇, hangul jamo, compat jamo and syllables.
CJK_RANGES = (
    "\u3005-\u3007\u3040-\u30ff\u31f0-\u31ff\uff66-\uff9f"
    "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f"
    "\u1100-\u11ff\u3130-\u318f\uac00-\ud7af"
)
_CJK_CHAR = re.compile(f"[{CJK_RANGES}]")
# `regex`, not `re`: its \w includes combining marks (Unicode TR18), so Devanagari, Thai or
# Arabic words with vowel signs stay whole; `re`'s \w would cut them at every mark.
_WORD = f"[^\\W{CJK_RANGES}]+"
_WORDS = f"[{CJK_RANGES}]|{_WORD}(?:['’.]{_WORD})*"
TOKEN_RE = regex.compile(f"{_WORDS}|\\.\\.\\.|[^\\w\\s]")
WORD_RE = regex.compile(_WORDS)  # the same word spans, without the punctuation tokens
_NO_LETTER_TOKEN = regex.compile(r"(?<!\S)[^\p{L}\s]+(?!\S)")

# Sentence-final punctuation of every script: the Unicode Sentence_Terminal property
# (datatrove's TERMINAL_PUNCTUATION is this same set, listed by hand).
TERMINAL_PUNCTUATION: tuple[str, ...] = tuple(
    sorted(regex.findall(r"\p{Sentence_Terminal}", "".join(map(chr, range(0x1E000)))))
)

_PARAGRAPH_BREAK = re.compile(r"\n{2,}")


# TOKEN_RE restricted to ASCII text, for `re`, which is 3x faster there than `regex`: the same
# classes (`regex`'s \w and \s on ASCII are [A-Za-z0-9_] and [\t\n\v\f\r ]; \x1c-\x1f are symbols).
_ASCII_SPACES = "\t\n\x0b\x0c\r "
_ASCII_TOKEN = re.compile(r"[A-Za-z0-9_]+(?:['.][A-Za-z0-9_]+)*|\.\.\.|[^A-Za-z0-9_\t\n\x0b\x0c\r ]")
_ASCII_SPACE = re.compile(f"[{_ASCII_SPACES}]")
_NON_ASCII = re.compile(r"[^\x00-\x7f]")


def split_words(text: str) -> list[str]:
    """The tokens of `text`, TOKEN_RE's on the whitespace-delimited pieces that hold a
    non-ASCII character and `_ASCII_TOKEN`'s (`re`, 3x faster than `regex` there) on the ASCII text
    in between: no token holds whitespace, so each piece can be tokenized alone."""
    spaces = [c for c in _ASCII_SPACES if c in text]
    out: list[str] = []
    pos = 0
    while m := _NON_ASCII.search(text, pos):  # the whitespace-delimited piece around it: TOKEN_RE
        left = max(pos, max([text.rfind(c, pos, m.start()) for c in spaces], default=-1) + 1)
        space = _ASCII_SPACE.search(text, m.end())
        right = space.start() if space else len(text)
        out += _ASCII_TOKEN.findall(text, pos, left)
        out += TOKEN_RE.findall(text, left, right)
        pos = right
    out += _ASCII_TOKEN.findall(text, pos)
    return out


@lru_cache(maxsize=8)
def words(text: str) -> tuple[str, ...]:
    """Word and punctuation tokens of `text` (see the module docstring): TOKEN_RE.findall(text).

    In Python, for the recipes and tests that want strs; the filters read `tokens(text)`. Mostly
    ASCII text goes through `split_words` (identical tokens, 2.8x faster on the benchmark pages); a
    text with more than len(text) // 50 extra UTF-8 bytes to TOKEN_RE whole, as past that its many
    non-ASCII pieces cost the split more than it saves.
    """
    if len(text.encode("utf-8", "surrogatepass")) - len(text) > len(text) // 50:
        return tuple(TOKEN_RE.findall(text))
    return tuple(split_words(text))


def is_word_token(token: str) -> bool:
    """Whether `token`, a token of `words`, is a word (letters/digits), not punctuation or symbols."""
    return token != "..." and (len(token) != 1 or bool(WORD_RE.fullmatch(token)))


@lru_cache(maxsize=8)
def word_tokens(text: str) -> tuple[str, ...]:
    """The tokens of `words(text)` that are words: the same spans as `WORD_RE.findall(text)` (the
    punctuation alternatives of TOKEN_RE never start where a word could)."""
    return tuple(filter(is_word_token, words(text)))


def count_no_letter(tokens: Sequence[str]) -> int:
    """How many of these word tokens have no letter at all (numbers like 2024, 3.14, _)."""
    return len(_NO_LETTER_TOKEN.findall(" ".join(tokens)))


_SPACE_CHAR, _WORD_CHAR, _LETTER = regex.compile(r"\s"), regex.compile(r"\w"), regex.compile(r"\p{L}")


def char_class(code: int) -> int:
    r"""TOKEN_RE's view of one code point, for the compiled `tokens`: 0 whitespace (\s), 1 a word
    character (\w, not CJK), 2 CJK, 3 anything else; plus 4 if it is a letter (\p{L})."""
    char = chr(code)
    if _SPACE_CHAR.match(char):
        return 0
    kind = 2 if _CJK_CHAR.match(char) else 1 if _WORD_CHAR.match(char) else 3
    return kind | (4 if _LETTER.match(char) else 0)


# One byte per code point, filled by char_class as characters turn up (255: not asked yet); a
# process meets a few hundred, where building the whole table would cost it 0.5 s.
_CHAR_CLASSES = bytearray(b"\xff") * 0x110000


class PyTokens(tuple):
    """`words(text)` with what Gopher reads of it (Python: the fallback of `_words.Tokens`, and its
    reference in the tests)."""

    def __new__(cls, text: str) -> PyTokens:
        return super().__new__(cls, words(text))

    def word_stats(self) -> tuple[int, int, int]:
        """(word tokens, their characters, those without a letter)."""
        kept = tuple(filter(is_word_token, self))
        return len(kept), sum(map(len, kept)), count_no_letter(kept)


def py_count_cjk(text: str) -> int:
    """`count_cjk` in Python: the fallback of `_words.count_in_spans`, and its reference."""
    return len(_CJK_CHAR.findall(text))


# CJK_RANGES as (first, last) code points, for the compiled count.
CJK_SPANS = tuple((ord(CJK_RANGES[i]), ord(CJK_RANGES[i + 2])) for i in range(0, len(CJK_RANGES), 3))


# The compiled tokens and CJK count (filters/_words.pyx, built by `make install`), with the Python
# above as the fallback; the same values. On the 2,076 pages of the shared WARCs, `_words.Tokens`
# + its word counts + the n-gram table built from its ids take 0.3 s; `words` + `word_tokens` +
# `count_no_letter` + the n-gram table built from strs took 1.0 s (with the earlier compiled split).
try:
    from curate.filters import _words

    def _tokens(text: str) -> Sequence[str]:
        return _words.Tokens(text, _CHAR_CLASSES, char_class)

    def count_cjk(text: str) -> int:
        """Number of CJK characters, i.e. of one-character CJK tokens."""
        return _words.count_in_spans(text, CJK_SPANS)
except ImportError:  # a source tree run without building it
    _tokens, count_cjk = PyTokens, py_count_cjk


@lru_cache(maxsize=8)
def tokens(text: str) -> Sequence[str]:
    """The tokens of `words(text)` as a sequence that also gives Gopher quality's word counts
    (`word_stats()`), answers `in` with one probe, and hands the n-gram counts its token ids
    (`NGrams(tokens(text))`) without a str made per token: the compiled `_words.Tokens`, else
    `PyTokens`. Cached: Gopher repetition, Gopher quality and FineWeb quality read the same text
    back to back."""
    return _tokens(text)


def split_lines(text: str) -> list[str]:
    r"""Lines split on runs of newlines (Gopher repetition's definition of a line): what
    `re.split(r"\n+", text)` gives, from `str.split` (5x faster): a run of n newlines leaves n - 1
    empty strings between its neighbours, which go, but an empty first or last piece stays."""
    parts = text.split("\n")
    lines = list(filter(None, parts))
    if not parts[0]:
        lines.insert(0, "")
    if len(parts) > 1 and not parts[-1]:
        lines.append("")
    return lines


def paragraphs(text: str) -> list[str]:
    r"""Paragraphs: blocks separated by a blank line (Gopher; datatrove splits on \n{2,}). Without a
    run of three newlines, that split is `str.split("\n\n")` (2x faster than the regex)."""
    text = text.strip()
    return _PARAGRAPH_BREAK.split(text) if "\n\n\n" in text else text.split("\n\n")


def duplicates(items: Sequence[str]) -> tuple[int, int]:
    """(number of items that repeat an earlier one, their characters). Gopher's duplicate count.

    Every occurrence after an item's first is a duplicate: the items minus the distinct ones, and
    all characters minus those of the distinct ones (set and map in C: 3x faster than a loop)."""
    distinct = set(items)
    return len(items) - len(distinct), sum(map(len, items)) - sum(map(len, distinct))


# ---- n-grams as 64-bit hashes (numpy), so Gopher's n-gram rules cost a few vector ops.
# Tokens get ids by first appearance (independent of PYTHONHASHSEED, so runs are identical),
# ids are mixed with splitmix64 (Steele et al. 2014), and an n-gram's hash is a fixed linear
# combination of its tokens' mixed ids, mod 2^64. Two different n-grams collide with
# probability about 2^-64 per pair: a rounding error next to the rules' thresholds.


def _splitmix64(x: np.ndarray) -> np.ndarray:
    x = x + np.uint64(0x9E3779B97F4A7C15)
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


# Mixed from inputs no token id reaches (ids are positions, < 2**63): multipliers mixed from the
# ids' own small values made the hash symmetric (splitmix(id) * splitmix(k)), so ("a","b","d","e")
# and ("d","e","a","b") collided whenever the ids were 2,3,4,1 (found against a Counter reference).
_POSITION_MULT = _splitmix64(np.arange(1, 65, dtype=np.uint64) | np.uint64(1 << 63)) | np.uint64(1)


class NumpyNGrams:
    """Hashes and character lengths of the word n-grams of one token sequence (numpy; the
    fallback where the compiled `_ngrams.NGrams` was not built, and its reference in the tests)."""

    def __init__(self, tokens: Sequence[str]) -> None:
        first_seen: dict[str, int] = {}  # token -> position of its first appearance: its id
        ids = np.fromiter(map(first_seen.setdefault, tokens, range(len(tokens))), dtype=np.uint64,
                          count=len(tokens))
        self.mixed = _splitmix64(ids)
        self.cum = np.zeros(len(tokens) + 1, dtype=np.int64)  # prefix sums of token lengths
        np.cumsum(np.fromiter(map(len, tokens), dtype=np.int64, count=len(tokens)), out=self.cum[1:])
        self._repeats: dict[int, np.ndarray] = {}  # n -> positions of n-grams that occur more than once

    def hashes(self, n: int) -> np.ndarray:
        m = len(self.mixed) - n + 1
        h = np.zeros(max(m, 0), dtype=np.uint64)
        for k in range(n if m > 0 else 0):
            h += self.mixed[k : k + m] * _POSITION_MULT[k]
        return h

    def chars(self, start: int, n: int) -> int:
        """Characters of the n-gram at `start`, without separators."""
        return int(self.cum[start + n] - self.cum[start])

    def _repeated(self, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(hashes, positions of n-grams that occur more than once, ascending, the position of each
        one's first occurrence, and per distinct n-gram among the candidates: its first position and
        count). An n-gram that repeats has a repeated k-prefix (k <= n), so only the positions found
        for the largest such k in an earlier call are sorted, not all."""
        h = self.hashes(n)
        known = [k for k in self._repeats if k <= n]
        pos = self._repeats[max(known)] if known else np.arange(h.size)
        pos = pos[pos < h.size]
        _, first, inverse, counts = np.unique(h[pos], return_index=True, return_inverse=True,
                                              return_counts=True)
        multi = counts[inverse] > 1
        first_at = pos[first[inverse]][multi]
        self._repeats[n] = repeated = pos[multi]
        return h, repeated, first_at, pos[first], counts

    def top_chars(self, n: int) -> int:
        """Characters covered by the most frequent n-gram: count x len(" ".join(ngram)).
        Ties go to the n-gram seen first (as Counter.most_common in datatrove)."""
        h, _, _, firsts, counts = self._repeated(n)
        if not h.size:
            return 0
        best = int(counts.max()) if counts.size else 1
        if best == 1:  # every n-gram once: the first one wins
            return self.chars(0, n) + n - 1
        start = int(firsts[counts == best].min())
        return best * (self.chars(start, n) + n - 1)

    def dup_chars(self, n: int) -> int:
        """Characters in n-grams that repeat an earlier n-gram, scanning left to right and
        jumping n words past each repeat so overlapping repeats count once (Gopher; datatrove's
        find_all_duplicate). Only positions whose n-gram occurred before are visited in Python.
        """
        h, pos, first_at, _, _ = self._repeated(n)
        later = first_at < pos
        repeats, first_at = pos[later], first_at[later]
        if not repeats.size:
            return 0
        # The scan visits every position except the n-1 after each repeat it finds. A position
        # is a repeat iff an earlier occurrence of its n-gram was visited: its first occurrence
        # (unless inside a skipped window) or an earlier visited repeat position.
        seen: set[int] = set()
        skipped = bytearray(len(self.mixed) + n)  # 1 where the scan jumped over a position
        jump = b"\x01" * (n - 1)
        lengths = (self.cum[repeats + n] - self.cum[repeats]).tolist()
        chars, next_free = 0, 0
        for i, j, g, length in zip(repeats.tolist(), first_at.tolist(), h[repeats].tolist(), lengths,
                                   strict=True):
            if i < next_free:
                continue
            if not skipped[j] or g in seen:
                chars += length
                skipped[i + 1 : i + n] = jump
                next_free = i + n
            else:
                seen.add(g)
        return chars


# The compiled counts (filters/_ngrams.pyx, built by `make install`): the nine counts of Gopher
# repetition over the 1,961 benchmark pages take 0.74-0.79 s instead of 3.3-3.6 s (identical values).
try:
    from curate.filters._ngrams import NGrams
except ImportError:  # a source tree run without building it
    NGrams = NumpyNGrams  # type: ignore[misc,assignment]


def ratio(num: float, den: float) -> float:
    """num / den rounded to 4 places (0.0 when den is 0): stable JSON across runs."""
    return round(num / den, 4) if den else 0.0


def over(name: str, signals: dict, limit: float | None) -> str | None:
    """The reason "name=value>limit" when the signal exceeds its maximum, else None."""
    value = signals.get(name)
    if limit is None or value is None or value <= limit:
        return None
    return f"{name}={value}>{limit}"


def under(name: str, signals: dict, limit: float | None) -> str | None:
    """The reason "name=value<limit" when the signal is below its minimum, else None."""
    value = signals.get(name)
    if limit is None or value is None or value >= limit:
        return None
    return f"{name}={value}<{limit}"
