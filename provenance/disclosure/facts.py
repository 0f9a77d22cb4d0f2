"""What the disclosures know about each input directory, read once from its records.

Corpora (provenance parquet, run.json, the warcinfo records of their WARC files), synthetic sets
(run.json, documents) and training runs (run.json), each as a plain dict of facts with the
manifest it came from. Every format (AB 2013, EU summary, dataset card, Croissant) answers from
these `Facts`, so one run gives one set of numbers. Reads files only (polars / pyarrow / run.json).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow as pa

from provenance.disclosure.warcinfo import published_as, warcinfo_of
from provenance.errors import InputError
from provenance.gates import SYNTH_KIND
from provenance.manifest import read_manifest, sha256_file
from provenance.outdir import CORPUS_KINDS, DOCUMENTS, PROVENANCE, OutDir
from provenance.schema import KEPT, PII_TYPES, TAKEN_DOWN

URL_STEP = "url"  # the step name of curate's URL block list (curate/filters/url.py)


class DisclosureError(InputError):
    """Inputs that cannot be disclosed (not an assay directory, unreadable files); one line."""


def _manifest_ref(d: Path, man: dict[str, Any]) -> dict[str, Any]:
    path = OutDir(d).manifest
    return {"path": str(path), "kind": man.get("kind"), "run_id": man.get("run_id"),
            "sha256": sha256_file(path)}


def _parquet(d: Path, sub: str) -> pl.DataFrame | None:
    files = OutDir(d).parts(sub)
    if not files:
        return None
    try:
        return pl.read_parquet([str(f) for f in files])
    except Exception as exc:  # a corrupt part file is an input problem, not a crash
        raise DisclosureError(f"{d / sub}: cannot read parquet files: {exc}") from exc


def _iso(v: Any) -> str | None:
    if v is None:
        return None
    if isinstance(v, datetime):
        return v.astimezone(UTC).isoformat().replace("+00:00", "Z")
    return str(v)


def _token_count(d: Path, man: dict[str, Any]) -> int | None:
    section = man.get("tokenize") or {}
    if "n_tokens" in section:
        return int(section["n_tokens"])
    shards = OutDir(d).shards
    if not shards:
        return None
    total = 0
    for s in shards:
        with pa.memory_map(str(s)) as src:
            total += int(pa.ipc.open_file(src).read_all()["n_tokens"].to_numpy().sum())
    return total


def _by_count(df: pl.DataFrame, col: str) -> pl.DataFrame:
    """Rows per value of `col`, most first, ties by value (nulls last)."""
    return df.group_by(col).len().sort(["len", col], descending=[True, False], nulls_last=True)


def _date_range(dates: pl.Series) -> dict[str, str | None]:
    dates = dates.drop_nulls()
    if not len(dates):
        return {"min": None, "max": None}
    return {"min": _iso(dates.min()), "max": _iso(dates.max())}


def _domains(kept: pl.DataFrame) -> list[dict[str, Any]]:
    """Kept documents and crawled payload bytes per web domain (most documents first), with the first
    URL (sorted) of each as a sample."""
    with_domain = kept.filter(pl.col("domain").is_not_null())
    dom = (with_domain.group_by("domain")
           .agg(pl.len().alias("documents"), pl.col("payload_bytes").fill_null(0).sum().alias("bytes"),
                pl.col("url").sort().first().alias("sample_url"))
           .sort(["documents", "domain"], descending=[True, False]))
    return dom.to_dicts()


def _pii(kept: pl.DataFrame) -> dict[str, Any]:
    """Personal information detected in the kept documents: totals per type, documents with any, redacted."""
    field = pl.col("pii_counts").struct.field
    totals = (kept.select([field(t).fill_null(0).sum().alias(t) for t in PII_TYPES]).row(0, named=True)
              if kept.height else dict.fromkeys(PII_TYPES, 0))
    with_pii = kept.filter(pl.any_horizontal([field(t).fill_null(0) > 0 for t in PII_TYPES]))
    return {"pii_totals": {k: int(v or 0) for k, v in totals.items()}, "documents_with_pii": with_pii.height,
            "pii_redacted_documents": int(kept["pii_redacted"].fill_null(False).sum()) if kept.height else 0}


def _opt_outs(prov: pl.DataFrame, kept: pl.DataFrame, signals_cfg: dict[str, Any]) -> dict[str, Any]:
    """TDMRep reservations and noai signals seen, among all records and among kept documents."""
    def count(df: pl.DataFrame, col: str) -> int:
        return int(df[col].fill_null(False).sum())

    return {"tdm_reserved": {"kept": count(kept, "tdm_reserved"), "all": count(prov, "tdm_reserved")},
            "noai": {"kept": count(kept, "noai"), "all": count(prov, "noai")},
            "drop_opted_out": bool(signals_cfg.get("drop_opted_out", False))}


def _content_types(kept: pl.DataFrame) -> list[dict[str, Any]]:
    """Kept documents per media type (the HTTP Content-Type without parameters)."""
    ct = pl.col("content_type").str.split(";").list.first().str.strip_chars().alias("ct")
    return [{"content_type": r[0], "documents": r[1]}
            for r in _by_count(kept.with_columns(ct), "ct").iter_rows()]


def _crawled(kept: pl.DataFrame, warcinfo: list[dict[str, Any]]) -> dict[str, Any]:
    """The kept documents from WARC files no warcinfo record places in a published crawl (such as
    Common Crawl's `isPartOf`): their files, period, content types, and domains by crawled payload
    bytes, most first (ties by name)."""
    published = {w["sha256"] for w in warcinfo if published_as(w["fields"])}
    own = kept.filter(~pl.col("source_sha256").is_in(list(published)))
    return {"files": sorted(set(own["source_sha256"].to_list())), "documents": own.height,
            "bytes": int(own["payload_bytes"].fill_null(0).sum()), "warc_date": _date_range(own["warc_date"]),
            "content_types": _content_types(own),
            "domains": sorted(_domains(own), key=lambda x: (-x["bytes"], x["domain"]))}


def _kept_by_source(kept: pl.DataFrame) -> dict[str, dict[str, int]]:
    """Kept documents and crawled payload bytes per WARC file (by sha256)."""
    per = kept.group_by("source_sha256").agg(pl.len().alias("documents"),
                                              pl.col("payload_bytes").fill_null(0).sum().alias("bytes"))
    return {r["source_sha256"]: {"documents": r["documents"], "bytes": r["bytes"]}
            for r in per.sort("source_sha256").iter_rows(named=True)}


def _takedowns(man: dict[str, Any]) -> list[dict[str, Any]]:
    """Every takedown request behind this corpus version, oldest first (curate/removal/new_version.py)."""
    history = [*(man.get("takedowns_before") or []),
               *([man["takedown"]] if man.get("kind") == "takedown" and man.get("takedown") else [])]
    keys = ("request_id", "request", "requested_at", "removed_documents")
    return [{k: t.get(k) for k in keys} for t in history]


def _processing(prov: pl.DataFrame, man: dict[str, Any]) -> dict[str, Any]:
    """Removal counts per step, and the URL block list the run was configured with."""
    removed = (prov.filter(pl.col("decision") != KEPT).group_by(["decision", "step"]).len()
               .sort(["decision", "step"], nulls_last=True))
    url_cfg = ((man.get("config") or {}).get("filters") or {}).get(URL_STEP) or {}
    return {"removed_by_step": [{"decision": r[0], "step": r[1], "count": r[2]} for r in removed.iter_rows()],
            "url_filter": {"enabled": url_cfg.get("enabled"), "blocklist_file": url_cfg.get("blocklist_file"),
                           "domains": len(url_cfg.get("domains") or []),
                           "regexes": len(url_cfg.get("regexes") or []),
                           "removed": prov.filter(pl.col("step") == URL_STEP).height}}


def corpus_facts(d: Path, man: dict[str, Any]) -> dict[str, Any]:
    """Everything the disclosures state about one corpus, computed from its provenance files."""
    prov = _parquet(d, PROVENANCE)
    if prov is None:
        raise DisclosureError(f"{d}: no {PROVENANCE}/*.parquet (a {man.get('kind')} run must have one)")
    kept = prov.filter(pl.col("decision") == KEPT)
    signals_cfg = (man.get("config") or {}).get("signals") or {}
    domains = _domains(kept)
    warcinfo = warcinfo_of(prov)
    takedowns = _takedowns(man)
    return {
        "path": str(d), "kind": man.get("kind"), "run_id": man.get("run_id"), "recipe": man.get("recipe"),
        "parent_run_id": (man.get("parent") or {}).get("run_id"), "manifest": _manifest_ref(d, man),
        "warc_inputs": [{"path": i.get("path"), "bytes": i.get("bytes"), "sha256": i.get("sha256")}
                        for i in man.get("inputs") or []],
        "warcinfo": warcinfo, "outputs": man.get("outputs") or [],
        "records": prov.height, "kept": kept.height,
        "by_decision": dict(sorted(prov.group_by("decision").len().iter_rows())),
        **_processing(prov, man),
        "domains": domains, "n_domains": len(domains), "crawled": _crawled(kept, warcinfo),
        "payload_bytes_kept": int(kept["payload_bytes"].fill_null(0).sum()),
        "kept_by_source": _kept_by_source(kept),
        "warc_date_kept": _date_range(kept["warc_date"]),
        "warc_date_all": _date_range(prov["warc_date"] if "warc_date" in prov.columns else pl.Series([])),
        **_pii(kept),
        "redaction_enabled": bool(signals_cfg.get("redact_pii", False)),
        "licenses": [{"license": r[0] or "none detected", "documents": r[1]}
                     for r in _by_count(kept, "license").iter_rows()],
        **_opt_outs(prov, kept, signals_cfg),
        "languages": [{"lang": r[0], "documents": r[1]} for r in _by_count(kept, "lang").iter_rows()],
        "content_types": _content_types(kept),
        "tokens": _token_count(d, man),
        "taken_down": int(prov.filter(pl.col("decision") == TAKEN_DOWN).height),
        "takedowns": takedowns, "takedown_requests": len(takedowns),
        "started_at": man.get("started_at"), "ended_at": man.get("ended_at"),
    }


# The label types of the tasks assay ships (synth/templates/*.toml): a `qa` record holds
# question-answer pairs written as "Question: ..." then "Answer: ..." (the template's own format);
# continuation and rephrase records are plain text with no label.
TASK_LABELS = {"qa": "question-answer pairs ('Question: ...' followed by 'Answer: ...')"}
QA_PAIR = re.compile(r"Question:.*?Answer:", re.DOTALL)


def _task(man: dict[str, Any]) -> dict[str, Any]:
    """The task of a synth manifest: `{"id", "version", ...}` (synth/generate.py) or a bare id."""
    task = man.get("task")
    return dict(task) if isinstance(task, dict) else {"id": task}


def synth_facts(d: Path, man: dict[str, Any]) -> dict[str, Any]:
    docs = _parquet(d, DOCUMENTS)
    prov = _parquet(d, PROVENANCE)
    n = docs.height if docs is not None else int((man.get("counts") or {}).get("kept", 0))
    if prov is not None:
        n = prov.filter(pl.col("decision") == KEPT).height
    gen, task = man.get("generator") or {}, _task(man)
    labels = man.get("labels") or TASK_LABELS.get(str(task.get("id")))
    texts = docs["text"].to_list() if docs is not None else []
    return {
        "path": str(d), "kind": SYNTH_KIND, "run_id": man.get("run_id"), "manifest": _manifest_ref(d, man),
        "records": n, "generator": {"model": gen.get("model"), "weights_sha256": gen.get("weights_sha256")},
        "task": task.get("id"), "task_version": task.get("version"), "purpose": man.get("purpose"),
        "labels": labels,
        "labelled_records": (sum(bool(QA_PAIR.search(t or "")) for t in texts)
                             if task.get("id") in TASK_LABELS else None),
        "gates_overall": (man.get("gates") or {}).get("overall"),
        "per_gate": (man.get("gates") or {}).get("per_gate") or {},
        "languages": ([{"lang": r[0], "documents": r[1]} for r in _by_count(docs, "lang").iter_rows()]
                      if docs is not None else []),
        "seeds": man.get("seeds"), "tokens": _token_count(d, man), "outputs": man.get("outputs") or [],
        # synth/generate.py records `started` / `finished`; older manifests `started_at` / `ended_at`
        "generated_from": man.get("started") or man.get("started_at"),
        "generated_to": man.get("finished") or man.get("ended_at"),
    }


def train_facts(d: Path, man: dict[str, Any]) -> dict[str, Any]:
    consumed = man.get("shards_consumed") or []
    first = min((s.get("first_read_at") for s in consumed if s.get("first_read_at")), default=None)
    per_corpus: dict[str, str] = {}
    for s in consumed:
        c, t = s.get("corpus"), s.get("first_read_at")
        if c and t and (c not in per_corpus or t < per_corpus[c]):
            per_corpus[c] = t
    return {
        "path": str(d), "kind": "train", "run_id": man.get("run_id"), "manifest": _manifest_ref(d, man),
        "started_at": man.get("started_at"), "first_read_at": first or man.get("started_at"),
        "data": [{"name": x.get("name"), "path": x.get("path"), "run_id": x.get("run_id"),
                  "kind": x.get("kind"), "first_read_at": per_corpus.get(x.get("name"))}
                 for x in man.get("data") or []],
        "shards_consumed": len(consumed),
    }


@dataclass(frozen=True)
class Facts:
    """What `read_inputs` found, by kind, with the manifest references evidence cites."""

    corpora: list[dict[str, Any]]
    synth: list[dict[str, Any]]
    train: list[dict[str, Any]]

    @property
    def refs(self) -> list[dict[str, Any]]:
        return [c["manifest"] for c in self.corpora]

    @property
    def all_refs(self) -> list[dict[str, Any]]:
        return self.refs + [s["manifest"] for s in self.synth] + [t["manifest"] for t in self.train]

    @property
    def datasets(self) -> list[dict[str, Any]]:
        """Corpora and synthetic sets: what was (or can be) trained on."""
        return self.corpora + self.synth

    @property
    def kept(self) -> int:
        return sum(c["kept"] for c in self.corpora)

    @property
    def takedowns(self) -> list[dict[str, Any]]:
        return [{**t, "corpus_run_id": c["run_id"]} for c in self.corpora for t in c["takedowns"]]


def read_inputs(dirs: list[str | os.PathLike[str]]) -> Facts:
    """The facts of every input directory (each read once, in the order given)."""
    if not dirs:
        raise DisclosureError("no input directories given")
    corpora, synth, train = [], [], []
    seen = set()
    for raw in dirs:
        d = Path(raw).resolve()
        if str(d) in seen:
            continue
        seen.add(str(d))
        man = read_manifest(d)  # NotARunError / InputError: one line for the user
        kind = man.get("kind")
        if kind in CORPUS_KINDS:
            corpora.append(corpus_facts(d, man))
        elif kind == SYNTH_KIND:
            synth.append(synth_facts(d, man))
        elif kind == "train":
            train.append(train_facts(d, man))
        else:
            raise DisclosureError(f"{OutDir(d).manifest}: kind {kind!r} is not a corpus, synthetic set "
                                  "or training run")
    return Facts(corpora, synth, train)
