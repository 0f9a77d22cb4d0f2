"""Lineage: walk `run.json` manifests from a training run or synthetic set back to WARC files.

Every run names what it read: curate -> `inputs` (WARC files by sha256); takedown -> `parent`
(the corpus it was cut from); synth -> `seeds` (a corpus dir + run_id); train -> `data`
(corpus dirs + run_ids) and `shards_consumed`. A reference is resolved by its path first, then
by run_id among the manifests found under the search roots, so moved directories still link.
Optionally exported as W3C PROV-JSON (https://www.w3.org/submissions/prov-json/).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from provenance.errors import NotARunError
from provenance.gates import SYNTH_KIND
from provenance.manifest import MANIFEST_NAME, read_manifest, scan_manifest, sha256_file
from provenance.outdir import WORK


@dataclass
class RunNode:
    """One run directory (a PROV activity that generated the directory's outputs)."""

    path: str
    kind: str
    run_id: str
    manifest_sha256: str
    started_at: str | None = None
    ended_at: str | None = None
    warcs: list[dict[str, Any]] = field(default_factory=list)  # WARC inputs (curate runs)
    parents: list[RunNode] = field(default_factory=list)
    unresolved: list[dict[str, Any]] = field(default_factory=list)  # references not found
    shards_consumed: list[dict[str, Any]] = field(default_factory=list)


def scan_runs(roots: list[str | os.PathLike[str]]) -> dict[str, dict[str, Any]]:
    """{resolved run dir: manifest} for the run.json files in and up to two levels under the roots."""
    found: dict[str, dict[str, Any]] = {}
    for root in roots:
        r = Path(root)
        candidates = [r / MANIFEST_NAME] if (r / MANIFEST_NAME).exists() else []
        if r.is_dir():  # two levels down: ROOT/run/run.json and ROOT/group/run/run.json
            candidates += sorted([*r.glob(f"*/{MANIFEST_NAME}"), *r.glob(f"*/*/{MANIFEST_NAME}")])
            candidates = [p for p in candidates if WORK not in p.parts]
        for p in candidates:
            man = scan_manifest(p)  # None: not a manifest we can read; unresolved where referenced
            if man is not None:
                found.setdefault(str(p.parent.resolve()), man)
    return found


def _references(kind: str, man: dict[str, Any]) -> list[dict[str, Any]]:
    """The upstream runs a manifest names, as {path, run_id, role}."""
    if kind == "takedown":
        p = man.get("parent") or {}
        return [{"path": p.get("path"), "run_id": p.get("run_id"), "role": "parent corpus"}]
    if kind == SYNTH_KIND:
        s = man.get("seeds") or {}
        return [{"path": s.get("path"), "run_id": s.get("run_id"), "role": "seeds"}] if s else []
    if kind == "train":
        return [{"path": d.get("path"), "run_id": d.get("run_id"), "role": f"data:{d.get('name')}"}
                for d in man.get("data") or []]
    return []


def build_lineage(run_dir: str | os.PathLike[str],
                  roots: list[str | os.PathLike[str]] | None = None) -> RunNode:
    """The lineage tree rooted at `run_dir`. Default search roots: the run dir's parent directory."""
    start = Path(run_dir).resolve()
    if not (start / MANIFEST_NAME).exists():
        raise NotARunError(f"{start}: no {MANIFEST_NAME} (is this an assay output directory?)")
    index = scan_runs([*(roots or []), start.parent, start])
    by_id: dict[str, str] = {}
    for path, man in sorted(index.items()):
        if man.get("run_id"):
            by_id.setdefault(str(man["run_id"]), path)

    def node(path: str, seen: frozenset[str]) -> RunNode:
        man = index.get(path)
        if man is None:
            man = read_manifest(path)
            index[path] = man
        kind = str(man.get("kind", "unknown"))
        n = RunNode(path=path, kind=kind, run_id=str(man.get("run_id", "")),
                    manifest_sha256=sha256_file(Path(path) / MANIFEST_NAME),
                    started_at=man.get("started_at"), ended_at=man.get("ended_at"),
                    shards_consumed=list(man.get("shards_consumed") or []))
        if kind == "curate":
            n.warcs = [dict(i) for i in man.get("inputs") or []]
        for ref in _references(kind, man):
            target = None
            if ref["path"]:
                p = Path(ref["path"])
                p = p if p.is_absolute() else Path(path) / p
                if (p / MANIFEST_NAME).exists():
                    target = str(p.resolve())
            if target is None and ref["run_id"]:
                target = by_id.get(str(ref["run_id"]))
            if target is None or target in seen:
                n.unresolved.append(ref)
                continue
            n.parents.append(node(target, seen | {target}))
        return n

    return node(str(start), frozenset({str(start)}))


def warc_files(tree: RunNode) -> list[dict[str, Any]]:
    """Every WARC file the tree goes back to (deduplicated by sha256, sorted by path)."""
    out: dict[str, dict[str, Any]] = {}

    def walk(n: RunNode) -> None:
        for w in n.warcs:
            out.setdefault(w.get("sha256") or w.get("path"), w)
        for p in n.parents:
            walk(p)

    walk(tree)
    return sorted(out.values(), key=lambda w: str(w.get("path")))


def format_tree(tree: RunNode) -> str:
    """Indented text for `assay lineage`."""
    lines: list[str] = []

    def walk(n: RunNode, depth: int, role: str) -> None:
        pad = "  " * depth
        lines.append(f"{pad}{role}{n.kind} {n.run_id}  {n.path}  (run.json sha256 {n.manifest_sha256[:12]})")
        if n.shards_consumed:
            lines.append(f"{pad}  consumed {len(n.shards_consumed)} shard(s)")
        for w in n.warcs:
            lines.append(f"{pad}  <- warc {w.get('path')}  sha256 {str(w.get('sha256'))[:12]}  "
                         f"{w.get('bytes')} bytes")
        for ref in n.unresolved:
            lines.append(f"{pad}  <- UNRESOLVED {ref['role']}: path={ref['path']} run_id={ref['run_id']}")
        for p in n.parents:
            walk(p, depth + 1, "<- ")

    walk(tree, 0, "")
    return "\n".join(lines)


def to_prov_json(tree: RunNode) -> dict[str, Any]:
    """W3C PROV-JSON: runs are activities, their output dirs and WARC files entities."""
    doc: dict[str, Any] = {
        "prefix": {"assay": "https://github.com/assay/ns#", "sha256": "urn:sha256:"},
        "entity": {}, "activity": {}, "used": {}, "wasGeneratedBy": {}, "wasDerivedFrom": {},
    }
    counter = {"n": 0}

    def rel_id(kind: str) -> str:
        counter["n"] += 1
        return f"_:{kind}{counter['n']}"

    def walk(n: RunNode) -> str:
        act, ent = f"assay:run-{n.run_id}", f"assay:output-{n.run_id}"
        if act in doc["activity"]:
            return ent
        doc["activity"][act] = {"prov:type": f"assay:{n.kind}", "prov:startTime": n.started_at,
                                "prov:endTime": n.ended_at, "assay:manifest_sha256": n.manifest_sha256}
        doc["entity"][ent] = {"prov:type": "assay:output-directory", "prov:location": n.path}
        doc["wasGeneratedBy"][rel_id("g")] = {"prov:entity": ent, "prov:activity": act}
        for w in n.warcs:
            wid = f"sha256:{w.get('sha256')}"
            doc["entity"].setdefault(wid, {"prov:type": "assay:warc", "prov:location": w.get("path"),
                                           "assay:bytes": w.get("bytes")})
            doc["used"][rel_id("u")] = {"prov:activity": act, "prov:entity": wid}
            doc["wasDerivedFrom"][rel_id("d")] = {"prov:generatedEntity": ent, "prov:usedEntity": wid}
        for s in n.shards_consumed:
            sid = f"sha256:{s.get('sha256')}"
            doc["entity"].setdefault(sid, {"prov:type": "assay:token-shard", "prov:location": s.get("path")})
            doc["used"][rel_id("u")] = {"prov:activity": act, "prov:entity": sid,
                                        "prov:time": s.get("first_read_at")}
        for p in n.parents:
            upstream = walk(p)
            doc["used"][rel_id("u")] = {"prov:activity": act, "prov:entity": upstream}
            doc["wasDerivedFrom"][rel_id("d")] = {"prov:generatedEntity": ent, "prov:usedEntity": upstream}
        return ent

    walk(tree)
    return doc
