"""Main-text extraction: trafilatura (default, the user's choice) or resiliparse (fast).

A wall-clock limit guards every call: datatrove drops pages whose trafilatura
call times out without a trace; here a timeout raises `ExtractionTimeout`, which
the pipeline records as an `error` row with its reason.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Literal

Extractor = Literal["trafilatura", "resiliparse"]


class ExtractionTimeout(Exception):
    pass


@contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Raise ExtractionTimeout after `seconds` of wall time (SIGALRM; main thread only,
    elsewhere no limit is applied and the caller's other guards remain)."""
    if seconds <= 0 or threading.current_thread() is not threading.main_thread():
        yield
        return

    def _raise(signum, frame):  # noqa: ANN001
        raise ExtractionTimeout(f"extraction exceeded {seconds:g}s")

    previous = signal.signal(signal.SIGALRM, _raise)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _trafilatura(html: str) -> str:
    import trafilatura

    # Settings of datatrove's Trafilatura step (FineWeb): precision-oriented, no comments.
    # `deduplicate` stays off: trafilatura's dedup cache is per process, so results would
    # depend on which pages a worker saw before, breaking byte-identical reruns.
    text = trafilatura.extract(
        html, favor_precision=True, include_comments=False, include_tables=True, deduplicate=False
    )
    return text or ""


def _resiliparse(html: str) -> str:
    from resiliparse.extract.html2text import extract_plain_text
    from resiliparse.parse.html import HTMLTree

    tree = HTMLTree.parse(html)
    # main_content=True: resiliparse's boilerplate removal, as DCLM's RefinedWeb-style extraction.
    return extract_plain_text(tree, main_content=True, alt_texts=False, links=False) or ""


EXTRACTORS: dict[str, Callable[[str], str]] = {"trafilatura": _trafilatura, "resiliparse": _resiliparse}


def extract_text(html: str, extractor: Extractor = "trafilatura", timeout_s: float = 10.0) -> str:
    """Extract the main text of a page; raises ExtractionTimeout past `timeout_s`."""
    try:
        fn = EXTRACTORS[extractor]
    except KeyError:
        raise ValueError(f"unknown extractor {extractor!r}; choose one of {sorted(EXTRACTORS)}") from None
    with time_limit(timeout_s):
        return fn(html).strip()
