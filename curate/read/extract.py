"""Main-text extraction: trafilatura (default, the user's choice) or resiliparse (fast).

No time limit here: a limit inside the process cannot stop C code (lxml's parser) and a SIGALRM
exception is swallowed by trafilatura's own `except Exception`. The per-record work runs in a
supervised worker process instead (`curate.supervisor`), which is killed and replaced at the limit.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

Extractor = Literal["trafilatura", "resiliparse"]


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


def extract_text(html: str, extractor: Extractor = "trafilatura") -> str:
    """Extract the main text of a page."""
    try:
        fn = EXTRACTORS[extractor]
    except KeyError:
        raise ValueError(f"unknown extractor {extractor!r}; choose one of {sorted(EXTRACTORS)}") from None
    return fn(html).strip()
