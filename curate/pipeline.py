"""The curation pipeline: WARC files in, an auditable corpus directory out.

Three stages, each resumable:

1. **per file** (`process_file`, one task per WARC, in parallel): read every record,
   decode, extract, identify the language, annotate and apply the filters, detect
   PII / licence / opt-out signals, hash the text and compute MinHash signatures.
   Writes `_work/extract/part-NNNNN.parquet` (+ signatures) and a `.done` marker last.
2. **global dedup** (`dedup_stage`): exact duplicates by normalised-text hash, then
   MinHash LSH clusters across the whole run. Writes `_work/dedup.parquet`.
3. **finalize**: applies the global decisions and writes `provenance/`, `documents/`,
   `rejected/`, `run.json` and `report.html`.

Every record read becomes exactly one provenance row (kept, rejected, duplicate or error).
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
import re
import shutil
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from curate import fsio
from curate.config import CurateConfig, load_config
from curate.warc import WarcRecord, fallback_doc_id, is_warc_path, read_warc
from provenance.manifest import file_entry, now_iso, write_manifest
from provenance.schema import (
    DOCUMENT_SCHEMA,
    DUPLICATE,
    ERROR,
    KEPT,
    PARQUET_OPTIONS,
    PROVENANCE_SCHEMA,
    REJECTED,
    REJECTED_SCHEMA,
    empty_pii,
)

WORK = "_work"
ProgressFn = Callable[[int, int], None]  # (records, kept) increments


class InputError(ValueError):
    """Inputs that cannot be curated (missing path, nothing to read); one-line message."""


# ---------------------------------------------------------------------------------------------
# Inputs and tasks


@dataclass(frozen=True)
class FileTask:
    """One WARC file = one task. `part` names its output files (input order, stable)."""

    index: int
    path: str
    sha256: str
    size: int

    @property
    def part(self) -> str:
        return f"part-{self.index:05d}"


def expand_inputs(inputs: Iterable[str]) -> list[str]:
    """Files, directories (recursive, web-archive names only) and globs -> sorted absolute paths."""
    found: set[str] = set()
    for item in inputs:
        try:  # file:// URLs are local paths; s3://, gs://... are listed through fsspec
            item = fsio.to_local(item)
            if fsio.is_url(item):
                urls = fsio.expand_url(item, keep=is_warc_path)
                if not urls:
                    raise InputError(f"{item}: no such object, or nothing matches")
                found.update(urls)
                continue
        except InputError:
            raise
        except (OSError, ImportError, ValueError) as exc:
            raise InputError(f"{item}: {type(exc).__name__}: {exc}"[:300]) from None
        path = Path(item)
        if any(ch in item for ch in "*?["):
            matches = [m for m in glob.glob(item, recursive=True) if os.path.isfile(m)]
            if not matches:
                raise InputError(f"{item}: the pattern matches no file")
            found.update(os.path.abspath(m) for m in matches)
        elif path.is_dir():
            if (path / "run.json").is_file():
                kind = json.loads((path / "run.json").read_text()).get("kind")
                raise InputError(
                    f"{item}: an assay {kind or 'output'} directory, not web archives; corpora and synthetic "
                    "sets are mixed at training time (assay train run --data NAME=DIR:WEIGHT), where the "
                    "synthetic gates are checked"
                )
            files = [p for p in path.rglob("*") if p.is_file() and is_warc_path(p)]
            if not files:
                raise InputError(f"{item}: directory holds no WARC/ARC/WET files")
            found.update(str(p.resolve()) for p in files)
        elif path.is_file():
            found.add(str(path.resolve()))
        else:
            raise InputError(f"{item}: no such file or directory")
    if not found:
        raise InputError("no input files given")
    return sorted(found)


def make_tasks(paths: list[str]) -> list[FileTask]:
    return [FileTask(i, p, fsio.sha256_of(p), fsio.size_of(p)) for i, p in enumerate(paths)]


def compute_run_id(cfg: CurateConfig, tasks: list[FileTask]) -> str:
    """Deterministic: same inputs and output-affecting config -> same run_id (so reruns are identical)."""
    h = hashlib.sha256(json.dumps(cfg.fingerprint_dict(), sort_keys=True).encode())
    for t in tasks:
        h.update(f"{t.path}\0{t.sha256}\n".encode())
    return "run-" + h.hexdigest()[:16]


# ---------------------------------------------------------------------------------------------
# Stage 1: one WARC file


_WS = re.compile(r"\s+")


def normalize_for_hash(text: str) -> str:
    """Exact-dedup normalisation: NFKC, lower case, whitespace collapsed (C4/dolma-style)."""
    return _WS.sub(" ", unicodedata.normalize("NFKC", text).lower()).strip()


def text_hash(text: str) -> str:
    return hashlib.sha256(normalize_for_hash(text).encode("utf-8")).hexdigest()


def _looks_like_html(content_type: str | None, payload: bytes) -> bool:
    if content_type:
        ct = content_type.lower()
        if "html" in ct:
            return True
        if not any(generic in ct for generic in ("octet-stream", "unknown", "text/plain")):
            return False
    head = payload[:1024].lstrip().lower()
    return head.startswith((b"<!doctype html", b"<html", b"<?xml")) and b"<html" in payload[:4096].lower()


INTERMEDIATE_SCHEMA = pa.schema(
    list(PROVENANCE_SCHEMA)
    + [
        pa.field("text", pa.string()),
        pa.field("signals", pa.string()),
        pa.field("text_hash", pa.string()),
    ]
)


class _FileProcessor:
    """Holds the per-process state (language model, filters) for stage 1."""

    def __init__(self, cfg: CurateConfig) -> None:
        from curate.filters import Doc, UrlFilter, build_filters
        from curate.lid import LanguageIdentifier

        self.cfg = cfg
        self.Doc = Doc
        filters = build_filters(cfg.filters)
        self.url_filters = [f for f in filters if isinstance(f, UrlFilter)]
        self.text_filters = [f for f in filters if not isinstance(f, UrlFilter)]
        self.lid = LanguageIdentifier(cfg.lid.model_path)

    def row(self, task: FileTask, rec: WarcRecord, run_id: str) -> dict[str, Any]:
        doc_id = rec.record_id or fallback_doc_id(task.sha256, rec.offset)
        return {
            "doc_id": doc_id, "source_file": task.path, "source_sha256": task.sha256,
            "record_index": rec.index, "offset": rec.offset, "warc_record_id": rec.record_id,
            "warc_type": rec.warc_type, "warc_date": rec.date, "warc_date_raw": rec.date_raw,
            "url": rec.url, "domain": rec.domain, "http_status": rec.http_status,
            "content_type": rec.content_type, "charset": None, "charset_source": None,
            "payload_bytes": rec.payload_bytes, "n_chars": None, "lang": None, "lang_score": None,
            "license": None, "license_source": None, "tdm_reserved": False, "noai": False,
            "pii_counts": empty_pii(), "pii_redacted": False, "decision": KEPT, "step": None,
            "reason": None, "dup_cluster": None, "dup_of": None, "run_id": run_id,
            "text": None, "signals": None, "text_hash": None,
        }

    def process(self, task: FileTask, rec: WarcRecord, run_id: str) -> dict[str, Any]:
        row = self.row(task, rec, run_id)
        try:
            self._decide(rec, row)
        except Exception as exc:  # never let one record stop the run
            row.update(decision=ERROR, step="pipeline", reason=f"{type(exc).__name__}: {exc}"[:300])
        return row

    def _decide(self, rec: WarcRecord, row: dict[str, Any]) -> None:
        from curate.extract import ExtractionTimeout, extract_text
        from curate.signals import detect_license, detect_opt_out, detect_pii, redact_pii

        def stop(decision: str, step: str, reason: str) -> None:
            row.update(decision=decision, step=step, reason=reason)

        cfg = self.cfg
        if rec.error:
            return stop(ERROR, "read", rec.error)
        if rec.warc_type not in ("response", "resource", "conversion"):
            return stop(REJECTED, "read", f"warc-type:{rec.warc_type}")
        if rec.http_status is not None and not 200 <= rec.http_status < 300:
            return stop(REJECTED, "read", f"http-status:{rec.http_status}")
        is_text = rec.warc_type == "conversion"  # WET: text already extracted by the crawler
        if not is_text and not _looks_like_html(rec.content_type, rec.payload):
            return stop(REJECTED, "read", f"not-html:{(rec.content_type or 'unknown').split(';')[0].strip()}")
        if rec.too_large:
            return stop(ERROR, "extract", f"html-too-large:{rec.payload_bytes}>{cfg.extract.max_html_bytes}")
        doc = self.Doc(text="", url=rec.url, domain=rec.domain)
        for f in self.url_filters:
            reason = f.decide(f.annotate(doc))
            if reason:
                return stop(REJECTED, f.name, reason)

        if is_text:
            text, codec, source = rec.payload.decode("utf-8", "replace"), "utf-8", "wet"
            html = ""
        else:
            from curate.decode import decode_html

            html, codec, source = decode_html(rec.payload, rec.content_type)
        row.update(charset=codec, charset_source=source)
        if html:
            row["license"], row["license_source"] = detect_license(html, base_url=rec.url)
            opt = detect_opt_out(html, rec.http_headers)
            row["tdm_reserved"], row["noai"] = bool(opt["tdm_reserved"]), bool(opt["noai"])
            try:
                text = extract_text(html, cfg.extract.extractor, cfg.extract.timeout_s)
            except ExtractionTimeout as exc:
                return stop(ERROR, "extract", f"extraction-timeout:{exc}")
            except Exception as exc:
                return stop(ERROR, "extract", f"extraction-failed:{type(exc).__name__}: {exc}"[:300])
        if not text.strip():
            return stop(REJECTED, "extract", "no-text")

        row["pii_counts"] = {k: int(v) for k, v in detect_pii(text).items()}
        if cfg.signals.redact_pii and any(row["pii_counts"].values()):
            text, _ = redact_pii(text, cfg.signals.placeholders)
            row["pii_redacted"] = True

        lang, score = self.lid.predict(text)
        row.update(lang=lang, lang_score=score)
        signals: dict[str, Any] = {}
        doc.text, doc.lang = text, lang
        # Annotate first (all filters, so thresholds can be re-applied later), decide second.
        for f in self.text_filters:
            signals[f.name] = f.annotate(doc)
        row.update(text=doc.text, n_chars=len(doc.text), signals=json.dumps(signals, sort_keys=True))

        if score < cfg.lid.threshold:
            return stop(REJECTED, "lid", f"lang_score={score:.2f}<{cfg.lid.threshold} (lang={lang})")
        if cfg.lid.languages and lang not in cfg.lid.languages:
            return stop(REJECTED, "lid", f"lang={lang} not in {','.join(cfg.lid.languages)}")
        for f in self.text_filters:
            reason = f.decide(signals[f.name])
            if reason:
                return stop(REJECTED, f.name, reason)
        if cfg.signals.drop_opted_out and (row["tdm_reserved"] or row["noai"]):
            return stop(REJECTED, "opt_out", "tdm-reservation" if row["tdm_reserved"] else "noai")
        row["text_hash"] = text_hash(doc.text)


_PROCESSORS: dict[str, _FileProcessor] = {}


def _processor(cfg: CurateConfig) -> _FileProcessor:
    key = cfg.model_dump_json()
    if key not in _PROCESSORS:
        _PROCESSORS.clear()
        _PROCESSORS[key] = _FileProcessor(cfg)
    return _PROCESSORS[key]


def _atomic_write_parquet(table: pa.Table, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    pq.write_table(table, tmp, **PARQUET_OPTIONS)
    os.replace(tmp, path)


def _atomic_write_text(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def marker_path(out_dir: Path, stage: str, part: str) -> Path:
    return out_dir / WORK / stage / f"{part}.done"


def process_file(task: FileTask, cfg: CurateConfig, out_dir: str, run_id: str,
                 progress: ProgressFn | None = None) -> dict[str, int]:
    """Stage 1 for one WARC file. Idempotent: returns at once when its marker exists."""
    out = Path(out_dir)
    marker = marker_path(out, "extract", task.part)
    if marker.exists():
        return json.loads(marker.read_text())["counts"]
    proc = _processor(cfg)
    rows: list[dict[str, Any]] = []
    pending_records = kept_increment = 0
    for rec in read_warc(task.path, task.sha256, cfg.extract.max_html_bytes):
        row = proc.process(task, rec, run_id)
        rows.append(row)
        pending_records += 1
        kept_increment += row["decision"] == KEPT
        if progress and pending_records >= 16:
            progress(pending_records, kept_increment)
            pending_records = kept_increment = 0
    if progress and pending_records:
        progress(pending_records, kept_increment)
    table = pa.Table.from_pylist(rows, schema=INTERMEDIATE_SCHEMA)
    _atomic_write_parquet(table, out / WORK / "extract" / f"{task.part}.parquet")

    if cfg.near_dedup.enabled:
        from curate.minhash import signatures, write_signatures

        cand = [r for r in rows if r["text_hash"] is not None]
        sigs = signatures([r["text"] for r in cand], cfg.near_dedup)
        write_signatures(
            out / WORK / "minhash" / f"{task.part}.parquet",
            [r["doc_id"] for r in cand],
            pa.array([r["warc_date"] for r in cand], type=PROVENANCE_SCHEMA.field("warc_date").type),
            sigs,
            cfg.near_dedup,
        )
    counts = {"records": len(rows), "candidates": sum(r["text_hash"] is not None for r in rows)}
    _atomic_write_text(marker, json.dumps({"path": task.path, "sha256": task.sha256, "counts": counts}))
    return counts


# ---------------------------------------------------------------------------------------------
# Stage 2: global dedup


DEDUP_SCHEMA = pa.schema(
    [
        pa.field("part", pa.string()), pa.field("record_index", pa.int64()), pa.field("doc_id", pa.string()),
        pa.field("decision", pa.string()), pa.field("step", pa.string()), pa.field("reason", pa.string()),
        pa.field("dup_cluster", pa.string()), pa.field("dup_of", pa.string()),
    ]
)


def dedup_stage(out_dir: Path, tasks: list[FileTask], cfg: CurateConfig) -> pa.Table:
    """Global decisions keyed by (part, record_index): renamed doc_ids, exact and near duplicates."""
    import polars as pl

    frames = [
        pl.read_parquet(
            out_dir / WORK / "extract" / f"{t.part}.parquet",
            columns=["doc_id", "record_index", "text_hash"],
        ).with_columns(pl.lit(t.part).alias("part"))
        for t in tasks
    ]
    df = pl.concat(frames).sort(["part", "record_index"])
    decisions: dict[tuple[str, int], dict[str, Any]] = {}

    def mark(r: dict[str, Any], **fields: Any) -> None:
        key = (r["part"], r["record_index"])
        decisions.setdefault(key, {"part": r["part"], "record_index": r["record_index"], "doc_id": r["doc_id"]})
        decisions[key].update(fields)

    # The same WARC-Record-ID twice in a run (one record packed in two files): the first keeps
    # the id; later copies get a suffixed id so every provenance row stays addressable.
    first_id = df.select(pl.col("doc_id").is_first_distinct()).to_series()
    for r in df.filter(~first_id).iter_rows(named=True):
        mark(r, doc_id=f"{r['doc_id']}#{r['part']}-{r['record_index']}")
        if r["text_hash"] is not None:
            mark(r, decision=DUPLICATE, step="exact_dedup", reason="repeated WARC-Record-ID", dup_of=r["doc_id"])
    cands = df.filter(first_id & pl.col("text_hash").is_not_null())

    removed: set[str] = set()
    if cfg.exact_dedup.enabled:
        # Keep the first copy in input order (file order, then record order).
        first_text = cands.select(pl.col("text_hash").is_first_distinct()).to_series()
        rep_of = dict(cands.filter(first_text).select(["text_hash", "doc_id"]).iter_rows())
        dups = cands.filter(~first_text)
        for r in dups.iter_rows(named=True):
            rep = rep_of[r["text_hash"]]
            mark(r, decision=DUPLICATE, step="exact_dedup", reason=f"exact duplicate of {rep}",
                 dup_cluster="exact-" + r["text_hash"][:16], dup_of=rep)
            removed.add(r["doc_id"])
        dup_hashes = dups["text_hash"].unique().to_list()
        for r in cands.filter(first_text & pl.col("text_hash").is_in(dup_hashes)).iter_rows(named=True):
            mark(r, dup_cluster="exact-" + r["text_hash"][:16])

    if cfg.near_dedup.enabled:
        if cfg.executor == "ray":  # LSH buckets as Ray tasks: signatures never reach the driver
            from curate.ray_lsh import find_clusters_ray as find_clusters
        else:
            from curate.minhash import find_clusters

        where = {r["doc_id"]: r for r in cands.iter_rows(named=True) if r["doc_id"] not in removed}
        sig_paths = [out_dir / WORK / "minhash" / f"{t.part}.parquet" for t in tasks]
        exclude = set(df["doc_id"].to_list()) - set(where)
        clusters = find_clusters(sig_paths, cfg.near_dedup, exclude=exclude)
        for c in clusters.to_pylist():
            r = where[c["doc_id"]]
            if c["is_representative"]:
                mark(r, dup_cluster=c["dup_cluster"])
            else:
                mark(r, decision=DUPLICATE, step="near_dedup", dup_cluster=c["dup_cluster"], dup_of=c["dup_of"],
                     reason=f"near duplicate of {c['dup_of']} (MinHash {cfg.near_dedup.bands}x{cfg.near_dedup.rows})")

    rows = [decisions[k] for k in sorted(decisions)]
    table = pa.Table.from_pylist(rows, schema=DEDUP_SCHEMA)
    _atomic_write_parquet(table, out_dir / WORK / "dedup.parquet")
    return table


# ---------------------------------------------------------------------------------------------
# Stage 3: final outputs


def finalize_part(out_dir: Path, task: FileTask, decisions: dict[int, dict[str, Any]]) -> dict[str, int]:
    """Apply global decisions to one part and write provenance / documents / rejected files."""
    inter = pq.read_table(out_dir / WORK / "extract" / f"{task.part}.parquet").to_pylist()
    for row in inter:
        upd = decisions.get(row["record_index"])
        if upd:
            for key in ("doc_id", "decision", "step", "reason", "dup_cluster", "dup_of"):
                if upd.get(key) is not None:
                    row[key] = upd[key]
    prov = pa.Table.from_pylist(inter, schema=INTERMEDIATE_SCHEMA).select(PROVENANCE_SCHEMA.names)
    _atomic_write_parquet(prov.cast(PROVENANCE_SCHEMA), out_dir / "provenance" / f"{task.part}.parquet")
    docs = [r for r in inter if r["decision"] == KEPT]
    rej = [r for r in inter if r["decision"] in (REJECTED, DUPLICATE) and r["text"] is not None]
    _atomic_write_parquet(pa.Table.from_pylist(docs, schema=DOCUMENT_SCHEMA), out_dir / "documents" / f"{task.part}.parquet")
    _atomic_write_parquet(pa.Table.from_pylist(rej, schema=REJECTED_SCHEMA), out_dir / "rejected" / f"{task.part}.parquet")
    counts = {"records": len(inter)}
    for d in (KEPT, REJECTED, DUPLICATE, ERROR):
        counts[d] = sum(r["decision"] == d for r in inter)
    return counts


def _state_check(out_dir: Path, run_id: str, overwrite: bool) -> None:
    """Refuse to mix runs: an output dir holds one run (same inputs + config), resumable."""
    state = out_dir / WORK / "state.json"
    if state.exists():
        previous = json.loads(state.read_text()).get("run_id")
        if previous != run_id:
            if not overwrite:
                raise InputError(
                    f"{out_dir} holds run {previous} (other inputs or config); use another -o or --overwrite"
                )
            for sub in (WORK, "provenance", "documents", "rejected", "tokens"):
                shutil.rmtree(out_dir / sub, ignore_errors=True)
    _atomic_write_text(state, json.dumps({"run_id": run_id}))


def curate(
    inputs: list[str],
    out_dir: str | os.PathLike[str],
    config: CurateConfig | None = None,
    *,
    overwrite: bool = False,
    progress: bool = False,
) -> dict[str, Any]:
    """Run the whole pipeline; returns the run manifest (also written to OUT/run.json)."""
    from curate.executor import run_tasks

    cfg = config or load_config()
    try:
        out = Path(fsio.local_dir(out_dir)).resolve()
    except ValueError as exc:
        raise InputError(str(exc)) from None
    started = now_iso()
    tasks = make_tasks(expand_inputs(inputs))
    run_id = compute_run_id(cfg, tasks)
    out.mkdir(parents=True, exist_ok=True)
    _state_check(out, run_id, overwrite)
    already = sum(marker_path(out, "extract", t.part).exists() for t in tasks)
    run_tasks(tasks, cfg, str(out), run_id, show_progress=progress)

    dedup = dedup_stage(out, tasks, cfg)
    by_part: dict[str, dict[int, dict[str, Any]]] = {}
    for r in dedup.to_pylist():
        by_part.setdefault(r["part"], {})[r["record_index"]] = r
    totals: dict[str, int] = {"records": 0, KEPT: 0, REJECTED: 0, DUPLICATE: 0, ERROR: 0}
    for t in tasks:
        for k, v in finalize_part(out, t, by_part.get(t.part, {})).items():
            totals[k] += v

    manifest = build_manifest(out, cfg, tasks, run_id, totals, started, resumed_tasks=already)
    if cfg.tokenize.enabled:
        from curate.tokenize import tokenize_corpus

        write_manifest(out, manifest)
        from curate.exec import make_executor

        tokenize_corpus(out, cfg.tokenize, executor=make_executor(cfg.executor, cfg.workers, cfg.ray_address))
        from provenance.manifest import read_manifest

        manifest = read_manifest(out)
    from curate.report import write_report

    write_report(out)
    manifest["outputs"] = _outputs(out)
    write_manifest(out, manifest)
    return manifest


def _outputs(out: Path) -> list[dict[str, Any]]:
    files = sorted(
        p for sub in ("provenance", "documents", "rejected", "tokens") for p in (out / sub).glob("*") if p.is_file()
    )
    extra = [out / n for n in ("tokenizer.json", "report.html") if (out / n).exists()]
    return [file_entry(p, out) for p in files + extra]


def build_manifest(out: Path, cfg: CurateConfig, tasks: list[FileTask], run_id: str,
                   totals: dict[str, int], started: str, resumed_tasks: int) -> dict[str, Any]:
    import polars as pl

    prov = pl.read_parquet(out / "provenance" / "*.parquet", columns=["decision", "step"])
    by_step = (
        prov.filter(pl.col("decision") != KEPT)
        .group_by(["decision", "step"]).len().sort(["decision", "step"])
        .to_dicts()
    )
    return {
        "kind": "curate",
        "run_id": run_id,
        "config": cfg.model_dump(mode="json"),
        "inputs": [{"path": t.path, "bytes": t.size, "sha256": t.sha256, "kind": "warc"} for t in tasks],
        "counts": {**totals, "by_step": by_step},
        "resumed_tasks": resumed_tasks,
        "started_at": started,
        "ended_at": now_iso(),
    }
