"""What every disclosure's JSON starts with (time, inputs, datasets, takedowns, system), and what
changed since the previous disclosure of an earlier version of the model.

`assay disclose ... --previous OLD` reads the JSON an earlier `assay disclose` wrote (a directory
holding ab2013.json or eu-summary.json, or that file itself) and lists the datasets added and
removed (by run_id: a takedown version is a new dataset, with its parent named) and the takedown
requests that came since. Both disclosures are records, so nothing here is declared.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from provenance.declarations import Declarations
from provenance.disclosure.common import NOT_PROVIDED, generated_at
from provenance.disclosure.facts import DisclosureError, Facts
from provenance.manifest import sha256_file

JSON_FILES = ("ab2013.json", "eu-summary.json")  # what a disclosure directory holds, tried in this order


def dataset_refs(f: Facts) -> list[dict[str, Any]]:
    """The run manifests of the disclosed datasets (corpora, synthetic sets), with a takedown's parent."""
    return [{**d["manifest"], "parent_run_id": d.get("parent_run_id")} for d in f.datasets]


def load_previous(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The parts of an earlier disclosure a comparison needs; one-line errors for anything else."""
    p = Path(path)
    if p.is_dir():
        found = [p / name for name in JSON_FILES if (p / name).is_file()]
        if not found:
            raise DisclosureError(f"{p}: --previous holds no {' or '.join(JSON_FILES)}")
        p = found[0]
    try:
        d = json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DisclosureError(f"{p}: previous disclosure not found") from None
    except (OSError, ValueError) as exc:
        raise DisclosureError(f"{p}: cannot read the previous disclosure: {exc}") from None
    if not isinstance(d, dict) or not isinstance(d.get("datasets"), list):
        raise DisclosureError(f"{p}: not a disclosure written by assay disclose (no 'datasets' list)")
    return {"path": str(p.resolve()), "sha256": sha256_file(p), "generated_at": d.get("generated_at"),
            "system": d.get("system") or {}, "datasets": d["datasets"], "takedowns": d.get("takedowns") or []}


def changes(previous: dict[str, Any], f: Facts) -> dict[str, Any]:
    """Datasets added and removed (by run_id), and takedown requests not in the previous disclosure."""
    now = {r["run_id"]: r for r in dataset_refs(f)}
    before = {r.get("run_id"): r for r in previous["datasets"]}
    seen = {t.get("request_id") for t in previous["takedowns"]}
    system = previous["system"]
    return {"previous": {"path": previous["path"], "sha256": previous["sha256"],
                         "generated_at": previous["generated_at"], "system_name": system.get("name"),
                         "system_version": system.get("version")},
            "added_datasets": [r for k, r in now.items() if k not in before],
            "removed_datasets": [r for k, r in before.items() if k not in now],
            "new_takedowns": [t for t in f.takedowns if t["request_id"] not in seen]}


def _dataset(r: dict[str, Any]) -> str:
    parent = f", a takedown version of {r['parent_run_id']}" if r.get("parent_run_id") else ""
    return f"{r.get('kind')} {r.get('run_id')} ({Path(str(r.get('path'))).parent.name}{parent})"


def changes_text(ch: dict[str, Any]) -> str:
    """One paragraph: which disclosure this follows, and what changed."""
    prev = ch["previous"]
    version = prev["system_version"] or NOT_PROVIDED
    takedowns = [f"{t['request_id']} ({(t.get('request') or {}).get('selector')}="
                 f"{(t.get('request') or {}).get('value')}, {t.get('removed_documents')} document(s) removed)"
                 for t in ch["new_takedowns"]]
    return (f"This disclosure follows the one generated {prev['generated_at']} for version {version} "
            f"(sha256 {prev['sha256'][:16]}). Datasets added: "
            + ("; ".join(_dataset(r) for r in ch["added_datasets"]) or "none") + ". Datasets removed: "
            + ("; ".join(_dataset(r) for r in ch["removed_datasets"]) or "none")
            + ". Takedown requests since: " + ("; ".join(takedowns) or "none") + ".")


def header(f: Facts, decl: Declarations, previous: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """The record part of a disclosure: when, from which run manifests, and what changed since `previous`."""
    return {"generated_at": generated_at(), "inputs": f.all_refs, "datasets": dataset_refs(f),
            "takedowns": f.takedowns, "system": decl.system.model_dump(mode="json"),
            "changes": changes(load_previous(previous), f) if previous else None}
