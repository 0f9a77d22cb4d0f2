"""Property-based tests (hypothesis): arbitrary bytes and header values never crash a run, and every
record gives exactly one row.

Deterministic (`derandomize=True`: the same examples every run, so CI cannot flake) and modest in
size (CI time); each property names the promise of README.md it holds.
"""

from __future__ import annotations

import json
import math
import tempfile
from functools import cache

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from warc_bytes import http_block, record, warc_gz

from curate import load_config
from curate.filters import Doc, build_filters
from curate.read.decode import decode_html, looks_like_html, normalize_charset
from curate.read.extract import extract_text
from curate.read.inputs import InputFile
from curate.read.warc import parse_warc_date, read_warc, url_domain
from curate.record_checks import Chain

PROPERTY = settings(max_examples=40, derandomize=True, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

# A header value: any text without CR/LF (those end the line), as UTF-8 bytes.
value = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\n"), max_size=40)
html_ish = st.one_of(
    st.binary(max_size=3000),
    st.lists(st.sampled_from(["<p>", "</p>", "<div class='x'>", "</div>", "<script>", "&amp;", "<!--",
                              "<meta charset=gbk>", "word ", "Ünïcödé ", "\x00", "<a href='java", ">"]),
             max_size=200).map(lambda parts: "".join(parts).encode("utf-8")),
)


@cache
def chain() -> Chain:
    return Chain(load_config())


def _file(data: bytes) -> InputFile:
    return InputFile(0, "<memory>", "0" * 64, len(data))


def _rows(data: bytes) -> list[dict]:
    """Every row the chain gives for the records read from `data`, written to a file as a crawl is."""
    with tempfile.NamedTemporaryFile(suffix=".warc.gz") as f:
        f.write(data)
        f.flush()
        return [chain().process(_file(data), rec, "run-prop") for rec in read_warc(f.name, "0" * 64)]


@st.composite
def hostile_record(draw: st.DrawFn) -> bytes:
    body = draw(html_ish)
    status = draw(st.one_of(st.just("200 OK"), value)).encode()
    ctype = draw(st.one_of(st.just("text/html; charset=utf-8"), value)).encode()
    length = draw(st.one_of(st.none(), st.just(b"-1"), value.map(str.encode)))
    return record(draw(value).encode() or b"x", http_block(body, status, ctype),
                  date=draw(value).encode(), length=length)


@PROPERTY
@given(st.lists(hostile_record(), min_size=1, max_size=4))
def test_any_header_values_give_one_row_per_record(records: list[bytes]) -> None:
    """README: "provenance rows = records read"; a record that cannot be read is an `error` row."""
    rows = _rows(warc_gz(records))
    assert len(rows) == len(records)
    assert all(r["decision"] in ("kept", "rejected", "error") for r in rows)
    assert len({r["offset"] for r in rows}) == len(rows)


@PROPERTY
@given(st.binary(max_size=4000))
def test_arbitrary_bytes_never_crash_the_reader(data: bytes) -> None:
    rows = _rows(data)
    assert rows, "even an empty or foreign file gives a row"
    assert len({r["offset"] for r in rows}) == len(rows)
    assert all(r["decision"] in ("kept", "rejected", "error") and (r["decision"] != "error" or r["reason"])
               for r in rows)


@PROPERTY
@given(value)
def test_header_parsers_never_raise(text: str) -> None:
    date = parse_warc_date(text)
    assert date is None or date.tzinfo is not None
    url_domain(text)
    url_domain("http://" + text)
    normalize_charset(text)


@PROPERTY
@given(html_ish, st.one_of(st.none(), value))
def test_charset_decoding_never_raises(payload: bytes, content_type: str | None) -> None:
    text, codec, source = decode_html(payload, content_type)
    assert isinstance(text, str) and source in ("http", "meta", "bom", "detected", "fallback")
    assert codec not in ("utf_7", "punycode")
    looks_like_html(content_type, payload)


@PROPERTY
@given(html_ish)
def test_the_extractors_never_raise(payload: bytes) -> None:
    html = payload.decode("utf-8", "replace")
    for extractor in ("trafilatura", "resiliparse"):
        assert isinstance(extract_text(html, extractor), str)


@PROPERTY
@given(st.text(max_size=3000), st.one_of(st.none(), st.sampled_from(["en", "de", "zh", "ja"])))
def test_every_filter_annotates_any_text_with_finite_json_signals(text: str, lang: str | None) -> None:
    for f in build_filters():
        doc = Doc(text=text, url="https://example.com/a", domain="example.com", lang=lang)
        signals = f.annotate(doc)
        json.dumps(signals, allow_nan=False)  # stored per record: JSON, no NaN / inf
        assert all(not isinstance(v, float) or math.isfinite(v) for v in signals.values())
        reason = f.decide(signals)
        assert reason is None or (isinstance(reason, str) and reason)
