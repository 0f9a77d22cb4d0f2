"""C4's line cleaning and page rules (Raffel et al. 2020, "Exploring the Limits of Transfer
Learning with a Unified Text-to-Text Transformer", section 2.2; the reference code is
tensorflow_datasets' c4_utils.clean_page; the defaults are datatrove 0.10.1's C4QualityFilter).

Unlike the other filters this one EDITS the text: `annotate` keeps only the lines that pass
and sets `doc.text` to them (joined by "\\n"), as C4 and datatrove do. Pages with a curly
bracket or "lorem ipsum" in a kept line are left unedited (they are rejected whole). Because
the text changes, re-applying C4 with other settings needs the extracted text, not just signals.

Line rules, in C4's order: a word over 1000 characters drops the line; Wikipedia citation marks
are removed; lines not ending in terminal punctuation are dropped (switch: see below); lines of
fewer than 3 words are dropped; "lorem ipsum" rejects the page; lines mentioning "javascript"
are dropped; "{" rejects the page; cookie / terms-of-use lines are dropped. Page rule: at least
5 sentences remain.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from pydantic import BaseModel, ConfigDict

from curate.filters.text import TERMINAL_PUNCTUATION, Doc

CITATION_RE = re.compile(r"\[\d*]|\[edit]|\[citation needed]")  # C4 / datatrove
# C4: "a period, exclamation mark, question mark, or end quotation mark"
END_PUNCTUATION = (".", "?", "!", '"', "'")
ELLIPSIS = "..."
POLICY_SUBSTRINGS = (  # c4_utils / datatrove
    "terms of use",
    "privacy policy",
    "cookie policy",
    "uses cookies",
    "use of cookies",
    "use cookies",
)
# A sentence ends at terminal punctuation (any script), optional closing quotes/brackets, then
# whitespace or the line end. Stands in for datatrove's spaCy sentence splitter.
# `re` keeps a class of BMP characters as a bitmap but checks a class holding characters past
# U+FFFF against each member in turn (172 here): a line without such characters (nearly all) is
# split with the BMP terminals alone, 3x faster; the full set only where it can matter.
_BMP_TERMINALS = re.escape("".join(c for c in TERMINAL_PUNCTUATION if ord(c) <= 0xFFFF))
CLOSERS = "\"'”’)]"  # closing quotes and brackets that may follow a sentence's terminal punctuation
_QUOTES_THEN_SPACE = f"[{re.escape(CLOSERS)}]*(?:\\s+|$)"
_SENTENCE_END = re.compile("[" + re.escape("".join(TERMINAL_PUNCTUATION)) + "]+" + _QUOTES_THEN_SPACE)
_BMP_SENTENCE_END = re.compile(f"[{_BMP_TERMINALS}]+{_QUOTES_THEN_SPACE}")
_ASTRAL = re.compile("[\U00010000-\U0010ffff]")


def py_count_sentences(line: str) -> int:
    """Sentences in one line: the pieces between sentence ends (a last unterminated piece counts).
    The regex definition: the fallback of the compiled `_sentences.count_sentences`, and its reference."""
    pattern = _SENTENCE_END if _ASTRAL.search(line) else _BMP_SENTENCE_END
    return sum(1 for piece in pattern.split(line) if piece.strip())


def _bitmap(chars: str) -> bytes:
    """Bit c of byte c >> 3 set for each character c (a set over all code points, for C)."""
    bits = bytearray(0x110000 // 8)
    for ch in chars:
        bits[ord(ch) >> 3] |= 1 << (ord(ch) & 7)
    return bytes(bits)


# The compiled count (filters/_sentences.pyx, built by `make install`), the same values: on the 1,961
# benchmark pages C4's sentence counts take 0.1 s instead of 0.9 s.
try:
    from curate.filters import _sentences

    _TERMINAL_BITS, _CLOSER_BITS = _bitmap("".join(TERMINAL_PUNCTUATION)), _bitmap(CLOSERS)

    def count_sentences(line: str) -> int:
        """Sentences in one line: the pieces between sentence ends (a last unterminated piece counts)."""
        return _sentences.count_sentences(line, _TERMINAL_BITS, _CLOSER_BITS)
except ImportError:  # a source tree run without building it
    _sentences = None  # type: ignore[assignment]
    count_sentences = py_count_sentences


class C4Config(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)  # nan would reject every page

    enabled: bool = True
    remove_citations: bool = True
    # C4 drops lines without terminal punctuation; FineWeb turned this rule off
    # (datatrove examples/fineweb.py: C4QualityFilter(filter_no_terminal_punct=False)) as it
    # removed too much. We follow the FineWeb recipe; set true for C4's own behaviour.
    filter_no_terminal_punct: bool = False
    min_num_sentences: int | None = 5  # C4: "fewer than 5 sentences" rejects the page
    min_words_per_line: int | None = 3  # C4: "at least 3 words"
    max_word_length: int | None = 1000  # c4_utils: a "word" over 1000 chars drops the line
    filter_lorem_ipsum: bool = True
    filter_javascript: bool = True
    filter_curly_bracket: bool = True
    filter_policy: bool = True
    policy_substrings: list[str] = list(POLICY_SUBSTRINGS)


class C4Filter:
    """Cleans lines C4-style and rejects pages with code braces, placeholder text or too little prose."""

    name = "c4"

    def __init__(self, config: C4Config | None = None) -> None:
        self.config = config or C4Config()
        self._policy = tuple(p.lower() for p in self.config.policy_substrings)
        self.count_sentences = count_sentences  # a recipe may swap in datatrove's (filters/spacy_words.py)

    def clean(self, text: str) -> tuple[str | None, dict[str, float | int | bool]]:
        """(the cleaned text, or None when a page rule fired; the signals)."""
        c = self.config
        rules = ("too_long_word", "no_terminal_punct", "too_few_words", "javascript", "policy")
        drops = dict.fromkeys(rules, 0)
        page = {"lorem": False, "curly": False, "sentences": 0}
        kept: list[str] = []
        find_lorem, find_javascript, policies = self._phrases_on_page(text)
        lowered = find_lorem or find_javascript or bool(policies)
        min_words = c.min_words_per_line

        def line_rules(line: str) -> int:
            """Every rule on one stripped line: its sentences when kept, -2 dropped, -1 page rejected."""
            # The words are counted before citations go (datatrove's C4QualityFilter splits the line
            # first). Split at most min_words times: as many pieces as words when they are fewer
            # (2.6x faster than splitting every word of every line).
            few_words = min_words is not None and len(line.split(None, min_words)) < min_words
            too_long = c.max_word_length is not None and len(line) > c.max_word_length  # else no word is
            if too_long and any(len(w) > c.max_word_length for w in line.split()):
                drops["too_long_word"] += 1
                return -2
            if c.remove_citations and "[" in line:
                line = CITATION_RE.sub("", line)
            if c.filter_no_terminal_punct and (not line.endswith(END_PUNCTUATION) or line.endswith(ELLIPSIS)):
                drops["no_terminal_punct"] += 1
                return -2
            if few_words:
                drops["too_few_words"] += 1
                return -2
            low = line.lower() if lowered else ""
            if find_lorem and "lorem ipsum" in low:
                page["lorem"] = True
                return -1
            if find_javascript and "javascript" in low:
                drops["javascript"] += 1
                return -2
            if c.filter_curly_bracket and "{" in line:
                page["curly"] = True
                return -1
            if policies and any(p in low for p in policies):
                drops["policy"] += 1
                return -2
            sentences = self.count_sentences(line)
            page["sentences"] += sentences
            kept.append(line)
            return sentences

        n_lines = self._line_loop(text, kept, lowered, line_rules, drops, page)
        signals: dict[str, float | int | bool] = {
            "c4_lines": n_lines,
            "c4_lines_kept": len(kept),
            "c4_sentences": page["sentences"],
            "c4_lorem_ipsum": page["lorem"],
            "c4_curly_bracket": page["curly"],
            **{f"c4_dropped_{k}": v for k, v in drops.items()},
        }
        cleaned = None if page["lorem"] or page["curly"] else "\n".join(kept).strip()
        return cleaned, signals

    def _line_loop(self, text: str, kept: list[str], lowered: bool, line_rules: Callable[[str], int],
                   drops: dict[str, int], page: dict) -> int:
        """`line_rules` on every stripped line until one returns -1; the number of lines. The compiled
        loop decides the lines no other rule can touch itself (no "[" or "{", not too long, no
        lower-case phrase on the page, the terminal-punctuation rule off, the compiled sentence count):
        `clean` 0.51-0.58 -> 0.33-0.44 s on the 2,076 shared pages, the same signals (tests/test_filters.py).
        """
        c = self.config
        compiled = _sentences is not None and self.count_sentences is count_sentences
        if not compiled or lowered or c.filter_no_terminal_punct:
            lines = text.splitlines()
            for line in lines:
                if line_rules(line.strip()) == -1:
                    break
            return len(lines)
        special = ("[" if c.remove_citations else "") + ("{" if c.filter_curly_bracket else "")
        n_lines, sentences, few, _ = _sentences.clean_lines(
            text, kept, -1 if c.min_words_per_line is None else c.min_words_per_line,
            -1 if c.max_word_length is None else c.max_word_length, special, _TERMINAL_BITS, _CLOSER_BITS,
            line_rules)
        page["sentences"] += sentences
        drops["too_few_words"] += few
        return n_lines

    def _phrases_on_page(self, text: str) -> tuple[bool, bool, tuple[str, ...]]:
        """Which lower-case rules can fire on some line: ("lorem ipsum", "javascript", the policy
        phrases), each when switched on and found in the page. A line's checked text, lower-cased, is
        a piece of the page's, citations removed (a citation mark lies within one line; lower() maps
        one character at a time, the final sigma aside, which becomes no ASCII letter), so an ASCII
        phrase missing from the page is on no line and the line loop skips its search. A phrase past
        ASCII is always searched."""
        c = self.config
        page = CITATION_RE.sub("", text) if c.remove_citations and "[" in text else text
        low = page.lower()
        policies = tuple(p for p in self._policy if not p.isascii() or p in low) if c.filter_policy else ()
        lorem = c.filter_lorem_ipsum and "lorem ipsum" in low
        return lorem, c.filter_javascript and "javascript" in low, policies

    def annotate(self, doc: Doc) -> dict[str, float | int | bool]:
        cleaned, signals = self.clean(doc.text)
        if cleaned is not None:
            doc.text = cleaned
        return signals

    def decide(self, signals: dict) -> str | None:
        c = self.config
        if signals.get("c4_lorem_ipsum"):
            return "lorem_ipsum=true"
        if signals.get("c4_curly_bracket"):
            return "curly_bracket=true"
        n = signals.get("c4_sentences", 0)
        if c.min_num_sentences is not None and n < c.min_num_sentences:
            return f"c4_sentences={n}<{c.min_num_sentences}"
        return None
