"""What the AB 2013 disclosure knows about each input directory, read from its records.

Corpora (provenance parquet, run.json), synthetic sets and training runs (run.json), each as a
plain dict of facts with the manifest it came from; `provenance.disclosure_items` turns them
into the twelve answers. Reads files only (polars / pyarrow / run.json).
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow as pa

from provenance.errors import InputError
from provenance.gates import SYNTH_KIND
from provenance.manifest import read_manifest, sha256_file
from provenance.outdir import CORPUS_KINDS, DOCUMENTS, PROVENANCE, OutDir
from provenance.schema import KEPT, PII_TYPES, TAKEN_DOWN


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
    """Kept documents per web domain, with the first URL (sorted) of each as a sample."""
    with_domain = kept.filter(pl.col("domain").is_not_null())
    dom = with_domain.group_by("domain").len().sort(["len", "domain"], descending=[True, False])
    first = with_domain.sort("url").group_by("domain", maintain_order=True).agg(pl.col("url").first())
    samples = dict(zip(first["domain"].to_list(), first["url"].to_list(), strict=True))
    return [{"domain": r[0], "documents": r[1], "sample_url": samples.get(r[0])} for r in dom.iter_rows()]


def _pii(kept: pl.DataFrame) -> dict[str, Any]:
    """Personal information detected in the kept documents: totals per type, documents with any, redacted."""
    field = pl.col("pii_counts").struct.field
    totals = (kept.select([field(t).fill_null(0).sum().alias(t) for t in PII_TYPES]).row(0, named=True)
              if kept.height else dict.fromkeys(PII_TYPES, 0))
    with_pii = kept.filter(pl.any_horizontal([field(t).fill_null(0) > 0 for t in PII_TYPES]))
    return {"pii_totals": {k: int(v or 0) for k, v in totals.items()}, "documents_with_pii": with_pii.height,
            "pii_redacted_documents": int(kept["pii_redacted"].fill_null(False).sum()) if kept.height else 0}


def corpus_facts(d: Path, man: dict[str, Any]) -> dict[str, Any]:
    """Everything the disclosure states about one corpus, computed from its provenance files."""
    prov = _parquet(d, PROVENANCE)
    if prov is None:
        raise DisclosureError(f"{d}: no {PROVENANCE}/*.parquet (a {man.get('kind')} run must have one)")
    kept = prov.filter(pl.col("decision") == KEPT)
    removed = (prov.filter(pl.col("decision") != KEPT).group_by(["decision", "step"]).len()
               .sort(["decision", "step"], nulls_last=True))
    content_type = pl.col("content_type").str.split(";").list.first().str.strip_chars().alias("ct")
    signals_cfg = (man.get("config") or {}).get("signals") or {}
    takedowns = [man["takedown"]] if man.get("kind") == "takedown" and man.get("takedown") else []
    takedowns = [*(man.get("takedowns_before") or []), *takedowns]
    domains = _domains(kept)
    return {
        "path": str(d), "kind": man.get("kind"), "run_id": man.get("run_id"),
        "manifest": _manifest_ref(d, man),
        "warc_inputs": [{"path": i.get("path"), "bytes": i.get("bytes"), "sha256": i.get("sha256")}
                        for i in man.get("inputs") or []],
        "records": prov.height,
        "kept": kept.height,
        "by_decision": dict(sorted(prov.group_by("decision").len().iter_rows())),
        "removed_by_step": [{"decision": r[0], "step": r[1], "count": r[2]} for r in removed.iter_rows()],
        "domains": domains,
        "n_domains": len(domains),
        "warc_date_kept": _date_range(kept["warc_date"]),
        "warc_date_all": _date_range(prov["warc_date"] if "warc_date" in prov.columns else pl.Series([])),
        **_pii(kept),
        "redaction_enabled": bool(signals_cfg.get("redact_pii", False)),
        "licenses": [{"license": r[0] or "none detected", "documents": r[1]}
                     for r in _by_count(kept, "license").iter_rows()],
        "tdm_reserved": {"kept": int(kept["tdm_reserved"].fill_null(False).sum()),
                         "all": int(prov["tdm_reserved"].fill_null(False).sum())},
        "noai": {"kept": int(kept["noai"].fill_null(False).sum()),
                 "all": int(prov["noai"].fill_null(False).sum())},
        "drop_opted_out": bool(signals_cfg.get("drop_opted_out", False)),
        "languages": [{"lang": r[0], "documents": r[1]} for r in _by_count(kept, "lang").iter_rows()],
        "content_types": [{"content_type": r[0], "documents": r[1]}
                          for r in _by_count(kept.with_columns(content_type), "ct").iter_rows()],
        "tokens": _token_count(d, man),
        "taken_down": int(prov.filter(pl.col("decision") == TAKEN_DOWN).height),
        "takedown_requests": len(takedowns),
        "started_at": man.get("started_at"),
        "ended_at": man.get("ended_at"),
    }


def synth_facts(d: Path, man: dict[str, Any]) -> dict[str, Any]:
    docs = _parquet(d, DOCUMENTS)
    prov = _parquet(d, PROVENANCE)
    n = docs.height if docs is not None else int((man.get("counts") or {}).get("kept", 0))
    if prov is not None:
        n = prov.filter(pl.col("decision") == KEPT).height
    gen = man.get("generator") or {}
    return {
        "path": str(d), "kind": SYNTH_KIND, "run_id": man.get("run_id"), "manifest": _manifest_ref(d, man),
        "records": n, "generator": {"model": gen.get("model"), "weights_sha256": gen.get("weights_sha256")},
        "task": man.get("task"), "purpose": man.get("purpose"),
        "gates_overall": (man.get("gates") or {}).get("overall"),
        "seeds": man.get("seeds"), "tokens": _token_count(d, man),
        "started_at": man.get("started_at"), "ended_at": man.get("ended_at"),
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


def read_inputs(dirs: list[str | os.PathLike[str]]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {"corpora": [], "synthetic": [], "training": [], "other": []}
    seen = set()
    for raw in dirs:
        d = Path(raw).resolve()
        if str(d) in seen:
            continue
        seen.add(str(d))
        man = read_manifest(d)  # NotARunError / InputError: one line for the user
        kind = man.get("kind")
        if kind in CORPUS_KINDS:
            out["corpora"].append(corpus_facts(d, man))
        elif kind == SYNTH_KIND:
            out["synthetic"].append(synth_facts(d, man))
        elif kind == "train":
            out["training"].append(train_facts(d, man))
        else:
            raise DisclosureError(f"{OutDir(d).manifest}: kind {kind!r} is not a corpus, synthetic set "
                                  "or training run")
    return out
