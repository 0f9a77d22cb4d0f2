"""FineWeb's own quality rules (Penedo et al. 2024, "The FineWeb Datasets: Decanting the Web for
the Finest Text Data at Scale", section 3.3), with datatrove 0.10.1's FineWebQualityFilter
definitions and defaults: computed on the non-empty lines of the (C4-cleaned) text.

Note on `char_duplicates_ratio`: the FineWeb paper / blog write 0.1, but datatrove's filter
(which produced FineWeb) defaults to 0.01; we match datatrove, since a benchmark compares the
two pipelines step by step. Set 0.1 for the paper's value.
"""

from __future__ import annotations

from operator import itemgetter

from pydantic import BaseModel, ConfigDict

from curate.filters.text import TERMINAL_PUNCTUATION, Doc, duplicates, over, ratio, tokens, under

_TERMINALS = frozenset(TERMINAL_PUNCTUATION)  # single characters: `ln[-1] in` is `ln.endswith(tuple)`
_last = itemgetter(-1)  # a line's last character (the lines are not blank)


class FineWebQualityConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)  # nan would reject every page

    enabled: bool = True
    line_punct_thr: float | None = 0.12  # FineWeb: reject if < 12% of lines end in punctuation
    line_punct_exclude_zero: bool = False  # datatrove: optionally keep pages with no such line
    short_line_thr: float | None = 0.67  # FineWeb: reject if > 67% of lines are short
    short_line_length: int = 30  # ... "short" = at most 30 characters
    char_duplicates_ratio: float | None = 0.01  # datatrove default (paper: 0.1, see above)
    new_line_ratio: float | None = 0.3  # "list ratio": newlines per word


class FineWebQualityFilter:
    """Removes pages that read like lists, menus or repeated boilerplate rather than prose."""

    name = "fineweb_quality"

    def __init__(self, config: FineWebQualityConfig | None = None) -> None:
        self.config = config or FineWebQualityConfig()
        self.split = tokens  # the word splitter (a recipe may swap in datatrove's: filters/spacy_words.py)

    def annotate(self, doc: Doc) -> dict[str, float | int | bool]:
        text = doc.text
        lines = list(filter(str.strip, text.split("\n")))  # the non-blank lines
        n_lines = len(lines)
        short = self.config.short_line_length
        return {
            "fw_lines": n_lines,
            # Sentence_Terminal of every script (datatrove's TERMINAL_PUNCTUATION), on the raw line.
            "line_punct_ratio": ratio(sum(map(_TERMINALS.__contains__, map(_last, lines))), n_lines),
            "short_line_ratio": ratio(sum(map(short.__ge__, map(len, lines))), n_lines),
            "char_dup_ratio": ratio(duplicates(lines)[1], len(text) - text.count("\n")),
            "list_ratio": ratio(text.count("\n"), len(self.split(text))),
        }

    def decide(self, signals: dict) -> str | None:
        c = self.config
        if reason := under("fw_lines", signals, 1):  # datatrove: "empty"
            return reason
        punct = signals.get("line_punct_ratio")
        if not (c.line_punct_exclude_zero and punct == 0):
            if reason := under("line_punct_ratio", signals, c.line_punct_thr):
                return reason
        checks = (
            ("short_line_ratio", c.short_line_thr),
            ("char_dup_ratio", c.char_duplicates_ratio),
            ("list_ratio", c.new_line_ratio),
        )
        for name, limit in checks:
            if reason := over(name, signals, limit):
                return reason
        return None
