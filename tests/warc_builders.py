"""Test inputs built from the real files in ../shared/data: WARC subsets, pages with planted text, eval items.

Used by the quality-classifier and decontamination tests; everything is deterministic (seeded).
"""

from __future__ import annotations

import io
import json
import random
import re
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

from warcio.archiveiterator import ArchiveIterator
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from conftest import SHARED_DATA, _require

GROUND_TRUTH = SHARED_DATA / "extraction" / "scrapinghub" / "ground-truth.json"
# Filters off: every page with text is a document (the negatives of the quality tests, "extracted").
FILTERS_OFF = {"lid.threshold": 0.0, "filters.url.enabled": False, "filters.gopher_repetition.enabled": False,
               "filters.gopher_quality.enabled": False, "filters.c4.enabled": False,
               "filters.fineweb_quality.enabled": False, "exact_dedup.enabled": False,
               "near_dedup.enabled": False}


def _responses(src: Path) -> Iterator[tuple[int, int, int, object, bytes]]:
    """(index, offset, length, record, payload) of every record of a WARC file."""
    with open(src, "rb") as f:
        it = ArchiveIterator(f)
        for i, rec in enumerate(it):
            payload = rec.content_stream().read()
            yield i, it.get_record_offset(), it.get_record_length(), rec, payload


def subset_warc(src: Path, dst: Path, keep: Callable[[int, object, bytes], bool]) -> Path:
    """A WARC of the records of `src` that `keep(index, record, payload)` selects, copied byte for byte."""
    picked = [(off, length) for i, off, length, rec, payload in _responses(src) if keep(i, rec, payload)]
    with open(src, "rb") as f, open(dst, "wb") as out:
        for off, length in picked:
            f.seek(off)
            out.write(f.read(length))
    return dst


def articles() -> list[str]:
    """The article texts of the extraction benchmark's ground truth (real news and blog prose)."""
    data = json.loads(_require(GROUND_TRUTH).read_text())
    return [data[k]["articleBody"] for k in sorted(data)]


def eval_items(n_words: int, per_article: int) -> list[dict[str, str]]:
    """Reading-comprehension-like items from the articles: consecutive, non-overlapping passages of
    `n_words` words as the question and the 20 words after each as its answer; ids "a<article>-<k>"."""
    items = []
    for a, text in enumerate(articles()):
        words = text.split()
        for k in range(min(per_article, len(words) // (n_words + 20))):
            start = k * (n_words + 20)
            items.append({"id": f"a{a}-{k}", "question": " ".join(words[start:start + n_words]),
                          "answer": " ".join(words[start + n_words:start + n_words + 20])})
    return items


def item_text(item: dict[str, str]) -> str:
    return f"{item['question']} {item['answer']}"


def replace_words(text: str, share: float, rng: random.Random, vocabulary: list[str]) -> str:
    """`text` with `share` of its words (at random positions) replaced by other words."""
    words = text.split()
    for i in rng.sample(range(len(words)), round(share * len(words))):
        words[i] = rng.choice([w for w in vocabulary if w != words[i]])
    return " ".join(words)


_PARAGRAPH = re.compile(rb"<p[\s>].*?</p>", re.IGNORECASE | re.DOTALL)


def plant(html: bytes, paragraphs: list[str]) -> bytes:
    """The page with the paragraphs inserted after its longest paragraph (its main text, where an
    extractor looks), or before </body> when it has none."""
    block = "".join(f"<p>{p}</p>" for p in paragraphs).encode()
    longest = max(_PARAGRAPH.finditer(html), key=lambda m: len(m.group()), default=None)
    if longest is not None:
        return html[: longest.end()] + block + html[longest.end():]
    return html.replace(b"</body>", block + b"</body>", 1) if b"</body>" in html else html + block


def planted_warc(sources: list[Path], dst: Path, plants: list[list[str]]) -> list[str]:
    """Copy the HTML response records of `sources` into `dst`, planting plants[k] into the k-th page (pages
    past len(plants) are copied unchanged); returns the URL of each planted page."""
    urls: list[str] = []
    with open(dst, "wb") as out:
        writer = WARCWriter(out, gzip=True)
        for n, src in enumerate(sources):
            for i, _, _, rec, payload in _responses(src):
                ctype = rec.http_headers.get_header("Content-Type") if rec.http_headers else None
                if rec.rec_type != "response" or not ctype or "html" not in ctype:
                    continue
                url = rec.rec_headers.get_header("WARC-Target-URI")
                if len(urls) < len(plants):
                    payload = plant(payload, plants[len(urls)])
                    urls.append(url)
                http = StatusAndHeaders("200 OK", [("Content-Type", ctype)], protocol="HTTP/1.1")
                record_id = uuid.uuid5(uuid.NAMESPACE_URL, f"{dst.name}/{n}/{i}")  # stable across builds
                headers = {"WARC-Record-ID": f"<urn:uuid:{record_id}>",
                           "WARC-Date": rec.rec_headers.get_header("WARC-Date")}
                writer.write_record(writer.create_warc_record(url, "response", payload=io.BytesIO(payload),
                                                              http_headers=http, warc_headers_dict=headers))
    return urls


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path
