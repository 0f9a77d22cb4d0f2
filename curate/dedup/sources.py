"""The parts the global dedup steps read, and the order key that decides "first occurrence".

A source is one part: one of this run's input files (its `_work/extract` rows and `_work/minhash`
signatures), or one `documents/` part of an earlier corpus given with `--dedup-against` (its keys
and signatures prepared under this run's `_work/`). Sources are numbered earlier corpora first,
then this run's files in input order, and a row's order key is

    order = source index << 32 | record_index

so sorting by order key is the input order (file order, then record order) of the single-machine
dedup, with every earlier corpus ahead of this run: a document already in an earlier corpus is
always the one kept. Tasks carry sources as plain paths; the driver holds one per part.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

ORDER_SHIFT = 32  # up to 4G records per part
RECORD_MASK = (1 << ORDER_SHIFT) - 1


@dataclass(frozen=True)
class Source:
    """One part the dedup steps read."""

    index: int  # position in the order: earlier corpora's parts first, then this run's parts
    keys: str  # Parquet with doc_id, record_index, text_hash, url, warc_date
    signatures: str | None  # MinHash signature file (None when near dedup is off)
    part: int = -1  # this run's part index; -1 for an earlier corpus
    corpus: str | None = None  # the earlier corpus's run_id

    @property
    def current(self) -> bool:
        return self.part >= 0

    @property
    def label(self) -> str:
        return f"part-{self.part:05d}" if self.current else f"{self.corpus}:{self.index}"


def order_keys(source: int, record_index: np.ndarray) -> np.ndarray:
    return (np.int64(source) << ORDER_SHIFT) | record_index.astype(np.int64)


def split_order(order: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(source index, record_index) of each order key."""
    return order >> ORDER_SHIFT, order & RECORD_MASK


@dataclass(frozen=True)
class SourceMap:
    """What reduce tasks need to turn order keys into parts and corpora: earlier corpora's parts come
    first (`corpus_starts`: each earlier corpus's first source index and run_id), then this run's parts,
    contiguous. Its size is the number of earlier corpora, not of parts."""

    earlier: int = 0  # number of earlier-corpus sources
    corpus_starts: tuple[tuple[int, str], ...] = ()

    @classmethod
    def of(cls, sources: list[Source]) -> SourceMap:
        starts: list[tuple[int, str]] = []
        for s in sources:
            if not s.current and (not starts or starts[-1][1] != s.corpus):
                starts.append((s.index, s.corpus or ""))
        return cls(sum(not s.current for s in sources), tuple(starts))

    def part_of(self, order: np.ndarray) -> np.ndarray:
        """This run's part index of each order key (negative for an earlier corpus's row)."""
        return (order >> ORDER_SHIFT) - self.earlier

    def corpus_of(self, order: int) -> str | None:
        """The run_id of the earlier corpus holding this row (None for this run's rows)."""
        source = order >> ORDER_SHIFT
        if source >= self.earlier:
            return None
        return [run for start, run in self.corpus_starts if start <= source][-1]


def earlier_suffix(run_id: str | None) -> str:
    """Appended to the reason of a duplicate whose kept copy is in an earlier corpus (`--dedup-against`)."""
    return f" in earlier corpus {run_id}" if run_id else ""
