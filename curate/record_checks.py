"""The per-record decision chain: one WARC record -> one provenance row, kept or stopped with a reason.

`CHECKS` is the chain, in order: each check is a small named function of the record on its way
(`Record`) and the per-process state (`Chain`: config, filters, language model). A check either
adds what it learned to the row (charset, licence, PII counts, language, filter signals) or
stops the record with (decision, step, reason); the first stop wins. A record that passes every
check is kept, with the hash exact dedup compares. The quality filters run through
`curate.filters.annotate` / `first_rejection`, the same code the filter tests exercise.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from curate.config import CurateConfig
from curate.dedup.text_hash import text_hash
from curate.filters import (
    Doc,
    Filter,
    Signals,
    UrlFilter,
    annotate,
    build_filters,
    first_rejection,
    run_filters,
)
from curate.filters.fineweb2 import language_score_threshold
from curate.filters.lid import make_identifier
from curate.quality.step import QualityFilter
from curate.read.decode import decode_html, looks_like_html
from curate.read.extract import extract_text
from curate.read.inputs import InputFile
from curate.read.warc import WarcRecord, fallback_doc_id
from curate.signals import detect_license, detect_opt_out, detect_pii, redact_pii
from provenance.schema import ERROR, KEPT, REJECTED, empty_pii

Stop = tuple[str, str, str]  # (decision, step, reason)
CONTENT_RECORDS = ("response", "resource", "conversion")  # WARC types that carry a page
StepHook = Callable[[int, int], None]  # (index of the check in CHECKS, record index) at each check's start


def _no_hook(check: int, record_index: int) -> None:
    """The step hook of a chain nobody supervises."""


@dataclass
class Record:
    """A record on its way through the chain: what the checks learned so far."""

    rec: WarcRecord
    row: dict[str, Any]
    doc: Doc
    html: str = ""
    text: str = ""
    signals: Signals = field(default_factory=dict)

    @property
    def is_text(self) -> bool:
        return self.rec.warc_type == "conversion"  # WET: text already extracted by the crawler


class Chain:
    """The per-process state of the checks (filters and the language model load once per process)."""

    def __init__(self, cfg: CurateConfig, on_step: StepHook = _no_hook,
                 index_folder: Path | None = None) -> None:
        self.cfg = cfg
        self.on_step = on_step  # the supervisor's record worker publishes the running check here
        filters = build_filters(cfg.filters)
        self.url_filters = [f for f in filters if isinstance(f, UrlFilter)]
        self.text_filters = [f for f in filters if not isinstance(f, UrlFilter)]
        self.text_filters += learned_filters(cfg, index_folder)
        self.lid = make_identifier(cfg.lid.backend, cfg.lid.model_path, cfg.lid.max_chars)

    def process(self, file: InputFile, rec: WarcRecord, run_id: str) -> dict[str, Any]:
        """The record's provenance row (plus text, signals and text_hash); never raises: the row
        itself is built inside the guard, from the header values the reader could parse."""
        row = base_row(file, rec, run_id)
        try:
            row.update(header_fields(file, rec))
            self.decide(Record(rec, row, Doc(text="", url=rec.url, domain=rec.domain)))
        except Exception as exc:  # never let one record stop the run
            row.update(decision=ERROR, step="pipeline", reason=f"{type(exc).__name__}: {exc}"[:300])
        return row

    def decide(self, r: Record) -> None:
        for i, check in enumerate(CHECKS):
            self.on_step(i, r.rec.index)
            stop = check(r, self)
            if stop is not None:
                r.row.update(decision=stop[0], step=stop[1], reason=stop[2])
                return
        r.row["text_hash"] = text_hash(r.doc.text)


def learned_filters(cfg: CurateConfig, index_folder: Path | None) -> list[Filter]:
    """After the heuristic filters: the quality classifier, then decontamination (reading the run's
    n-gram index in `index_folder`), each when enabled."""
    steps: list[Filter] = []
    if cfg.filters.quality.enabled:
        steps.append(QualityFilter(cfg.filters.quality))
    if cfg.decontaminate.enabled:
        if index_folder is None:
            raise RuntimeError("decontamination needs the run's index folder")
        from curate.decontaminate.step import DecontaminationFilter  # its index reader: only when on

        steps.append(DecontaminationFilter(cfg.decontaminate, index_folder))
    return steps


def base_row(file: InputFile, rec: WarcRecord, run_id: str) -> dict[str, Any]:
    """The row of a record before any check and before its header values: kept, with defaults."""
    return {
        "doc_id": fallback_doc_id(file.sha256, rec.offset), "source_file": file.path,
        "source_sha256": file.sha256, "record_index": rec.index, "offset": rec.offset,
        "warc_record_id": None, "warc_type": None, "warc_date": None,
        "warc_date_raw": None, "url": None, "domain": None, "http_status": None,
        "content_type": None, "charset": None, "charset_source": None,
        "payload_bytes": 0, "n_chars": None, "lang": None, "lang_score": None,
        "license": None, "license_source": None, "tdm_reserved": False, "noai": False,
        "pii_counts": empty_pii(), "pii_redacted": False, "decision": KEPT, "step": None,
        "reason": None, "dup_cluster": None, "dup_of": None, "run_id": run_id,
        "text": None, "signals": None, "text_hash": None,
    }


def header_fields(file: InputFile, rec: WarcRecord) -> dict[str, Any]:
    """What the record's WARC and HTTP headers say (parsing them may fail: the caller guards)."""
    return {
        "doc_id": rec.record_id or fallback_doc_id(file.sha256, rec.offset), "warc_record_id": rec.record_id,
        "warc_type": rec.warc_type, "warc_date": rec.date, "warc_date_raw": rec.date_raw, "url": rec.url,
        "domain": rec.domain, "http_status": rec.http_status, "content_type": rec.content_type,
        "payload_bytes": rec.payload_bytes,
    }


def error_row(file: InputFile, rec: WarcRecord, run_id: str, step: str, reason: str) -> dict[str, Any]:
    """An `error` row for a record whose checks could not finish (the supervisor's timeouts, crashes)."""
    row = base_row(file, rec, run_id)
    try:
        row.update(header_fields(file, rec))
    except Exception:  # noqa: BLE001 - the reason below is what matters
        pass
    row.update(decision=ERROR, step=step, reason=reason[:300])
    return row


# --- the checks, in chain order ------------------------------------------------------------------


def readable(r: Record, c: Chain) -> Stop | None:
    return (ERROR, "read", r.rec.error) if r.rec.error else None


def content_record(r: Record, c: Chain) -> Stop | None:
    return None if r.rec.warc_type in CONTENT_RECORDS else (REJECTED, "read", f"warc-type:{r.rec.warc_type}")


def http_ok(r: Record, c: Chain) -> Stop | None:
    status = r.rec.http_status
    if status is None or 200 <= status < 300:
        return None
    return REJECTED, "read", f"http-status:{status}"


def html_page(r: Record, c: Chain) -> Stop | None:
    if r.is_text or looks_like_html(r.rec.content_type, r.rec.payload):
        return None
    return REJECTED, "read", f"not-html:{(r.rec.content_type or 'unknown').split(';')[0].strip()}"


def within_size(r: Record, c: Chain) -> Stop | None:
    if not r.rec.too_large:
        return None
    return ERROR, "extract", f"html-too-large:{r.rec.payload_bytes}>{c.cfg.extract.max_html_bytes}"


def url_allowed(r: Record, c: Chain) -> Stop | None:
    _, step, reason = run_filters(c.url_filters, r.doc)  # needs only the URL: before decoding anything
    return (REJECTED, step, reason) if step and reason else None


def decode(r: Record, c: Chain) -> Stop | None:
    if r.is_text:
        r.text, codec, source = r.rec.payload.decode("utf-8", "replace"), "utf-8", "wet"
    else:
        r.html, codec, source = decode_html(r.rec.payload, r.rec.content_type)
    r.row.update(charset=codec, charset_source=source)
    return None


def empty_page(r: Record, c: Chain) -> Stop | None:
    return (REJECTED, "extract", "no-text") if not r.is_text and not r.html else None


def page_signals(r: Record, c: Chain) -> Stop | None:
    """Licence and opt-out, from the HTML and the HTTP headers (a WET record has neither)."""
    if r.html:
        r.row["license"], r.row["license_source"] = detect_license(r.html, base_url=r.rec.url)
        opt = detect_opt_out(r.html, r.rec.http_headers)
        r.row["tdm_reserved"], r.row["noai"] = bool(opt["tdm_reserved"]), bool(opt["noai"])
    return None


def extract(r: Record, c: Chain) -> Stop | None:
    if not r.html:
        return None
    try:
        r.text = extract_text(r.html, c.cfg.extract.extractor)
    except Exception as exc:
        return ERROR, "extract", f"extraction-failed:{type(exc).__name__}: {exc}"[:300]
    return None


def has_text(r: Record, c: Chain) -> Stop | None:
    return None if r.text.strip() else (REJECTED, "extract", "no-text")


def pii(r: Record, c: Chain) -> Stop | None:
    r.row["pii_counts"] = {k: int(v) for k, v in detect_pii(r.text).items()}
    if c.cfg.signals.redact_pii and any(r.row["pii_counts"].values()):
        r.text, _ = redact_pii(r.text, c.cfg.signals.placeholders)
        r.row["pii_redacted"] = True
    return None


def language(r: Record, c: Chain) -> Stop | None:
    lang, score = c.lid.predict(r.text)
    r.row.update(lang=lang, lang_score=score)
    return None


def filter_signals(r: Record, c: Chain) -> Stop | None:
    """Every quality filter's signals, before any decision (so thresholds can be re-applied later)."""
    r.doc.text, r.doc.lang = r.text, r.row["lang"]
    r.signals = annotate(c.text_filters, r.doc)
    r.row.update(text=r.doc.text, n_chars=len(r.doc.text), signals=json.dumps(r.signals, sort_keys=True))
    return None


def language_score(r: Record, c: Chain) -> Stop | None:
    lang, score, threshold = r.row["lang"], r.row["lang_score"], c.cfg.lid.threshold
    if c.cfg.lid.per_language == "fineweb-2":
        threshold = language_score_threshold(lang, threshold)
    if score >= threshold:
        return None
    return REJECTED, "lid", f"lang_score={score:.2f}<{threshold} (lang={lang})"


def language_allowed(r: Record, c: Chain) -> Stop | None:
    allowed, lang = c.cfg.lid.languages, r.row["lang"]
    if not allowed or lang in allowed:
        return None
    return REJECTED, "lid", f"lang={lang} not in {','.join(allowed)}"


def quality(r: Record, c: Chain) -> Stop | None:
    stop = first_rejection(c.text_filters, r.signals)
    return (REJECTED, *stop) if stop else None


def opt_out(r: Record, c: Chain) -> Stop | None:
    if not (c.cfg.signals.drop_opted_out and (r.row["tdm_reserved"] or r.row["noai"])):
        return None
    return REJECTED, "opt_out", "tdm-reservation" if r.row["tdm_reserved"] else "noai"


CHECKS: tuple[Callable[[Record, Chain], Stop | None], ...] = (
    readable, content_record, http_ok, html_page, within_size, url_allowed, decode, empty_page, page_signals,
    extract, has_text, pii, language, filter_signals, language_score, language_allowed, quality, opt_out,
)
CHECK_NAMES = tuple(check.__name__ for check in CHECKS)  # the steps a supervisor reports (timeout:<step>)
